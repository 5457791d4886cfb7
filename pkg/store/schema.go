package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableSchema returns the table Table expects: on-demand, pk/sk strings, the sparse KEYS_ONLY index ActiveGrants on
// gsi1pk/gsi1sk, and the read-side indexes GrantsByKind, GrantsById, GrantsByIdPrefix and GrantsByAccount
// (query.go). template.yaml must declare the same (deploy/template_test.go checks it). Formats 1 and 2 share it.
func TableSchema(name string) *dynamodb.CreateTableInput {
	attr := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(n string, t types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
	}
	// index is a GSI on hash (and range, unless empty), projecting keys only, or the grant summary when summary.
	index := func(name, hash, rng string, summary bool) types.GlobalSecondaryIndex {
		gsi := types.GlobalSecondaryIndex{IndexName: aws.String(name), KeySchema: []types.KeySchemaElement{key(hash, types.KeyTypeHash)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}}
		if rng != "" {
			gsi.KeySchema = append(gsi.KeySchema, key(rng, types.KeyTypeRange))
		}
		if summary {
			gsi.Projection = &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: KindIndexAttributes}
		}
		return gsi
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{attr("pk"), attr("sk"), attr("gsi1pk"), attr("gsi1sk"),
			attr("gsi2pk"), attr("gsi2sk"), attr("grantId"), attr("gsi3pk"),
			attr("ac")},
		KeySchema: []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("sk", types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			index(ActiveIndex, "gsi1pk", "gsi1sk", false),
			index(KindIndex, "gsi2pk", "gsi2sk", true),
			index(IDIndex, "grantId", "", false),
			index(PrefixIndex, "gsi3pk", "grantId", false),
			index(AccountIndex, "ac", "gsi2sk", true),
		},
	}
}

// AdminAPI is the part of *dynamodb.Client that CreateTable, Open and Migrate use.
type AdminAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	dynamodb.DescribeTableAPIClient
	FormatAPI
}

// FormatAPI is what checking and stamping a table's format needs.
type FormatAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	dynamodb.ScanAPIClient
}

var _ AdminAPI = (*dynamodb.Client)(nil)

// CreateTable creates the table of TableSchema, waits (at most 2 minutes) until it is active, enables TTL on ttl and
// stamps it with FormatVersion. A table that already exists is not an error: CreateTable waits for it and leaves its
// settings to whoever created it (usually CloudFormation, from template.yaml). For the CLI, demos and tests.
func CreateTable(ctx context.Context, api AdminAPI, name string) error {
	_, err := api.CreateTable(ctx, TableSchema(name))
	var inUse *types.ResourceInUseException
	exists := errors.As(err, &inUse)
	if err != nil && !exists {
		return fmt.Errorf("store: create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = time.Second })
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("store: wait for table %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("store: enable TTL on table %s: %w", name, err)
	}
	return stampFormat(ctx, api, name)
}

// FormatError is a table holding items of a format this code does not write; the message says what to do.
type FormatError struct {
	Table  string
	Format int
}

func (e *FormatError) Error() string {
	if e.Format < FormatVersion {
		return fmt.Sprintf("table %s holds grantwatch format %d data; this grantwatch reads and writes format %d: run `grantwatch table migrate --table %s` (stop ingest first)",
			e.Table, e.Format, FormatVersion, e.Table)
	}
	return fmt.Sprintf("table %s holds grantwatch format %d data, newer than this grantwatch (format %d): upgrade grantwatch",
		e.Table, e.Format, FormatVersion)
}

// Format returns the format of the table's data: the stamp when there is one; else 1 when the table holds items
// (written before stamps existed), FormatVersion when it is empty. empty reports an unstamped empty table.
func Format(ctx context.Context, api FormatAPI, table string) (format int, empty bool, err error) {
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"pk": str(formatPK), "sk": str(formatSK)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, false, fmt.Errorf("store: read the format of table %s: %w", table, err)
	}
	if len(out.Item) > 0 {
		return formatOf(out.Item), false, nil
	}
	// One item is enough to tell: an unstamped table with data was written by format 1.
	// Select and the projection are what the functions' IAM condition allows (template.yaml, TableFormat).
	scan, err := api.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(1),
		Select: types.SelectSpecificAttributes, ProjectionExpression: aws.String("pk")})
	if err != nil {
		return 0, false, fmt.Errorf("store: read the format of table %s: %w", table, err)
	}
	if len(scan.Items) > 0 {
		return 1, false, nil
	}
	return FormatVersion, true, nil
}

// CheckedAPI is what a Table that checks its table's format uses.
type CheckedAPI interface {
	API
	FormatAPI
}

// Open checks the table's format now and returns a Table on it: a table of another format is a *FormatError that
// says what to run; an empty unstamped table is stamped. For commands, which should fail before doing anything.
func Open(ctx context.Context, api CheckedAPI, table string) (*Table, error) {
	t := Checked(api, table)
	if err := t.checkFormat(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Checked returns a Table that checks the table's format on its first read or write (and again after a failed
// check), so that a Lambda function starts without calling DynamoDB and a table it cannot reach fails an
// invocation, which Lambda retries, not its start.
func Checked(api CheckedAPI, table string) *Table {
	t := New(api, table)
	t.format = &formatCheck{api: api}
	return t
}

// formatCheck remembers a passed format check; Table copies share it.
type formatCheck struct {
	api  FormatAPI
	mu   sync.Mutex
	done bool
}

func (t *Table) checkFormat(ctx context.Context) error {
	if t.format == nil {
		return nil
	}
	c := t.format
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return nil
	}
	f, empty, err := Format(ctx, c.api, t.name)
	switch {
	case err != nil:
		return err
	case f != FormatVersion:
		return &FormatError{Table: t.name, Format: f}
	case empty:
		if err := stampFormat(ctx, c.api, t.name); err != nil {
			return err
		}
	}
	c.done = true
	return nil
}

// stampFormat records FormatVersion on the table, unless a stamp is there already.
func stampFormat(ctx context.Context, api FormatAPI, table string) error {
	item, err := marshalItem(formatItem{PK: formatPK, SK: formatSK, Format: FormatVersion})
	if err != nil {
		return err
	}
	_, err = api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("store: stamp the format of table %s: %w", table, err)
	}
	return nil
}

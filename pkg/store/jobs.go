package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// The Bedrock job registry is one small item per record (lifecycle.JobRecord), all in one partition:
//
//	item          pk             sk                      attributes (jobItem, fv=2)
//	job           BEDROCK#JOBS   JOB#<jobArn>            what the events naming the job's ARN said
//	job by name   BEDROCK#JOBS   JOBNAME#<jobName>       what events naming only the job's name said (a stop by name)
//	provisioned   BEDROCK#JOBS   PT#<provisionedArn>     one CreateProvisionedModelThroughput
//	deletion      BEDROCK#JOBS   DEL#<eventId>           one DeleteCustomModel
//
// Every item has a fixed set of short attributes (under 1 KB: one write unit), whatever the number of jobs.
// An event reads and conditionally writes the one item its own identifiers name (lifecycle.JobRefOf): a
// strongly consistent Query on pk and sk, then a PutItem on the item's version. The events that do not name the
// job's ARN (a stop by name) or the key (stops, state changes, deletions, provisioned throughput) are joined by
// the sweep, which reads the partition once (lifecycle.JobsAt): never a Scan, and no second index.
//
// Retention (the reasons are in lifecycle/jobrecord.go): the sweep sets ttl, epoch seconds, on every item once it
// knows when no rule can need it: a job's window after it ended (SecondaryMaxAge + JobLinkWindow + JobGrace +
// 24 h of late events), a week longer for a job never seen to end, a model's job and its deletion 90 days after
// the deletion, a deletion of an unknown model 90 days. A customization or copy job whose model may exist carries
// no ttl until its deletion is seen. Reads leave out items whose ttl has passed, since DynamoDB deletes them days
// late (and moto never); the sweep's read thus costs what rules can still need plus what TTL has not deleted yet.
//
// Format 1, before these items, was one item pk BEDROCK#JOBS, sk JOBS holding the whole registry (lifecycle.Jobs
// with json names). JobRecords refuses it; MigrateJobs converts it.
const (
	jobsPK           = "BEDROCK#JOBS"
	oldJobsSK        = "JOBS" // format 1
	jobFormatVersion = 2
)

var jobPrefixes = map[lifecycle.JobRecordKind]string{
	lifecycle.JobByARN:           "JOB#",
	lifecycle.JobByName:          "JOBNAME#",
	lifecycle.ProvisionedByARN:   "PT#",
	lifecycle.ModelDeletionEvent: "DEL#",
}

var (
	_ app.JobStore = (*Table)(nil)
	_ app.JobStore = (*Memory)(nil)
)

// ErrOldJobRegistry means the table holds the job registry in format 1: run MigrateJobs (grantwatch table migrate).
var ErrOldJobRegistry = errors.New("store: the Bedrock job registry is in format 1")

// jobItem is one job registry record as stored. Times are RFC 3339 strings, empty when unset.
type jobItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	FV      int    `dynamodbav:"fv"`
	Version int64  `dynamodbav:"version"`
	TTL     int64  `dynamodbav:"ttl,omitempty"`

	ARN             string `dynamodbav:"arn,omitempty"`
	Name            string `dynamodbav:"name,omitempty"`
	Type            string `dynamodbav:"type,omitempty"`
	CreatedAt       string `dynamodbav:"createdAt,omitempty"`
	CreateEventID   string `dynamodbav:"createEventId,omitempty"`
	CreatedBy       string `dynamodbav:"createdBy,omitempty"`
	KeyARN          string `dynamodbav:"keyArn,omitempty"`
	ModelName       string `dynamodbav:"modelName,omitempty"`
	ModelID         string `dynamodbav:"modelId,omitempty"`
	OutputModelARN  string `dynamodbav:"outputModelArn,omitempty"`
	OutputModelName string `dynamodbav:"outputModelName,omitempty"`
	Status          string `dynamodbav:"status,omitempty"`
	StatusAt        string `dynamodbav:"statusAt,omitempty"`
	EndedAt         string `dynamodbav:"endedAt,omitempty"`
	EndStatus       string `dynamodbav:"endStatus,omitempty"`
	StoppedAt       string `dynamodbav:"stoppedAt,omitempty"`
	DeletedAt       string `dynamodbav:"deletedAt,omitempty"`
}

func jobSK(ref lifecycle.JobRef) (string, error) {
	p, ok := jobPrefixes[ref.Kind]
	if !ok || ref.ID == "" {
		return "", fmt.Errorf("store: job record %q %q: unknown kind or no id", ref.Kind, ref.ID)
	}
	return p + ref.ID, nil
}

func jobRefOf(sk string) (lifecycle.JobRef, bool) {
	for kind, p := range jobPrefixes {
		if id, ok := strings.CutPrefix(sk, p); ok && id != "" {
			return lifecycle.JobRef{Kind: kind, ID: id}, true
		}
	}
	return lifecycle.JobRef{}, false
}

func jobItemOf(r lifecycle.JobRecord) (jobItem, error) {
	sk, err := jobSK(r.Ref)
	if err != nil {
		return jobItem{}, err
	}
	it := jobItem{PK: jobsPK, SK: sk, FV: jobFormatVersion, Version: r.Version,
		ARN: r.ARN, Name: r.Name, Type: r.Type, CreatedAt: timeAttr(r.CreatedAt), CreateEventID: r.CreateEventID,
		CreatedBy: r.CreatedBy, KeyARN: r.KeyARN, ModelName: r.ModelName, ModelID: r.ModelID,
		OutputModelARN: r.OutputModelARN, OutputModelName: r.OutputModelName, Status: r.Status, StatusAt: timeAttr(r.StatusAt),
		EndedAt: timeAttr(r.EndedAt), EndStatus: r.EndStatus, StoppedAt: timeAttr(r.StoppedAt), DeletedAt: timeAttr(r.DeletedAt)}
	if !r.Expires.IsZero() {
		it.TTL = r.Expires.Unix()
	}
	return it, nil
}

func (it jobItem) record() (lifecycle.JobRecord, error) {
	ref, ok := jobRefOf(it.SK)
	if !ok || it.PK != jobsPK {
		return lifecycle.JobRecord{}, fmt.Errorf("not a job record: pk %q, sk %q", it.PK, it.SK)
	}
	if it.FV != jobFormatVersion {
		return lifecycle.JobRecord{}, fmt.Errorf("job record %s has format %d; this grantwatch reads format %d", it.SK, it.FV, jobFormatVersion)
	}
	r := lifecycle.JobRecord{Ref: ref, Version: it.Version, ARN: it.ARN, Name: it.Name, Type: it.Type,
		CreateEventID: it.CreateEventID, CreatedBy: it.CreatedBy, KeyARN: it.KeyARN, ModelName: it.ModelName, ModelID: it.ModelID,
		OutputModelARN: it.OutputModelARN, OutputModelName: it.OutputModelName, Status: it.Status, EndStatus: it.EndStatus}
	if it.TTL != 0 {
		r.Expires = time.Unix(it.TTL, 0).UTC()
	}
	var errs []error
	for _, f := range []struct {
		to   *time.Time
		from string
	}{{&r.CreatedAt, it.CreatedAt}, {&r.StatusAt, it.StatusAt}, {&r.EndedAt, it.EndedAt}, {&r.StoppedAt, it.StoppedAt},
		{&r.DeletedAt, it.DeletedAt}} {
		if f.from == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.from)
		if err != nil {
			errs = append(errs, err)
		}
		*f.to = t.UTC()
	}
	if err := errors.Join(errs...); err != nil {
		return lifecycle.JobRecord{}, fmt.Errorf("job record %s: %w", it.SK, err)
	}
	return r, nil
}

func decodeJobItem(item map[string]types.AttributeValue) (lifecycle.JobRecord, error) {
	var it jobItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return lifecycle.JobRecord{}, err
	}
	return it.record()
}

// JobRecord reads one record with a strongly consistent Query on its pk and sk (one item, one read unit).
func (t *Table) JobRecord(ctx context.Context, ref lifecycle.JobRef) (lifecycle.JobRecord, error) {
	sk, err := jobSK(ref)
	if err != nil {
		return lifecycle.JobRecord{}, err
	}
	out, err := t.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		KeyConditionExpression:    aws.String("pk = :pk AND sk = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(jobsPK), ":sk": str(sk)},
		ConsistentRead:            aws.Bool(true), // a write we just lost a race to must be visible to the retry
		ReturnConsumedCapacity:    t.returnConsumed(),
	})
	if err != nil {
		return lifecycle.JobRecord{}, fmt.Errorf("store: load job record %s: %w", sk, err)
	}
	if out.ConsumedCapacity != nil {
		t.report("Query", *out.ConsumedCapacity)
	}
	if len(out.Items) == 0 {
		return lifecycle.JobRecord{Ref: ref}, nil
	}
	r, err := decodeJobItem(out.Items[0])
	if err != nil {
		return lifecycle.JobRecord{}, fmt.Errorf("store: load job record %s: %w", sk, err)
	}
	return r, nil
}

// SaveJobRecord puts r conditional on its version (0: the item must not exist), with ttl from r.Expires.
func (t *Table) SaveJobRecord(ctx context.Context, r lifecycle.JobRecord) error {
	given := r.Version
	r.Version++
	it, err := jobItemOf(r)
	if err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("store: save job record %s: %w", it.SK, err)
	}
	return t.put(ctx, t.newWrite("job record "+it.SK, item, given))
}

// JobRecords reads the registry partition, strongly consistent, leaving out items whose ttl has passed at at.
func (t *Table) JobRecords(ctx context.Context, at time.Time) ([]lifecycle.JobRecord, error) {
	var out []lifecycle.JobRecord
	err := eachItem(ctx, t.api, &dynamodb.QueryInput{
		TableName:                aws.String(t.name),
		KeyConditionExpression:   aws.String("pk = :pk"),
		FilterExpression:         aws.String("attribute_not_exists(#ttl) OR #ttl > :at"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(jobsPK),
			":at": &types.AttributeValueMemberN{Value: strconv.FormatInt(at.Unix(), 10)}},
		ConsistentRead:         aws.Bool(true),
		ReturnConsumedCapacity: t.returnConsumed(),
	}, t.report, func(item map[string]types.AttributeValue) error {
		if stringAttr(item, "sk") == oldJobsSK {
			return fmt.Errorf("%w (item %s/%s): run grantwatch table migrate --table %s", ErrOldJobRegistry, jobsPK, oldJobsSK, t.name)
		}
		r, err := decodeJobItem(item)
		out = append(out, r)
		return err
	})
	switch {
	case errors.Is(err, ErrOldJobRegistry): // says what to run
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("store: load job records: %w", err)
	}
	return out, nil
}

// memJobs is Memory's job registry: the records by reference, with Table's version and expiry semantics.
type memJobs struct {
	mu      sync.Mutex
	records map[lifecycle.JobRef]lifecycle.JobRecord
}

// JobRecord returns the stored record, expired or not, or an empty one.
func (m *Memory) JobRecord(_ context.Context, ref lifecycle.JobRef) (lifecycle.JobRecord, error) {
	if _, err := jobSK(ref); err != nil {
		return lifecycle.JobRecord{}, err
	}
	m.jobs.mu.Lock()
	defer m.jobs.mu.Unlock()
	if r, ok := m.jobs.records[ref]; ok {
		return r, nil
	}
	return lifecycle.JobRecord{Ref: ref}, nil
}

// SaveJobRecord stores r if its version is the stored one (0: none is stored).
func (m *Memory) SaveJobRecord(_ context.Context, r lifecycle.JobRecord) error {
	sk, err := jobSK(r.Ref)
	if err != nil {
		return err
	}
	m.jobs.mu.Lock()
	defer m.jobs.mu.Unlock()
	stored, ok := m.jobs.records[r.Ref]
	if !versionOK(r.Version, stored.Version, ok) {
		return fmt.Errorf("store: save job record %s: %w", sk, app.ErrConflict)
	}
	if m.jobs.records == nil {
		m.jobs.records = map[lifecycle.JobRef]lifecycle.JobRecord{}
	}
	r.Version++
	r.Expires = r.Expires.Truncate(time.Second) // a TTL's precision, as Table stores it
	m.jobs.records[r.Ref] = r
	return nil
}

// JobRecords returns the records that have not expired at at, in no particular order. Expired ones stay stored,
// as in DynamoDB until its TTL deletes them.
func (m *Memory) JobRecords(_ context.Context, at time.Time) ([]lifecycle.JobRecord, error) {
	m.jobs.mu.Lock()
	defer m.jobs.mu.Unlock()
	out := make([]lifecycle.JobRecord, 0, len(m.jobs.records))
	for _, r := range m.jobs.records {
		if r.Expires.IsZero() || r.Expires.Unix() > at.Unix() {
			out = append(out, r)
		}
	}
	return out, nil
}

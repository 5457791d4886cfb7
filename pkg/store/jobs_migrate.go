package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// jobsV1 is the format-1 registry item (pk BEDROCK#JOBS, sk JOBS): lifecycle.Jobs as it was stored, with the
// json names of that time.
type jobsV1 struct {
	Jobs []struct {
		ARN       string    `dynamodbav:"arn"`
		Name      string    `dynamodbav:"name"`
		Type      string    `dynamodbav:"type"`
		KeyARN    string    `dynamodbav:"keyArn"`
		CreatedAt time.Time `dynamodbav:"createdAt"`
		CreatedBy string    `dynamodbav:"createdBy"`
		Status    string    `dynamodbav:"status"`
		EndedAt   time.Time `dynamodbav:"endedAt"`
		ModelARN  string    `dynamodbav:"modelArn"`
		ModelName string    `dynamodbav:"modelName"`
	} `dynamodbav:"jobs"`
	Deletions []struct {
		ModelID string    `dynamodbav:"modelId"`
		At      time.Time `dynamodbav:"at"`
		EventID string    `dynamodbav:"eventId"`
	} `dynamodbav:"deletions"`
	Version int64 `dynamodbav:"version"`
}

// migratedEventID stands for the create call of a format-1 job, which kept no event id.
const migratedEventID = "migrated"

// records turns the format-1 registry into records: one per job, throughput and deletion. A job keeps what the
// merged document knew: its create call, its model, and its end as a final state change (or as a stop, when it
// was only Stopping).
func (v jobsV1) records() []lifecycle.JobRecord {
	var out []lifecycle.JobRecord
	for _, j := range v.Jobs {
		r := lifecycle.JobRecord{ARN: j.ARN, Name: j.Name}
		switch {
		case j.Type == lifecycle.ProvisionedThroughput:
			r.Ref = lifecycle.JobRef{Kind: lifecycle.ProvisionedByARN, ID: j.ARN}
			if j.ARN == "" {
				r.Ref.ID = j.Name
			}
		case j.ARN != "":
			r.Ref = lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: j.ARN}
		default:
			r.Ref = lifecycle.JobRef{Kind: lifecycle.JobByName, ID: j.Name}
		}
		if r.Ref.ID == "" {
			continue // named nothing: no event can find it, no rule can use it
		}
		if !j.CreatedAt.IsZero() {
			r.Type, r.CreatedAt, r.CreateEventID, r.CreatedBy, r.KeyARN = j.Type, j.CreatedAt.UTC(), migratedEventID, j.CreatedBy, j.KeyARN
		}
		if j.Type == lifecycle.ProvisionedThroughput {
			r.ModelID = j.ModelARN // the document kept a throughput's model there
		} else {
			r.OutputModelARN = j.ModelARN
			if r.CreatedAt.IsZero() {
				r.OutputModelName = j.ModelName
			} else {
				r.ModelName = j.ModelName
			}
		}
		switch {
		case j.Status == "Stopping" && !j.EndedAt.IsZero():
			r.StoppedAt = j.EndedAt.UTC()
		case !j.EndedAt.IsZero():
			r.EndedAt, r.EndStatus = j.EndedAt.UTC(), j.Status
		case j.Status != "" && !j.CreatedAt.IsZero():
			r.Status, r.StatusAt = j.Status, j.CreatedAt.UTC()
		}
		out = append(out, r)
	}
	for _, d := range v.Deletions {
		if d.EventID != "" {
			out = append(out, lifecycle.JobRecord{Ref: lifecycle.JobRef{Kind: lifecycle.ModelDeletionEvent, ID: d.EventID},
				ModelID: d.ModelID, DeletedAt: d.At.UTC()})
		}
	}
	return out
}

// MigrateJobs converts the format-1 job registry of table (one item holding every job) into format-2 records and
// then deletes the old item. It merges into records ingest may already have written, so it is safe while
// IngestFunction runs with this version, and idempotent: run again, or after a failure, it merges what is
// missing and changes nothing else. It returns the number of records it wrote; 0 and no error when the table has
// no format-1 registry.
func MigrateJobs(ctx context.Context, api API, table string) (int, error) {
	t := New(api, table)
	out, err := api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk AND sk = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(jobsPK), ":sk": str(oldJobsSK)},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("store: migrate jobs: %w", err)
	}
	if len(out.Items) == 0 {
		return 0, nil
	}
	var old jobsV1
	if err := attributevalue.UnmarshalMap(out.Items[0], &old); err != nil {
		return 0, fmt.Errorf("store: migrate jobs: decode the format-1 registry: %w", err)
	}
	written := 0
	for _, r := range old.records() {
		n, err := t.mergeJobRecord(ctx, r)
		if err != nil {
			return written, fmt.Errorf("store: migrate jobs: %w", err)
		}
		written += n
	}
	_, err = api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		Delete: &types.Delete{
			TableName:                 aws.String(table),
			Key:                       map[string]types.AttributeValue{"pk": str(jobsPK), "sk": str(oldJobsSK)},
			ConditionExpression:       aws.String("version = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(old.Version, 10)}},
		},
	}}})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return written, fmt.Errorf("store: migrate jobs: the format-1 registry changed while it was converted (run again): %w", app.ErrConflict)
	}
	if err != nil {
		return written, fmt.Errorf("store: migrate jobs: delete the format-1 registry: %w", err)
	}
	return written, nil
}

// mergeJobRecord merges r's facts into the stored record of its ref and reports whether it wrote.
func (t *Table) mergeJobRecord(ctx context.Context, r lifecycle.JobRecord) (int, error) {
	for range 5 {
		stored, err := t.JobRecord(ctx, r.Ref)
		if err != nil {
			return 0, err
		}
		if !stored.Merge(r) {
			return 0, nil
		}
		stored.Expires = time.Time{} // the next sweep decides with the new facts
		err = t.SaveJobRecord(ctx, stored)
		if errors.Is(err, app.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, err
		}
		return 1, nil
	}
	return 0, fmt.Errorf("job record %s %s: %w after 5 attempts", r.Ref.Kind, r.Ref.ID, app.ErrConflict)
}

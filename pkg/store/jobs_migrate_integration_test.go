//go:build integration

package store_test

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// formerRegistry is a registry of every shape the former document could hold.
func formerRegistry() []lifecycle.JobEvent {
	role := lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Customizer/alice"}
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	return []lifecycle.JobEvent{
		// A model made, given a throughput by name, deleted by ARN.
		{ID: "c1", Name: lifecycle.CreateModelCustomizationJob, Time: at(0), KeyARN: keyA, JobARN: "arn:job/1", JobName: "job-1", ModelName: "model-1", Caller: role},
		{ID: "s1", Name: lifecycle.JobStateChange, Time: at(0.1), JobARN: "arn:job/1", JobName: "job-1", Status: "InProgress"},
		{ID: "s2", Name: lifecycle.JobStateChange, Time: at(3), JobARN: "arn:job/1", JobName: "job-1", Status: "Completed", EndedAt: at(3),
			ModelARN: "arn:model/1", ModelName: "model-1"},
		{ID: "p1", Name: lifecycle.CreateProvisionedModelThroughput, Time: at(4), JobARN: "arn:pt/1", JobName: "pt-1", ModelID: "model-1", Caller: role},
		{ID: "d1", Name: lifecycle.DeleteCustomModel, Time: at(20), ModelID: "arn:model/1"},
		// A copy, never ended.
		{ID: "c2", Name: lifecycle.CreateModelCopyJob, Time: at(1), KeyARN: keyB, JobARN: "arn:copy/2", ModelName: "copy-2", Caller: role},
		// Stopped by name, its final state change lost.
		{ID: "c3", Name: lifecycle.CreateModelCustomizationJob, Time: at(2), KeyARN: keyA, JobARN: "arn:job/3", JobName: "job-3", ModelName: "model-3", Caller: role},
		{ID: "x3", Name: lifecycle.StopModelCustomizationJob, Time: at(2.5), JobID: "job-3"},
		// Still running.
		{ID: "c4", Name: lifecycle.CreateModelCustomizationJob, Time: at(5), KeyARN: keyB, JobARN: "arn:job/4", JobName: "job-4", ModelName: "model-4", Caller: role},
		{ID: "s4", Name: lifecycle.JobStateChange, Time: at(5.1), JobARN: "arn:job/4", JobName: "job-4", Status: "InProgress"},
		// A state change whose create call never came, and a stop by name of a job never seen.
		{ID: "s5", Name: lifecycle.JobStateChange, Time: at(6), JobARN: "arn:job/5", JobName: "job-5", Status: "Failed", EndedAt: at(6)},
		{ID: "x6", Name: lifecycle.StopModelCustomizationJob, Time: at(7), JobID: "job-6"},
		// A deletion of a model no job made.
		{ID: "d7", Name: lifecycle.DeleteCustomModel, Time: at(8), ModelID: "imported-7"},
	}
}

// TestMigrateJobs fills a table with the format-1 registry exactly as the former code wrote it, converts it twice,
// and checks that the records give the registry the former one held, with a record ingest wrote meanwhile.
func TestMigrateJobs(t *testing.T) {
	tbl, client := newTable(t)
	ctx := t.Context()
	evs := formerRegistry()
	former := oracleOf(evs)
	former.Version = 1
	// SaveJobs marshalled lifecycle.Jobs with its json tags and put it under BEDROCK#JOBS / JOBS.
	item, err := attributevalue.MarshalMapWithOptions(former, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
	if err != nil {
		t.Fatal(err)
	}
	item["pk"], item["sk"] = &types.AttributeValueMemberS{Value: "BEDROCK#JOBS"}, &types.AttributeValueMemberS{Value: "JOBS"}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: item}); err != nil {
		t.Fatal(err)
	}

	at := t0.Add(24 * time.Hour)
	if _, err := tbl.JobRecords(ctx, at); !errors.Is(err, store.ErrOldJobRegistry) || !strings.Contains(err.Error(), "grantwatch table migrate --table "+tableName) {
		t.Fatalf("JobRecords() on a format-1 table error = %v; want ErrOldJobRegistry saying what to run", err)
	}
	// IngestFunction, already on format 2, records the running job's end before the migration.
	late := lifecycle.JobEvent{ID: "s4b", Name: lifecycle.JobStateChange, Time: t0.Add(9 * time.Hour), JobARN: "arn:job/4", JobName: "job-4",
		Status: "Completed", EndedAt: t0.Add(9 * time.Hour), ModelARN: "arn:model/4", ModelName: "model-4"}
	var r lifecycle.JobRecord
	r.Apply(late)
	if err := tbl.SaveJobRecord(ctx, r); err != nil {
		t.Fatal(err)
	}

	n, err := store.MigrateJobs(ctx, client, tableName)
	if err != nil || n != len(former.Jobs)+len(former.Deletions) {
		t.Fatalf("MigrateJobs() = %d, %v; want %d records", n, err, len(former.Jobs)+len(former.Deletions))
	}
	old, err := client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tableName), KeyConditionExpression: aws.String("pk = :pk AND sk = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "BEDROCK#JOBS"},
			":sk": &types.AttributeValueMemberS{Value: "JOBS"}}})
	if err != nil || len(old.Items) != 0 {
		t.Fatalf("the format-1 item after MigrateJobs: %d items, %v; want it deleted", len(old.Items), err)
	}
	if n, err := store.MigrateJobs(ctx, client, tableName); n != 0 || err != nil {
		t.Errorf("MigrateJobs() again = %d, %v; want 0, nil", n, err)
	}

	recs, err := tbl.JobRecords(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := lifecycle.JobsAt(recs, at, lifecycle.DefaultConfig())
	want := oracleOf(append(evs, late)).view()
	byID := func(a, b lifecycle.Job) int { return cmp.Or(cmp.Compare(a.ARN, b.ARN), cmp.Compare(a.Name, b.Name)) }
	slices.SortFunc(got.Jobs, byID)
	slices.SortFunc(want.Jobs, byID)
	if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(lifecycle.Jobs{})); diff != "" {
		t.Errorf("registry after the migration differs from the former one (-former +migrated):\n%s", diff)
	}
}

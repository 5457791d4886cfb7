package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// The Bedrock job registry (issue 3) is one item:
//
//	item   pk             sk      attributes
//	jobs   BEDROCK#JOBS   JOBS    lifecycle.Jobs (json names) incl. version
//
// One item because the calls that stop a job or delete a model name neither key nor grant: every Bedrock event
// reads and conditionally rewrites it, and each sweep reads it once. Bedrock jobs are rare (a few a day), and
// lifecycle.MaxJobs keeps the item far below DynamoDB's 400 KB. It carries no index attributes.
const (
	jobsPK = "BEDROCK#JOBS"
	jobsSK = "JOBS"
)

var (
	_ app.JobStore = (*Table)(nil)
	_ app.JobStore = (*Memory)(nil)
)

// LoadJobs reads the job registry with one strongly consistent Query; an empty registry when none is stored.
func (t *Table) LoadJobs(ctx context.Context) (lifecycle.Jobs, error) {
	out, err := t.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(t.name),
		KeyConditionExpression:    aws.String("pk = :pk AND sk = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(jobsPK), ":sk": str(jobsSK)},
		ConsistentRead:            aws.Bool(true),
		ReturnConsumedCapacity:    t.returnConsumed(),
	})
	if err != nil {
		return lifecycle.Jobs{}, fmt.Errorf("store: load jobs: %w", err)
	}
	if out.ConsumedCapacity != nil {
		t.report("Query", *out.ConsumedCapacity)
	}
	var j lifecycle.Jobs
	if len(out.Items) == 0 {
		return j, nil
	}
	if err := unmarshal(out.Items[0], &j); err != nil {
		return lifecycle.Jobs{}, fmt.Errorf("store: load jobs: %w", err)
	}
	return j, nil
}

// SaveJobs writes the registry conditional on its version.
func (t *Table) SaveJobs(ctx context.Context, j lifecycle.Jobs) error {
	given := j.Version
	j.Version++
	item, err := marshal(j)
	if err != nil {
		return fmt.Errorf("store: save jobs: %w", err)
	}
	item["pk"], item["sk"] = str(jobsPK), str(jobsSK)
	w := t.newWrite("jobs", item, given)
	return t.put(ctx, w)
}

// LoadJobs returns a copy of the registry.
func (m *Memory) LoadJobs(context.Context) (lifecycle.Jobs, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jobs.Clone(), nil
}

// SaveJobs stores j if its version is the stored one.
func (m *Memory) SaveJobs(_ context.Context, j lifecycle.Jobs) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j.Version != m.jobs.Version {
		return fmt.Errorf("store: save jobs: %w", app.ErrConflict)
	}
	j = j.Clone()
	j.Version++
	m.jobs = j
	return nil
}

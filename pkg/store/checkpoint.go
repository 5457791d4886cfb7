package store

// Backfill runs and checkpoints, and the KMS keys reconcile visits. Items (no new index; TTL cleans them up):
//
//	item        pk                 sk                                                   attributes
//	run         BACKFILL#<runId>   RUN                                                  runItem incl. version
//	checkpoint  BACKFILL#<runId>   SLICE#<eventName>#<start RFC3339>                    checkpointItem incl. version
//	                               SLICE#<account>#<region>#<eventName>#<start>         (a slice of another target)
//
// Their attribute names are those format 1 used, so runs written before format 2 resume as they are; the caller's
// own account and Region keep the sort key they had before targets, so its runs resume too.
//
// Both are written with a PutItem conditional on the version read (attribute_not_exists(pk) for a new item), so
// two processes working the same run cannot move a slice backwards: the loser gets app.ErrConflict. A run's items
// form one item collection, read with one strongly consistent Query when a run starts or resumes.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

const (
	backfillPrefix = "BACKFILL#"
	runSK          = "RUN"
	slicePrefix    = "SLICE#"
)

var (
	_ app.CheckpointStore = (*Table)(nil)
	_ app.KeyLister       = (*Table)(nil)
)

// runItem is a backfill run as stored.
type runItem struct {
	PK         string    `dynamodbav:"pk"`
	SK         string    `dynamodbav:"sk"`
	Format     int       `dynamodbav:"fv"`
	ID         string    `dynamodbav:"runId"`
	Requested  string    `dynamodbav:"requested"`
	Since      time.Time `dynamodbav:"since"`
	Until      time.Time `dynamodbav:"until"`
	EventNames []string  `dynamodbav:"eventNames"`
	Slices     int       `dynamodbav:"slicesPerName"`
	CreatedAt  time.Time `dynamodbav:"createdAt"`
	Version    int64     `dynamodbav:"version"`
	TTL        int64     `dynamodbav:"ttl"`
}

type statsItem struct {
	Events     int `dynamodbav:"events"`
	Applied    int `dynamodbav:"applied"`
	Duplicates int `dynamodbav:"duplicates"`
	Ignored    int `dynamodbav:"ignored"`
	Rejected   int `dynamodbav:"rejected"`
}

// checkpointItem is a slice's checkpoint as stored; Spawn nests one.
type checkpointItem struct {
	PK        string          `dynamodbav:"pk,omitempty"`
	SK        string          `dynamodbav:"sk,omitempty"`
	Format    int             `dynamodbav:"fv,omitempty"`
	RunID     string          `dynamodbav:"runId"`
	Account   string          `dynamodbav:"account,omitempty"`
	Region    string          `dynamodbav:"region,omitempty"`
	EventName string          `dynamodbav:"eventName"`
	Start     time.Time       `dynamodbav:"start"`
	End       time.Time       `dynamodbav:"end"`
	Next      string          `dynamodbav:"nextToken,omitempty"`
	Pages     int             `dynamodbav:"pages"`
	Covered   *time.Time      `dynamodbav:"covered,omitempty"`
	Boundary  []string        `dynamodbav:"boundary,omitempty"`
	Skip      []string        `dynamodbav:"skip,omitempty"`
	Spawn     *checkpointItem `dynamodbav:"spawn,omitempty"`
	Done      bool            `dynamodbav:"done"`
	Stats     statsItem       `dynamodbav:"stats"`
	UpdatedAt time.Time       `dynamodbav:"updatedAt"`
	Version   int64           `dynamodbav:"version"`
	TTL       int64           `dynamodbav:"ttl,omitempty"`
}

func toCheckpointItem(c app.Checkpoint) *checkpointItem {
	it := &checkpointItem{RunID: c.RunID, Account: c.Account, Region: c.Region, EventName: c.EventName, Start: c.Start, End: c.End, Next: c.Next, Pages: c.Pages,
		Boundary: c.Boundary, Skip: c.Skip, Done: c.Done, Stats: statsItem(c.Stats), UpdatedAt: c.UpdatedAt, Version: c.Version}
	if !c.Covered.IsZero() {
		it.Covered = &c.Covered
	}
	if c.Spawn != nil {
		it.Spawn = toCheckpointItem(*c.Spawn)
	}
	return it
}

func (it checkpointItem) checkpoint() app.Checkpoint {
	c := app.Checkpoint{RunID: it.RunID, Account: it.Account, Region: it.Region, EventName: it.EventName, Start: it.Start, End: it.End, Next: it.Next, Pages: it.Pages,
		Boundary: it.Boundary, Skip: it.Skip, Done: it.Done, Stats: app.BackfillStats(it.Stats), UpdatedAt: it.UpdatedAt,
		Version: it.Version}
	if it.Covered != nil && !it.Covered.IsZero() {
		c.Covered = *it.Covered
	}
	if it.Spawn != nil {
		s := it.Spawn.checkpoint()
		c.Spawn = &s
	}
	return c
}

func sliceSK(c app.Checkpoint) string {
	if c.Target() == (app.Target{}) {
		return slicePrefix + c.EventName + "#" + c.Start.UTC().Format(time.RFC3339)
	}
	return slicePrefix + c.Account + "#" + c.Region + "#" + c.EventName + "#" + c.Start.UTC().Format(time.RFC3339)
}

// LoadRun returns the stored run, or the zero BackfillRun.
func (t *Table) LoadRun(ctx context.Context, runID string) (app.BackfillRun, error) {
	var it runItem
	err := t.queryRun(ctx, runID, "sk = :sk", runSK, func(item map[string]types.AttributeValue) error { return unmarshalItem(item, &it) })
	if err != nil {
		return app.BackfillRun{}, fmt.Errorf("store: load backfill run %s: %w", runID, err)
	}
	return app.BackfillRun{ID: it.ID, Requested: it.Requested, Since: it.Since, Until: it.Until, EventNames: it.EventNames,
		Slices: it.Slices, CreatedAt: it.CreatedAt, Version: it.Version}, nil
}

// SaveRun stores the run's plan, conditional on its version.
func (t *Table) SaveRun(ctx context.Context, r app.BackfillRun) error {
	w, err := t.newPut("backfill run "+r.ID, runItem{PK: backfillPrefix + r.ID, SK: runSK, Format: FormatVersion, ID: r.ID,
		Requested: r.Requested, Since: r.Since, Until: r.Until, EventNames: r.EventNames, Slices: r.Slices,
		CreatedAt: r.CreatedAt, Version: r.Version, TTL: r.CreatedAt.Add(retention).Unix()}, r.Version)
	if err != nil {
		return err
	}
	return t.put(ctx, w)
}

// LoadCheckpoints returns every checkpoint of the run.
func (t *Table) LoadCheckpoints(ctx context.Context, runID string) ([]app.Checkpoint, error) {
	var out []app.Checkpoint
	err := t.queryRun(ctx, runID, "begins_with(sk, :sk)", slicePrefix, func(item map[string]types.AttributeValue) error {
		var c checkpointItem
		if err := unmarshalItem(item, &c); err != nil {
			return err
		}
		out = append(out, c.checkpoint())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: load checkpoints of run %s: %w", runID, err)
	}
	return out, nil
}

// SaveCheckpoint writes c conditional on the version it was read with (0: the slice has no checkpoint yet).
func (t *Table) SaveCheckpoint(ctx context.Context, c app.Checkpoint) error {
	it := toCheckpointItem(c)
	it.PK, it.SK, it.Format, it.TTL = backfillPrefix+c.RunID, sliceSK(c), FormatVersion, c.UpdatedAt.Add(retention).Unix()
	w, err := t.newPut("checkpoint "+c.RunID+" "+sliceSK(c), it, c.Version)
	if err != nil {
		return err
	}
	return t.put(ctx, w)
}

func (t *Table) queryRun(ctx context.Context, runID, cond, sk string, each func(map[string]types.AttributeValue) error) error {
	return eachItem(ctx, t.api, &dynamodb.QueryInput{
		TableName:              aws.String(t.name),
		KeyConditionExpression: aws.String("pk = :pk AND " + cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(backfillPrefix + runID), ":sk": str(sk),
		},
		ConsistentRead: aws.Bool(true), // a restart must see the last checkpoint written
	}, nil, each)
}

// ReconcileKeys returns, sorted, the KMS keys with recorded Bedrock grants: of every account from the GrantsByKind
// index (one Query per kind), or of the accounts given from GrantsByAccount (one Query per account), reading only
// pk; never a Scan. The indexes hold every reported grant, ended ones too: a key whose grants have all ended can
// still hold a live grant whose events were lost.
func (t *Table) ReconcileKeys(ctx context.Context, accounts []string) ([]string, error) {
	var queries []*dynamodb.QueryInput
	for _, kind := range app.Kinds {
		queries = append(queries, &dynamodb.QueryInput{IndexName: aws.String(KindIndex), KeyConditionExpression: aws.String("gsi2pk = :k"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(kindPrefix + string(kind))}})
	}
	if len(accounts) > 0 {
		queries = nil
		for _, a := range accounts {
			queries = append(queries, &dynamodb.QueryInput{IndexName: aws.String(AccountIndex), KeyConditionExpression: aws.String("ac = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": str(a)}})
		}
	}
	var keys []string
	for _, in := range queries {
		in.TableName, in.ProjectionExpression = aws.String(t.name), aws.String("pk")
		if err := eachItem(ctx, t.api, in, nil, func(item map[string]types.AttributeValue) error {
			if arn, ok := strings.CutPrefix(stringAttr(item, "pk"), keyPrefix); ok {
				keys = append(keys, arn)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("store: keys to reconcile: %w", err)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// memBackfill is Memory's share of runs and checkpoints.
type memBackfill struct {
	runs        map[string]app.BackfillRun
	checkpoints map[string]map[string]app.Checkpoint // run id → slice sk → checkpoint
}

var (
	_ app.CheckpointStore = (*Memory)(nil)
	_ app.KeyLister       = (*Memory)(nil)
)

// LoadRun mirrors Table.LoadRun.
func (m *Memory) LoadRun(_ context.Context, runID string) (app.BackfillRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.backfill.runs[runID]
	r.EventNames = slices.Clone(r.EventNames)
	return r, nil
}

// SaveRun mirrors Table.SaveRun.
func (m *Memory) SaveRun(_ context.Context, r app.BackfillRun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.backfill.runs == nil {
		m.backfill.runs = map[string]app.BackfillRun{}
	}
	stored, ok := m.backfill.runs[r.ID]
	if !versionOK(r.Version, stored.Version, ok) {
		return fmt.Errorf("store: save backfill run %s: %w", r.ID, app.ErrConflict)
	}
	r.Version++
	r.EventNames = slices.Clone(r.EventNames)
	m.backfill.runs[r.ID] = r
	return nil
}

// LoadCheckpoints mirrors Table.LoadCheckpoints, in sort-key order.
func (m *Memory) LoadCheckpoints(_ context.Context, runID string) ([]app.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cps := m.backfill.checkpoints[runID]
	out := make([]app.Checkpoint, 0, len(cps))
	for _, sk := range slices.Sorted(maps.Keys(cps)) {
		out = append(out, cps[sk])
	}
	return out, nil
}

// SaveCheckpoint mirrors Table.SaveCheckpoint.
func (m *Memory) SaveCheckpoint(_ context.Context, c app.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.backfill.checkpoints == nil {
		m.backfill.checkpoints = map[string]map[string]app.Checkpoint{}
	}
	cps := m.backfill.checkpoints[c.RunID]
	if cps == nil {
		cps = map[string]app.Checkpoint{}
		m.backfill.checkpoints[c.RunID] = cps
	}
	stored, ok := cps[sliceSK(c)]
	if !versionOK(c.Version, stored.Version, ok) {
		return fmt.Errorf("store: save checkpoint %s %s: %w", c.RunID, sliceSK(c), app.ErrConflict)
	}
	c.Version++
	cps[sliceSK(c)] = c
	return nil
}

// ReconcileKeys mirrors Table.ReconcileKeys: keys with a reported (non-pending) grant, of the accounts given.
func (m *Memory) ReconcileKeys(_ context.Context, accounts []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for arn, mk := range m.keys {
		found := false
		mk.each(func(g lifecycle.Grant) {
			if len(accounts) > 0 {
				found = found || slices.Contains(accounts, accountIndexKey(arn, g))
			} else {
				found = found || kindIndexKeys(g) != nil
			}
		})
		if found {
			out = append(out, arn)
		}
	}
	slices.Sort(out)
	return out, nil
}

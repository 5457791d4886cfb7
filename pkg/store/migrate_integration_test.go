//go:build integration

package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// format1Table creates an unstamped table holding testdata/format1-table.json: every item a table written by
// grantwatch before format 2 held after replaying events/scenarios and a sweep.
func format1Table(t *testing.T) *dynamodb.Client {
	t.Helper()
	_, client := newTable(t)
	ctx := context.Background()
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tableName),
		Key: map[string]types.AttributeValue{"pk": str("GRANTWATCH"), "sk": str("FORMAT")}}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "format1-table.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dump struct{ Items []map[string]any }
	if err := json.Unmarshal(raw, &dump); err != nil {
		t.Fatal(err)
	}
	bulk := &bulkAPI{API: client, client: client, table: tableName}
	for _, it := range dump.Items {
		item := map[string]types.AttributeValue{}
		for name, v := range it {
			item[name] = fromDynamoJSON(t, v)
		}
		bulk.pending = append(bulk.pending, item)
	}
	if err := bulk.flush(ctx); err != nil {
		t.Fatal(err)
	}
	return client
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// fromDynamoJSON converts the aws CLI's JSON form of an attribute value.
func fromDynamoJSON(t *testing.T, v any) types.AttributeValue {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		t.Fatalf("not an attribute value: %v", v)
	}
	for typ, x := range m {
		switch typ {
		case "S":
			return str(x.(string))
		case "N":
			return &types.AttributeValueMemberN{Value: x.(string)}
		case "BOOL":
			return &types.AttributeValueMemberBOOL{Value: x.(bool)}
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}
		case "L":
			var l []types.AttributeValue
			for _, e := range x.([]any) {
				l = append(l, fromDynamoJSON(t, e))
			}
			return &types.AttributeValueMemberL{Value: l}
		case "M":
			mm := map[string]types.AttributeValue{}
			for k, e := range x.(map[string]any) {
				mm[k] = fromDynamoJSON(t, e)
			}
			return &types.AttributeValueMemberM{Value: mm}
		case "SS":
			var ss []string
			for _, e := range x.([]any) {
				ss = append(ss, e.(string))
			}
			return &types.AttributeValueMemberSS{Value: ss}
		}
		t.Fatalf("attribute type %s not handled", typ)
	}
	return nil
}

// answers is what people read from the table: every grant as the query side lists it, and each grant's history.
func answers(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	q := app.NewQuery(store.NewReader(client, tableName), func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) })
	gs, err := q.AllGrants(context.Background(), app.Filter{}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, g := range gs {
		h, err := q.History(context.Background(), g.ID, g.KeyARN, app.Place{})
		if err != nil {
			t.Fatalf("History(%s) error = %v", g.ID, err)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %s parent=%s created=%s ended=%s by %s; timeline %d; alerts %d; usage %v",
			g.KeyARN, g.ID, g.Kind, g.State(), g.ParentID, g.CreatedAt.Format(time.RFC3339), g.EndedAt.Format(time.RFC3339), g.EndedBy,
			len(h.Timeline), len(h.Grant.Alerts), h.Usage.Calls))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestMigrateFormat1: a table written before format 2 is refused with a message that says what to run, read as it is
// by the query side, and converted by Migrate (idempotently) to one that gives the same answers, with its old ended
// grants archived and every key with a meta record; ingest then goes on.
func TestMigrateFormat1(t *testing.T) {
	ctx := context.Background()
	client := format1Table(t)
	var fe *store.FormatError
	if _, err := store.Open(ctx, client, tableName); !errors.As(err, &fe) || fe.Format != 1 ||
		!strings.Contains(err.Error(), "grantwatch table migrate --table "+tableName) {
		t.Fatalf("Open(format 1 table) error = %v; want a *FormatError saying to run grantwatch table migrate", err)
	}
	before := answers(t, client)
	if strings.Count(before, "\n") < 20 {
		t.Fatalf("format 1 table answers only:\n%s", before)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

	dry, err := store.Migrate(ctx, client, tableName, now, lifecycle.DefaultConfig(), true)
	if err != nil || dry.Keys == 0 || dry.Archived == 0 {
		t.Fatalf("Migrate(dry run) = %+v, %v; want keys to convert and grants to archive", dry, err)
	}
	if _, err := store.Open(ctx, client, tableName); !errors.As(err, &fe) {
		t.Fatalf("a dry run changed the table: Open error = %v", err)
	}

	rep, err := store.Migrate(ctx, client, tableName, now, lifecycle.DefaultConfig(), false)
	if err != nil {
		t.Fatalf("Migrate() error = %v", err)
	}
	if rep.Keys != dry.Keys || rep.Grants != dry.Grants || rep.Archived != dry.Archived || rep.From != 1 {
		t.Errorf("Migrate() = %+v; want what the dry run said, %+v", rep, dry)
	}
	t.Logf("migrated: %+v", rep)
	if _, err := store.Open(ctx, client, tableName); err != nil {
		t.Fatalf("Open(migrated table) error = %v", err)
	}
	if after := answers(t, client); after != before {
		t.Errorf("answers changed by the migration:\n%s\nwant\n%s", after, before)
	}

	// Every item of a key is format 2; every key has a meta record; nothing is left in format 1.
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tableName)})
	if err != nil {
		t.Fatal(err)
	}
	metas, archived := map[string]bool{}, 0
	for _, item := range out.Items {
		pk, sk := attrValue(item["pk"]), attrValue(item["sk"])
		if !strings.HasPrefix(pk, "KEY#") {
			continue
		}
		if attrValue(item["fv"]) != "2" {
			t.Errorf("item %s %s is not format 2 after the migration", pk, sk)
		}
		metas[pk] = metas[pk] || sk == "META"
		if strings.HasPrefix(sk, "ARCHIVE#") {
			archived++
		}
	}
	for pk, ok := range metas {
		if !ok {
			t.Errorf("key %s has no meta record", pk)
		}
	}
	if archived != rep.Archived {
		t.Errorf("%d archived items; the report says %d", archived, rep.Archived)
	}
	// The job registry's single item became records the sweep reads.
	jobs, err := store.New(client, tableName).JobRecords(ctx, now)
	if err != nil || rep.JobRecords == 0 || len(jobs) == 0 {
		t.Errorf("after the migration: %d job records written, JobRecords() = %d records, %v; want the old registry's jobs", rep.JobRecords, len(jobs), err)
	}

	again, err := store.Migrate(ctx, client, tableName, now, lifecycle.DefaultConfig(), false)
	if err != nil || again.Keys != 0 || again.From != store.FormatVersion {
		t.Errorf("second Migrate() = %+v, %v; want nothing to do on a format %d table", again, err, store.FormatVersion)
	}

	// Ingest goes on: a late duplicate of a migrated grant's CreateGrant, and a new grant.
	tbl, err := store.Open(ctx, client, tableName)
	if err != nil {
		t.Fatal(err)
	}
	k, err := tbl.LoadKey(ctx, "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001", lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err != nil || len(k.Grants) == 0 {
		t.Fatalf("LoadKey(migrated key) = %d grants, %v", len(k.Grants), err)
	}
	svc := quietService(tbl, now)
	for _, g := range k.Grants {
		ev := lifecycle.Event{ID: g.CreateEventID, Name: lifecycle.CreateGrant, Time: g.CreatedAt, KeyARN: k.ARN, GrantID: g.ID,
			Caller: g.CreatedBy, SourceIP: "bedrock.amazonaws.com", Grantee: g.Grantee, RetiringPrincipal: g.RetiringPrincipal, Operations: g.Operations}
		if r, err := svc.Ingest(ctx, ev); err != nil || r.Outcome != lifecycle.Duplicate {
			t.Errorf("duplicate CreateGrant of migrated grant %s: %s, %v; want a duplicate", g.ID, r.Outcome, err)
		}
		break
	}
	for _, ev := range secondaryLife(900, now) {
		ev.KeyARN = k.ARN
		if _, err := svc.Ingest(ctx, ev); err != nil {
			t.Errorf("Ingest(%s) on the migrated table: %v", ev.Name, err)
		}
	}
}

// TestMigrateIndexesPrefixes: grant items written before GrantsByIdPrefix and GrantsByAccount existed (no gsi3pk,
// no ac) are found neither by prefix nor by account; `table migrate` adds the keys to exactly those
// (reported grants only), and a second run has nothing to do.
func TestMigrateIndexesPrefixes(t *testing.T) {
	ctx := context.Background()
	tbl, client := newTable(t)
	keyWithGrants := lifecycle.NewKey(keyA)
	for _, g := range []lifecycle.Grant{activeGrant(keyA, "abcdef0011aa"), archived(endedGrant(keyA, "abcdef0022bb")), pendingGrant(keyA, "abcdef0033cc")} {
		keyWithGrants.Grants[g.ID] = g
	}
	if err := saveAll(ctx, tbl, keyWithGrants, false); err != nil {
		t.Fatal(err)
	}
	for _, sk := range []string{"GRANT#abcdef0011aa", "ARCHIVE#abcdef0022bb", "GRANT#abcdef0033cc"} {
		if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tableName),
			Key: map[string]types.AttributeValue{"pk": str("KEY#" + keyA), "sk": str(sk)}, UpdateExpression: aws.String("REMOVE gsi3pk, ac")}); err != nil {
			t.Fatal(err)
		}
	}
	rd := store.NewReader(client, tableName)
	byAccount := func() []string {
		t.Helper()
		_, _, account := lifecycle.KeyPlace(keyA)
		page, err := rd.QueryGrants(ctx, app.GrantQuery{Account: account, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, g := range page.Grants {
			ids = append(ids, g.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if ids, err := rd.GrantIDs(ctx, "abcdef00", 10); err != nil || len(ids) != 0 {
		t.Fatalf("GrantIDs before the migration = %q, %v; want none (the items predate the index)", ids, err)
	}
	if ids := byAccount(); len(ids) != 0 {
		t.Fatalf("grants by account before the migration = %q; want none (the items predate the index)", ids)
	}
	now := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	dry, err := store.Migrate(ctx, client, tableName, now, lifecycle.DefaultConfig(), true)
	if err != nil || dry.Indexed != 2 || dry.ByAccount != 2 {
		t.Fatalf("Migrate(dry run) = %+v, %v; want 2 grants to index by prefix and by account", dry, err)
	}
	if ids, _ := rd.GrantIDs(ctx, "abcdef00", 10); len(ids) != 0 || len(byAccount()) != 0 {
		t.Fatalf("a dry run indexed %q", ids)
	}
	rep, err := store.Migrate(ctx, client, tableName, now, lifecycle.DefaultConfig(), false)
	if err != nil || rep.Indexed != 2 || rep.ByAccount != 2 || rep.Keys != 0 {
		t.Fatalf("Migrate() = %+v, %v; want 2 grants indexed by prefix and by account and no key converted", rep, err)
	}
	want := []string{"abcdef0011aa", "abcdef0022bb"}
	if ids, err := rd.GrantIDs(ctx, "abcdef00", 10); err != nil || !slices.Equal(ids, want) {
		t.Errorf("GrantIDs after the migration = %q, %v; want the two reported grants", ids, err)
	}
	if ids := byAccount(); !slices.Equal(ids, want) {
		t.Errorf("grants by account after the migration = %q; want the two reported grants", ids)
	}
	if again, err := store.Migrate(ctx, client, tableName, now, lifecycle.DefaultConfig(), false); err != nil || again.Indexed != 0 || again.ByAccount != 0 {
		t.Errorf("second Migrate() = %+v, %v; want nothing to index", again, err)
	}
}

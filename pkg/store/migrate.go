package store

// Migration from format 1 (v1.go) to FormatVersion. Format 1 kept every grant a key ever had under GRANT#<id> and no
// meta record, and the Bedrock job registry in one item; Migrate rewrites each key's items in format 2, builds its
// meta record and moves the grants that ended before the working set's horizon to the archive, key by key with the
// same conditional writes as SaveKey, splits the job registry (MigrateJobs), then stamps the table. It is
// idempotent: a key already in format 2 with a meta record is left alone, so a run that stopped half way is
// finished by running it again. Run it with ingest stopped (the writes are conditional, so a
// racing writer makes it fail, not lose data; run it again).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// MigrateReport says what Migrate did (or, in a dry run, would do).
type MigrateReport struct {
	Table       string `json:"table"`
	From        int    `json:"fromFormat"`
	Keys        int    `json:"keysConverted"`
	KeysCurrent int    `json:"keysAlreadyCurrent"`
	Grants      int    `json:"grantsRewritten"`
	Archived    int    `json:"grantsArchived"`
	JobRecords  int    `json:"jobRecordsWritten"` // the Bedrock job registry's single item, split (MigrateJobs)
	// Indexed counts grant items given the GrantsByIdPrefix key they lacked, ByAccount those given the
	// GrantsByAccount keys: written before that index existed.
	Indexed   int  `json:"grantsIndexed"`
	ByAccount int  `json:"grantsIndexedByAccount"`
	DryRun    bool `json:"dryRun,omitempty"`
}

// MigrateAPI is what Migrate uses: a checked table, and UpdateItem to add an index key to an item in place.
type MigrateAPI interface {
	CheckedAPI
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ MigrateAPI = (*dynamodb.Client)(nil)

// Migrate converts the table to FormatVersion at time now (which, with cfg, decides what is archived), then gives
// every reported grant item its GrantsByIdPrefix and GrantsByAccount keys (indexGrants). A table already stamped with FormatVersion
// only gets the second step; one of a newer format is a *FormatError.
func Migrate(ctx context.Context, api MigrateAPI, table string, now time.Time, cfg lifecycle.Config, dryRun bool) (MigrateReport, error) {
	rep := MigrateReport{Table: table, DryRun: dryRun}
	f, empty, err := Format(ctx, api, table)
	if err != nil {
		return rep, err
	}
	rep.From = f
	switch {
	case f > FormatVersion:
		return rep, &FormatError{Table: table, Format: f}
	case f == FormatVersion && !empty:
		return indexGrants(ctx, api, table, rep) // stamped: every key was converted
	}
	keys, current, err := keysToMigrate(ctx, api, table)
	if err != nil {
		return rep, err
	}
	rep.KeysCurrent = current
	tbl := New(api, table)
	horizon := now.Add(-cfg.Retention())
	for _, arn := range keys {
		k, err := tbl.LoadKey(ctx, arn, lifecycle.Load{Scope: lifecycle.ScopeAll})
		if err != nil {
			return rep, fmt.Errorf("store: migrate key %s: %w", arn, err)
		}
		r := k.RebuildMeta()
		r.Changed = slices.Sorted(maps.Keys(k.Grants))
		r.UsageChanged = k.Usage.Version > 0
		r = lifecycle.MergeResult(r, k.Settle(r, horizon))
		rep.Keys++
		rep.Grants += len(r.Changed)
		rep.Archived += len(r.Moved)
		if dryRun {
			continue
		}
		if err := tbl.SaveKey(ctx, k, r); err != nil {
			return rep, fmt.Errorf("store: migrate key %s: %w (run the migration again)", arn, err)
		}
	}
	if dryRun {
		return rep, nil
	}
	if rep.JobRecords, err = MigrateJobs(ctx, api, table); err != nil {
		return rep, fmt.Errorf("store: migrate the Bedrock job registry: %w (run the migration again)", err)
	}
	if err := stampFormat(ctx, api, table); err != nil {
		return rep, err
	}
	// Converted keys were written with the keys; keys that were current already may predate the indexes.
	return indexGrants(ctx, api, table, rep)
}

// indexGrants adds the keys of the indexes added to format 2 after it began (GrantsByIdPrefix's gsi3pk,
// GrantsByAccount's ac) to the grant items that lack them: one Scan of the item keys and the
// attributes that decide, then one UpdateItem per item. The update changes only the index keys, on the condition
// that the item is still there without them, so a writer racing it loses nothing (the writer's item carries the keys
// itself).
func indexGrants(ctx context.Context, api MigrateAPI, table string, rep MigrateReport) (MigrateReport, error) {
	pages := dynamodb.NewScanPaginator(api, &dynamodb.ScanInput{TableName: aws.String(table),
		ProjectionExpression: aws.String("pk, sk, fv, grantId, gsi3pk, ac, pd, kind")})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return rep, fmt.Errorf("store: list the grants of table %s: %w", table, err)
		}
		for _, item := range out.Items {
			keyARN, _ := strings.CutPrefix(stringAttr(item, "pk"), keyPrefix)
			_, _, isGrant := grantIDOf(stringAttr(item, "sk"))
			pending, _ := item["pd"].(*types.AttributeValueMemberBOOL)
			g := lifecycle.Grant{ID: stringAttr(item, "grantId"), Kind: lifecycle.Kind(stringAttr(item, "kind")), Pending: pending != nil && pending.Value}
			if !isGrant || g.ID == "" || formatOf(item) != FormatVersion {
				continue
			}
			var set, conds []string
			values := map[string]types.AttributeValue{}
			if p := idPrefixKey(g); p != "" && item["gsi3pk"] == nil {
				set, conds, values[":p"] = append(set, "gsi3pk = :p"), append(conds, "attribute_not_exists(gsi3pk)"), str(p)
			}
			if a := accountIndexKey(keyARN, g); a != "" && item["ac"] == nil {
				set, conds, values[":a"] = append(set, "ac = :a"), append(conds, "attribute_not_exists(ac)"), str(a)
			}
			if len(set) == 0 {
				continue
			}
			prefix, account := values[":p"] != nil, values[":a"] != nil
			if rep.DryRun {
				rep.Indexed, rep.ByAccount = rep.Indexed+b2i(prefix), rep.ByAccount+b2i(account)
				continue
			}
			_, err = api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(table),
				Key:                       map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]},
				UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
				ConditionExpression:       aws.String("attribute_exists(pk) AND " + strings.Join(conds, " AND ")),
				ExpressionAttributeValues: values,
			})
			var ccf *types.ConditionalCheckFailedException
			if errors.As(err, &ccf) {
				continue // rewritten or moved meanwhile: its writer indexed it
			}
			if err != nil {
				return rep, fmt.Errorf("store: index grant %s of table %s: %w (run the migration again)", g.ID, table, err)
			}
			rep.Indexed, rep.ByAccount = rep.Indexed+b2i(prefix), rep.ByAccount+b2i(account)
		}
	}
	return rep, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keysToMigrate lists, sorted, the keys with an item of format 1 or without a meta record, and counts the others.
// One Scan of the item keys and formats: the migration is the one operation that must see every item.
func keysToMigrate(ctx context.Context, api dynamodb.ScanAPIClient, table string) ([]string, int, error) {
	old, hasMeta := map[string]bool{}, map[string]bool{}
	pages := dynamodb.NewScanPaginator(api, &dynamodb.ScanInput{TableName: aws.String(table),
		ProjectionExpression: aws.String("pk, sk, fv")})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list the items of table %s: %w", table, err)
		}
		for _, item := range out.Items {
			arn, ok := strings.CutPrefix(stringAttr(item, "pk"), keyPrefix)
			if !ok {
				continue
			}
			old[arn] = old[arn] || formatOf(item) != FormatVersion
			hasMeta[arn] = hasMeta[arn] || stringAttr(item, "sk") == metaSK
		}
	}
	var keys []string
	current := 0
	for arn := range old {
		if old[arn] || !hasMeta[arn] {
			keys = append(keys, arn)
		} else {
			current++
		}
	}
	slices.Sort(keys)
	return keys, current, nil
}

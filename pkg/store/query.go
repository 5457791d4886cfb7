package store

// The read side of the table: app.QueryStore over DynamoDB, by key conditions only. Reader has no Scan and no
// write: its API interface does not even offer them. It reads format 1 items as well as format 2 (items.go), so
// queries work on a table that has not been migrated yet.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Index names template.yaml shares.
const (
	KindIndex = "GrantsByKind" // gsi2pk = KIND#<kind>, gsi2sk = <createdAt fixed width>#<grantId[:8]> (format 1: #<keyArn>#<grantId>)
	IDIndex   = "GrantsById"   // grantId, KEYS_ONLY
	// PrefixIndex finds grants by the start of their id: gsi3pk = grantId[:app.GrantIDPrefixLen], sort key grantId,
	// KEYS_ONLY. Pending tombstones are left out, so a hidden grant never makes a prefix ambiguous.
	PrefixIndex = "GrantsByIdPrefix"
	// AccountIndex holds a whole organization's grants by the account of their key: ac = <account>, sorted by
	// GrantsByKind's gsi2sk, so that account and "created at or before" are key conditions. It has the grants
	// GrantsByKind has and projects the same attributes. The partition key's name is short because every reported
	// grant carries it, and a typical grant item stays under 1 KB, one write unit.
	AccountIndex = "GrantsByAccount"
)

// KindIndexAttributes are the non-key attributes GrantsByKind projects: what a GrantSummary needs. keyArn is
// format 1's; format 2 takes the key from pk.
var KindIndexAttributes = []string{"grantId", "keyArn", "kind", "createdAt", "createEventId", "createdBy",
	"parentGrantId", "endedAt", "endedBy"}

const (
	kindPrefix = "KIND#"
	// sortTimeLayout is fixed width (always nanoseconds, always Z), so that sort keys order by time.
	sortTimeLayout = "2006-01-02T15:04:05.000000000Z"
	// maxReadPages bounds the DynamoDB pages one QueryGrants call reads when filters drop what it reads.
	maxReadPages = 20
)

// QueryAPI is the part of *dynamodb.Client that Reader uses: Query and GetItem, nothing else.
type QueryAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	dynamodb.QueryAPIClient
}

var (
	_ QueryAPI       = (*dynamodb.Client)(nil)
	_ app.QueryStore = (*Reader)(nil)
)

// Reader is the DynamoDB app.QueryStore.
type Reader struct {
	api  QueryAPI
	name string
}

// NewReader returns a Reader on the table named table.
func NewReader(api QueryAPI, table string) *Reader { return &Reader{api: api, name: table} }

// kindIndexKeys returns the GrantsByKind attributes of g, or nil when g is not indexed by kind: pending tombstones
// are never reported, and a grant with no kind yet has nothing to list it under.
func kindIndexKeys(g lifecycle.Grant) map[string]string {
	if g.Pending || g.Kind == "" {
		return nil
	}
	return map[string]string{
		"gsi2pk": kindPrefix + string(g.Kind),
		"gsi2sk": sortTime(g.CreatedAt) + "#" + shortID(g.ID),
	}
}

// accountIndexKey returns the AccountIndex partition of g on the key keyARN, or "" when g is not in that index: the
// grants of GrantsByKind whose key names an account. Its sort key is GrantsByKind's.
func accountIndexKey(keyARN string, g lifecycle.Grant) string {
	_, _, account := lifecycle.KeyPlace(keyARN)
	if kindIndexKeys(g) == nil {
		return ""
	}
	return account
}

// idPrefixKey is the PrefixIndex partition of g, or "" when g is not in that index.
func idPrefixKey(g lifecycle.Grant) string {
	if !g.Reported() {
		return ""
	}
	return g.ID[:min(len(g.ID), app.GrantIDPrefixLen)]
}

// shortID is the part of a grant id GrantsByKind sorts by after the creation time: enough to order grants created
// in the same nanosecond the same way every time, short enough to keep the item small.
func shortID(id string) string { return id[:min(len(id), 8)] }

// sortTime formats t for a sort key; a grant never created sorts as the zero time, first.
func sortTime(t time.Time) string { return t.UTC().Format(sortTimeLayout) }

// bound is the exclusive upper sort key of "created at or before t": every gsi2sk of that time is <time>#...,
// and '$' sorts right after '#'.
func bound(t time.Time) string { return sortTime(t) + "$" }

// QueryGrants reads one page of q: the key's partition of the table, the kind's partition of GrantsByKind, or the
// account's of GrantsByAccount.
func (r *Reader) QueryGrants(ctx context.Context, q app.GrantQuery) (app.GrantPage, error) {
	in, err := r.grantQueryInput(q)
	if err != nil {
		return app.GrantPage{}, err
	}
	var page app.GrantPage
	for range maxReadPages {
		in.Limit = aws.Int32(int32(q.Limit - len(page.Grants)))
		out, err := r.api.Query(ctx, in)
		if err != nil {
			return app.GrantPage{}, fmt.Errorf("store: query grants: %w", err)
		}
		for _, item := range out.Items {
			decode := decodeGrant
			if q.KeyARN == "" {
				decode = decodeIndexed
			}
			g, err := decode(item)
			if err != nil {
				return app.GrantPage{}, fmt.Errorf("store: query grants: decode %s: %w", stringAttr(item, "sk"), err)
			}
			if g.Reported() && (q.Match == nil || q.Match(g)) {
				page.Grants = append(page.Grants, g)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		if len(page.Grants) >= q.Limit {
			break
		}
	}
	pos, err := encodePosition(in.ExclusiveStartKey)
	if err != nil {
		return app.GrantPage{}, err
	}
	page.Next = pos
	return page, nil
}

// The three places a GrantQuery reads: a key's partition of the table, a kind's of GrantsByKind, an account's of
// GrantsByAccount.
const (
	readKey = iota
	readKind
	readAccount
)

// readOf says where q reads, or why it cannot be read: Reader and Memory refuse the same queries.
func readOf(q app.GrantQuery) (int, error) {
	n := 0
	for _, set := range []bool{q.KeyARN != "", q.Kind != "", q.Account != ""} {
		if set {
			n++
		}
	}
	switch {
	case q.Limit < 1:
		return 0, fmt.Errorf("store: query grants: limit %d", q.Limit)
	case n != 1:
		return 0, fmt.Errorf("store: query grants: exactly one of key, kind and account is needed (key %q, kind %q, account %q)", q.KeyARN, q.Kind, q.Account)
	case q.KeyARN != "":
		return readKey, nil
	case q.Kind != "":
		return readKind, nil
	}
	return readAccount, nil
}

func (r *Reader) grantQueryInput(q app.GrantQuery) (*dynamodb.QueryInput, error) {
	read, err := readOf(q)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{TableName: aws.String(r.name)}
	switch read {
	case readKey:
		// The archive and the working set: ARCHIVE#... and GRANT#..., and nothing else, sort in [ARCHIVE#, GRANT$).
		in.KeyConditionExpression = aws.String("pk = :pk AND sk BETWEEN :a AND :g")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": str(keyPrefix + q.KeyARN),
			":a": str(archivePrefix), ":g": str(strings.TrimSuffix(grantPrefix, "#") + "$")}
	case readKind, readAccount:
		part, cond := ":k", "gsi2pk = :k"
		in.IndexName = aws.String(KindIndex)
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":k": str(kindPrefix + string(q.Kind))}
		if read == readAccount {
			in.IndexName, cond = aws.String(AccountIndex), "ac = :k"
			in.ExpressionAttributeValues[part] = str(q.Account)
		}
		in.KeyConditionExpression = aws.String(cond)
		if !q.CreatedAtMost.IsZero() {
			in.KeyConditionExpression = aws.String(cond + " AND gsi2sk < :b")
			in.ExpressionAttributeValues[":b"] = str(bound(q.CreatedAtMost))
		}
	}
	if q.After != "" {
		start, err := checkPosition(q, q.After)
		if err != nil {
			return nil, err
		}
		in.ExclusiveStartKey = make(map[string]types.AttributeValue, len(start))
		for k, v := range start {
			in.ExclusiveStartKey[k] = str(v)
		}
	}
	return in, nil
}

// A position is the JSON of the item key DynamoDB resumes after (all string attributes). Memory uses the same.
func encodePosition(key map[string]types.AttributeValue) (string, error) {
	m := make(map[string]string, len(key))
	for k, v := range key {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("store: query grants: key attribute %s is not a string", k)
		}
		m[k] = s.Value
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("store: query grants: %w", err)
	}
	return string(b), nil
}

// checkPosition decodes a position and checks that it is the key of an item this query could have returned: the
// exact attribute set of the table or index, in the query's partition, within its bound. DynamoDB would reject
// anything else with a ValidationException (a 500 to the caller); a forged position never becomes a wider read.
func checkPosition(q app.GrantQuery, pos string) (map[string]string, error) {
	bad := func(why string) (map[string]string, error) { return nil, fmt.Errorf("%w: %s", app.ErrBadCursor, why) }
	var m map[string]string
	dec := json.NewDecoder(strings.NewReader(pos))
	if err := dec.Decode(&m); err != nil || dec.More() {
		return bad("position is not a key")
	}
	for k, v := range m {
		if len(v) == 0 || len(v) > 2048 {
			return bad("position attribute " + k + " has a bad length")
		}
	}
	grantID, _, ok := grantIDOf(m["sk"])
	if !ok || grantID == "" {
		return bad("position is not a grant")
	}
	if q.KeyARN != "" {
		if len(m) != 2 || m["pk"] != keyPrefix+q.KeyARN {
			return bad("position belongs to another key")
		}
		return m, nil
	}
	_, _, account := lifecycle.KeyPlace(strings.TrimPrefix(m["pk"], keyPrefix))
	switch {
	case q.Account != "" && (len(m) != 4 || m["ac"] != q.Account || account != q.Account):
		return bad("position belongs to another account")
	case q.Account == "" && (len(m) != 4 || m["gsi2pk"] != kindPrefix+string(q.Kind)):
		return bad("position belongs to another kind")
	}
	rest, ok := strings.CutSuffix(m["gsi2sk"], "#"+shortID(grantID))
	if !ok {
		rest, ok = strings.CutSuffix(m["gsi2sk"], "#"+grantID) // format 1
	}
	if !ok {
		return bad("position is inconsistent")
	}
	ts, keyARN, v1 := strings.Cut(rest, "#") // format 1 repeats the key
	if _, err := time.Parse(sortTimeLayout, ts); err != nil || !strings.HasPrefix(m["pk"], keyPrefix) || (v1 && m["pk"] != keyPrefix+keyARN) {
		return bad("position is inconsistent")
	}
	if !q.CreatedAtMost.IsZero() && m["gsi2sk"] >= bound(q.CreatedAtMost) {
		return bad("position is outside this query")
	}
	return m, nil
}

// GrantKeys queries GrantsById.
func (r *Reader) GrantKeys(ctx context.Context, grantID string) ([]string, error) {
	var keys []string
	if err := eachItem(ctx, r.api, &dynamodb.QueryInput{
		TableName:                 aws.String(r.name),
		IndexName:                 aws.String(IDIndex),
		KeyConditionExpression:    aws.String("grantId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": str(grantID)},
	}, nil, func(item map[string]types.AttributeValue) error {
		// Only grant items: another item type that happens to carry a grantId attribute is not the grant.
		id, _, isGrant := grantIDOf(stringAttr(item, "sk"))
		if arn, ok := strings.CutPrefix(stringAttr(item, "pk"), keyPrefix); ok && isGrant && id == grantID {
			keys = append(keys, arn)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: find grant %s: %w", grantID, err)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// GrantIDs queries PrefixIndex: one partition, the ids that begin with prefix in order. Grant items written before
// the index existed are found once `grantwatch table migrate` has given them their gsi3pk.
func (r *Reader) GrantIDs(ctx context.Context, prefix string, limit int) ([]string, error) {
	if len(prefix) < app.GrantIDPrefixLen || limit < 1 {
		return nil, fmt.Errorf("store: find grants by prefix %q: want at least %d characters and a limit, got limit %d", prefix, app.GrantIDPrefixLen, limit)
	}
	var ids []string
	if err := eachItem(ctx, r.api, &dynamodb.QueryInput{
		TableName:              aws.String(r.name),
		IndexName:              aws.String(PrefixIndex),
		KeyConditionExpression: aws.String("gsi3pk = :p AND begins_with(grantId, :id)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(prefix[:app.GrantIDPrefixLen]),
			":id": str(prefix)},
	}, nil, func(item map[string]types.AttributeValue) error {
		id := stringAttr(item, "grantId")
		// Sorted by grantId: the same id on several keys comes in a row.
		if n := len(ids); id != "" && (n == 0 || ids[n-1] != id) {
			ids = append(ids, id)
		}
		if len(ids) == limit {
			return errEnough
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: find grants by prefix %s: %w", prefix, err)
	}
	return ids, nil
}

// Grant reads one grant item, from the working set or else the archive; the zero Grant when there is none.
func (r *Reader) Grant(ctx context.Context, keyARN, grantID string) (lifecycle.Grant, error) {
	for _, sk := range []string{grantPrefix + grantID, archivePrefix + grantID} {
		item, err := r.get(ctx, keyARN, sk)
		if err != nil {
			return lifecycle.Grant{}, fmt.Errorf("store: get grant %s: %w", grantID, err)
		}
		if item != nil {
			g, err := decodeGrant(item)
			if err != nil {
				return lifecycle.Grant{}, fmt.Errorf("store: get grant %s: %w", grantID, err)
			}
			return g, nil
		}
	}
	return lifecycle.Grant{}, nil
}

// Usage reads the key's usage item; the zero Usage when there is none.
func (r *Reader) Usage(ctx context.Context, keyARN string) (lifecycle.Usage, error) {
	item, err := r.get(ctx, keyARN, usageSK)
	if err != nil || item == nil {
		return lifecycle.Usage{}, err
	}
	u, err := decodeUsage(item)
	if err != nil {
		return lifecycle.Usage{}, fmt.Errorf("store: get usage of key %s: %w", keyARN, err)
	}
	return u, nil
}

func (r *Reader) get(ctx context.Context, keyARN, sk string) (map[string]types.AttributeValue, error) {
	out, err := r.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.name),
		Key:       map[string]types.AttributeValue{"pk": str(keyPrefix + keyARN), "sk": str(sk)},
	})
	if err != nil || len(out.Item) == 0 {
		return nil, err
	}
	return out.Item, nil
}

// indexedItem is what GrantsByKind projects of a grant item, in both formats (their names are the same there).
type indexedItem struct {
	PK            string      `dynamodbav:"pk"`
	SK            string      `dynamodbav:"sk"`
	GrantID       string      `dynamodbav:"grantId"`
	Kind          string      `dynamodbav:"kind"`
	CreatedAt     string      `dynamodbav:"createdAt"`
	CreateEventID string      `dynamodbav:"createEventId"`
	CreatedBy     *callerItem `dynamodbav:"createdBy"`
	ParentID      string      `dynamodbav:"parentGrantId"`
	EndedAt       string      `dynamodbav:"endedAt"`
	EndedBy       string      `dynamodbav:"endedBy"`
}

// decodeIndexed decodes a GrantsByKind item: a grant with what a summary needs.
func decodeIndexed(item map[string]types.AttributeValue) (lifecycle.Grant, error) {
	var it indexedItem
	if err := unmarshalItem(item, &it); err != nil {
		return lifecycle.Grant{}, err
	}
	keyARN, ok := strings.CutPrefix(it.PK, keyPrefix)
	id, archived, isGrant := grantIDOf(it.SK)
	if !ok || !isGrant {
		return lifecycle.Grant{}, fmt.Errorf("index item %s/%s is not a grant", it.PK, it.SK)
	}
	var times timeReader
	g := lifecycle.Grant{ID: id, KeyARN: keyARN, Kind: lifecycle.Kind(it.Kind), CreatedAt: times.at(it.CreatedAt),
		CreateEventID: it.CreateEventID, CreatedBy: it.CreatedBy.caller(), ParentID: it.ParentID, EndedAt: times.at(it.EndedAt),
		EndedBy: it.EndedBy, Archived: archived}
	if times.err != nil {
		return lifecycle.Grant{}, fmt.Errorf("index item %s: %w", it.SK, times.err)
	}
	return g, nil
}

// Children reads the key's grants and keeps those whose parent is grantID.
func (r *Reader) Children(ctx context.Context, keyARN, grantID string) ([]lifecycle.Grant, error) {
	var out []lifecycle.Grant
	after := ""
	for {
		page, err := r.QueryGrants(ctx, app.GrantQuery{KeyARN: keyARN, After: after, Limit: app.MaxLimit,
			Match: func(g lifecycle.Grant) bool { return g.ParentID == grantID }})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Grants...)
		if page.Next == "" {
			return out, nil
		}
		after = page.Next
	}
}

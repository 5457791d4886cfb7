package app

// The Query use case: grant inventory, point-in-time questions (here), one grant's history (history.go) and the key
// inventory (keys.go), for the CLI and the HTTP API. It reads only; its port has no write and no scan. Parsing what
// callers type is pkg/param's, the wire format (JSON, page tokens) pkg/queryapi's.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Page sizes: ListGrants' own range, so people and scripts meet one convention.
const (
	MinLimit     = 1
	MaxLimit     = 100
	DefaultLimit = 50
	// maxStoreCalls bounds the store reads of one page request, so a request's latency stays bounded.
	maxStoreCalls = 8
)

// Kinds lists the grant kinds in the one order that inventories walk them and that lists, messages and
// api/openapi.yaml show them in.
var Kinds = []lifecycle.Kind{lifecycle.Primary, lifecycle.Secondary, lifecycle.KnowledgeBase, lifecycle.DataAutomation, lifecycle.OtherBedrock}

// States lists the grant states in the order lists, messages and api/openapi.yaml show them in. The last, "ended"
// (lifecycle.Unlisted), is a grant KMS no longer lists although no RetireGrant or RevokeGrant was recorded (reconcile
// found it): not every grant that has ended in the sense of Grant.Ended, which retired and revoked grants are too.
var States = []lifecycle.State{lifecycle.Active, lifecycle.Retired, lifecycle.Revoked, lifecycle.Unlisted}

// GrantQuery is one key-condition read of a store. Exactly one of KeyARN, Kind and Account is set.
type GrantQuery struct {
	KeyARN  string         // the key's partition of the table
	Kind    lifecycle.Kind // the kind's partition of the GrantsByKind index (oldest first)
	Account string         // the account's partition of the GrantsByAccount index (oldest first): its keys' grants
	// CreatedAtMost, when set, bounds the creation time (inclusive): a key condition on the kind and account indexes.
	// Grants never created (only their end seen) count as created at the zero time.
	CreatedAtMost time.Time
	Match         func(lifecycle.Grant) bool // applied after reading; nil keeps every reported grant
	After         string                     // a position returned as GrantPage.Next; empty for the first page
	Limit         int                        // at most this many grants
}

// GrantPage is one page of a GrantQuery. Next is empty on the last page.
type GrantPage struct {
	Grants []lifecycle.Grant
	Next   string
}

// GrantIDPrefixLen is the shortest grant id prefix GrantIDs takes: stores index grants by their first
// GrantIDPrefixLen characters, so that a prefix is a key condition, never a scan.
const GrantIDPrefixLen = 8

// QueryStore is the port of the Query use case: key-condition reads only (no Scan, no write).
type QueryStore interface {
	// QueryGrants returns reported grants (never pending tombstones) that match q, in index order. A page may hold
	// fewer than q.Limit grants while Next is set. A position that does not belong to q is an ErrBadCursor.
	QueryGrants(ctx context.Context, q GrantQuery) (GrantPage, error)
	// GrantKeys returns the keys on which a grant with this id is recorded (usually one).
	GrantKeys(ctx context.Context, grantID string) ([]string, error)
	// GrantIDs returns, in id order and each once, up to limit ids of reported grants that begin with prefix, which
	// has at least GrantIDPrefixLen characters: what a person who copied the start of an id from a table means.
	GrantIDs(ctx context.Context, prefix string, limit int) ([]string, error)
	// Grant returns one grant; the zero Grant when it is not stored.
	Grant(ctx context.Context, keyARN, grantID string) (lifecycle.Grant, error)
	// Children returns the grants on the key whose parent is grantID.
	Children(ctx context.Context, keyARN, grantID string) ([]lifecycle.Grant, error)
	// Usage returns the key's usage record; the zero Usage when there is none.
	Usage(ctx context.Context, keyARN string) (lifecycle.Usage, error)
}

// Query answers questions about recorded grants.
type Query struct {
	store QueryStore
	now   func() time.Time
}

// NewQuery returns the use case. now is time.Now in production.
func NewQuery(store QueryStore, now func() time.Time) *Query {
	return &Query{store: store, now: now}
}

// Filter selects grants. Zero fields do not filter.
type Filter struct {
	KeyARN    string
	Kind      lifecycle.Kind
	State     lifecycle.State
	ActiveAt  time.Time     // active at this time, answered from history
	OlderThan time.Duration // created more than this long before now
	Account   string        // on keys of this account (a key ARN names it)
	Region    string        // on keys of this Region
}

// Place narrows reads to the keys of one account, one Region, or both; the zero Place does not narrow.
type Place struct {
	Account string
	Region  string
}

// Has reports whether the key is in the place.
func (p Place) Has(keyARN string) bool {
	_, region, account := lifecycle.KeyPlace(keyARN)
	return (p.Account == "" || account == p.Account) && (p.Region == "" || region == p.Region)
}

// String names the place for messages: "account 111122223333, Region eu-west-1".
func (p Place) String() string {
	var parts []string
	if p.Account != "" {
		parts = append(parts, "account "+p.Account)
	}
	if p.Region != "" {
		parts = append(parts, "Region "+p.Region)
	}
	return strings.Join(parts, ", ")
}

func (f Filter) place() Place { return Place{Account: f.Account, Region: f.Region} }

// Position is where a page of Grants starts: the partition (the key's, the account's, or one kind's of the kind
// index, in Kinds order) and the store's position in it. The zero Position is the first page.
type Position struct {
	Part  int    // index of the kind partition; always 0 with a key, an account or a kind filter
	After string // the store's position (GrantPage.Next); empty at the start of the partition
}

// Listing is one page of Grants. Next is nil on the last page.
type Listing struct {
	Grants []lifecycle.Grant
	Next   *Position
}

// Grants returns one page of the grants that pass f, starting at from (the Next of the previous page of the same
// filter, or the zero Position). A key reads its partition, an account the account index (kinds and Regions are
// then filters), anything else the kind index one kind at a time (a Region alone is a filter).
func (q *Query) Grants(ctx context.Context, f Filter, limit int, from Position) (Listing, error) {
	if limit < MinLimit || limit > MaxLimit {
		return Listing{}, &InputError{Field: "limit", Value: strconv.Itoa(limit), Problem: fmt.Sprintf("is out of range %d..%d", MinLimit, MaxLimit)}
	}
	now := q.now().UTC()
	kinds := Kinds
	if f.Kind != "" {
		kinds = []lifecycle.Kind{f.Kind}
	}
	single := f.KeyARN != "" || f.Account != "" // one partition, not one per kind
	if from.Part < 0 || !single && from.Part >= len(kinds) || single && from.Part != 0 {
		return Listing{}, fmt.Errorf("%w: it does not belong to this query", ErrBadCursor)
	}
	part, after := from.Part, from.After
	match := f.match(now)
	var bound time.Time
	switch {
	case !f.ActiveAt.IsZero() && f.OlderThan > 0:
		bound = minTime(f.ActiveAt, now.Add(-f.OlderThan-time.Nanosecond))
	case !f.ActiveAt.IsZero():
		bound = f.ActiveAt
	case f.OlderThan > 0:
		bound = now.Add(-f.OlderThan - time.Nanosecond) // older than: created strictly before now-D
	}
	out := Listing{Grants: []lifecycle.Grant{}}
	for calls := 1; ; calls++ {
		gq := GrantQuery{Match: match, After: after, Limit: limit - len(out.Grants), CreatedAtMost: bound}
		switch {
		case f.KeyARN != "":
			gq.KeyARN = f.KeyARN
		case f.Account != "":
			gq.Account = f.Account
		default:
			gq.Kind = kinds[part]
		}
		page, err := q.store.QueryGrants(ctx, gq)
		if err != nil {
			return Listing{}, err
		}
		out.Grants = append(out.Grants, page.Grants...)
		after = page.Next
		if after == "" && !single && part+1 < len(kinds) {
			part++ // this kind is done: the next page starts on the next kind
		} else if after == "" {
			return out, nil
		}
		// Enough grants, or enough work for one request (filters may drop most of what is read): the rest is
		// the next page's.
		if len(out.Grants) >= limit || calls >= maxStoreCalls {
			out.Next = &Position{Part: part, After: after}
			return out, nil
		}
	}
}

// AllGrants follows every page (for the CLI), stopping with an error beyond max grants.
func (q *Query) AllGrants(ctx context.Context, f Filter, max int) ([]lifecycle.Grant, error) {
	all := []lifecycle.Grant{}
	var from Position
	for {
		page, err := q.Grants(ctx, f, MaxLimit, from)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Grants...)
		if len(all) > max {
			return nil, &InputError{Problem: fmt.Sprintf("more than %d grants match; narrow the filter", max)}
		}
		if page.Next == nil {
			return all, nil
		}
		from = *page.Next
	}
}

func (f Filter) match(now time.Time) func(lifecycle.Grant) bool {
	return func(g lifecycle.Grant) bool {
		switch {
		case !g.Reported():
			return false
		case f.Kind != "" && g.Kind != f.Kind:
			return false
		case f.State != "" && g.State() != f.State:
			return false
		case !f.ActiveAt.IsZero() && !g.ActiveAt(f.ActiveAt):
			return false
		case f.OlderThan > 0 && (!g.Created() || now.Sub(g.CreatedAt) <= f.OlderThan):
			return false
		case !f.place().Has(g.KeyARN):
			return false
		}
		return true
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

package app

// The Query use case (issue 4): grant inventory, point-in-time questions and one grant's history, for the CLI and
// the HTTP API. It reads only; its port has no write and no scan.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

var (
	// ErrNotFound means the grant asked for is not recorded (or is only a hidden tombstone).
	ErrNotFound = errors.New("app: not found")
	// ErrInvalid means a query parameter or cursor is not acceptable; the message names it. Callers map it to a
	// usage error (CLI exit 2) or HTTP 400.
	ErrInvalid = errors.New("app: invalid query")
	// ErrBadCursor is returned by stores for a position that does not belong to the query; it wraps ErrInvalid.
	ErrBadCursor = fmt.Errorf("%w: invalid cursor", ErrInvalid)
)

// Page sizes: ListGrants' own range, so people and scripts meet one convention.
const (
	MinLimit     = 1
	MaxLimit     = 100
	DefaultLimit = 50
	// cursorTTL bounds how long a cursor is accepted: a stale one is rejected rather than resumed on changed data.
	cursorTTL = 24 * time.Hour
	// KMSGrantQuota is KMS's default quota of grants per key (adjustable): keys reports each key's share of it.
	KMSGrantQuota = 50000
	// maxStoreCalls bounds the store reads of one page request, so a request's latency stays bounded.
	maxStoreCalls = 8
)

// Kinds lists the grant kinds in the order inventories walk them.
var Kinds = []lifecycle.Kind{lifecycle.Primary, lifecycle.Secondary, lifecycle.KnowledgeBase, lifecycle.DataAutomation, lifecycle.OtherBedrock}

// GrantQuery is one key-condition read of a store. Exactly one of KeyARN and Kind is set.
type GrantQuery struct {
	KeyARN string         // the key's partition of the table
	Kind   lifecycle.Kind // the kind's partition of the GrantsByKind index (oldest first)
	// CreatedAtMost, when set, bounds the creation time (inclusive): a key condition on the kind index. Grants
	// never created (only their end seen) count as created at the zero time.
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

// QueryStore is the port of the Query use case: key-condition reads only (no Scan, no write).
type QueryStore interface {
	// QueryGrants returns reported grants (never pending tombstones) that match q, in index order. A page may hold
	// fewer than q.Limit grants while Next is set. A position that does not belong to q is an ErrBadCursor.
	QueryGrants(ctx context.Context, q GrantQuery) (GrantPage, error)
	// GrantKeys returns the keys on which a grant with this id is recorded (usually one).
	GrantKeys(ctx context.Context, grantID string) ([]string, error)
	// Grant returns one grant; the zero Grant when it is not stored.
	Grant(ctx context.Context, keyARN, grantID string) (lifecycle.Grant, error)
	// Children returns the grants on the key whose parent is grantID.
	Children(ctx context.Context, keyARN, grantID string) ([]lifecycle.Grant, error)
	// Usage returns the key's usage record; the zero Usage when there is none.
	Usage(ctx context.Context, keyARN string) (lifecycle.Usage, error)
}

// Query answers questions about recorded grants.
type Query struct {
	store  QueryStore
	now    func() time.Time
	secret []byte
}

// NewQuery returns the use case. now is time.Now in production; secret keys the cursor checksum (may be empty:
// cursors are then checked for integrity and shape but anyone could mint one; the caller's IAM permission, not the
// cursor, decides what it may read).
func NewQuery(store QueryStore, now func() time.Time, secret []byte) *Query {
	return &Query{store: store, now: now, secret: secret}
}

// Filter selects grants. Zero fields do not filter.
type Filter struct {
	KeyARN    string
	Kind      lifecycle.Kind
	State     lifecycle.State
	ActiveAt  time.Time     // active at this time, answered from history
	OlderThan time.Duration // created more than this long before now
}

// GrantSummary is one grant in an inventory.
type GrantSummary struct {
	GrantID       string          `json:"grantId"`
	KeyARN        string          `json:"keyArn"`
	Kind          lifecycle.Kind  `json:"kind"`
	State         lifecycle.State `json:"state"`
	ParentGrantID string          `json:"parentGrantId,omitempty"`
	CreatedAt     *time.Time      `json:"createdAt,omitempty"`
	CreatedBy     string          `json:"createdBy,omitempty"`
	EndedAt       *time.Time      `json:"endedAt,omitempty"`
	EndedBy       string          `json:"endedBy,omitempty"`
}

// GrantList is one page of an inventory.
type GrantList struct {
	Grants    []GrantSummary `json:"grants"`
	NextToken string         `json:"nextToken,omitempty"`
}

// ParseKeyARN accepts a full KMS key ARN (aws, aws-cn, aws-us-gov partitions; multi-Region keys too). An alias or a
// bare key id is refused: grants are recorded by key ARN.
func ParseKeyARN(s string) (string, error) {
	if !keyARN.MatchString(s) {
		return "", fmt.Errorf("%w: key %q is not a KMS key ARN such as arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", ErrInvalid, s)
	}
	return s, nil
}

var keyARN = regexp.MustCompile(`^arn:aws(-cn|-us-gov|-iso|-iso-b)?:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/(mrk-)?[0-9a-fA-F-]{32,36}$`)

// grantID admits what KMS grant ids look like (64 hex characters in AWS, 8 in moto) with room to spare.
var grantIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ParseGrantID checks a grant id.
func ParseGrantID(s string) (string, error) {
	if !grantIDPattern.MatchString(s) {
		return "", fmt.Errorf("%w: grant id %q is not a KMS grant id (letters, digits, - and _, at most 128)", ErrInvalid, s)
	}
	return s, nil
}

// ParseKind checks a kind name.
func ParseKind(s string) (lifecycle.Kind, error) {
	if slices.Contains(Kinds, lifecycle.Kind(s)) {
		return lifecycle.Kind(s), nil
	}
	return "", fmt.Errorf("%w: kind %q is not one of primary, secondary, knowledge-base, data-automation, other-bedrock", ErrInvalid, s)
}

// ParseState checks a state name.
func ParseState(s string) (lifecycle.State, error) {
	switch st := lifecycle.State(s); st {
	case lifecycle.Active, lifecycle.Retired, lifecycle.Revoked, lifecycle.Gone:
		return st, nil
	}
	return "", fmt.Errorf("%w: state %q is not one of active, retired, revoked, ended (reconciled)", ErrInvalid, s)
}

// ParseTime accepts RFC 3339.
func ParseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time such as 2024-06-01T00:00:00Z", ErrInvalid, name, s)
	}
	return t.UTC(), nil
}

// ParseAge accepts a positive Go duration (36h, 90m) or a number of days (30d).
func ParseAge(name, s string) (time.Duration, error) {
	bad := fmt.Errorf("%w: %s %q is not a positive duration such as 24h, 90m or 30d", ErrInvalid, name, s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 36500 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// ParseLimit accepts MinLimit..MaxLimit; empty gives DefaultLimit.
func ParseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < MinLimit || n > MaxLimit {
		return 0, fmt.Errorf("%w: limit %q is out of range %d..%d", ErrInvalid, s, MinLimit, MaxLimit)
	}
	return n, nil
}

// Grants returns one page of the grants that pass f. cursor is the NextToken of the previous page of the same
// filter, or empty.
func (q *Query) Grants(ctx context.Context, f Filter, limit int, cursor string) (GrantList, error) {
	if limit < MinLimit || limit > MaxLimit {
		return GrantList{}, fmt.Errorf("%w: limit %d is out of range %d..%d", ErrInvalid, limit, MinLimit, MaxLimit)
	}
	now := q.now().UTC()
	fp := f.fingerprint()
	kinds := Kinds
	if f.Kind != "" {
		kinds = []lifecycle.Kind{f.Kind}
	}
	part, after := 0, ""
	if cursor != "" {
		c, err := q.decodeCursor(cursor, fp, now)
		if err != nil {
			return GrantList{}, err
		}
		if f.KeyARN == "" && c.Part >= len(kinds) || f.KeyARN != "" && c.Part != 0 {
			return GrantList{}, fmt.Errorf("%w: it does not belong to this query", ErrBadCursor)
		}
		part, after = c.Part, c.Pos
	}
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
	var out GrantList
	out.Grants = []GrantSummary{}
	for calls := 1; ; calls++ {
		gq := GrantQuery{Match: match, After: after, Limit: limit - len(out.Grants), CreatedAtMost: bound}
		if f.KeyARN != "" {
			gq.KeyARN = f.KeyARN
		} else {
			gq.Kind = kinds[part]
		}
		page, err := q.store.QueryGrants(ctx, gq)
		if err != nil {
			return GrantList{}, err
		}
		for _, g := range page.Grants {
			out.Grants = append(out.Grants, Summarize(g))
		}
		after = page.Next
		if after == "" && f.KeyARN == "" && part+1 < len(kinds) {
			part++ // this kind is done: the next page starts on the next kind
		} else if after == "" {
			return out, nil
		}
		// Enough grants, or enough work for one request (filters may drop most of what is read): the rest is
		// the next page's.
		if len(out.Grants) >= limit || calls >= maxStoreCalls {
			out.NextToken = q.encodeCursor(cursorBody{Part: part, Pos: after}, fp, now)
			return out, nil
		}
	}
}

// AllGrants follows every page (for the CLI), stopping with an error beyond max grants.
func (q *Query) AllGrants(ctx context.Context, f Filter, max int) ([]GrantSummary, error) {
	var all []GrantSummary
	cursor := ""
	for {
		page, err := q.Grants(ctx, f, MaxLimit, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Grants...)
		if len(all) > max {
			return nil, fmt.Errorf("%w: more than %d grants match; narrow the filter", ErrInvalid, max)
		}
		if page.NextToken == "" {
			return all, nil
		}
		cursor = page.NextToken
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
		}
		return true
	}
}

// fingerprint binds a cursor to the filter it was issued for. OlderThan is relative to now, so it is part of the
// fingerprint as a duration: the next page of "older than 24h" continues the same question.
func (f Filter) fingerprint() string {
	at := ""
	if !f.ActiveAt.IsZero() {
		at = f.ActiveAt.UTC().Format(time.RFC3339Nano)
	}
	return strings.Join([]string{f.KeyARN, string(f.Kind), string(f.State), at, f.OlderThan.String()}, "\x00")
}

// Summarize returns the inventory view of g.
func Summarize(g lifecycle.Grant) GrantSummary {
	s := GrantSummary{GrantID: g.ID, KeyARN: g.KeyARN, Kind: g.Kind, State: g.State(), ParentGrantID: g.ParentID,
		CreatedBy: g.CreatedBy.Name(), EndedBy: g.EndedBy}
	if g.Created() {
		t := g.CreatedAt.UTC()
		s.CreatedAt = &t
	}
	if g.Ended() {
		t := g.EndedAt.UTC()
		s.EndedAt = &t
	}
	return s
}

// GrantHistory is one grant with everything known about it.
type GrantHistory struct {
	Grant    lifecycle.Grant `json:"grant"`
	State    lifecycle.State `json:"state"`
	Created  *Creation       `json:"created,omitempty"`
	Ended    *Ending         `json:"ended,omitempty"`
	Parent   *GrantSummary   `json:"parent,omitempty"`
	Children []GrantSummary  `json:"children"`
	Usage    KeyUsage        `json:"keyUsage"`
	Timeline []TimelineEntry `json:"timeline"`
}

// Creation says who created the grant and from where.
type Creation struct {
	At         time.Time `json:"at"`
	By         string    `json:"by"`                  // role session or user ARN, or type/invokedBy
	CallerType string    `json:"callerType"`          // AssumedRole, AWSService, ...
	InvokedBy  string    `json:"invokedBy,omitempty"` // the service that called for the principal
	SourceIP   string    `json:"sourceIp,omitempty"`
	EventID    string    `json:"eventId"`
}

// Ending says who ended the grant and how.
type Ending struct {
	At        time.Time `json:"at"`
	How       string    `json:"how"` // RetireGrant or RevokeGrant
	By        string    `json:"by,omitempty"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	ByBedrock bool      `json:"byBedrock"`
	EventID   string    `json:"eventId"`
}

// KeyUsage is the key-level use record shown with a grant: use calls carry no grant id, so it is per key.
type KeyUsage struct {
	Calls      map[string]int64  `json:"calls"`
	LastUsedAt *time.Time        `json:"lastUsedAt,omitempty"`
	LastUsedBy string            `json:"lastUsedBy,omitempty"`
	Alerts     []lifecycle.Alert `json:"alerts"` // key-level alerts (use-after-retire)
}

// TimelineEntry is one thing that happened to the grant: a lifecycle event or an alert.
type TimelineEntry struct {
	At       time.Time `json:"at"`
	What     string    `json:"what"` // CreateGrant, RetireGrant, RevokeGrant, alert:<type> or resolved:<type>
	By       string    `json:"by,omitempty"`
	SourceIP string    `json:"sourceIp,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// History returns one grant's history. keyARN may be empty: the grant is then found by id alone, and an id recorded
// on several keys is an ErrInvalid asking for the key.
func (q *Query) History(ctx context.Context, grantID, keyARN string) (GrantHistory, error) {
	if keyARN == "" {
		keys, err := q.store.GrantKeys(ctx, grantID)
		if err != nil {
			return GrantHistory{}, err
		}
		switch len(keys) {
		case 0:
			return GrantHistory{}, fmt.Errorf("grant %s: %w", grantID, ErrNotFound)
		case 1:
			keyARN = keys[0]
		default:
			return GrantHistory{}, fmt.Errorf("%w: grant id %s is recorded on %d keys (%s); name the key", ErrInvalid, grantID, len(keys), strings.Join(keys, ", "))
		}
	}
	g, err := q.store.Grant(ctx, keyARN, grantID)
	if err != nil {
		return GrantHistory{}, err
	}
	if g.ID == "" || !g.Reported() {
		return GrantHistory{}, fmt.Errorf("grant %s on key %s: %w", grantID, keyARN, ErrNotFound)
	}
	h := GrantHistory{Grant: g, State: g.State(), Children: []GrantSummary{}}
	if g.ParentID != "" {
		p, err := q.store.Grant(ctx, keyARN, g.ParentID)
		if err != nil {
			return GrantHistory{}, err
		}
		if p.ID != "" && p.Reported() { // grant.parentGrantId still names a parent that is not stored
			s := Summarize(p)
			h.Parent = &s
		}
	}
	children, err := q.store.Children(ctx, keyARN, grantID)
	if err != nil {
		return GrantHistory{}, err
	}
	for _, c := range children {
		if c.Reported() {
			h.Children = append(h.Children, Summarize(c))
		}
	}
	u, err := q.store.Usage(ctx, keyARN)
	if err != nil {
		return GrantHistory{}, err
	}
	h.Usage = KeyUsage{Calls: u.Calls, LastUsedBy: u.LastUsedBy, Alerts: u.Alerts}
	if h.Usage.Calls == nil {
		h.Usage.Calls = map[string]int64{}
	}
	if h.Usage.Alerts == nil {
		h.Usage.Alerts = []lifecycle.Alert{}
	}
	if !u.LastUsedAt.IsZero() {
		t := u.LastUsedAt.UTC()
		h.Usage.LastUsedAt = &t
	}
	h.Timeline = []TimelineEntry{}
	for _, e := range g.History {
		h.Timeline = append(h.Timeline, TimelineEntry{At: e.Time.UTC(), What: e.Name, By: e.Caller, SourceIP: e.SourceIP, Detail: "event " + e.EventID})
		if e.EventID == g.CreateEventID {
			h.Created = &Creation{At: e.Time.UTC(), By: g.CreatedBy.Name(), CallerType: g.CreatedBy.Type,
				InvokedBy: g.CreatedBy.InvokedBy, SourceIP: e.SourceIP, EventID: e.EventID}
		}
		if e.EventID == g.EndEventID {
			h.Ended = &Ending{At: e.Time.UTC(), How: g.EndedBy, By: e.Caller, SourceIP: e.SourceIP, ByBedrock: g.EndedByBedrock, EventID: e.EventID}
		}
	}
	for _, a := range g.Alerts {
		h.Timeline = append(h.Timeline, TimelineEntry{At: a.RaisedAt.UTC(), What: "alert:" + string(a.Type), Detail: string(a.Severity) + ": " + a.Message})
		if !a.ResolvedAt.IsZero() {
			h.Timeline = append(h.Timeline, TimelineEntry{At: a.ResolvedAt.UTC(), What: "resolved:" + string(a.Type), Detail: a.Resolution})
		}
	}
	slices.SortStableFunc(h.Timeline, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
	return h, nil
}

// KeySummary is one key in the keys inventory.
type KeySummary struct {
	KeyARN string `json:"keyArn"`
	// Grants counts reported grants by kind, then by state.
	Grants                map[lifecycle.Kind]map[lifecycle.State]int `json:"grants"`
	Active                int                                        `json:"active"`
	Total                 int                                        `json:"total"`
	OldestActiveSecondary *GrantSummary                              `json:"oldestActiveSecondary,omitempty"`
	// QuotaShare is the active grants grantwatch knows of as a share of KMS's default 50,000 grants per key. Grants
	// that do not involve Bedrock are not recorded, so the key's real use of the quota may be higher.
	QuotaShare float64 `json:"quotaShare"`
}

// Keys summarises every key with recorded grants, sorted by key ARN. It reads the kind index in full (one Query
// per kind and page): its cost grows with the number of recorded grants.
func (q *Query) Keys(ctx context.Context) ([]KeySummary, error) {
	byKey := map[string]*KeySummary{}
	for _, kind := range Kinds {
		after := ""
		for {
			page, err := q.store.QueryGrants(ctx, GrantQuery{Kind: kind, After: after, Limit: MaxLimit})
			if err != nil {
				return nil, err
			}
			for _, g := range page.Grants {
				ks := byKey[g.KeyARN]
				if ks == nil {
					ks = &KeySummary{KeyARN: g.KeyARN, Grants: map[lifecycle.Kind]map[lifecycle.State]int{}}
					byKey[g.KeyARN] = ks
				}
				if ks.Grants[g.Kind] == nil {
					ks.Grants[g.Kind] = map[lifecycle.State]int{}
				}
				ks.Grants[g.Kind][g.State()]++
				ks.Total++
				if g.State() == lifecycle.Active {
					ks.Active++
					// The kind index is oldest first, so the first active secondary seen is the oldest.
					if g.Kind == lifecycle.Secondary && ks.OldestActiveSecondary == nil {
						s := Summarize(g)
						ks.OldestActiveSecondary = &s
					}
				}
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	out := make([]KeySummary, 0, len(byKey))
	for _, ks := range byKey {
		ks.QuotaShare = float64(ks.Active) / KMSGrantQuota
		out = append(out, *ks)
	}
	slices.SortFunc(out, func(a, b KeySummary) int { return strings.Compare(a.KeyARN, b.KeyARN) })
	return out, nil
}

// cursorBody is what a cursor carries besides its checks: which kind partition and where in it.
type cursorBody struct {
	Part int    `json:"k"`
	Pos  string `json:"p"`
}

type cursorWire struct {
	V      int    `json:"v"`
	Issued int64  `json:"t"`
	Query  string `json:"q"` // hash of the filter fingerprint
	cursorBody
}

const cursorVersion = 1

func (q *Query) encodeCursor(b cursorBody, fingerprint string, now time.Time) string {
	w := cursorWire{V: cursorVersion, Issued: now.Unix(), Query: hashString(fingerprint), cursorBody: b}
	payload, _ := json.Marshal(w) // plain struct of strings and ints: cannot fail
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(q.mac(payload))
}

func (q *Query) decodeCursor(token, fingerprint string, now time.Time) (cursorBody, error) {
	bad := func(why string) (cursorBody, error) { return cursorBody{}, fmt.Errorf("%w: %s", ErrBadCursor, why) }
	if len(token) > 4096 {
		return bad("too long")
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return bad("not a token this API issued")
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, q.mac(payload)) {
		return bad("not a token this API issued, or altered")
	}
	var w cursorWire
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || w.V != cursorVersion {
		return bad("unknown token format")
	}
	if w.Query != hashString(fingerprint) {
		return bad("it was issued for other filters; start again without a cursor")
	}
	issued := time.Unix(w.Issued, 0)
	if now.Sub(issued) > cursorTTL || issued.After(now.Add(time.Minute)) {
		return bad("it has expired; start again without a cursor")
	}
	if w.Part < 0 || w.Part == 0 && w.Pos == "" {
		return bad("no position")
	}
	return w.cursorBody, nil
}

func (q *Query) mac(payload []byte) []byte {
	h := hmac.New(sha256.New, append([]byte("grantwatch-cursor-v1"), q.secret...))
	h.Write(payload)
	return h.Sum(nil)[:16]
}

func hashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

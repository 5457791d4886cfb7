package store

// The on-disk format. Items are store-owned structs with their own attribute names, so the domain can rename a field
// without changing the table. Every item carries fv, its format version; FormatVersion is the one this code writes.
// Format 1 (grantwatch before the working set) stored the domain types under their JSON names, with no fv: it is
// still decoded (v1.go) for queries and for `grantwatch table migrate`, never written.
//
// Attribute names are short where nothing reads them but this package, and keep their format-1 names where an index
// projects them (GrantsByKind: grantId, kind, createdAt, createEventId, createdBy, parentGrantId, endedAt,
// endedBy), so the table's indexes are the same in both formats.

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// FormatVersion is the item format this code writes.
const FormatVersion = 2

// grantItem is one grant (sk GRANT#<id> in the working set, ARCHIVE#<id> in the archive).
type grantItem struct {
	PK            string        `dynamodbav:"pk"`
	SK            string        `dynamodbav:"sk"`
	Format        int           `dynamodbav:"fv"`
	Version       int64         `dynamodbav:"version"`
	GrantID       string        `dynamodbav:"grantId"`
	Kind          string        `dynamodbav:"kind,omitempty"`
	CreatedAt     string        `dynamodbav:"createdAt,omitempty"`
	CreateEventID string        `dynamodbav:"createEventId,omitempty"`
	CreatedBy     *callerItem   `dynamodbav:"createdBy,omitempty"`
	Grantee       string        `dynamodbav:"ge,omitempty"`
	Retiring      string        `dynamodbav:"rp,omitempty"`
	Operations    []string      `dynamodbav:"ops,omitempty"`
	Constraints   []string      `dynamodbav:"ck,omitempty"` // encryption-context key names; values are never kept
	Name          string        `dynamodbav:"nm,omitempty"`
	Through       bool          `dynamodbav:"tb,omitempty"`
	ParentID      string        `dynamodbav:"parentGrantId,omitempty"`
	EndedAt       string        `dynamodbav:"endedAt,omitempty"`
	EndedBy       string        `dynamodbav:"endedBy,omitempty"`
	EndEventID    string        `dynamodbav:"ee,omitempty"`
	EndedBedrock  bool          `dynamodbav:"eb,omitempty"`
	Pending       bool          `dynamodbav:"pd,omitempty"`
	History       []historyItem `dynamodbav:"h,omitempty"`
	Alerts        []alertItem   `dynamodbav:"al,omitempty"`
	// Index keys: ActiveGrants (the sweep) while in the working set; GrantsByKind, GrantsByIdPrefix and
	// GrantsByAccount when reported. ac is optional in format 2: `grantwatch table migrate` adds it to items written
	// before GrantsByAccount.
	GSI1PK  string `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK  string `dynamodbav:"gsi1sk,omitempty"`
	GSI2PK  string `dynamodbav:"gsi2pk,omitempty"`
	GSI2SK  string `dynamodbav:"gsi2sk,omitempty"`
	GSI3PK  string `dynamodbav:"gsi3pk,omitempty"` // GrantsByIdPrefix, when reported
	Account string `dynamodbav:"ac,omitempty"`     // GrantsByAccount's partition (its sort key is gsi2sk)
	TTL     int64  `dynamodbav:"ttl,omitempty"`
}

// callerItem keeps format 1's names: GrantsByKind projects createdBy, and the read side decodes both formats alike.
type callerItem struct {
	Type      string `dynamodbav:"type,omitempty"`
	ARN       string `dynamodbav:"arn,omitempty"`
	Account   string `dynamodbav:"accountId,omitempty"`
	InvokedBy string `dynamodbav:"invokedBy,omitempty"`
}

// historyItem is one history entry. The entries of the CreateGrant and the end that define the grant say so in Role
// ("c", "e") instead of repeating the time (and, for the creation, the caller) the grant item holds already: it
// keeps a typical grant under 1 KB, one write unit.
type historyItem struct {
	EventID   string `dynamodbav:"id"`
	Name      string `dynamodbav:"n"`
	Role      string `dynamodbav:"k,omitempty"`
	Time      string `dynamodbav:"t,omitempty"`
	Caller    string `dynamodbav:"by,omitempty"`
	SourceIP  string `dynamodbav:"ip,omitempty"`
	RequestID string `dynamodbav:"rq,omitempty"`
}

// alertItem is an alert on its grant or on the key's usage; grant and key come from the item that holds it.
type alertItem struct {
	Type             string `dynamodbav:"ty"`
	Severity         string `dynamodbav:"sv"`
	Message          string `dynamodbav:"m"`
	RaisedAt         string `dynamodbav:"at"`
	NotifiedAt       string `dynamodbav:"na,omitempty"`
	RemindedAt       string `dynamodbav:"ra,omitempty"`
	ResolvedAt       string `dynamodbav:"rs,omitempty"`
	Resolution       string `dynamodbav:"rn,omitempty"`
	ResolvedNotified string `dynamodbav:"rna,omitempty"`
	// The notice claimed and not yet confirmed sent, and when its lease began. Optional, like every attribute added
	// to format 2: an item without them has every claimed notice confirmed, as grantwatch had before leases.
	Unconfirmed string `dynamodbav:"nu,omitempty"`
	LeasedAt    string `dynamodbav:"nl,omitempty"`
}

// usageItem is the key's usage (sk USAGE): written by every Bedrock key-use call, so it stays small.
type usageItem struct {
	PK             string           `dynamodbav:"pk"`
	SK             string           `dynamodbav:"sk"`
	Format         int              `dynamodbav:"fv"`
	Version        int64            `dynamodbav:"version"`
	Calls          map[string]int64 `dynamodbav:"calls,omitempty"`
	LastUsedAt     string           `dynamodbav:"lu,omitempty"`
	LastUsedBy     string           `dynamodbav:"lb,omitempty"`
	FirstService   string           `dynamodbav:"fs,omitempty"`
	LastService    string           `dynamodbav:"ls,omitempty"`
	RecentEventIDs []string         `dynamodbav:"rc,omitempty"`
	Alerts         []alertItem      `dynamodbav:"al,omitempty"`
	Unchecked      []int64          `dynamodbav:"uc,omitempty"` // epoch milliseconds: this item is written by every Bedrock key use
	GSI1PK         string           `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK         string           `dynamodbav:"gsi1sk,omitempty"`
}

// metaItem is the key's meta record (sk META): the working set's primaries and the archive summary.
type metaItem struct {
	PK        string       `dynamodbav:"pk"`
	SK        string       `dynamodbav:"sk"`
	Format    int          `dynamodbav:"fv"`
	Version   int64        `dynamodbav:"version"`
	Primaries []primaryRef `dynamodbav:"pr,omitempty"`
	Reported  bool         `dynamodbav:"ar,omitempty"`
	LatestEnd string       `dynamodbav:"ale,omitempty"`
	PrimEnd   string       `dynamodbav:"ape,omitempty"`
	SecCreate string       `dynamodbav:"asc,omitempty"`
}

// primariesItem is the key's record of the primaries in its archive (sk PRIMARIES).
type primariesItem struct {
	PK      string       `dynamodbav:"pk"`
	SK      string       `dynamodbav:"sk"`
	Format  int          `dynamodbav:"fv"`
	Version int64        `dynamodbav:"version"`
	Refs    []primaryRef `dynamodbav:"pr,omitempty"`
}

type primaryRef struct {
	ID         string   `dynamodbav:"id"`
	CreatedAt  string   `dynamodbav:"c"`
	EndedAt    string   `dynamodbav:"e,omitempty"`
	EndedBy    string   `dynamodbav:"eb,omitempty"`
	Operations []string `dynamodbav:"ops,omitempty"`
}

// rejectionItem is one rejected input (pk REJECTED#<day>).
type rejectionItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Format  int    `dynamodbav:"fv"`
	Source  string `dynamodbav:"source"`
	EventID string `dynamodbav:"eventId,omitempty"`
	Error   string `dynamodbav:"error"`
	At      string `dynamodbav:"at"`
	Raw     string `dynamodbav:"raw,omitempty"`
	TTL     int64  `dynamodbav:"ttl"`
}

// formatItem marks the table's format (pk GRANTWATCH, sk FORMAT).
type formatItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Format int    `dynamodbav:"fv"`
}

// sk values and prefixes. The working set of a key is the sk range [GRANT#, USAGE]: GRANT# items, META, PRIMARIES
// (the archive's primaries: small, and read with the working set for free) and USAGE; the archive, ARCHIVE#,
// sorts before it. The read side lists a key's grants in [ARCHIVE#, GRANT$). Keep it that way when adding items.
const (
	keyPrefix      = "KEY#"
	grantPrefix    = "GRANT#"
	archivePrefix  = "ARCHIVE#"
	metaSK         = "META"
	primariesSK    = "PRIMARIES"
	usageSK        = "USAGE"
	rejectedPrefix = "REJECTED#"
	activeValue    = "ACTIVE"
	workingValue   = "W"
	formatPK       = "GRANTWATCH"
	formatSK       = "FORMAT"
)

func grantSK(g lifecycle.Grant) string {
	if g.Archived {
		return archivePrefix + g.ID
	}
	return grantPrefix + g.ID
}

// grantIDOf returns the grant id of a grant item's sk, in either place, and whether it is archived.
func grantIDOf(sk string) (id string, archived, ok bool) {
	if id, ok := strings.CutPrefix(sk, grantPrefix); ok {
		return id, false, true
	}
	if id, ok := strings.CutPrefix(sk, archivePrefix); ok {
		return id, true, true
	}
	return "", false, false
}

func toGrantItem(keyARN string, g lifecycle.Grant) grantItem {
	it := grantItem{
		PK: keyPrefix + keyARN, SK: grantSK(g), Format: FormatVersion, Version: g.Version, GrantID: g.ID,
		Kind: string(g.Kind), CreatedAt: timeAttr(g.CreatedAt), CreateEventID: g.CreateEventID, CreatedBy: callerAttr(g.CreatedBy),
		Grantee: g.Grantee, Retiring: g.RetiringPrincipal, Operations: g.Operations, Constraints: g.ConstraintKeys,
		Name: g.Name, Through: g.ThroughBedrock, ParentID: g.ParentID, EndedAt: timeAttr(g.EndedAt), EndedBy: g.EndedBy,
		EndEventID: g.EndEventID, EndedBedrock: g.EndedByBedrock, Pending: g.Pending,
	}
	for _, h := range g.History {
		hi := historyItem{EventID: h.EventID, Name: h.Name, Time: timeAttr(h.Time), Caller: h.Caller, SourceIP: h.SourceIP, RequestID: h.RequestID}
		switch {
		case h.EventID == g.CreateEventID && h.Time.Equal(g.CreatedAt) && h.Caller == g.CreatedBy.Name():
			hi.Role, hi.Time, hi.Caller = "c", "", ""
		case h.EventID == g.EndEventID && h.Time.Equal(g.EndedAt):
			hi.Role, hi.Time = "e", ""
		}
		it.History = append(it.History, hi)
	}
	it.Alerts = toAlertItems(g.Alerts)
	if !g.Archived {
		it.GSI1PK, it.GSI1SK = activeValue, workingValue // the sweep reads only pk from the index
	}
	if k := kindIndexKeys(g); k != nil {
		it.GSI2PK, it.GSI2SK = k["gsi2pk"], k["gsi2sk"]
	}
	it.GSI3PK = idPrefixKey(g)
	it.Account = accountIndexKey(keyARN, g)
	if g.Pending && g.Ended() {
		it.TTL = g.EndedAt.Add(retention).Unix()
	}
	return it
}

func (it grantItem) grant() (lifecycle.Grant, error) {
	keyARN, ok := strings.CutPrefix(it.PK, keyPrefix)
	id, archived, isGrant := grantIDOf(it.SK)
	if !ok || !isGrant {
		return lifecycle.Grant{}, fmt.Errorf("item %s/%s is not a grant", it.PK, it.SK)
	}
	var times timeReader
	tm := times.at
	g := lifecycle.Grant{
		ID: id, KeyARN: keyARN, Kind: lifecycle.Kind(it.Kind), CreatedAt: tm(it.CreatedAt), CreateEventID: it.CreateEventID,
		Grantee: it.Grantee, RetiringPrincipal: it.Retiring, Operations: it.Operations, ConstraintKeys: it.Constraints,
		Name: it.Name, ThroughBedrock: it.Through, ParentID: it.ParentID, EndedAt: tm(it.EndedAt), EndedBy: it.EndedBy,
		EndEventID: it.EndEventID, EndedByBedrock: it.EndedBedrock, Pending: it.Pending, Archived: archived, Version: it.Version,
	}
	g.CreatedBy = it.CreatedBy.caller()
	for _, h := range it.History {
		e := lifecycle.HistoryEntry{EventID: h.EventID, Name: h.Name, Time: tm(h.Time), Caller: h.Caller, SourceIP: h.SourceIP, RequestID: h.RequestID}
		switch h.Role {
		case "c":
			e.Time, e.Caller = g.CreatedAt, g.CreatedBy.Name()
		case "e":
			e.Time = g.EndedAt
		}
		g.History = append(g.History, e)
	}
	g.Alerts = alertsOf(it.Alerts, g.ID, keyARN, tm)
	if times.err != nil {
		return lifecycle.Grant{}, fmt.Errorf("grant item %s: %w", it.SK, times.err)
	}
	return g, nil
}

func callerAttr(c lifecycle.Caller) *callerItem {
	if c == (lifecycle.Caller{}) {
		return nil
	}
	return &callerItem{Type: c.Type, ARN: c.ARN, Account: c.AccountID, InvokedBy: c.InvokedBy}
}

func (c *callerItem) caller() lifecycle.Caller {
	if c == nil {
		return lifecycle.Caller{}
	}
	return lifecycle.Caller{Type: c.Type, ARN: c.ARN, AccountID: c.Account, InvokedBy: c.InvokedBy}
}

func toAlertItems(as []lifecycle.Alert) []alertItem {
	var out []alertItem
	for _, a := range as {
		out = append(out, alertItem{Type: string(a.Type), Severity: string(a.Severity), Message: a.Message,
			RaisedAt: timeAttr(a.RaisedAt), NotifiedAt: timeAttr(a.NotifiedAt), RemindedAt: timeAttr(a.RemindedAt),
			ResolvedAt: timeAttr(a.ResolvedAt), Resolution: a.Resolution, ResolvedNotified: timeAttr(a.ResolutionNotifiedAt),
			Unconfirmed: string(a.Unconfirmed), LeasedAt: timeAttr(a.LeasedAt)})
	}
	return out
}

func alertsOf(items []alertItem, grantID, keyARN string, tm func(string) time.Time) []lifecycle.Alert {
	var out []lifecycle.Alert
	for _, a := range items {
		out = append(out, lifecycle.Alert{Type: lifecycle.AlertType(a.Type), Severity: lifecycle.Severity(a.Severity),
			GrantID: grantID, KeyARN: keyARN, Message: a.Message, RaisedAt: tm(a.RaisedAt), NotifiedAt: tm(a.NotifiedAt),
			RemindedAt: tm(a.RemindedAt), ResolvedAt: tm(a.ResolvedAt), Resolution: a.Resolution,
			ResolutionNotifiedAt: tm(a.ResolvedNotified), Unconfirmed: lifecycle.NoticeKind(a.Unconfirmed), LeasedAt: tm(a.LeasedAt)})
	}
	return out
}

func toUsageItem(keyARN string, u lifecycle.Usage) usageItem {
	it := usageItem{PK: keyPrefix + keyARN, SK: usageSK, Format: FormatVersion, Version: u.Version, Calls: u.Calls,
		LastUsedAt: timeAttr(u.LastUsedAt), LastUsedBy: u.LastUsedBy, FirstService: timeAttr(u.FirstServiceUseAt),
		LastService: timeAttr(u.LastServiceUseAt), RecentEventIDs: u.RecentEventIDs, Alerts: toAlertItems(u.Alerts)}
	for _, t := range u.UncheckedUses {
		it.Unchecked = append(it.Unchecked, t.UnixMilli())
	}
	if u.Due() {
		it.GSI1PK, it.GSI1SK = activeValue, usageSK
	}
	return it
}

func (it usageItem) usage() (lifecycle.Usage, error) {
	keyARN := strings.TrimPrefix(it.PK, keyPrefix)
	var times timeReader
	tm := times.at
	u := lifecycle.Usage{Calls: it.Calls, LastUsedAt: tm(it.LastUsedAt), LastUsedBy: it.LastUsedBy,
		FirstServiceUseAt: tm(it.FirstService), LastServiceUseAt: tm(it.LastService), RecentEventIDs: it.RecentEventIDs,
		Alerts: alertsOf(it.Alerts, "", keyARN, tm), Version: it.Version}
	for _, ms := range it.Unchecked {
		u.UncheckedUses = append(u.UncheckedUses, time.UnixMilli(ms).UTC())
	}
	if times.err != nil {
		return lifecycle.Usage{}, fmt.Errorf("usage item of %s: %w", keyARN, times.err)
	}
	return u, nil
}

func toMetaItem(keyARN string, m lifecycle.Meta) metaItem {
	it := metaItem{PK: keyPrefix + keyARN, SK: metaSK, Format: FormatVersion, Version: m.Version,
		Reported: m.Archive.Reported, LatestEnd: timeAttr(m.Archive.LatestEnd), PrimEnd: timeAttr(m.Archive.PrimaryLatestEnd),
		SecCreate: timeAttr(m.Archive.SecondaryLatestCreate)}
	it.Primaries = toPrimaryRefs(m.Primaries)
	return it
}

func (it metaItem) meta() (lifecycle.Meta, error) {
	var times timeReader
	tm := times.at
	m := lifecycle.Meta{Version: it.Version, Archive: lifecycle.ArchiveSummary{Reported: it.Reported, LatestEnd: tm(it.LatestEnd),
		PrimaryLatestEnd: tm(it.PrimEnd), SecondaryLatestCreate: tm(it.SecCreate)}}
	m.Primaries = primaryRefsOf(it.Primaries, tm)
	if times.err != nil {
		return lifecycle.Meta{}, fmt.Errorf("meta item of %s: %w", strings.TrimPrefix(it.PK, keyPrefix), times.err)
	}
	return m, nil
}

func toPrimaryRefs(ps []lifecycle.PrimaryRef) []primaryRef {
	var out []primaryRef
	for _, p := range ps {
		out = append(out, primaryRef{ID: p.ID, CreatedAt: timeAttr(p.CreatedAt), EndedAt: timeAttr(p.EndedAt),
			EndedBy: p.EndedBy, Operations: p.Operations})
	}
	return out
}

func primaryRefsOf(items []primaryRef, tm func(string) time.Time) []lifecycle.PrimaryRef {
	var out []lifecycle.PrimaryRef
	for _, p := range items {
		out = append(out, lifecycle.PrimaryRef{ID: p.ID, CreatedAt: tm(p.CreatedAt), EndedAt: tm(p.EndedAt),
			EndedBy: p.EndedBy, Operations: p.Operations})
	}
	return out
}

func toPrimariesItem(keyARN string, a lifecycle.ArchivedPrimaries) primariesItem {
	return primariesItem{PK: keyPrefix + keyARN, SK: primariesSK, Format: FormatVersion, Version: a.Version, Refs: toPrimaryRefs(a.Refs)}
}

func decodePrimaries(item map[string]types.AttributeValue) (lifecycle.ArchivedPrimaries, error) {
	if f := formatOf(item); f != FormatVersion {
		return lifecycle.ArchivedPrimaries{}, &FormatError{Format: f}
	}
	var it primariesItem
	if err := unmarshalItem(item, &it); err != nil {
		return lifecycle.ArchivedPrimaries{}, fmt.Errorf("archived primaries item: %w", err)
	}
	var times timeReader
	tm := times.at
	a := lifecycle.ArchivedPrimaries{Version: it.Version, Refs: primaryRefsOf(it.Refs, tm)}
	if times.err != nil {
		return lifecycle.ArchivedPrimaries{}, fmt.Errorf("archived primaries item: %w", times.err)
	}
	return a, nil
}

func toRejectionItem(r app.Rejection) rejectionItem {
	at := r.At.UTC()
	return rejectionItem{PK: rejectedPrefix + at.Format(time.DateOnly), SK: at.Format(time.RFC3339Nano) + "#" + r.Source,
		Format: FormatVersion, Source: r.Source, EventID: r.EventID, Error: r.Error, At: timeAttr(at), Raw: r.Raw,
		TTL: at.Add(retention).Unix()}
}

// timeAttr writes times as RFC 3339 in UTC with as many fraction digits as they have; the zero time as nothing.
func timeAttr(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// timeReader parses time attributes and keeps the first error, so that a decoder reads every field and reports once.
type timeReader struct{ err error }

func (r *timeReader) at(s string) time.Time {
	t, err := parseTimeAttr(s)
	if err != nil && r.err == nil {
		r.err = err
	}
	return t
}

func parseTimeAttr(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time attribute %q: %w", s, err)
	}
	return t.UTC(), nil
}

func marshalItem(v any) (map[string]types.AttributeValue, error) { return attributevalue.MarshalMap(v) }

func unmarshalItem(item map[string]types.AttributeValue, v any) error {
	return attributevalue.UnmarshalMap(item, v)
}

// formatOf returns an item's format version: 1 for items written before fv existed.
func formatOf(item map[string]types.AttributeValue) int {
	if n, ok := item["fv"].(*types.AttributeValueMemberN); ok {
		var v int
		if _, err := fmt.Sscan(n.Value, &v); err == nil {
			return v
		}
	}
	return 1
}

// decodeGrant decodes a grant item of format 1 or 2.
func decodeGrant(item map[string]types.AttributeValue) (lifecycle.Grant, error) {
	switch f := formatOf(item); f {
	case 1:
		return decodeV1Grant(item)
	case FormatVersion:
		var it grantItem
		if err := unmarshalItem(item, &it); err != nil {
			return lifecycle.Grant{}, fmt.Errorf("grant item %s: %w", stringAttr(item, "sk"), err)
		}
		return it.grant()
	default:
		return lifecycle.Grant{}, &FormatError{Format: f}
	}
}

// decodeUsage decodes a usage item of format 1 or 2.
func decodeUsage(item map[string]types.AttributeValue) (lifecycle.Usage, error) {
	switch f := formatOf(item); f {
	case 1:
		return decodeV1Usage(item)
	case FormatVersion:
		var it usageItem
		if err := unmarshalItem(item, &it); err != nil {
			return lifecycle.Usage{}, fmt.Errorf("usage item: %w", err)
		}
		return it.usage()
	default:
		return lifecycle.Usage{}, &FormatError{Format: f}
	}
}

func decodeMeta(item map[string]types.AttributeValue) (lifecycle.Meta, error) {
	if f := formatOf(item); f != FormatVersion {
		return lifecycle.Meta{}, &FormatError{Format: f}
	}
	var it metaItem
	if err := unmarshalItem(item, &it); err != nil {
		return lifecycle.Meta{}, fmt.Errorf("meta item: %w", err)
	}
	return it.meta()
}

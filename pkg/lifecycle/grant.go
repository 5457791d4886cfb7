package lifecycle

import (
	"slices"
	"strings"
	"time"
)

// Kind says what a Bedrock grant is for (§8 "Kinds").
type Kind string

// The kinds, in the order the classification rules try them.
const (
	DataAutomation Kind = "data-automation"
	Secondary      Kind = "secondary"
	Primary        Kind = "primary"
	KnowledgeBase  Kind = "knowledge-base"
	OtherBedrock   Kind = "other-bedrock"
)

// State is where a grant is in its life.
type State string

// The states. Every state but Active is an end (Grant.Ended); only reconcile makes an ended grant active again,
// when KMS still lists it (reconcile.go).
const (
	Active  State = "active"
	Retired State = "retired"
	Revoked State = "revoked"
	// Unlisted is a grant KMS no longer lists although no RetireGrant or RevokeGrant was seen (EndedBy Reconciled,
	// reconcile.go). Its value, "ended", is what the query API and the CLI have always called it. Replay never
	// reconciles, so the replay contract never shows it.
	Unlisted State = "ended"
)

// DataAutomationContextKey is the encryption-context key that marks a Bedrock Data Automation grant.
const DataAutomationContextKey = "aws:bedrock:data-automation-customer-account-id"

// Grant is what grantwatch knows about one KMS grant on one key.
type Grant struct {
	ID     string
	KeyARN string

	// Known from the CreateGrant; zero while only an end has been seen.
	Kind              Kind
	CreatedAt         time.Time
	CreateEventID     string // the CreateGrant that set kind and createdAt
	CreatedBy         Caller
	Grantee           string
	RetiringPrincipal string
	Operations        []string
	ConstraintKeys    []string
	Name              string
	ThroughBedrock    bool
	ParentID          string

	// Set by the earliest RetireGrant or RevokeGrant.
	EndedAt        time.Time
	EndedBy        string // RetireGrant or RevokeGrant
	EndEventID     string
	EndedByBedrock bool

	// Pending marks a grant known only from an end event that did not involve Bedrock: it is kept so that a
	// CreateGrant arriving later does not resurrect the grant, but it is not reported until a Bedrock CreateGrant
	// for it arrives.
	Pending bool

	History []HistoryEntry // every applied lifecycle event, in event-time order
	Alerts  []Alert        // raised so far; one per type

	// Archived says the grant has left the key's working set (workingset.go); stores keep it apart.
	Archived bool
	Version  int64 // optimistic-concurrency version kept by stores
}

// HistoryEntry is one applied lifecycle event of a grant.
type HistoryEntry struct {
	EventID   string
	Name      string
	Time      time.Time
	Caller    string // caller ARN, or type/invokedBy for service calls
	SourceIP  string
	RequestID string
}

// State returns the grant's state, derived from its end.
func (g Grant) State() State {
	switch g.EndedBy {
	case RetireGrant:
		return Retired
	case RevokeGrant:
		return Revoked
	case Reconciled:
		return Unlisted
	}
	return Active
}

// Created reports whether the grant's CreateGrant has been seen.
func (g Grant) Created() bool { return g.CreateEventID != "" }

// Ended reports whether the grant has ended in any way: retired, revoked, or Unlisted by reconcile.
func (g Grant) Ended() bool { return g.EndedBy != "" }

// ActiveAt reports whether the grant existed and had not ended at t.
func (g Grant) ActiveAt(t time.Time) bool {
	return g.Created() && !g.CreatedAt.After(t) && (!g.Ended() || g.EndedAt.After(t))
}

// Reported reports whether the grant belongs in what grantwatch shows: a Bedrock grant, not a pending end.
func (g Grant) Reported() bool { return !g.Pending }

// KindReason says why the grant got its kind, for people who question it. It is derived from what the grant records,
// so it is the same whichever way the grant was stored.
func (g Grant) KindReason() string {
	switch {
	case g.Pending:
		return ""
	case !g.Created():
		return "only its " + g.EndedBy + " (made through Bedrock) has been seen; the kind is set when its CreateGrant arrives"
	case strings.HasPrefix(g.CreateEventID, reconcilePrefix):
		_, why := ClassifyListed(ListedGrant{Operations: g.Operations, ConstraintKeys: g.ConstraintKeys})
		return why
	}
	_, why := classify(g.CreatedBy, g.ThroughBedrock, g.Operations, g.ConstraintKeys)
	return why
}

// hasEvent reports whether the event id was already applied to g.
func (g Grant) hasEvent(id string) bool {
	return slices.ContainsFunc(g.History, func(h HistoryEntry) bool { return h.EventID == id })
}

// hasAlert reports whether an alert of type t was already raised for g.
func (g Grant) hasAlert(t AlertType) bool {
	return slices.ContainsFunc(g.Alerts, func(a Alert) bool { return a.Type == t })
}

// Clone returns a deep copy, so stores can hand out grants without sharing slices.
func (g Grant) Clone() Grant {
	g.Operations = slices.Clone(g.Operations)
	g.ConstraintKeys = slices.Clone(g.ConstraintKeys)
	g.History = slices.Clone(g.History)
	g.Alerts = slices.Clone(g.Alerts)
	return g
}

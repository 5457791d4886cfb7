package lifecycle

import (
	"slices"
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

// The states. An ended grant (retired or revoked) never becomes active again.
const (
	Active  State = "active"
	Retired State = "retired"
	Revoked State = "revoked"
	// Issue 5: gone from KMS ListGrants with no end event seen (EndedBy Reconciled, reconcile.go). Replay never
	// reconciles, so the replay contract never shows it.
	Gone State = "ended"
)

// DataAutomationKey is the encryption-context key that marks a Bedrock Data Automation grant.
const DataAutomationKey = "aws:bedrock:data-automation-customer-account-id"

// Grant is what grantwatch knows about one KMS grant on one key.
type Grant struct {
	ID     string `json:"grantId"`
	KeyARN string `json:"keyArn"`

	// Known from the CreateGrant; zero while only an end has been seen.
	Kind              Kind      `json:"kind,omitempty"`
	KindReason        string    `json:"kindReason,omitempty"` // why it got its kind, for people who question it
	CreatedAt         time.Time `json:"createdAt,omitzero"`
	CreateEventID     string    `json:"createEventId,omitempty"` // the CreateGrant that set kind and createdAt
	CreatedBy         Caller    `json:"createdBy,omitzero"`
	Grantee           string    `json:"grantee,omitempty"`
	RetiringPrincipal string    `json:"retiringPrincipal,omitempty"`
	Operations        []string  `json:"operations,omitempty"`
	ConstraintKeys    []string  `json:"constraintKeys,omitempty"`
	Name              string    `json:"name,omitempty"`
	ThroughBedrock    bool      `json:"throughBedrock,omitempty"`
	ParentID          string    `json:"parentGrantId,omitempty"`

	// Set by the earliest RetireGrant or RevokeGrant.
	EndedAt        time.Time `json:"endedAt,omitzero"`
	EndedBy        string    `json:"endedBy,omitempty"` // RetireGrant or RevokeGrant
	EndEventID     string    `json:"endEventId,omitempty"`
	EndedByBedrock bool      `json:"endedByBedrock,omitempty"`

	// Pending marks a grant known only from an end event that did not involve Bedrock: it is kept so that a
	// CreateGrant arriving later does not resurrect the grant, but it is not reported until a Bedrock CreateGrant
	// for it arrives.
	Pending bool `json:"pending,omitempty"`

	History []HistoryEntry `json:"history,omitempty"` // every applied lifecycle event, in event-time order
	Alerts  []Alert        `json:"alerts,omitempty"`  // raised so far; one per type

	Version int64 `json:"version"` // optimistic-concurrency version kept by stores
}

// HistoryEntry is one applied lifecycle event of a grant.
type HistoryEntry struct {
	EventID   string    `json:"eventId"`
	Name      string    `json:"eventName"`
	Time      time.Time `json:"eventTime"`
	Caller    string    `json:"caller,omitempty"` // caller ARN, or type/invokedBy for service calls
	SourceIP  string    `json:"sourceIp,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
}

// State returns the grant's state, derived from its end.
func (g Grant) State() State {
	switch g.EndedBy {
	case RetireGrant:
		return Retired
	case RevokeGrant:
		return Revoked
	case Reconciled: // issue 5
		return Gone
	}
	return Active
}

// Created reports whether the grant's CreateGrant has been seen.
func (g Grant) Created() bool { return g.CreateEventID != "" }

// Ended reports whether the grant has been retired or revoked.
func (g Grant) Ended() bool { return g.EndedBy != "" }

// ActiveAt reports whether the grant existed and had not ended at t.
func (g Grant) ActiveAt(t time.Time) bool {
	return g.Created() && !g.CreatedAt.After(t) && (!g.Ended() || g.EndedAt.After(t))
}

// Reported reports whether the grant belongs in what grantwatch shows: a Bedrock grant, not a pending end.
func (g Grant) Reported() bool { return !g.Pending }

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

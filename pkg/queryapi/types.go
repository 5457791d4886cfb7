// Package queryapi is the wire format of the query side: the JSON that the HTTP API answers and the read commands
// print with -o json (api/openapi.yaml describes exactly these types, and a test holds the two together), the
// explicit mapping from the domain and use-case types, and the API's page tokens. Nothing here depends on how
// pkg/lifecycle names or tags its fields: renaming a domain field changes no response.
package queryapi

import "time"

// GrantList is one page of grants (GET /grants, GET /keys/{keyArn}/grants; `grants -o json` prints all pages as
// one, without a token).
type GrantList struct {
	Grants    []GrantSummary `json:"grants"`
	NextToken string         `json:"nextToken,omitempty"` // present when there may be more: pass it as cursor
}

// GrantSummary is one grant in a list.
type GrantSummary struct {
	GrantID       string    `json:"grantId"`
	KeyARN        string    `json:"keyArn"`
	Kind          string    `json:"kind"`
	State         string    `json:"state"`
	ParentGrantID string    `json:"parentGrantId,omitempty"`
	CreatedAt     time.Time `json:"createdAt,omitzero"`
	CreatedBy     string    `json:"createdBy,omitempty"` // role session or user ARN; type/invokedBy for service calls
	EndedAt       time.Time `json:"endedAt,omitzero"`
	EndedBy       string    `json:"endedBy,omitempty"` // RetireGrant, RevokeGrant or Reconciled
}

// GrantHistory is one grant with everything known about it (GET /grants/{grantId}, `history -o json`).
type GrantHistory struct {
	Grant    Grant           `json:"grant"`
	State    string          `json:"state"`
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
	By         string    `json:"by"`
	CallerType string    `json:"callerType"`
	InvokedBy  string    `json:"invokedBy,omitempty"`
	SourceIP   string    `json:"sourceIp,omitempty"`
	EventID    string    `json:"eventId"`
}

// Ending says who ended the grant and how.
type Ending struct {
	At        time.Time `json:"at"`
	How       string    `json:"how"`
	By        string    `json:"by,omitempty"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	ByBedrock bool      `json:"byBedrock"`
	EventID   string    `json:"eventId"`
}

// KeyUsage is the key-level use record shown with a grant: use calls carry no grant id, so it is per key.
type KeyUsage struct {
	Calls      map[string]int64 `json:"calls"`
	LastUsedAt time.Time        `json:"lastUsedAt,omitzero"`
	LastUsedBy string           `json:"lastUsedBy,omitempty"`
	Alerts     []Alert          `json:"alerts"` // key-level alerts (use-after-retire, grant-quota)
}

// TimelineEntry is one thing that happened to the grant: a lifecycle event, or an alert raised or resolved.
type TimelineEntry struct {
	At       time.Time `json:"at"`
	What     string    `json:"what"`
	By       string    `json:"by,omitempty"`
	SourceIP string    `json:"sourceIp,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// Grant is the recorded grant in full.
type Grant struct {
	GrantID           string         `json:"grantId"`
	KeyARN            string         `json:"keyArn"`
	Kind              string         `json:"kind,omitempty"`
	KindReason        string         `json:"kindReason,omitempty"`
	CreatedAt         time.Time      `json:"createdAt,omitzero"`
	CreateEventID     string         `json:"createEventId,omitempty"`
	CreatedBy         Caller         `json:"createdBy,omitzero"`
	Grantee           string         `json:"grantee,omitempty"`
	RetiringPrincipal string         `json:"retiringPrincipal,omitempty"`
	Operations        []string       `json:"operations,omitempty"`
	ConstraintKeys    []string       `json:"constraintKeys,omitempty"` // encryption-context keys only, never values
	Name              string         `json:"name,omitempty"`
	ThroughBedrock    bool           `json:"throughBedrock,omitempty"`
	ParentGrantID     string         `json:"parentGrantId,omitempty"`
	EndedAt           time.Time      `json:"endedAt,omitzero"`
	EndedBy           string         `json:"endedBy,omitempty"`
	EndEventID        string         `json:"endEventId,omitempty"`
	EndedByBedrock    bool           `json:"endedByBedrock,omitempty"`
	History           []HistoryEntry `json:"history,omitempty"`
	Alerts            []Alert        `json:"alerts,omitempty"`
}

// Caller is who made a call.
type Caller struct {
	Type      string `json:"type,omitempty"`
	ARN       string `json:"arn,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	InvokedBy string `json:"invokedBy,omitempty"`
}

// HistoryEntry is one applied lifecycle event of a grant.
type HistoryEntry struct {
	EventID   string    `json:"eventId"`
	EventName string    `json:"eventName"`
	EventTime time.Time `json:"eventTime"`
	Caller    string    `json:"caller,omitempty"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
}

// Alert is one raised alert; GrantID is empty for key-level alerts.
type Alert struct {
	Type                 string    `json:"type"`
	Severity             string    `json:"severity"`
	GrantID              string    `json:"grantId,omitempty"`
	KeyARN               string    `json:"keyArn"`
	Message              string    `json:"message"`
	RaisedAt             time.Time `json:"raisedAt"`
	NotifiedAt           time.Time `json:"notifiedAt,omitzero"`
	RemindedAt           time.Time `json:"remindedAt,omitzero"`
	ResolvedAt           time.Time `json:"resolvedAt,omitzero"`
	Resolution           string    `json:"resolution,omitempty"`
	ResolutionNotifiedAt time.Time `json:"resolutionNotifiedAt,omitzero"`
}

// KeyList is the keys inventory (`keys -o json`): the keys by account, Region and ARN, and each account's totals.
type KeyList struct {
	Keys     []KeySummary     `json:"keys"`
	Accounts []AccountSummary `json:"accounts"`
}

// KeySummary is one key in the inventory.
type KeySummary struct {
	KeyARN                string                    `json:"keyArn"`
	Account               string                    `json:"account"`
	Region                string                    `json:"region"`
	Grants                map[string]map[string]int `json:"grants"` // by kind, then by state
	Active                int                       `json:"active"`
	Total                 int                       `json:"total"`
	OldestActiveSecondary *GrantSummary             `json:"oldestActiveSecondary,omitempty"`
	QuotaShare            float64                   `json:"quotaShare"` // active grants known / grants-per-key quota
}

// AccountSummary is one account of the inventory.
type AccountSummary struct {
	Account string   `json:"account"`
	Name    string   `json:"name,omitempty"` // what people call it, when the account names say
	Regions []string `json:"regions"`
	Keys    int      `json:"keys"`
	Active  int      `json:"active"`
	Total   int      `json:"total"`
}

// The codes of ErrorBody.
const (
	CodeBadRequest = "bad_request"
	CodeNotFound   = "not_found"
	CodeInternal   = "internal"
)

// ErrorBody is every error response of the HTTP API: a stable code and a message for people.
type ErrorBody struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

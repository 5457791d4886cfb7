// Package trail turns CloudTrail records of KMS calls into lifecycle events. It reads every container a record
// arrives in (grant-lifecycle.md §2.5, §9): an EventBridge event, a CloudTrail log file, LookupEvents output, a
// bare record, and JSON arrays or JSON Lines of these. It decodes into types it owns, with encoding/json only.
package trail

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
)

// DetailType is the EventBridge detail-type of events CloudTrail delivers.
const DetailType = "AWS API Call via CloudTrail"

// ErrIgnored marks a record grantwatch does not consume: another service or call, an EventBridge event that is
// not from CloudTrail, or a failed or dry-run call (errorCode). Callers count it as ignored, not rejected.
var ErrIgnored = errors.New("trail: record ignored")

// Error says why one input was ignored (Err is ErrIgnored) or rejected, and names the input by Source and/or EventID.
type Error struct {
	Source  string // "path#index" when Split found it; empty otherwise
	Context string // the container the record came in, e.g. "EventBridge event <id>"; may be empty
	EventID string // the CloudTrail eventID, when known
	Reason  string
	Err     error // ErrIgnored, or the underlying cause; may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("trail: ")
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Context != "" {
		b.WriteString(e.Context)
		b.WriteString(": ")
	}
	if e.EventID != "" {
		b.WriteString("event ")
		b.WriteString(e.EventID)
		b.WriteString(": ")
	}
	if e.Err == ErrIgnored {
		b.WriteString("ignored: ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil && e.Err != ErrIgnored {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Record is one CloudTrail record, with the fields grantwatch reads. The request, response and additional data
// stay raw: their shape depends on the call, and Event reads only the few fields it needs from them.
type Record struct {
	EventID             string          `json:"eventID,omitempty"`
	EventName           string          `json:"eventName,omitempty"`
	EventSource         string          `json:"eventSource,omitempty"`
	EventTime           string          `json:"eventTime,omitempty"` // kept as text: Event parses it, so a bad time makes the record unusable, not undecodable
	AWSRegion           string          `json:"awsRegion,omitempty"`
	SourceIPAddress     string          `json:"sourceIPAddress,omitempty"`
	UserAgent           string          `json:"userAgent,omitempty"`
	RequestID           string          `json:"requestID,omitempty"`
	ErrorCode           string          `json:"errorCode,omitempty"`
	ErrorMessage        string          `json:"errorMessage,omitempty"`
	RecipientAccountID  string          `json:"recipientAccountId,omitempty"`
	ReadOnly            bool            `json:"readOnly,omitempty"`
	SharedEventID       string          `json:"sharedEventID,omitempty"`
	UserIdentity        UserIdentity    `json:"userIdentity"`
	RequestParameters   json.RawMessage `json:"requestParameters,omitempty"`
	ResponseElements    json.RawMessage `json:"responseElements,omitempty"`
	AdditionalEventData json.RawMessage `json:"additionalEventData,omitempty"`
	Resources           []Resource      `json:"resources,omitempty"`
}

// UserIdentity is who made the call.
type UserIdentity struct {
	Type           string         `json:"type,omitempty"`
	PrincipalID    string         `json:"principalId,omitempty"`
	ARN            string         `json:"arn,omitempty"`
	AccountID      string         `json:"accountId,omitempty"`
	InvokedBy      string         `json:"invokedBy,omitempty"`
	SessionContext SessionContext `json:"sessionContext"`
}

// SessionContext holds the role behind an assumed-role session.
type SessionContext struct {
	SessionIssuer SessionIssuer `json:"sessionIssuer"`
}

// SessionIssuer is the role (or user) that issued the session.
type SessionIssuer struct {
	ARN      string `json:"arn,omitempty"`
	UserName string `json:"userName,omitempty"`
}

// Resource is one resources[] entry. Records older than December 2022 may have no Type.
type Resource struct {
	ARN       string `json:"ARN,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type,omitempty"`
}

// LogValue identifies the record in logs without writing the record itself, which names principals and keys.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("eventId", r.EventID),
		slog.String("eventName", r.EventName),
		slog.String("eventSource", r.EventSource),
		slog.String("eventTime", r.EventTime),
	)
}

// Decode decodes one bare CloudTrail record (e.g. an EventBridge detail or a LookupEvents CloudTrailEvent string).
// A field of an unexpected JSON type is left empty rather than failing the record: whether the record is still
// usable is Event's decision. An object with neither eventSource nor eventName is not a CloudTrail record.
func Decode(data []byte) (Record, error) {
	var r Record
	if err := decodeObject(data, &r); err != nil {
		return Record{}, &Error{Reason: "undecodable CloudTrail record", Err: err}
	}
	if r.EventSource == "" && r.EventName == "" {
		return Record{}, &Error{EventID: r.EventID, Reason: "not a CloudTrail record: no eventSource or eventName"}
	}
	return r, nil
}

// envelope is the part of an EventBridge event we read. The time is left out on purpose: Bedrock's native
// events carry non-ISO times such as "Wed Aug 28 22:58:30 UTC 2024", which would fail a time.Time field.
type envelope struct {
	ID         string          `json:"id"`
	DetailType *string         `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

// FromEventBridge decodes an EventBridge "AWS API Call via CloudTrail" event (raw JSON, as a Lambda receives it).
// An event with another detail-type returns an error wrapping ErrIgnored.
func FromEventBridge(raw []byte) (Record, error) {
	r, _, err := fromEventBridge(raw)
	return r, err
}

// fromEventBridge is FromEventBridge that also returns the record's JSON (the event's detail).
func fromEventBridge(raw []byte) (Record, json.RawMessage, error) {
	var env envelope
	if err := decodeObject(raw, &env); err != nil {
		return Record{}, nil, &Error{Reason: "undecodable EventBridge event", Err: err}
	}
	if env.DetailType == nil {
		return Record{}, nil, &Error{Reason: "not an EventBridge event: no detail-type"}
	}
	if *env.DetailType != DetailType {
		return Record{}, nil, &Error{Reason: named("EventBridge event", env.ID) + " has detail-type " + quote(*env.DetailType), Err: ErrIgnored}
	}
	if isNull(env.Detail) {
		return Record{}, nil, &Error{Reason: named("EventBridge event", env.ID) + " has no detail"}
	}
	r, err := Decode(env.Detail)
	return r, env.Detail, within(err, named("EventBridge event", env.ID)+" detail")
}

// named returns what, followed by id when there is one.
func named(what, id string) string {
	if id == "" {
		return what
	}
	return what + " " + id
}

// within sets the container an error of ours came from.
func within(err error, context string) error {
	var e *Error
	if errors.As(err, &e) && e.Context == "" {
		e.Context = context
	}
	return err
}

// decodeObject decodes the JSON object data into v. Values of the wrong JSON type are treated as absent:
// encoding/json skips them, fills in every other field and reports only an *json.UnmarshalTypeError.
func decodeObject(data []byte, v any) error {
	if kind(data) != '{' {
		return errors.New("not a JSON object")
	}
	return decodeLoose(data, v)
}

// decodeLoose is json.Unmarshal with type mismatches ignored (see decodeObject). A non-object into a struct is a
// mismatch too, so an optional part of the wrong type reads as empty.
func decodeLoose(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return nil
	}
	return err
}

// kind returns the first byte of the JSON value in data ('{', '[', '"', 't', 'n', a digit or '-'), or 0 when empty.
func kind(data []byte) byte {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func isNull(data []byte) bool { k := kind(data); return k == 0 || k == 'n' }

// quote quotes s for a message, cut short: values come from untrusted input.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

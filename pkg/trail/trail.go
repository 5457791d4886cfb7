// Package trail turns CloudTrail records of KMS calls into lifecycle events. It reads every container a record
// arrives in (grant-lifecycle.md §2.5, §9): an EventBridge event, a CloudTrail log file, LookupEvents output, a
// bare record, and JSON arrays or JSON Lines of these. It decodes into types it owns, with encoding/json only.
package trail

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// DetailType is the EventBridge detail-type of events CloudTrail delivers.
const DetailType = "AWS API Call via CloudTrail"

// ErrIgnored marks a record grantwatch does not consume: another service or call, an EventBridge event that is
// not from CloudTrail, or a failed or dry-run call (errorCode). Callers count it as ignored, not rejected.
var ErrIgnored = errors.New("trail: record ignored")

// ErrInsight and ErrDigest wrap ErrIgnored for the two kinds of file a trail writes beside its logs: CloudTrail
// Insights records (eventType AwsCloudTrailInsight) and digest files, which callers count apart.
var (
	ErrInsight = fmt.Errorf("trail: CloudTrail Insights record: %w", ErrIgnored)
	ErrDigest  = fmt.Errorf("trail: CloudTrail digest file: %w", ErrIgnored)
)

// insightEventType is the eventType of a CloudTrail Insights record.
const insightEventType = "AwsCloudTrailInsight"

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
	ignored := errors.Is(e.Err, ErrIgnored)
	if ignored {
		b.WriteString("ignored: ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil && !ignored {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Record is one CloudTrail record, with the fields grantwatch reads. RequestParameters, ResponseElements and
// AdditionalEventData are the parts as they were in the input (they alias it); the fields the rules need from
// them are read in the same pass and kept unexported.
type Record struct {
	EventID             string
	EventName           string
	EventSource         string
	EventType           string // AwsApiCall, AwsServiceEvent, AwsConsoleSignIn, AwsCloudTrailInsight, ...
	EventTime           string // kept as text: Event parses it, so a bad time makes the record unusable, not undecodable
	AWSRegion           string
	SourceIPAddress     string
	UserAgent           string
	RequestID           string
	ErrorCode           string
	ErrorMessage        string
	RecipientAccountID  string
	ReadOnly            bool
	SharedEventID       string
	UserIdentity        UserIdentity
	RequestParameters   []byte
	ResponseElements    []byte
	AdditionalEventData []byte
	Resources           []Resource

	params     params
	response   response
	addGrantID string // additionalEventData.grantId (RetireGrant)
}

// UserIdentity is who made the call.
type UserIdentity struct {
	Type           string
	PrincipalID    string
	ARN            string
	AccountID      string
	InvokedBy      string
	SessionContext SessionContext
}

// SessionContext holds the role behind an assumed-role session.
type SessionContext struct {
	SessionIssuer SessionIssuer
}

// SessionIssuer is the role (or user) that issued the session.
type SessionIssuer struct {
	ARN      string
	UserName string
}

// Resource is one resources[] entry. Records older than December 2022 may have no Type.
type Resource struct {
	ARN       string
	AccountID string
	Type      string
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
	w := newWalker(data)
	defer w.release()
	var r Record
	if err := w.decodeRecord(&r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// decodeRecord reads a whole record that is all of w's input.
func (w *walker) decodeRecord(r *Record) error {
	_, _, isObject, err := w.record(r, false)
	if err == nil {
		err = w.end()
	}
	switch {
	case err != nil:
		return &Error{Reason: "undecodable CloudTrail record", Err: syntax(err)}
	case !isObject:
		return &Error{Reason: "undecodable CloudTrail record", Err: errNotObject}
	}
	return r.check()
}

// check rejects an object that is no CloudTrail record.
func (r *Record) check() error {
	if r.EventSource == "" && r.EventName == "" && r.EventType != insightEventType {
		return &Error{EventID: r.EventID, Reason: "not a CloudTrail record: no eventSource or eventName"}
	}
	return nil
}

var (
	errNotObject = errors.New("not a JSON object")
	errTrailing  = errors.New("more JSON after the value")
	errSkipRest  = errors.New("trail: rest of the record not needed") // ends a fast-path walk early; never returned
	errEOF       = io.EOF
)

// syntax makes a decoder error readable: jsontext errors already say where (byte offset and JSON pointer).
func syntax(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("unexpected end of JSON input")
	}
	return err
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

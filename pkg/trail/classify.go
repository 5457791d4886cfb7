package trail

import (
	"bytes"
	"encoding/base64"
	"errors"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Class is what an input turned out to be.
type Class uint8

const (
	// Ignored: nothing grantwatch consumes (another service or call, a failed call, an EventBridge event that is no
	// CloudTrail record, an Insights record, a digest file). Err wraps ErrIgnored.
	Ignored Class = iota
	// KMSEvent: a KMS call the grant rules consume; Event is set.
	KMSEvent
	// JobEvent: a Bedrock control-plane call or job state change; Job is set.
	JobEvent
	// Rejected: undecodable, or a record that involves Bedrock but lacks what the rules need. Err says why.
	Rejected
)

func (c Class) String() string {
	return [...]string{"ignored", "kms-event", "job-event", "rejected"}[c]
}

// Decision is the outcome of decoding and classifying one record or event, the one place where the
// KMS-or-Bedrock-or-ignored-or-rejected question is answered (ingest handler, replay and backfill all use it).
type Decision struct {
	Class   Class
	Event   lifecycle.Event    // KMSEvent
	Job     lifecycle.JobEvent // JobEvent
	EventID string             // the CloudTrail eventID, when known
	Err     error              // Ignored (wraps ErrIgnored) or Rejected: why; an *Error

	// EnvelopeID and EnvelopeSource are the EventBridge event's id and source when the input was one.
	EnvelopeID, EnvelopeSource string
}

// Classify decodes one JSON value (an EventBridge event of any detail-type, a bare CloudTrail record, or one
// LookupEvents event) in one pass and says what it is. Containers of many records (log files, LookupEvents output,
// CloudWatch Logs payloads) are read with Read.
func Classify(raw []byte) Decision {
	return examine(raw, unitAny, false).d
}

// unit is what the container an input came from says it is.
type unit uint8

const (
	unitAny      unit = iota // a top-level value or an element of a top-level array
	unitRecord               // an element of a log file's Records
	unitLookup               // an element of LookupEvents output's Events
	unitLogEvent             // an element of a CloudWatch Logs payload's logEvents
	unitControl              // a logEvents element of a CONTROL_MESSAGE payload
)

// examined is what examine found in one value.
type examined struct {
	d   Decision
	rec Record // the record, when the value held one
	// err is the container-level error Split has always reported in Item.Err: the value is not a CloudTrail
	// record or event (wrapping ErrIgnored for an EventBridge event of another detail-type), without the rules'
	// verdict on the record.
	err   error
	raw   []byte // the record's JSON (an EventBridge detail, a decoded CloudTrailEvent string), else the value
	noRaw bool   // no JSON worth keeping: a value that is no event or record
}

// examine decodes and classifies one value. fast may only be set for input already validated as JSON: it stops
// reading a record that cannot matter.
func examine(raw []byte, u unit, fast bool) examined {
	x := examineIn(raw, u, fast)
	if x.raw == nil && !x.noRaw {
		x.raw = raw
	}
	return x
}

func examineIn(raw []byte, u unit, fast bool) examined {
	w := newWalker(raw)
	defer w.release()
	switch u {
	case unitRecord:
		var r Record
		skip, insight, isObject, err := w.record(&r, fast)
		if skip != "" {
			return examined{d: skipped(&r, skip, insight), rec: r}
		}
		if err == nil && !fast {
			err = w.end()
		}
		switch {
		case err != nil:
			return reject(&Error{EventID: r.EventID, Reason: "undecodable CloudTrail record", Err: syntax(err)}, r)
		case !isObject:
			return reject(&Error{Reason: "undecodable CloudTrail record", Err: errNotObject}, r)
		}
		if err := r.check(); err != nil {
			return reject(err, r)
		}
		return examined{d: decide(&r), rec: r}
	case unitLookup, unitLogEvent, unitControl:
		return w.embedded(u)
	}
	return w.any(fast)
}

func reject(err error, r Record) examined {
	return examined{d: Decision{Class: Rejected, EventID: r.EventID, Err: err}, rec: r, err: err}
}

// skipped is the decision on a record the fast path stopped reading.
func skipped(r *Record, reason string, insight bool) Decision {
	e := &Error{EventID: r.EventID, Reason: reason, Err: ErrIgnored}
	if insight {
		e.Err = ErrInsight
	}
	return Decision{Class: Ignored, EventID: r.EventID, Err: e}
}

// decide applies the rules' view to a decoded record.
func decide(r *Record) Decision {
	d := Decision{EventID: r.EventID}
	if r.EventType == insightEventType {
		d.Class, d.Err = Ignored, &Error{EventID: r.EventID, Reason: "CloudTrail Insights record", Err: ErrInsight}
		return d
	}
	var err error
	if r.EventSource == bedrockSource {
		if d.Job, err = r.JobEvent(); err == nil {
			d.Class = JobEvent
			return d
		}
	} else if d.Event, err = r.Event(); err == nil {
		d.Class = KMSEvent
		return d
	}
	d.Err = err
	switch {
	case errors.Is(err, ErrIgnored):
		d.Class = Ignored
	case r.EventSource == kmsSource && !r.involvesBedrock():
		var e *Error
		if errors.As(err, &e) {
			e.Reason = "does not involve Bedrock and is unusable: " + e.Reason
			e.Err = ErrIgnored
		}
		d.Class = Ignored
	default:
		d.Class = Rejected
	}
	return d
}

// embedded reads one element of LookupEvents output ({"EventId", "CloudTrailEvent": "<record as a JSON string>"})
// or of a CloudWatch Logs payload ({"id", "timestamp", "message": "<record as a JSON string>"}).
func (w *walker) embedded(u unit) examined {
	what, idName, textName := "LookupEvents event", "EventId", "CloudTrailEvent"
	if u != unitLookup {
		what, idName, textName = "CloudWatch Logs event", "id", "message"
	}
	var id string
	var text []byte
	isString := false
	isObject, err := w.members(func(name []byte) error {
		var err error
		switch string(name) {
		case idName:
			id, err = w.str()
		case textName:
			isString = w.dec.PeekKind() == '"'
			var v []byte
			if v, err = w.raw(); err == nil && isString {
				text = unquote(v)
			}
		default:
			err = w.skip()
		}
		return err
	})
	if err == nil {
		err = w.end()
	}
	if err != nil || !isObject {
		if err == nil {
			err = errNotObject
		}
		x := reject(&Error{Reason: "undecodable " + what, Err: syntax(err)}, Record{})
		x.noRaw = true
		return x
	}
	what = named(what, id)
	if u == unitControl {
		d := Decision{Class: Ignored, Err: &Error{Reason: what + ": CloudWatch Logs control message", Err: ErrIgnored}}
		return examined{d: d, err: d.Err, noRaw: true}
	}
	if !isString {
		x := reject(&Error{Reason: what + ": " + textName + " is not a JSON string"}, Record{})
		x.noRaw = true
		return x
	}
	if u == unitLogEvent && bytes.HasPrefix(text, []byte("CWL CONTROL MESSAGE")) {
		// The test message of a CONTROL_MESSAGE payload whose messageType came after its logEvents.
		d := Decision{Class: Ignored, Err: &Error{Reason: what + ": CloudWatch Logs control message", Err: ErrIgnored}}
		return examined{d: d, err: d.Err, noRaw: true}
	}
	inner := newWalker(text)
	defer inner.release()
	var r Record
	if err := inner.decodeRecord(&r); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Reason == "undecodable CloudTrail record" && e.EventID == "" {
			x := reject(&Error{Reason: what + ": " + textName + " is not JSON", Err: e.Err}, r)
			x.noRaw = true
			return x
		}
		x := reject(within(err, what+": "+textName), r)
		x.raw = bytes.Clone(text)
		return x
	}
	d := decide(&r)
	within(d.Err, what+": "+textName)
	return examined{d: d, rec: r, raw: bytes.Clone(text)}
}

// any reads a value that may be any single input shape: an EventBridge event, a bare record, one LookupEvents
// event, a digest file. A container reaching here (Records, Events or logEvents that are no array, a CloudWatch
// Logs payload given to Classify) is rejected with what is wrong.
func (w *walker) any(fast bool) examined {
	k := w.dec.PeekKind()
	if k != '{' {
		x := reject(&Error{Reason: "JSON " + kindName(byte(k)) + " is not an event or record"}, Record{})
		if err := w.skip(); err != nil {
			x = reject(&Error{Reason: "invalid JSON", Err: syntax(err)}, Record{})
		} else if k == '[' {
			x = reject(&Error{Reason: "JSON array inside an array is not an input shape"}, Record{})
		}
		x.noRaw = true
		return x
	}
	// The record and envelope live in the (pooled) walker: the closures below would move locals to the heap.
	w.rec, w.env = Record{}, jobState{}
	r, env := &w.rec, &w.env
	var (
		detailType, source *string
		det                detail
		shape              string // a container or digest key seen
		shapeKind          byte   // the JSON kind of that container's value
	)
	_, err := w.members(func(name []byte) error {
		var err error
		switch n := string(name); n {
		case "detail-type":
			var s string
			s, err = w.str()
			detailType = &s
		case "source":
			var s string
			s, err = w.str()
			source = &s
		case "id":
			env.ID, err = w.str()
		case "account":
			env.Account, err = w.str()
		case "region":
			env.Region, err = w.str()
		case "time":
			env.Time, err = w.str()
		case "detail":
			err = w.detail(&det, r, env, detailType, fast)
		case "Records", "Events", "logEvents", "awslogs", "CloudTrailEvent":
			shape, shapeKind = n, byte(w.dec.PeekKind())
			err = w.skip()
		case "digestStartTime", "digestEndTime", "digestSignatureAlgorithm", "logFiles":
			shape = "digest"
			err = w.skip()
		default:
			err = w.recordField(r, name)
		}
		return err
	})
	if det.skip != "" {
		d := skipped(r, det.skip, det.insight)
		within(d.Err, named("EventBridge event", env.ID)+" detail")
		d.EnvelopeID, d.EnvelopeSource = env.ID, deref(source)
		return examined{d: d, rec: *r}
	}
	if err == nil && !fast {
		err = w.end()
	}
	if err != nil {
		e := &Error{Reason: "invalid JSON", Err: syntax(err)}
		if detailType != nil {
			e.Reason = "undecodable EventBridge event"
		}
		x := reject(e, *r)
		x.noRaw = true
		return x
	}
	if detailType != nil {
		x := eventBridge(r, env, *detailType, deref(source), &det)
		x.d.EnvelopeID, x.d.EnvelopeSource = env.ID, deref(source)
		return x
	}
	switch shape {
	case "digest":
		d := Decision{Class: Ignored, Err: &Error{Reason: "digest file", Err: ErrDigest}}
		return examined{d: d, err: d.Err}
	case "Records":
		return reject(&Error{Reason: "CloudTrail log file: Records is a JSON " + kindName(shapeKind) + ", not an array"}, Record{})
	case "Events":
		return reject(&Error{Reason: "LookupEvents output: Events is a JSON " + kindName(shapeKind) + ", not an array"}, Record{})
	case "logEvents":
		return reject(&Error{Reason: "CloudWatch Logs payload: logEvents is a JSON " + kindName(shapeKind) + ", not an array"}, Record{})
	case "awslogs":
		return reject(&Error{Reason: "CloudWatch Logs subscription event: read it with trail.Read"}, Record{})
	case "CloudTrailEvent":
		// One LookupEvents element (e.g. from --query 'Events[]'), recognised by a key that may come late: read
		// it again as one. Rare, so the second pass costs nothing that matters.
		return examineIn(w.data, unitLookup, false)
	}
	if err := r.check(); err != nil {
		return reject(err, *r)
	}
	return examined{d: decide(r), rec: *r}
}

// detail is what the walk of an EventBridge event found of its detail.
type detail struct {
	read    bool   // read in place: into the record, or the job state
	null    bool   // read in place and not an object
	json    []byte // what was read in place
	raw     []byte // not read yet (the detail-type came after it)
	skip    string // the fast path found the record cannot matter
	insight bool
}

// detail reads an EventBridge event's detail in place when the detail-type came first, as it does in every
// EventBridge event; otherwise it keeps the detail's bytes for eventBridge.
func (w *walker) detail(det *detail, r *Record, env *jobState, detailType *string, fast bool) error {
	switch {
	case detailType != nil && *detailType == DetailType:
		var skip string
		var insight, isObject bool
		json, err := w.span(func() error {
			var err error
			skip, insight, isObject, err = w.record(r, fast)
			return err
		})
		if skip != "" {
			det.skip, det.insight = skip, insight
			return errSkipRest
		}
		det.read, det.null, det.json = true, !isObject, json
		return err
	case detailType != nil && *detailType == lifecycle.JobStateChange:
		det.read = true
		return w.jobDetail(env)
	}
	var err error
	det.raw, err = w.raw()
	return err
}

// eventBridge decides on an EventBridge event once its envelope is read.
func eventBridge(r *Record, env *jobState, detailType, source string, det *detail) examined {
	what := named("EventBridge event", env.ID)
	ignored := &Error{Reason: what + " has detail-type " + quote(detailType), Err: ErrIgnored}
	switch {
	case detailType == DetailType:
		if !det.read {
			if isNull(det.raw) {
				return reject(&Error{Reason: what + " has no detail"}, Record{})
			}
			sub := newWalker(det.raw)
			defer sub.release()
			if err := sub.decodeRecord(r); err != nil {
				x := reject(within(err, what+" detail"), *r)
				x.raw = det.raw
				return x
			}
			det.json = det.raw
		} else if det.null {
			return reject(&Error{Reason: what + " has no detail"}, Record{})
		}
		if err := r.check(); err != nil {
			x := reject(within(err, what+" detail"), *r)
			x.raw = det.json
			return x
		}
		d := decide(r)
		within(d.Err, what+" detail")
		return examined{d: d, rec: *r, raw: det.json}
	case detailType == lifecycle.JobStateChange && source == BedrockSource:
		if !det.read && det.raw != nil {
			sub := newWalker(det.raw)
			defer sub.release()
			if err := sub.jobDetail(env); err != nil {
				return reject(&Error{Reason: "undecodable EventBridge event", Err: syntax(err)}, Record{})
			}
		}
		job, err := env.event()
		if err != nil {
			return examined{d: Decision{Class: Rejected, Err: err}, err: ignored}
		}
		return examined{d: Decision{Class: JobEvent, Job: job, EventID: job.ID}, err: ignored}
	}
	return examined{d: Decision{Class: Ignored, Err: ignored}, err: ignored}
}

// recordField reads one member of a record (also for the walk of any, which does not yet know the shape).
func (w *walker) recordField(r *Record, name []byte) error {
	if p := r.field(name); p != nil {
		return w.into(p)
	}
	var err error
	switch string(name) {
	case "readOnly":
		r.ReadOnly, err = w.boolean()
	case "userIdentity":
		err = w.identity(&r.UserIdentity)
	case "requestParameters":
		r.RequestParameters, err = w.span(func() error { return w.params(&r.params) })
	case "responseElements":
		r.ResponseElements, err = w.span(func() error { return w.response(&r.response) })
	case "additionalEventData":
		r.AdditionalEventData, err = w.span(func() error { return w.additional(&r.addGrantID) })
	case "resources":
		err = w.resources(&r.Resources)
	default:
		err = w.skip()
	}
	return err
}

// field maps a record's string members to its fields.
func (r *Record) field(name []byte) *string {
	switch string(name) {
	case "eventID":
		return &r.EventID
	case "eventName":
		return &r.EventName
	case "eventSource":
		return &r.EventSource
	case "eventType":
		return &r.EventType
	case "eventTime":
		return &r.EventTime
	case "awsRegion":
		return &r.AWSRegion
	case "sourceIPAddress":
		return &r.SourceIPAddress
	case "userAgent":
		return &r.UserAgent
	case "requestID":
		return &r.RequestID
	case "errorCode":
		return &r.ErrorCode
	case "errorMessage":
		return &r.ErrorMessage
	case "recipientAccountId":
		return &r.RecipientAccountID
	case "sharedEventID":
		return &r.SharedEventID
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// kindName names a JSON kind (its first byte) for messages.
func kindName(k byte) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	}
	return "number"
}

// awslogsData decodes the data of a CloudWatch Logs subscription event as Lambda receives it
// ({"awslogs": {"data": "<base64 of the gzipped payload>"}}); the result is gzip, which Read unpacks.
func awslogsData(raw []byte) ([]byte, error) {
	w := newWalker(raw)
	defer w.release()
	var data string
	isObject, err := w.members(func(name []byte) error {
		if string(name) != "data" {
			return w.skip()
		}
		var err error
		data, err = w.str()
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case !isObject || data == "":
		return nil, errors.New("awslogs has no data string")
	}
	return base64.StdEncoding.DecodeString(data)
}

package trail

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Item is one record found in an input, with where it came from.
type Item struct {
	// Source is "path#index", index being the 0-based position of the record among all records the input holds
	// (for JSON Lines with one record a line, the 0-based index among non-blank lines), or just "path" when the
	// input holds one record.
	Source string
	Record Record // valid when Err == nil
	Err    error  // this item only: wraps ErrIgnored when ignored, else it is rejected; names Source
	// Raw is the JSON the item was read from: the CloudTrail record (an EventBridge event's detail, a Records
	// element, a decoded CloudTrailEvent string), or the whole EventBridge event when it is not a CloudTrail event.
	// It is nil for input that is not JSON. Tools that resend records (the rule-pattern test) use it.
	Raw json.RawMessage
}

// Split decodes one input (a file's bytes) into items. It accepts one EventBridge event, a JSON array of them,
// JSON Lines (one value per line; a bad line rejects that line only), a bare CloudTrail record, a CloudTrail log
// file {"Records":[...]}, LookupEvents output {"Events":[{"CloudTrailEvent":"<json string>"},...]} or one element
// of its Events, and any mix of these inside an array or JSON Lines. An EventBridge event whose detail-type is not
// DetailType yields an Item whose Err wraps ErrIgnored. Input that is not JSON yields one Item with Err.
// Split never reads a record's meaning: call Record.Event on each item without Err.
func Split(source string, data []byte) []Item {
	var s splitter
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark some editors write
	switch {
	case kind(data) == 0:
		s.fail(&Error{Reason: "empty input"})
	case json.Valid(data):
		s.value(data, true)
	default:
		lines, ok := jsonLines(data)
		if !ok {
			s.fail(&Error{Reason: "invalid JSON", Err: syntaxError(data)})
			break
		}
		for _, line := range lines {
			if !json.Valid(line) {
				s.fail(&Error{Reason: "invalid JSON line", Err: syntaxError(line)})
				continue
			}
			s.value(line, true)
		}
	}
	return s.finish(source)
}

// splitter collects items in input order; finish names them once their number is known.
type splitter struct {
	items []Item
}

func (s *splitter) add(raw []byte, r Record, err error) {
	s.items = append(s.items, Item{Record: r, Err: err, Raw: raw})
}

func (s *splitter) fail(err error) { s.add(nil, Record{}, err) }

// value splits one valid JSON value. Arrays may hold events but not further arrays: no published shape nests them.
func (s *splitter) value(raw []byte, arrayOK bool) {
	switch kind(raw) {
	case '{':
		s.object(raw)
	case '[':
		if !arrayOK {
			s.fail(&Error{Reason: "JSON array inside an array is not an input shape"})
			return
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			s.fail(&Error{Reason: "undecodable JSON array", Err: err})
			return
		}
		for _, e := range elems {
			s.value(e, false)
		}
	default:
		s.fail(&Error{Reason: "JSON " + jsonType(raw) + " is not an event or record"})
	}
}

// shape holds the keys that tell the containers apart. Each stays raw, so probing cannot fail on a type.
type shape struct {
	DetailType      json.RawMessage `json:"detail-type"`     // EventBridge event
	Records         json.RawMessage `json:"Records"`         // CloudTrail log file
	Events          json.RawMessage `json:"Events"`          // LookupEvents output
	CloudTrailEvent json.RawMessage `json:"CloudTrailEvent"` // one LookupEvents event, e.g. from --query 'Events[]'
}

func (s *splitter) object(raw []byte) {
	var sh shape
	if err := json.Unmarshal(raw, &sh); err != nil {
		s.fail(&Error{Reason: "undecodable JSON object", Err: err})
		return
	}
	switch {
	case sh.DetailType != nil:
		r, detail, err := fromEventBridge(raw)
		if errors.Is(err, ErrIgnored) {
			detail = raw // not a CloudTrail event: keep the event itself
		}
		s.add(detail, r, err)
	case sh.Records != nil:
		recs, err := array(sh.Records, "CloudTrail log file: Records")
		if err != nil {
			s.fail(err)
			return
		}
		for _, rec := range recs {
			r, err := Decode(rec)
			s.add(rec, r, err)
		}
	case sh.Events != nil:
		evs, err := array(sh.Events, "LookupEvents output: Events")
		if err != nil {
			s.fail(err)
			return
		}
		for _, ev := range evs {
			s.add(lookupEvent(ev))
		}
	case sh.CloudTrailEvent != nil:
		s.add(lookupEvent(raw))
	default:
		r, err := Decode(raw)
		s.add(raw, r, err)
	}
}

// finish gives every item its Source and makes every error name it.
func (s *splitter) finish(source string) []Item {
	if source == "" {
		source = "input" // an Item always names where it came from
	}
	for i := range s.items {
		it := &s.items[i]
		it.Source = source
		if len(s.items) > 1 {
			it.Source = source + "#" + strconv.Itoa(i)
		}
		if it.Err == nil {
			continue
		}
		var e *Error
		if errors.As(it.Err, &e) && e.Source == "" {
			e.Source = it.Source // each *Error here was made for this item alone
		} else {
			it.Err = &Error{Source: it.Source, Reason: "undecodable input", Err: it.Err}
		}
	}
	return s.items
}

// lookupEvent decodes one LookupEvents event: its CloudTrailEvent is the record as a JSON string, decoded twice.
// It also returns the record's JSON.
func lookupEvent(raw []byte) ([]byte, Record, error) {
	var ev struct {
		EventID         string          `json:"EventId"`
		CloudTrailEvent json.RawMessage `json:"CloudTrailEvent"`
	}
	if err := decodeObject(raw, &ev); err != nil {
		return nil, Record{}, &Error{Reason: "undecodable LookupEvents event", Err: err}
	}
	what := named("LookupEvents event", ev.EventID)
	var text string
	if kind(ev.CloudTrailEvent) != '"' || json.Unmarshal(ev.CloudTrailEvent, &text) != nil {
		return nil, Record{}, &Error{Reason: what + ": CloudTrailEvent is not a JSON string"}
	}
	data := []byte(text)
	if !json.Valid(data) {
		return nil, Record{}, &Error{Reason: what + ": CloudTrailEvent is not JSON", Err: syntaxError(data)}
	}
	r, err := Decode(data)
	return data, r, within(err, what+": CloudTrailEvent")
}

// array decodes a JSON array into its elements; what names the array in the error.
func array(raw json.RawMessage, what string) ([]json.RawMessage, error) {
	if kind(raw) != '[' {
		return nil, &Error{Reason: what + " is a JSON " + jsonType(raw) + ", not an array"}
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, &Error{Reason: what + " is undecodable", Err: err}
	}
	return elems, nil
}

// jsonLines returns the non-blank lines of data, and whether data looks like JSON Lines: at least one line is a
// whole JSON object or array. A broken pretty-printed document has no such line, so it is rejected once as a
// whole rather than once per line.
func jsonLines(data []byte) ([][]byte, bool) {
	var lines [][]byte
	ok := false
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		lines = append(lines, line)
		if k := kind(line); !ok && (k == '{' || k == '[') && json.Valid(line) {
			ok = true
		}
	}
	return lines, ok
}

// syntaxError returns encoding/json's description of why data is not JSON (with the byte offset).
func syntaxError(data []byte) error {
	var v json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return errors.New("not JSON")
}

// jsonType names the type of a valid JSON value for messages.
func jsonType(raw []byte) string {
	switch kind(raw) {
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

package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/trail"
)

const eventsDir = "../events"

// rawItem is one item of an input as trail.Split counts them, with the JSON an EventBridge rule would see:
// Record is the CloudTrail record (the detail of an "AWS API Call via CloudTrail" event), or, for an EventBridge
// event of another detail-type, Source/DetailType/Detail are that event's own. Both are empty for input that is
// not JSON or not an object: nothing could be sent to EventBridge for it.
type rawItem struct {
	Record     json.RawMessage
	Source     string
	DetailType string
	Detail     json.RawMessage
}

// splitRaw mirrors trail.Split but keeps each record's raw JSON (trail.Record keeps only decoded fields).
// It returns one rawItem per trail.Item, in the same order; TestSplitRawMatchesTrail holds the two together.
func splitRaw(data []byte) []rawItem {
	var out []rawItem
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return []rawItem{{}}
	}
	if json.Valid(data) {
		return rawValue(data, true)
	}
	var lines [][]byte
	jsonl := false
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			lines = append(lines, line)
			if (line[0] == '{' || line[0] == '[') && json.Valid(line) {
				jsonl = true
			}
		}
	}
	if !jsonl {
		return []rawItem{{}}
	}
	for _, line := range lines {
		if !json.Valid(line) {
			out = append(out, rawItem{})
			continue
		}
		out = append(out, rawValue(line, true)...)
	}
	return out
}

func rawValue(raw []byte, arrayOK bool) []rawItem {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		return rawObject(raw)
	case len(raw) > 0 && raw[0] == '[' && arrayOK:
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return []rawItem{{}}
		}
		var out []rawItem
		for _, e := range elems {
			out = append(out, rawValue(e, false)...)
		}
		return out
	}
	return []rawItem{{}}
}

func rawObject(raw []byte) []rawItem {
	var sh struct {
		DetailType      json.RawMessage `json:"detail-type"`
		Source          json.RawMessage `json:"source"`
		Detail          json.RawMessage `json:"detail"`
		Records         json.RawMessage `json:"Records"`
		Events          json.RawMessage `json:"Events"`
		CloudTrailEvent json.RawMessage `json:"CloudTrailEvent"`
	}
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(raw, &sh); err != nil && !errors.As(err, &te) {
		return []rawItem{{}}
	}
	switch {
	case sh.DetailType != nil:
		var dt, src string
		_ = json.Unmarshal(sh.DetailType, &dt)
		_ = json.Unmarshal(sh.Source, &src)
		if dt == trail.DetailType {
			return []rawItem{{Record: sh.Detail}}
		}
		return []rawItem{{Source: src, DetailType: dt, Detail: sh.Detail}}
	case sh.Records != nil:
		return rawList(sh.Records, func(e json.RawMessage) rawItem { return rawItem{Record: e} })
	case sh.Events != nil:
		return rawList(sh.Events, lookupRecord)
	case sh.CloudTrailEvent != nil:
		return []rawItem{lookupRecord(raw)}
	}
	return []rawItem{{Record: raw}}
}

func rawList(raw json.RawMessage, item func(json.RawMessage) rawItem) []rawItem {
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return []rawItem{{}} // not an array: Split reports it once
	}
	out := make([]rawItem, 0, len(elems))
	for _, e := range elems {
		out = append(out, item(e))
	}
	return out
}

// lookupRecord returns the record a LookupEvents event carries as a JSON string.
func lookupRecord(raw json.RawMessage) rawItem {
	var ev struct {
		CloudTrailEvent string `json:"CloudTrailEvent"`
	}
	if json.Unmarshal(raw, &ev) != nil || !json.Valid([]byte(ev.CloudTrailEvent)) {
		return rawItem{}
	}
	return rawItem{Record: json.RawMessage(ev.CloudTrailEvent)}
}

// sample is one item of one file under events/.
type sample struct {
	Source string     // trail.Item.Source: path#index
	Item   trail.Item // as the engine splits it
	Raw    rawItem
}

// loadSamples splits every events/**/*.json and *.jsonl file with trail.Split and pairs each item with its raw
// JSON, failing the test where the two disagree.
func loadSamples(t testing.TB) []sample {
	t.Helper()
	var out []sample
	err := filepath.WalkDir(eventsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".json" && ext != ".jsonl" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(eventsDir, path)
		items := trail.Split(filepath.ToSlash(rel), data)
		raws := splitRaw(data)
		if len(items) != len(raws) {
			t.Errorf("%s: trail.Split found %d items, the raw splitter %d", rel, len(items), len(raws))
			return nil
		}
		for i, it := range items {
			if it.Err == nil {
				rec, err := trail.Decode(raws[i].Record)
				if err != nil || rec.EventID != it.Record.EventID || rec.EventName != it.Record.EventName {
					t.Errorf("%s: raw record %d decodes to %q %q (%v); trail.Split has %q %q", it.Source, i,
						rec.EventID, rec.EventName, err, it.Record.EventID, it.Record.EventName)
				}
			}
			out = append(out, sample{Source: it.Source, Item: it, Raw: raws[i]})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", eventsDir, err)
	}
	if len(out) == 0 {
		t.Fatalf("no samples under %s", eventsDir)
	}
	return out
}

// TestSplitRawMatchesTrail keeps splitRaw in step with trail.Split on every sample, and on the shapes Split accepts.
func TestSplitRawMatchesTrail(t *testing.T) {
	samples := loadSamples(t)
	var records int
	for _, s := range samples {
		if s.Item.Err == nil {
			records++
		}
	}
	t.Logf("%d items under %s, %d of them CloudTrail records", len(samples), eventsDir, records)

	rec := `{"eventID":"e-1","eventName":"Decrypt","eventSource":"kms.amazonaws.com"}`
	lookup := `{"EventId":"e-1","CloudTrailEvent":` + jsonString(rec) + `}`
	for _, in := range []string{
		rec,
		`[` + rec + `,` + rec + `]`,
		`{"Records":[` + rec + `,` + rec + `]}`,
		`{"Records":[]}`,
		`{"Records":{}}`,
		`{"Events":[` + lookup + `]}`,
		lookup,
		`{"detail-type":"AWS API Call via CloudTrail","detail":` + rec + `}`,
		`{"detail-type":"Other","source":"aws.bedrock","detail":{}}`,
		rec + "\n\nnot json\n" + `[` + rec + `]`,
		`[[` + rec + `]]`,
		`"just a string"`,
		"not json at all",
		"",
	} {
		items, raws := trail.Split("in", []byte(in)), splitRaw([]byte(in))
		if len(items) != len(raws) {
			t.Errorf("input %.60q: trail.Split has %d items, splitRaw %d", in, len(items), len(raws))
			continue
		}
		for i, it := range items {
			if (it.Err == nil) != (raws[i].Record != nil) {
				t.Errorf("input %.60q item %d: Split error %v, raw record %s", in, i, it.Err, raws[i].Record)
			}
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

package trail_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/internal/golden"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// wantItem is what a test expects of one Item from Split.
type wantItem struct {
	source  string
	eventID string // of the record, when the item has no Err
	err     string // part of Err's message; "" means no Err
	ignored bool   // Err wraps ErrIgnored
}

func rec(source, eventID string) wantItem  { return wantItem{source: source, eventID: eventID} }
func rejected(source, err string) wantItem { return wantItem{source: source, err: err} }
func skipped(source, err string) wantItem  { return wantItem{source: source, err: err, ignored: true} }

// compact returns the named sample on one line, for JSON Lines inputs.
func compact(tb testing.TB, name string) string {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, readSample(tb, name)); err != nil {
		tb.Fatalf("compact %s: %v", name, err)
	}
	return b.String()
}

// lookupOutput is LookupEvents output holding the given Events elements (derived).
func lookupOutput(elems ...string) []byte {
	return []byte(`{"Events": [` + strings.Join(elems, ",") + `], "NextToken": "t"}`)
}

// lookupElem is one LookupEvents element whose CloudTrailEvent is the named sample, encoded as a JSON string.
func lookupElem(tb testing.TB, name string) string {
	tb.Helper()
	s, err := json.Marshal(compact(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return `{"EventId": "x", "EventName": "n", "CloudTrailEvent": ` + string(s) + `}`
}

func TestSplit(t *testing.T) {
	var (
		decryptID = decryptEvent.ID
		revokeID  = revokeEvent.ID
		retireID  = retireEvent.ID
		copyID    = modelCopyEvent.ID
		s3ID      = "24ba271e-d595-4e66-a7fd-9c16cbf8abae"
		loginID   = "654ccbc0-ba0d-486a-9076-dbf7274677a7"
		records   = `{"Records": [` + compact(t, revokeSample) + `,` + compact(t, retireSample) + `]}`
	)
	tests := []struct {
		name   string
		source string
		data   []byte
		want   []wantItem
	}{
		{name: "bare record", source: "d.json", data: readSample(t, decryptSample), want: []wantItem{rec("d.json", decryptID)}},
		{name: "EventBridge CloudTrail event", source: "e.json", data: readSample(t, s3EnvelopeSample), want: []wantItem{rec("e.json", s3ID)}},
		{name: "EventBridge KMS event", source: "e.json", data: kmsEnvelope(t), want: []wantItem{rec("e.json", copyID)}},
		{
			name: "Bedrock native event is ignored", source: "b.json", data: readSample(t, jobStateSample),
			want: []wantItem{skipped("b.json", `detail-type "Model Customization Job State Change"`)},
		},
		{
			name: "Bedrock native event with non-ISO time is ignored", source: "b.json", data: []byte(batchJobEvent),
			want: []wantItem{skipped("b.json", "Batch Inference Job State Change")},
		},
		{
			name: "JSON array of events", source: "a.json",
			data: []byte(`[` + string(kmsEnvelope(t)) + `,` + batchJobEvent + `,` + compact(t, s3EnvelopeSample) + `]`),
			want: []wantItem{rec("a.json#0", copyID), skipped("a.json#1", "Batch Inference"), rec("a.json#2", s3ID)},
		},
		{name: "JSON array of one event", source: "a.json", data: []byte(`[` + batchJobEvent + `]`), want: []wantItem{skipped("a.json", "Batch")}},
		{name: "empty array", source: "a.json", data: []byte(" [ ]\n")},
		{
			name: "JSON Lines with a bad line", source: "l.jsonl",
			data: []byte(compact(t, decryptSample) + "\n\n" + `{"eventSource": "kms.amazonaws.com", ` + "\r\n" +
				string(kmsEnvelope(t)) + "\n   \n" + compact(t, jobStateSample) + "\n"),
			want: []wantItem{
				rec("l.jsonl#0", decryptID), rejected("l.jsonl#1", "invalid JSON at byte 992 (line 4)"), rec("l.jsonl#2", copyID),
				skipped("l.jsonl#3", "Model Customization"),
			},
		},
		{
			name: "JSON Lines with a non-record line", source: "l.jsonl", data: []byte(compact(t, decryptSample) + "\n42\n\"x\"\n"),
			want: []wantItem{rec("l.jsonl#0", decryptID), rejected("l.jsonl#1", "JSON number is not"), rejected("l.jsonl#2", "JSON string")},
		},
		{name: "one JSON line", source: "l.jsonl", data: []byte(compact(t, decryptSample) + "\n"), want: []wantItem{rec("l.jsonl", decryptID)}},
		{
			name: "CloudTrail log file", source: "c.json", data: []byte(records),
			want: []wantItem{rec("c.json#0", revokeID), rec("c.json#1", retireID)},
		},
		{
			name: "CloudTrail log file with a bad record", source: "c.json",
			data: []byte(`{"Records": [` + compact(t, revokeSample) + `, "text", {"eventID": "e9"}]}`),
			want: []wantItem{rec("c.json#0", revokeID), rejected("c.json#1", "not a JSON object"), rejected("c.json#2", "event e9: not a CloudTrail record")},
		},
		{name: "CloudTrail log file of one record", source: "c.json", data: []byte(`{"Records": [` + compact(t, revokeSample) + `]}`), want: []wantItem{rec("c.json", revokeID)}},
		{name: "empty CloudTrail log file", source: "c.json", data: []byte(`{"Records": []}`)},
		{name: "Records not an array", source: "c.json", data: []byte(`{"Records": {}}`), want: []wantItem{rejected("c.json", "Records is a JSON object, not an array")}},
		{name: "LookupEvents sample", source: "k.json", data: readSample(t, lookupEventsSample), want: []wantItem{rec("k.json", loginID)}},
		{
			name: "LookupEvents with bad elements", source: "k.json",
			data: lookupOutput(
				lookupElem(t, revokeSample),
				`{"EventId": "n1", "CloudTrailEvent": {"eventID": "inline object, not a string"}}`,
				`{"EventId": "n2", "CloudTrailEvent": "not json"}`,
				`{"EventId": "n3"}`,
				`{"EventId": "n4", "CloudTrailEvent": "{\"eventID\": \"e4\"}"}`,
				`[]`,
				lookupElem(t, decryptSample),
			),
			want: []wantItem{
				rec("k.json#0", revokeID),
				rejected("k.json#1", "LookupEvents event n1: CloudTrailEvent is not a JSON string"),
				rejected("k.json#2", "LookupEvents event n2: CloudTrailEvent is not JSON"),
				rejected("k.json#3", "LookupEvents event n3: CloudTrailEvent is not a JSON string"),
				rejected("k.json#4", "LookupEvents event n4: CloudTrailEvent: event e4: not a CloudTrail record"),
				rejected("k.json#5", "undecodable LookupEvents event"),
				rec("k.json#6", decryptID),
			},
		},
		{name: "one LookupEvents element", source: "k.json", data: []byte(lookupElem(t, retireSample)), want: []wantItem{rec("k.json", retireID)}},
		{
			name: "mix of shapes in an array", source: "m.json",
			data: []byte(`[` + records + `,` + string(lookupOutput(lookupElem(t, decryptSample))) + `,` +
				compact(t, jobStateSample) + `,` + compact(t, modelCopySample) + `, [], null]`),
			want: []wantItem{
				rec("m.json#0", revokeID), rec("m.json#1", retireID), rec("m.json#2", decryptID), skipped("m.json#3", "Model Customization"),
				rec("m.json#4", copyID), rejected("m.json#5", "array inside an array"), rejected("m.json#6", "JSON null"),
			},
		},
		{
			name: "mix of shapes in JSON Lines", source: "m.jsonl",
			data: []byte(records + "\n" + `[` + batchJobEvent[:strings.Index(batchJobEvent, "\n")] + "\n" + compact(t, decryptSample) + "\n" + string(lookupOutput()) + "\n"),
			want: []wantItem{
				rec("m.jsonl#0", revokeID), rec("m.jsonl#1", retireID), rejected("m.jsonl#2", "invalid JSON at byte"), rec("m.jsonl#3", decryptID),
			},
		},
		{name: "not JSON", source: "n.txt", data: []byte("eventID=1 eventName=Decrypt\n"), want: []wantItem{rejected("n.txt", "invalid JSON at byte 0 (line 1): invalid character")}},
		{
			name: "truncated pretty-printed file is rejected once", source: "t.json",
			data: readSample(t, modelCopySample)[:600],
			want: []wantItem{rejected("t.json", "invalid JSON")},
		},
		{name: "empty input", source: "z.json", data: []byte(" \n\t"), want: []wantItem{rejected("z.json", "empty input")}},
		{name: "JSON scalar", source: "s.json", data: []byte(`true`), want: []wantItem{rejected("s.json", "JSON boolean is not an event or record")}},
		{name: "other JSON object", source: "o.json", data: []byte(`{"hello": "world"}`), want: []wantItem{rejected("o.json", "not a CloudTrail record")}},
		{name: "byte order mark", source: "d.json", data: append([]byte("\xef\xbb\xbf"), readSample(t, decryptSample)...), want: []wantItem{rec("d.json", decryptID)}},
		{name: "no source name", source: "", data: []byte(`1`), want: []wantItem{rejected("input", "JSON number")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := trail.Split(tt.source, tt.data)
			if len(items) != len(tt.want) {
				t.Fatalf("Split() returned %d items; want %d:\n%s", len(items), len(tt.want), describe(items))
			}
			for i, it := range items {
				w := tt.want[i]
				if it.Source != w.source {
					t.Errorf("item %d: Source = %q; want %q", i, it.Source, w.source)
				}
				if w.err == "" {
					if it.Err != nil || it.Record.EventID != w.eventID {
						t.Errorf("item %d: eventID %q, Err %v; want eventID %q, no Err", i, it.Record.EventID, it.Err, w.eventID)
					}
					continue
				}
				if it.Err == nil {
					t.Errorf("item %d: no Err; want one containing %q", i, w.err)
					continue
				}
				msg := it.Err.Error()
				if !strings.Contains(msg, w.err) || !strings.HasPrefix(msg, "trail: "+it.Source+": ") {
					t.Errorf("item %d: Err = %q; want it to start with %q and contain %q", i, msg, "trail: "+it.Source+": ", w.err)
				}
				if got := errors.Is(it.Err, trail.ErrIgnored); got != w.ignored {
					t.Errorf("item %d: errors.Is(Err, ErrIgnored) = %t; want %t (Err %q)", i, got, w.ignored, msg)
				}
			}
		})
	}
}

func describe(items []trail.Item) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "  %s: eventID %q, Err %v\n", it.Source, it.Record.EventID, it.Err)
	}
	return b.String()
}

// goldenItem is how the golden files show one item: the event, or why it was ignored or rejected.
type goldenItem struct {
	Source  string           `json:"source"`
	Event   *lifecycle.Event `json:"event,omitempty"`
	Ignored string           `json:"ignored,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// TestGoldenSamples decodes every AWS sample; a new sample is a new test (style.md example 6).
// Rewrite the golden files with: go test ./pkg/trail -update
func TestGoldenSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no samples in %s", samplesDir)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out := []goldenItem{}
			for _, it := range trail.Split(filepath.Base(file), data) {
				g := goldenItem{Source: it.Source}
				err := it.Err
				if err == nil {
					var ev lifecycle.Event
					if ev, err = it.Record.Event(); err == nil {
						g.Event = &ev
					}
				}
				switch {
				case errors.Is(err, trail.ErrIgnored):
					g.Ignored = err.Error()
				case err != nil:
					g.Error = err.Error()
				}
				out = append(out, g)
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join("testdata", name+".golden.json"), append(got, '\n'))
		})
	}
}

func TestLogValue(t *testing.T) {
	r, err := trail.Decode(readSample(t, modelCopySample))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("got", "record", r)
	var line struct {
		Record map[string]any `json:"record"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %s: %v", buf.Bytes(), err)
	}
	want := map[string]any{
		"eventId": modelCopyEvent.ID, "eventName": "CreateGrant", "eventSource": "kms.amazonaws.com", "eventTime": "2024-05-07T21:49:44Z",
	}
	if fmt.Sprint(line.Record) != fmt.Sprint(want) {
		t.Errorf("logged record = %v; want only %v", line.Record, want)
	}
	if strings.Contains(buf.String(), "RoleForModelCopy") {
		t.Errorf("log line %s names the caller; want only the record's identity", buf.Bytes())
	}
}

func ExampleSplit() {
	input := `{"eventID": "e1", "eventName": "RevokeGrant", "eventSource": "kms.amazonaws.com", "eventTime": "2022-09-01T19:35:17Z", ` +
		`"awsRegion": "us-west-2", "recipientAccountId": "111122223333", "requestParameters": {"keyId": "1234abcd", "grantId": "g1"}}` + "\n" +
		`{"eventID": "e2", "eventName": "CreateBucket", "eventSource": "s3.amazonaws.com"}` + "\n" +
		"not json\n"
	for _, it := range trail.Split("events.jsonl", []byte(input)) {
		if it.Err != nil {
			fmt.Println("rejected:", it.Err)
			continue
		}
		ev, err := it.Record.Event()
		switch {
		case errors.Is(err, trail.ErrIgnored):
			fmt.Println("ignored:", it.Source)
		case err != nil:
			fmt.Println("rejected:", err)
		default:
			fmt.Println(it.Source, ev.Name, ev.GrantID, ev.KeyARN)
		}
	}
	// Output:
	// events.jsonl#0 RevokeGrant g1 arn:aws:kms:us-west-2:111122223333:key/1234abcd
	// ignored: events.jsonl#1
	// rejected: trail: events.jsonl#2: invalid JSON at byte 327 (line 3): invalid character 'o' in literal null (expecting 'u')
}

// TestSplitKeepsRaw: each item carries the JSON it was read from, so records can be sent on unchanged.
func TestSplitKeepsRaw(t *testing.T) {
	rec := `{"eventID":"e-1","eventName":"Decrypt","eventSource":"kms.amazonaws.com","eventTime":"2024-05-30T00:00:00Z"}`
	str, _ := json.Marshal(rec)
	other := `{"detail-type":"Other","source":"aws.bedrock","detail":{}}`
	tests := []struct {
		name, in string
		want     []string
	}{
		{"bare record", rec, []string{rec}},
		{"eventbridge", `{"detail-type":"AWS API Call via CloudTrail","detail":` + rec + `}`, []string{rec}},
		{"log file", `{"Records":[` + rec + `,` + rec + `]}`, []string{rec, rec}},
		{"lookup events", `{"Events":[{"EventId":"e-1","CloudTrailEvent":` + string(str) + `}]}`, []string{rec}},
		{"other eventbridge event", other, []string{other}},
		{"json lines with a bad line", rec + "\n{bad\n", []string{rec, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := trail.Split("in", []byte(tt.in))
			if len(items) != len(tt.want) {
				t.Fatalf("Split() = %d items; want %d", len(items), len(tt.want))
			}
			for i, it := range items {
				if string(it.Raw) != tt.want[i] {
					t.Errorf("item %d Raw = %s; want %s", i, it.Raw, tt.want[i])
				}
			}
		})
	}
}

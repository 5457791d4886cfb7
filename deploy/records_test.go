package deploy

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/trail"
)

const eventsDir = "../events"

// rawItem is the JSON an EventBridge rule would see for one item: Record is the CloudTrail record (the detail of
// an "AWS API Call via CloudTrail" event), or, for an EventBridge event of another detail-type, Source/DetailType/
// Detail are that event's own. Both are empty for input that is not JSON: nothing could be sent for it.
type rawItem struct {
	Record     json.RawMessage
	Source     string
	DetailType string
	Detail     json.RawMessage
}

// rawOf reads what trail.Split kept of an item (Item.Raw) as the rule would see it.
func rawOf(it trail.Item) rawItem {
	var ev struct {
		Source     string          `json:"source"`
		DetailType *string         `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(it.Raw, &ev) == nil && ev.DetailType != nil {
		return rawItem{Source: ev.Source, DetailType: *ev.DetailType, Detail: ev.Detail}
	}
	return rawItem{Record: it.Raw}
}

// sample is one item of one file under events/.
type sample struct {
	Source string     // trail.Item.Source: path#index
	Item   trail.Item // as the engine splits it
	Raw    rawItem
}

// loadSamples splits every events/**/*.json and *.jsonl file with trail.Split, as replay does.
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
		for _, it := range trail.Split(filepath.ToSlash(rel), data) {
			out = append(out, sample{Source: it.Source, Item: it, Raw: rawOf(it)})
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

// TestSamplesKeepTheirRecords: every record trail decodes from events/ comes with the JSON it was read from, so the
// pattern test sends EventBridge exactly what CloudTrail would.
func TestSamplesKeepTheirRecords(t *testing.T) {
	var records int
	for _, s := range loadSamples(t) {
		if s.Item.Err != nil {
			continue
		}
		records++
		rec, err := trail.Decode(s.Raw.Record)
		if err != nil || rec.EventID != s.Item.Record.EventID || rec.EventName != s.Item.Record.EventName {
			t.Errorf("%s: raw record decodes to %q %q (%v); trail.Split has %q %q", s.Source,
				rec.EventID, rec.EventName, err, s.Item.Record.EventID, s.Item.Record.EventName)
		}
	}
	if records == 0 {
		t.Fatal("no CloudTrail records under events/")
	}
}

package trail_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// FuzzSplit feeds Split every input the project has (events/, which may not exist yet, and the AWS samples) and
// what the fuzzer derives from them. Split and Event must never panic, every item must name its source, and a
// decoded record must give an event or an error, never neither. Read, whose fast path stops reading records that
// cannot matter, must decide every item as Split does.
func FuzzSplit(f *testing.F) {
	seeds := 0
	add := func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatalf("seed %s: %v", path, err)
		}
		f.Add(data)
		seeds++
	}
	err := filepath.WalkDir(filepath.Join("..", "..", "events"), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			add(path)
		}
		return nil
	})
	if err != nil {
		f.Fatalf("walk events: %v", err)
	}
	samples, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		add(s)
	}
	if seeds == 0 {
		f.Fatalf("no seeds: %s is empty", samplesDir)
	}
	f.Add(kmsEnvelope(f))
	f.Add([]byte(batchJobEvent))

	f.Fuzz(func(t *testing.T, data []byte) {
		split := trail.Split("fuzz.json", data)
		var read []trail.Item
		if err := trail.Read(context.Background(), "fuzz.json", bytes.NewReader(data), func(it trail.Item) error {
			read = append(read, it)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(read) != len(split) {
			t.Fatalf("Read gave %d items, Split %d", len(read), len(split))
		}
		for i := range read {
			r, s := read[i].Decision, split[i].Decision
			if r.Class != s.Class || !reflect.DeepEqual(r.Event, s.Event) || !reflect.DeepEqual(r.Job, s.Job) {
				t.Fatalf("item %d: Read decided %s %+v (%v), Split %s %+v (%v)", i, r.Class, r.Event, r.Err, s.Class, s.Event, s.Err)
			}
		}
		for i, it := range split {
			if it.Source == "" {
				t.Fatalf("item %d has no Source", i)
			}
			if it.Err != nil {
				if msg := it.Err.Error(); !strings.HasPrefix(msg, "trail: "+it.Source+": ") {
					t.Fatalf("item %d: Err %q does not start with %q", i, msg, "trail: "+it.Source+": ")
				}
				continue
			}
			ev, err := it.Record.Event()
			zero := reflect.DeepEqual(ev, lifecycle.Event{})
			switch {
			case err == nil && zero:
				t.Fatalf("item %s: Event() returned neither an event nor an error", it.Source)
			case err != nil && !zero:
				t.Fatalf("item %s: Event() returned both %+v and %v", it.Source, ev, err)
			case err != nil && !strings.HasPrefix(err.Error(), "trail: "):
				t.Fatalf("item %s: Event() error %q lacks the trail: prefix", it.Source, err)
			case err == nil && (ev.ID == "" || ev.Time.IsZero() || !strings.HasPrefix(ev.KeyARN, "arn:") || strings.Contains(ev.KeyARN, ":alias/")):
				t.Fatalf("item %s: Event() = %+v; want an id, a time and a key ARN", it.Source, ev)
			case err == nil && !lifecycle.IsUse(ev.Name) && ev.GrantID == "":
				t.Fatalf("item %s: %s event without a grant id", it.Source, ev.Name)
			}
		}
	})
}

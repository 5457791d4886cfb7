// Package replay feeds CloudTrail files through the ingest use case, runs one sweep, and reports the result in the
// shape of the replay CLI contract (grant-lifecycle.md §9).
package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// Report is the contract's JSON object.
type Report struct {
	Grants []Grant      `json:"grants"`
	Alerts []Alert      `json:"alerts"`
	Stats  Stats        `json:"stats"`
	Errors []InputError `json:"errors"`
}

// Grant is one grant as the contract shows it. KindReason is for the table view only.
type Grant struct {
	GrantID       string `json:"grantId"`
	KeyARN        string `json:"keyArn"`
	Kind          string `json:"kind"`
	State         string `json:"state"`
	ParentGrantID string `json:"parentGrantId,omitempty"`
	CreatedAt     string `json:"createdAt,omitempty"`
	EndedAt       string `json:"endedAt,omitempty"`
	EndedBy       string `json:"endedBy,omitempty"`
	KindReason    string `json:"-"`
}

// Alert is one alert as the contract shows it.
type Alert struct {
	Type     string `json:"type"`
	Severity string `json:"severity"`
	GrantID  string `json:"grantId,omitempty"`
	KeyARN   string `json:"keyArn"`
	Message  string `json:"message"`
}

// Stats counts every record or undecodable input once: Events = Applied + Duplicates + Ignored + Rejected.
type Stats struct {
	Events     int `json:"events"`
	Applied    int `json:"applied"`
	Duplicates int `json:"duplicates"`
	Ignored    int `json:"ignored"`
	Rejected   int `json:"rejected"`
}

// InputError names an input that was rejected and why.
type InputError struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// Rules returns cfg as replay applies it. Replay's input is complete: when the sweep at --at runs, no grant event is
// still on its way, so the settle window that makes the live sweep wait for late CloudTrail events before checking
// a Bedrock service call is not needed. Every recorded call older than the use-after-retire grace is checked
// (grant-lifecycle.md §8); the Lambda sweep keeps cfg.UseSettle.
func Rules(cfg lifecycle.Config) lifecycle.Config {
	cfg.UseSettle = cfg.UseAfterRetireGrace
	return cfg
}

// Replayer accumulates what it applied. Use New, then Paths or Items, then Finish.
type Replayer struct {
	svc   *app.Service
	stats Stats
	errs  []InputError
	keys  map[string]bool
}

// New returns a Replayer that ingests through svc.
func New(svc *app.Service) *Replayer { return &Replayer{svc: svc, keys: map[string]bool{}} }

// Files expands paths into the files to read: a file as given; a folder walked recursively for *.json and
// *.jsonl. All files are returned in lexical path order. A path that cannot be read is returned as an error entry.
func Files(paths []string) ([]string, []InputError) {
	var files []string
	var errs []InputError
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, InputError{Source: p, Error: "replay: " + err.Error()})
			continue
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, InputError{Source: path, Error: "replay: " + err.Error()})
				return nil
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".jsonl")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, InputError{Source: p, Error: "replay: " + err.Error()})
		}
	}
	slices.Sort(files)
	return slices.Compact(files), errs
}

// Paths reads and applies every file under paths. Only a store failure stops it; bad input is counted and kept.
func (r *Replayer) Paths(ctx context.Context, paths []string) error {
	files, errs := Files(paths)
	for _, e := range errs {
		r.reject(e.Source, errors.New(e.Error))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			r.reject(f, fmt.Errorf("replay: %w", err))
			continue
		}
		if err := r.Items(ctx, trail.Split(f, data)); err != nil {
			return err
		}
	}
	return nil
}

// Items applies decoded items in order.
func (r *Replayer) Items(ctx context.Context, items []trail.Item) error {
	for _, it := range items {
		if err := r.item(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

func (r *Replayer) item(ctx context.Context, it trail.Item) error {
	err := it.Err
	var ev lifecycle.Event
	if err == nil {
		ev, err = it.Record.Event()
	}
	if errors.Is(err, trail.ErrIgnored) {
		// Issue 3: not a KMS call; maybe a Bedrock job event (control-plane call or job state change).
		if jev, jerr := trail.ItemJobEvent(it); !errors.Is(jerr, trail.ErrIgnored) {
			return r.job(ctx, it.Source, jev, jerr)
		}
	}
	switch {
	case errors.Is(err, trail.ErrIgnored):
		r.stats.Events++
		r.stats.Ignored++
		return nil
	case err != nil:
		r.reject(it.Source, err)
		return nil
	}
	res, err := r.svc.Ingest(ctx, ev)
	if err != nil {
		return fmt.Errorf("replay: %s: %w", it.Source, err)
	}
	r.stats.Events++
	switch res.Outcome {
	case lifecycle.Applied:
		r.stats.Applied++
	case lifecycle.Duplicate:
		r.stats.Duplicates++
	default:
		r.stats.Ignored++
	}
	r.keys[ev.KeyARN] = true
	return nil
}

// job applies a Bedrock job event to the job registry (issue 3); an unusable one is rejected like any record.
func (r *Replayer) job(ctx context.Context, source string, ev lifecycle.JobEvent, err error) error {
	if err != nil {
		r.reject(source, err)
		return nil
	}
	out, err := r.svc.IngestJob(ctx, ev)
	if err != nil {
		return fmt.Errorf("replay: %s: %w", source, err)
	}
	r.stats.Events++
	switch out {
	case lifecycle.Applied:
		r.stats.Applied++
	case lifecycle.Duplicate:
		r.stats.Duplicates++
	default:
		r.stats.Ignored++
	}
	return nil
}

func (r *Replayer) reject(source string, err error) {
	r.stats.Events++
	r.stats.Rejected++
	r.errs = append(r.errs, InputError{Source: source, Error: err.Error()})
}

// Finish runs one sweep at at and reports every Bedrock grant and alert on the keys the replay touched.
func (r *Replayer) Finish(ctx context.Context, at time.Time) (Report, error) {
	sw, err := r.svc.Sweep(ctx, at)
	if err == nil && len(sw.Failed) > 0 {
		err = fmt.Errorf("key %s: %w", sw.Failed[0].KeyARN, sw.Failed[0].Err) // a store failure: the report would be wrong
	}
	if err != nil {
		return Report{}, fmt.Errorf("replay: sweep: %w", err)
	}
	rep := Report{Grants: []Grant{}, Alerts: []Alert{}, Stats: r.stats, Errors: slices.Clone(r.errs)}
	if rep.Errors == nil {
		rep.Errors = []InputError{}
	}
	keys := make([]string, 0, len(r.keys))
	for k := range r.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, arn := range keys {
		k, err := r.svc.Key(ctx, arn)
		if err != nil {
			return Report{}, fmt.Errorf("replay: read key %s: %w", arn, err)
		}
		for _, g := range k.Reported() {
			rep.Grants = append(rep.Grants, grantView(g))
			for _, a := range g.Alerts {
				rep.Alerts = append(rep.Alerts, alertView(a))
			}
		}
		for _, a := range k.Usage.Alerts {
			rep.Alerts = append(rep.Alerts, alertView(a))
		}
	}
	slices.SortFunc(rep.Alerts, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.KeyARN, b.KeyARN), cmp.Compare(a.GrantID, b.GrantID), cmp.Compare(a.Type, b.Type))
	})
	return rep, nil
}

func grantView(g lifecycle.Grant) Grant {
	return Grant{GrantID: g.ID, KeyARN: g.KeyARN, Kind: string(g.Kind), State: string(g.State()),
		ParentGrantID: g.ParentID, CreatedAt: rfc3339(g.CreatedAt), EndedAt: rfc3339(g.EndedAt), EndedBy: g.EndedBy,
		KindReason: g.KindReason()}
}

func alertView(a lifecycle.Alert) Alert {
	return Alert{Type: string(a.Type), Severity: string(a.Severity), GrantID: a.GrantID, KeyARN: a.KeyARN, Message: a.Message}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

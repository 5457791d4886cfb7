// Package replay feeds CloudTrail files through the ingest use case, runs one sweep, and reports the result in the
// shape of the replay CLI contract (grant-lifecycle.md §9).
package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
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
	Grants []Grant    `json:"grants"`
	Alerts []Alert    `json:"alerts"`
	Stats  Stats      `json:"stats"`
	Errors []Rejected `json:"errors"`
	// Inputs is a field the contract (grant-lifecycle.md §9) gained after stats: it is present only when the input
	// held something besides events and records, so that every other replay prints what it always did.
	Inputs *Inputs `json:"inputs,omitempty"`
}

// Inputs counts what a trail archive holds beside its events. Insights records are also counted in stats as
// ignored records; files are not records, so the other counters are not in stats.
type Inputs struct {
	Files           int      `json:"files"`           // files or objects read
	SkippedFiles    int      `json:"skippedFiles"`    // passed over: not *.json, *.jsonl, *.json.gz or *.jsonl.gz
	DigestFiles     int      `json:"digestFiles"`     // CloudTrail-Digest files: signatures, no records
	InsightsRecords int      `json:"insightsRecords"` // CloudTrail Insights records (eventType AwsCloudTrailInsight)
	Filtered        int      `json:"filteredFiles"`   // files of a folder left out by the archive filters (S3 folders they prune are not even listed)
	Skipped         []string `json:"-"`               // the files passed over, for stderr
}

func (in *Inputs) special() bool {
	return in.SkippedFiles+in.DigestFiles+in.InsightsRecords+in.Filtered > 0
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

// Rejected is an input replay could not use, as the report names it: where it came from and why (app.Rejection
// is the form ingest stores; app.InputError is a bad value a caller typed, not a bad input file).
type Rejected struct {
	Source string `json:"source"`
	Error  string `json:"error"`
	Err    error  `json:"-"` // what Error says, typed (a *trail.Error, an *fs.PathError), for callers that word it
}

// Rules returns cfg as replay applies it. Replay's input is complete: when the sweep at --at runs, no grant event is
// still on its way, so the settle window that makes the live sweep wait for late CloudTrail events before checking
// a Bedrock service call is not needed. Every recorded call older than the use-after-retire grace is checked
// (grant-lifecycle.md §8); the Lambda sweep keeps cfg.UseSettle.
func Rules(cfg lifecycle.Config) lifecycle.Config {
	cfg.UseSettle = cfg.UseAfterRetireGrace
	return cfg
}

// Replayer accumulates what it applied. Use New, then Paths, Inputs or Items, then Finish.
type Replayer struct {
	svc    *app.Service
	stats  Stats
	errs   []Rejected
	keys   map[string]bool
	inputs Inputs
	// Filter selects the files laid out as a trail archive by account, Region and date.
	Filter trail.ArchiveFilter
	// Progress, when set, is told how far the replay is: as each file opens and every progressEvery events.
	Progress func(file string, files int, s Stats)
}

const progressEvery = 1000

// New returns a Replayer that ingests through svc.
func New(svc *app.Service) *Replayer { return &Replayer{svc: svc, keys: map[string]bool{}} }

// Input is one file or object to read.
type Input struct {
	Name string
	Open func(context.Context) (io.ReadCloser, error)
}

// Readable reports whether a walk reads a file of this name: JSON, JSON Lines, and their gzipped forms. Content
// decides whether a file is gzip, not the name; the name only decides what a walk picks up.
func Readable(name string) bool {
	for _, ext := range []string{".json", ".jsonl", ".json.gz", ".jsonl.gz"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// ErrNoInput means the paths of a run hold nothing to read: a usage error, never a silent all-clear.
var ErrNoInput = errors.New("replay: no input")

// NoInputError names the paths that held nothing readable.
type NoInputError struct{ Paths []string }

func (e *NoInputError) Error() string {
	return "replay: no *.json, *.jsonl, *.json.gz or *.jsonl.gz file in " + strings.Join(e.Paths, ", ")
}

func (e *NoInputError) Unwrap() error { return ErrNoInput }

// Files expands paths into the files to read: a file as given; a folder walked recursively for *.json, *.jsonl,
// *.json.gz and *.jsonl.gz. All files are returned in lexical path order. A path that cannot be read is returned as
// an error entry; the files a walk passes over are returned as skipped.
func Files(paths []string) (files, skipped []string, errs []Rejected) {
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, Rejected{Source: p, Error: "replay: " + err.Error(), Err: err})
			continue
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				errs = append(errs, Rejected{Source: path, Error: "replay: " + err.Error(), Err: err})
			case d.IsDir():
			case Readable(path):
				files = append(files, path)
			default:
				skipped = append(skipped, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, Rejected{Source: p, Error: "replay: " + err.Error(), Err: err})
		}
	}
	slices.Sort(files)
	slices.Sort(skipped)
	return slices.Compact(files), slices.Compact(skipped), errs
}

// Paths reads and applies every file under paths. Only a store failure stops it; bad input is counted and kept (a
// path that cannot be read among others is rejected). It returns a *NoInputError when the paths hold no file to
// read at all.
func (r *Replayer) Paths(ctx context.Context, paths []string) error {
	files, skipped, errs := Files(paths)
	if len(files) == 0 {
		return &NoInputError{Paths: paths}
	}
	for _, e := range errs {
		r.reject(e.Source, fmt.Errorf("replay: %w", e.Err)) // the same text as e.Error
	}
	r.inputs.SkippedFiles += len(skipped)
	r.inputs.Skipped = append(r.inputs.Skipped, skipped...)
	return r.Inputs(ctx, func(yield func(Input) bool) {
		for _, f := range files {
			if !yield(Input{Name: f, Open: func(context.Context) (io.ReadCloser, error) { return os.Open(f) }}) {
				return
			}
		}
	})
}

// Listed counts what an archive listing passed over: objects a walk does not read, and digest files.
func (r *Replayer) Listed(skipped []string, digests int) {
	r.inputs.SkippedFiles += len(skipped)
	r.inputs.Skipped = append(r.inputs.Skipped, skipped...)
	r.inputs.DigestFiles += digests
}

// Inputs reads and applies each input in order. Files that a CloudTrail archive layout names as digest files are
// counted, not read; the Filter leaves out files by their place in the layout.
func (r *Replayer) Inputs(ctx context.Context, inputs iter.Seq[Input]) error {
	var err error
	for in := range inputs {
		if err = r.input(ctx, in); err != nil {
			break
		}
	}
	return err
}

func (r *Replayer) input(ctx context.Context, in Input) error {
	if lf, ok := trail.ParseArchivePath(in.Name); ok {
		switch {
		case !r.Filter.Match(lf):
			r.inputs.Filtered++
			return nil
		case lf.Kind == trail.DigestFile:
			r.inputs.DigestFiles++
			return nil
		}
	}
	body, err := in.Open(ctx)
	if err != nil {
		r.reject(in.Name, fmt.Errorf("replay: %w", err))
		return nil
	}
	defer body.Close()
	r.inputs.Files++
	if r.Progress != nil {
		r.Progress(in.Name, r.inputs.Files, r.stats)
	}
	return trail.Read(ctx, in.Name, body, func(it trail.Item) error { return r.item(ctx, it) })
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

// item applies one item: the only place replay calls the ingest use cases.
func (r *Replayer) item(ctx context.Context, it trail.Item) error {
	d := it.Decision
	switch d.Class {
	case trail.Ignored:
		switch {
		case errors.Is(d.Err, trail.ErrDigest):
			r.inputs.DigestFiles++ // a digest file under another name: not a record
			return nil
		case errors.Is(d.Err, trail.ErrInsight):
			r.inputs.InsightsRecords++
		}
		r.stats.Events++
		r.stats.Ignored++
		return nil
	case trail.Rejected:
		r.reject(it.Source, d.Err)
		return nil
	case trail.JobEvent:
		return r.job(ctx, it.Source, d.Job)
	}
	ev := d.Event
	res, err := r.svc.Ingest(ctx, ev)
	if err != nil {
		return fmt.Errorf("replay: %s: %w", it.Source, err)
	}
	r.stats.Events++
	r.count(res.Outcome)
	r.keys[ev.KeyARN] = true
	if r.Progress != nil && r.stats.Events%progressEvery == 0 {
		r.Progress(it.Source, r.inputs.Files, r.stats)
	}
	return nil
}

func (r *Replayer) count(o lifecycle.Outcome) {
	switch o {
	case lifecycle.Applied:
		r.stats.Applied++
	case lifecycle.Duplicate:
		r.stats.Duplicates++
	default:
		r.stats.Ignored++
	}
}

// job applies a Bedrock job event to the job registry.
func (r *Replayer) job(ctx context.Context, source string, ev lifecycle.JobEvent) error {
	out, err := r.svc.IngestJob(ctx, ev)
	if err != nil {
		return fmt.Errorf("replay: %s: %w", source, err)
	}
	r.stats.Events++
	r.count(out)
	return nil
}

func (r *Replayer) reject(source string, err error) {
	r.stats.Events++
	r.stats.Rejected++
	r.errs = append(r.errs, Rejected{Source: source, Error: err.Error(), Err: err})
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
	if r.inputs.special() {
		in := r.inputs
		rep.Inputs = &in
	}
	if rep.Errors == nil {
		rep.Errors = []Rejected{}
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

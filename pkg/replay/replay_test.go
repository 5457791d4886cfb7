package replay_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/grantwatch/grantwatch/internal/golden"
	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/replay"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// at is the sweep time every scenario in events/scenarios is written against (events/README.md).
var at = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

var scenariosDir = filepath.Join("..", "..", "events", "scenarios")

func newReplayer() *replay.Replayer {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// As grantwatch replay wires it: the sweep runs at at, so grants that ended a day before it leave the working set
	// as they end, and the property tests below run with an archive.
	mem := store.NewMemory()
	return replay.New(app.New(mem, alert.Discard{}, replay.Rules(lifecycle.DefaultConfig()), log, time.Now).WithSweepTime(at).WithJobs(mem))
}

func scenarios(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(scenariosDir, "*"))
	if err != nil || len(dirs) < 10 {
		t.Fatalf("found %d scenarios in %s (err %v); want at least 10", len(dirs), scenariosDir, err)
	}
	return dirs
}

func run(t *testing.T, paths ...string) replay.Report {
	t.Helper()
	r := newReplayer()
	return finish(t, r, r.Paths(context.Background(), paths), at)
}

// finish fails tb if feeding r failed (fed, what Paths or Items returned), and otherwise returns r's report at at.
func finish(tb testing.TB, r *replay.Replayer, fed error, at time.Time) replay.Report {
	tb.Helper()
	if fed != nil {
		tb.Fatal(fed)
	}
	rep, err := r.Finish(context.Background(), at)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

// TestScenarios replays each scenario and compares the contract JSON with its golden file. Sources in the output
// are relative to the scenario folder, so the goldens do not depend on where the repository is.
func TestScenarios(t *testing.T) {
	for _, dir := range scenarios(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			rep := run(t, dir)
			for i := range rep.Errors {
				rep.Errors[i].Source, _ = filepath.Rel(scenariosDir, rep.Errors[i].Source)
			}
			got, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join("testdata", name+".golden.json"), append(got, '\n'))
			if s := rep.Stats; s.Events != s.Applied+s.Duplicates+s.Ignored+s.Rejected || s.Rejected != len(rep.Errors) {
				t.Errorf("stats %+v with %d errors; want events = applied+duplicates+ignored+rejected and one error per rejection", s, len(rep.Errors))
			}
		})
	}
}

// items reads a scenario as the ordered list of decoded records.
func items(t *testing.T, dir string) []trail.Item {
	t.Helper()
	files, _, errs := replay.Files([]string{dir})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var out []trail.Item
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, trail.Split(f, data)...)
	}
	return out
}

// state is the part of a report that must not depend on arrival order: grants and alerts.
type state struct {
	Grants []replay.Grant
	Alerts []replay.Alert
}

func stateOf(rep replay.Report) state {
	s := state{Grants: slices.Clone(rep.Grants), Alerts: slices.Clone(rep.Alerts)}
	slices.SortFunc(s.Grants, func(a, b replay.Grant) int {
		return cmp.Or(cmp.Compare(a.KeyARN, b.KeyARN), cmp.Compare(a.GrantID, b.GrantID))
	})
	slices.SortFunc(s.Alerts, func(a, b replay.Alert) int {
		return cmp.Or(cmp.Compare(a.KeyARN, b.KeyARN), cmp.Compare(a.GrantID, b.GrantID), cmp.Compare(a.Type, b.Type))
	})
	return s
}

// TestScenariosInAnyOrder is the property the engine promises: every scenario, replayed in random orders with every
// event delivered twice, ends in the same grants and alerts as its golden (in-order) result.
func TestScenariosInAnyOrder(t *testing.T) {
	for _, dir := range scenarios(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := stateOf(run(t, dir))
			its := items(t, dir)
			for seed := range uint64(25) {
				rng := rand.New(rand.NewPCG(seed, 42))
				doubled := append(slices.Clone(its), its...)
				rng.Shuffle(len(doubled), func(i, j int) { doubled[i], doubled[j] = doubled[j], doubled[i] })
				r := newReplayer()
				rep := finish(t, r, r.Items(context.Background(), doubled), at)
				if diff := gocmp.Diff(want, stateOf(rep), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("seed %d: state differs from the in-order replay (-want +got):\n%s", seed, diff)
				}
			}
		})
	}
}

// TestScenariosCombine: scenarios use their own keys and ids, so replaying all of them at once (as make demo does)
// gives the union of their results.
func TestScenariosCombine(t *testing.T) {
	var want state
	for _, dir := range scenarios(t) {
		s := stateOf(run(t, dir))
		want.Grants = append(want.Grants, s.Grants...)
		want.Alerts = append(want.Alerts, s.Alerts...)
	}
	want = stateOf(replay.Report{Grants: want.Grants, Alerts: want.Alerts})
	got := stateOf(run(t, scenariosDir))
	if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("replaying all scenarios together differs from the union of each (-want +got):\n%s", diff)
	}
}

func TestMissingPathIsRejectedNotFatal(t *testing.T) {
	rep := run(t, filepath.Join(scenariosDir, "does-not-exist"), filepath.Join(scenariosDir, "01-primary-secondaries-retired"))
	if rep.Stats.Rejected != 1 || len(rep.Errors) != 1 || rep.Errors[0].Source == "" || len(rep.Grants) == 0 {
		t.Fatalf("report = %+v; want one rejection naming the missing path and the other scenario applied", rep.Stats)
	}
}

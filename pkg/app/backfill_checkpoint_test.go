package app

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

var cpT0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return cpT0.Add(time.Duration(sec) * time.Second) }

func page(next string, recs ...LookupRecord) LookupPage {
	p := LookupPage{Records: recs, Next: next}
	for _, r := range recs {
		if p.Oldest.IsZero() || r.Time.Before(p.Oldest) {
			p.Oldest = r.Time
		}
	}
	return p
}

func rec(id string, sec int) LookupRecord { return LookupRecord{EventID: id, Time: at(sec)} }

// TestAfterPageBoundary: the ids read at the oldest second are kept across pages that end in the same second, and
// forgotten once a page reaches an older one; the last page clears them but keeps a Spawn.
func TestAfterPageBoundary(t *testing.T) {
	c := Checkpoint{RunID: "r", EventName: "CreateGrant", Start: at(0), End: at(100)}
	c = afterPage(c, page("t1", rec("a", 90), rec("b", 50)), BackfillStats{Events: 2}, cpT0)
	if c.Next != "t1" || c.Pages != 1 || !c.Covered.Equal(at(50)) || !slices.Equal(c.Boundary, []string{"b"}) || c.Stats.Events != 2 {
		t.Fatalf("after page 1 = %+v; want next t1, covered at 50 with boundary [b]", c)
	}
	c = afterPage(c, page("t2", rec("c", 50)), BackfillStats{Events: 1}, cpT0)
	if !slices.Equal(c.Boundary, []string{"b", "c"}) || c.Stats.Events != 3 {
		t.Errorf("same oldest second: boundary %v, stats %+v; want [b c] and 3 events", c.Boundary, c.Stats)
	}
	c = afterPage(c, page("t3", rec("d", 20)), BackfillStats{Events: 1}, cpT0)
	if !slices.Equal(c.Boundary, []string{"d"}) {
		t.Errorf("older second: boundary %v; want [d]", c.Boundary)
	}
	c.Spawn = &Checkpoint{Start: at(10)}
	c = afterPage(c, page("", rec("e", 5)), BackfillStats{Events: 1}, cpT0)
	if !c.Done || c.Boundary != nil || c.Spawn == nil || c.Pages != 4 {
		t.Errorf("last page = %+v; want done, no boundary, the Spawn kept", c)
	}
}

func TestRestartSlice(t *testing.T) {
	c := Checkpoint{Start: at(0), End: at(100), Next: "t", Pages: 3, Covered: at(40), Boundary: []string{"x"}, Skip: []string{"s"},
		Stats: BackfillStats{Events: 9}}
	got := restartSlice(c)
	if got.Next != "" || got.Pages != 0 || !got.Covered.IsZero() || got.Boundary != nil || got.Stats != (BackfillStats{}) ||
		!slices.Equal(got.Skip, []string{"s", "x"}) || !got.End.Equal(c.End) {
		t.Errorf("restartSlice = %+v; want the whole slice again, skipping [s x]", got)
	}
}

// TestSplitSlice: what is unread, [Start, Covered], is halved; the child skips the ids read at second Covered and
// the parent records the child, so that writing the parent first decides both.
func TestSplitSlice(t *testing.T) {
	c := Checkpoint{RunID: "r", EventName: "RetireGrant", Start: at(0), End: at(100), Next: "t", Covered: at(59), Boundary: []string{"a", "b"}}
	parent, child := splitSlice(c, cpT0)
	if !parent.Start.Equal(at(0)) || !parent.End.Equal(at(30)) || parent.Next != "" || !parent.Covered.IsZero() || parent.Spawn == nil ||
		parent.Spawn.Start != child.Start {
		t.Errorf("parent = %+v; want [0, 30) afresh with the child as its Spawn", parent)
	}
	if !child.Start.Equal(at(30)) || !child.End.Equal(at(60)) || !slices.Equal(child.Skip, []string{"a", "b"}) || child.Version != 0 {
		t.Errorf("child = %+v; want a new [30, 60) skipping [a b]", child)
	}
}

// TestResumeRecreatesSpawn: stored checkpoints replace the plan's slices, and a split-off slice that a crash kept
// from being written comes back from its parent's Spawn.
func TestResumeRecreatesSpawn(t *testing.T) {
	run := BackfillRun{ID: "r", Since: at(0), Until: at(100), EventNames: []string{"CreateGrant"}, Slices: 2}
	plan := slicesOf(run, Target{})
	if len(plan) != 2 || !plan[1].Start.Equal(at(50)) {
		t.Fatalf("slicesOf = %+v; want [0, 50) and [50, 100)", plan)
	}
	parent, child := splitSlice(Checkpoint{RunID: "r", EventName: "CreateGrant", Start: at(0), End: at(50), Covered: at(39)}, cpT0)
	got := resume(run, Target{}, []Checkpoint{parent})
	has := func(start, end time.Time, skip []string) bool {
		return slices.ContainsFunc(got, func(c Checkpoint) bool { return c.Start.Equal(start) && c.End.Equal(end) && slices.Equal(c.Skip, skip) })
	}
	if len(got) != 3 || !has(parent.Start, parent.End, nil) || !has(child.Start, child.End, child.Skip) || !has(at(50), at(100), nil) {
		t.Errorf("resume = %+v; want the stored parent, its Spawn and the plan's [50, 100)", got)
	}
}

// TestResumeByTarget: a target's slices are its own, planned and resumed apart from the others', and a split
// keeps its target.
func TestResumeByTarget(t *testing.T) {
	run := BackfillRun{ID: "r", Since: at(0), Until: at(100), EventNames: []string{"CreateGrant"}, Slices: 2}
	east, west := Target{Account: "111111111111", Region: "us-east-1"}, Target{Account: "111111111111", Region: "eu-west-1"}
	read := slicesOf(run, east)[1]
	read.Done = true
	stored := []Checkpoint{read, slicesOf(run, Target{})[0]}
	if got := resume(run, east, stored); len(got) != 2 || !got[0].Done || got[0].Target() != east || got[1].Target() != east || got[1].Done {
		t.Errorf("resume(east) = %+v; want its stored slice and the other one from the plan", got)
	}
	if got := resume(run, west, stored); len(got) != 2 || got[0].Done || got[1].Done || got[0].Target() != west {
		t.Errorf("resume(west) = %+v; want both slices from the plan, none read", got)
	}
	if sliceID(read) == sliceID(slicesOf(run, Target{})[1]) {
		t.Error("the same slice of two targets has one id")
	}
	c := slicesOf(run, west)[0]
	c.Covered = at(30)
	if _, child := splitSlice(c, cpT0); child.Target() != west {
		t.Errorf("split child target = %v; want %v", child.Target(), west)
	}
}

func TestFractionReadAndETA(t *testing.T) {
	run := BackfillRun{Since: at(0), Until: at(100), EventNames: []string{"CreateGrant", "RetireGrant"}}
	cps := []Checkpoint{
		{Start: at(0), End: at(100), Done: true},
		{Start: at(0), End: at(100), Covered: at(50)}, // half read
	}
	if f := fractionRead(run, 1, cps); f != 0.75 {
		t.Errorf("fractionRead = %v; want 0.75 (one name done, the other half read)", f)
	}
	// A second target with nothing read yet: half of everything is left.
	if f := fractionRead(run, 2, append(cps, Checkpoint{Account: "a", Start: at(0), End: at(100)}, Checkpoint{Account: "a", Start: at(0), End: at(100)})); f != 0.375 {
		t.Errorf("fractionRead of two targets = %v; want 0.375", f)
	}
	if d := eta(time.Minute, 0.5, 0.75); d != time.Minute {
		t.Errorf("eta(1m, 0.5 → 0.75) = %s; want 1m: a quarter took a minute, a quarter is left", d)
	}
	if eta(time.Minute, 0.5, 0.5) != 0 || eta(time.Minute, 0, 1) != 0 {
		t.Error("eta with nothing read this run, or everything read: want 0 (unknown, or none left)")
	}
}

// TestProgressReporterInOrder: snapshots handed in out of order by concurrent workers reach fn in sequence, one
// call at a time.
func TestProgressReporterInOrder(t *testing.T) {
	var got []int
	busy := false
	r := newProgressReporter(func(p BackfillProgress) {
		if busy {
			t.Error("fn called while another call runs")
		}
		busy = true
		got = append(got, p.Pages)
		time.Sleep(100 * time.Microsecond)
		busy = false
	})
	const n = 50
	var wg sync.WaitGroup
	for _, seq := range rand.Perm(n) {
		wg.Go(func() { r.report(uint64(seq+1), BackfillProgress{Pages: seq + 1}) })
	}
	wg.Wait()
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got, want) {
		t.Errorf("reported %v; want 1..%d in order", got, n)
	}
}

package app

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond for up to a second: the scheduler's waits are not observable otherwise.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

func TestSchedulerHandsOutInOrderThenEnds(t *testing.T) {
	s := newScheduler([]int{3, 1, 2})
	var got []int
	for {
		i, ok := s.next()
		if !ok {
			break
		}
		got = append(got, i)
		s.done()
	}
	if !slices.Equal(got, []int{3, 1, 2}) {
		t.Errorf("items = %v; want the queue's order 3, 1, 2", got)
	}
	if _, ok := newScheduler(nil).next(); ok {
		t.Error("next on an empty scheduler = ok; want the end at once")
	}
}

// TestSchedulerWaitsForWorkInHand: a worker with nothing queued waits while an item is worked, is starving then,
// takes what that work adds, and ends once nothing is queued or worked.
func TestSchedulerWaitsForWorkInHand(t *testing.T) {
	s := newScheduler([]int{0})
	if _, ok := s.next(); !ok {
		t.Fatal("next = false; want item 0")
	}
	if s.starving() {
		t.Fatal("starving with no worker waiting; want false")
	}
	got := make(chan int, 2)
	go func() {
		for {
			i, ok := s.next()
			if !ok {
				close(got)
				return
			}
			got <- i
			s.done()
		}
	}()
	waitFor(t, "the second worker waits", s.starving)
	s.add(7) // the work in hand splits
	if i := <-got; i != 7 {
		t.Fatalf("waiting worker got %d; want the added item 7", i)
	}
	s.done() // item 0 finished: nothing queued, nothing worked
	if _, open := <-got; open {
		t.Error("the waiting worker got more work; want the end")
	}
}

func TestSchedulerStopWakesWaiters(t *testing.T) {
	s := newScheduler([]int{0})
	s.next() // in work, never done: without stop the other worker would wait for ever
	ended := make(chan bool)
	go func() {
		_, ok := s.next()
		ended <- ok
	}()
	waitFor(t, "the worker waits", s.starving)
	s.stop()
	if ok := <-ended; ok {
		t.Error("next after stop = ok; want false")
	}
	s.add(1)
	if _, ok := s.next(); ok {
		t.Error("next on a stopped scheduler with work queued = ok; want false")
	}
}

// TestSchedulerWorkersAddingWork: workers that add items while working (as splits do) get every item exactly once
// and all end; run with -race, this is also the check that the scheduler's state is guarded.
func TestSchedulerWorkersAddingWork(t *testing.T) {
	s := newScheduler([]int{0, 1, 2})
	var next atomic.Int64
	next.Store(3)
	var mu sync.Mutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				i, ok := s.next()
				if !ok {
					return
				}
				mu.Lock()
				seen[i]++
				mu.Unlock()
				if i < 60 && s.starving() { // split while someone waits, up to 60 items and more
					s.add(int(next.Add(1) - 1))
				}
				if i < 30 {
					s.add(int(next.Add(1) - 1))
				}
				s.done()
			}
		})
	}
	wg.Wait()
	n := int(next.Load())
	if len(seen) != n {
		t.Errorf("%d distinct items worked; want all %d added", len(seen), n)
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("item %d worked %d times; want once", i, c)
		}
	}
}

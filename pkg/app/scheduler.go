package app

import "sync"

// scheduler hands work items (indexes) to a fixed set of workers. Items may be added while others are worked (a
// backfill slice that splits adds one), so a worker that finds nothing queued waits while any item is in work, and
// is told to end only when nothing is queued or in work, or after stop. It calls out to nothing: whatever it
// guards is its own queue and counts, so its lock is never held while other code runs.
type scheduler struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []int
	working int  // items handed out and not yet done
	idle    int  // workers waiting in next
	stopped bool // stop was called
}

// newScheduler returns a scheduler with the given items queued, in that order.
func newScheduler(queued []int) *scheduler {
	s := &scheduler{queue: queued}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// next hands out the first queued item. While nothing is queued but items are in work it waits, since they may
// add more. It reports false when everything is done or the scheduler was stopped.
func (s *scheduler) next() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		switch {
		case s.stopped:
			return -1, false
		case len(s.queue) > 0:
			i := s.queue[0]
			s.queue = s.queue[1:]
			s.working++
			return i, true
		case s.working == 0:
			return -1, false
		}
		s.idle++
		s.cond.Wait()
		s.idle--
	}
}

// done marks an item handed out by next as finished; waiting workers look again (for more work, or the end).
func (s *scheduler) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.working--
	s.cond.Broadcast()
}

// add queues an item; one waiting worker takes it.
func (s *scheduler) add(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, i)
	s.cond.Signal()
}

// starving reports whether a worker is waiting with nothing queued: work in hand is then worth splitting.
func (s *scheduler) starving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle > 0 && len(s.queue) == 0
}

// stop makes every next report false, now and later; items in work finish as their workers decide.
func (s *scheduler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.cond.Broadcast()
}

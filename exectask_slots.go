package mesosgot

import "sync/atomic"

// outSlots bounds the messages a task's out pump has handed to the
// executor goroutine and the link has not yet taken: the pump takes a slot
// per message, the executor goroutine releases it. A counter, not a
// channel of tokens: two channel operations less per message. Only the
// pump takes and waits; only the executor goroutine releases.
type outSlots struct {
	capacity int
	used     atomic.Int64
	waiting  atomic.Bool   // the pump waits for a release
	freed    chan struct{} // a release while the pump waited
}

func newOutSlots(capacity int) outSlots {
	return outSlots{capacity: capacity, freed: make(chan struct{}, 1)}
}

// free reports whether a slot is free (the pump's view: only it takes).
func (s *outSlots) free() bool { return s.used.Load() < int64(s.capacity) }

// take uses a slot; call it when free says one is (or wait returned true).
func (s *outSlots) take() { s.used.Add(1) }

// wait waits until a slot is free; false if stop closed first.
func (s *outSlots) wait(stop <-chan struct{}) bool {
	for !s.free() {
		s.waiting.Store(true)
		if s.free() { // released between the check and the flag
			s.waiting.Store(false)
			return true
		}
		select {
		case <-s.freed:
		case <-stop:
			s.waiting.Store(false)
			return false
		}
		s.waiting.Store(false)
	}
	return true
}

// release frees a slot, waking the pump if it waits for one.
func (s *outSlots) release() {
	if s.used.Add(-1) < 0 {
		s.used.Add(1) // nothing was taken (as a receive from an empty token channel was skipped)
		return
	}
	if s.waiting.Load() {
		select {
		case s.freed <- struct{}{}:
		default:
		}
	}
}

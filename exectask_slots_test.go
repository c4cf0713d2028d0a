package mesosgot

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOutSlotsBoundAndWake: the pump takes up to capacity slots, waits
// while all are used, and wakes on a release; a release with nothing taken
// is ignored; stop ends a wait.
func TestOutSlotsBoundAndWake(t *testing.T) {
	s := newOutSlots(3)
	for i := 0; i < 3; i++ {
		assert.True(t, s.free())
		s.take()
	}
	assert.False(t, s.free())

	woke := make(chan bool)
	go func() { woke <- s.wait(make(chan struct{})) }()
	s.release()
	assert.True(t, <-woke, "a release wakes the waiting pump")
	s.take()

	stop := make(chan struct{})
	go func() { woke <- s.wait(stop) }()
	close(stop)
	assert.False(t, <-woke, "stop ends the wait")

	for i := 0; i < 5; i++ {
		s.release()
	}
	assert.EqualValues(t, 0, s.used.Load(), "releases beyond what was taken are ignored")

	// One pump, one releaser, many rounds: never more than capacity in use.
	s = newOutSlots(2)
	var wg sync.WaitGroup
	rel := make(chan struct{}, 100)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range rel {
			s.release()
		}
	}()
	for i := 0; i < 10000; i++ {
		assert.True(t, s.wait(make(chan struct{})))
		s.take()
		assert.LessOrEqual(t, s.used.Load(), int64(2))
		rel <- struct{}{}
	}
	close(rel)
	wg.Wait()
	assert.EqualValues(t, 0, s.used.Load())
}

package mesosgot

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRangeOverSchedinEndsWhenTasksHaveEnded: the loop a Go user writes
// first, `for m := range schedin`, ends by itself once every task has ended
// and all they sent was delivered; schedevent stays open until the job ends.
func TestRangeOverSchedinEndsWhenTasksHaveEnded(t *testing.T) {
	checkNoLeak(t)
	const workers, n = 3, 500
	f := newFakeJob(t, 2, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("talk", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			for i := 0; i < n; i++ {
				out <- GoTaskMsg{MessageData: fmt.Sprintf("%s %d", args[0], i)}
			}
			return nil
		})
	})
	f.sched.SpawnTask("talk", workers, nil)
	got := map[string]int{}
	evs := &events{}
	var afterClose []SchedEventType
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		for m := range schedin {
			var name string
			var i int
			_, err := fmt.Sscanf(m.MessageData, "%s %d", &name, &i)
			require.NoError(t, err)
			assert.Equal(t, m.TaskName, name, "args[0] is the task's name")
			assert.Equal(t, got[name], i, "in order")
			got[name]++
		}
		// schedin has closed; schedevent is still open and has the rest.
		for ev := range schedevent {
			evs.add(ev)
			afterClose = append(afterClose, ev.EventType)
			if evs.count(TaskFinished) == workers {
				return
			}
		}
		t.Error("schedevent closed before every TaskFinished was seen")
	})
	require.NoError(t, f.run())
	require.Len(t, got, workers)
	for name, c := range got {
		assert.Equal(t, n, c, "every message of %s", name)
	}
	assert.Contains(t, afterClose, TaskFinished, "events still flow after schedin closed")
}

// TestSchedinClosesAfterFailureToo: when a task fails, the others are
// stopped; once all have ended schedin closes, and the app sees the end.
func TestSchedinClosesAfterFailureToo(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("wait", waitTask)
		e.RegisterTaskFunc("bad", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			out <- GoTaskMsg{MessageData: "last words"}
			return fmt.Errorf("%s gives up", args[0])
		})
	})
	f.sched.SpawnTask("wait", 2, nil)
	f.sched.SpawnTask("bad", 1, nil)
	var msgs []string
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		for m := range schedin {
			msgs = append(msgs, m.MessageData)
		}
		for ev := range schedevent {
			evs.add(ev)
		}
	})
	err := f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, "bad-0", je.TaskName)
	assert.Contains(t, je.Cause, "bad-0 gives up")
	assert.Equal(t, []string{"last words"}, msgs)
	assert.Equal(t, 1, evs.count(Shutdown), "schedevent stayed open until the end")
}

package mesosgot

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mesos-go's executor driver can run a task's LaunchTask after the
// FrameworkMessage carrying its first messages (each callback runs on a
// goroutine of its own). Those messages are held until the launch, not
// dropped: the tasks that launched late get every message, in order. (Seen
// as a montecarlo example job that sent work before its tasks ran and then
// waited forever: the work for two of three tasks had been dropped.)
func TestMessagesBeforeLaunchWaitForTheTask(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("seq", seqTask) })
	f.hooks.LaunchAfterMessage = true
	f.sched.SpawnTask("seq", 3, map[string]float64{"cpus": 0.5, "mem": 64})
	f.start()
	const n = 50
	got := map[string]int{}
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		// everything is sent before any task is known to run
		for i := 0; i < n; i++ {
			for k := 0; k < 3; k++ {
				schedout <- GoTaskMsg{TaskName: "seq-" + strconv.Itoa(k), MessageData: strconv.Itoa(i)}
			}
		}
		for total := 0; total < 3*n; {
			select {
			case m := <-schedin:
				if !assert.Equal(t, strconv.Itoa(got[m.TaskName]), m.MessageData, "echo from %s", m.TaskName) {
					return
				}
				got[m.TaskName]++
				total++
			case ev := <-schedevent:
				evs.add(ev)
			case <-time.After(20 * time.Second):
				t.Errorf("echoes stopped at %v", got)
				return
			}
		}
	})
	require.NoError(t, f.run())
	assert.Equal(t, map[string]int{"seq-0": n, "seq-1": n, "seq-2": n}, got)
	assert.Zero(t, evs.count(Error), "no message was dropped")
}

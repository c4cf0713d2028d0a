package mesosgot

import (
	"strconv"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
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

// A KillTask that mesos-go's driver runs before its task's LaunchTask is
// kept: the launch reports TASK_KILLED and the task never starts (it used
// to be answered TASK_LOST, and the task then started anyway).
func TestKillBeforeLaunchKillsTheTask(t *testing.T) {
	checkNoLeak(t)
	started := make(chan struct{}, 1)
	e := NewGoTaskExecutor(nil)
	e.RegisterTaskFunc("w", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
		started <- struct{}{}
		return nil
	})
	d := &stopRecorder{stopped: make(chan struct{}), statuses: make(chan *mesos.TaskStatus, 4)}
	id := util.NewTaskID("w-0")
	e.KillTask(d, id)
	data := encodeTaskInfoData(taskData{Env: map[string]string{}, Link: taskLinkParams{Key: make([]byte, 32), ExecutorID: "e", Encrypt: true, Timeout: time.Minute}})
	e.LaunchTask(d, &mesos.TaskInfo{Name: proto.String("w-0"), TaskId: id, SlaveId: util.NewSlaveID("a"), Data: data})
	select {
	case st := <-d.statuses:
		assert.Equal(t, mesos.TaskState_TASK_KILLED, st.GetState(), "%s", st.GetMessage())
	case <-time.After(30 * time.Second):
		t.Fatal("no status for the task killed before its launch")
	}
	e.shutdown()
	select {
	case <-started:
		t.Error("the task killed before its launch was started")
	default:
	}
}

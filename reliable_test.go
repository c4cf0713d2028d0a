package mesosgot

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/mesostest"
)

// seqTask checks that messages arrive numbered 0, 1, 2, ... and echoes each;
// any gap, repeat or reorder fails the task (and so the job).
func seqTask(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
	next := 0
	for m := range in {
		if m.MessageData != fmt.Sprint(next) {
			return fmt.Errorf("%s: got %q, want %d", env["MESOSGOT_TASK_NAME"], m.MessageData, next)
		}
		next++
		out <- GoTaskMsg{MessageData: m.MessageData}
	}
	return nil
}

// exchange is an app scheduler that sends msgs numbered messages to each of
// the workers tasks "seq-i" and checks that the echoes come back once and in
// order; it records the first problem in *problem.
func exchange(workers, msgs int, problem *atomic.Value, evs *events) AppSchedulerFunc {
	return func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(workers, evs, schedevent) {
			problem.Store("job ended before the tasks ran")
			return
		}
		go func() {
			for i := 0; i < msgs; i++ {
				for w := 0; w < workers; w++ {
					schedout <- GoTaskMsg{TaskName: fmt.Sprintf("seq-%d", w), MessageData: fmt.Sprint(i)}
				}
			}
		}()
		next := make([]int, workers)
		for n := 0; n < workers*msgs; n++ {
			var m GoTaskMsg
			var ok bool
			select {
			case m, ok = <-schedin:
			case ev := <-schedevent:
				evs.add(ev)
				n--
				continue
			}
			if !ok {
				problem.Store(fmt.Sprintf("schedin closed after %d echoes", n))
				return
			}
			var w int
			if _, err := fmt.Sscanf(m.TaskName, "seq-%d", &w); err != nil || w >= workers {
				problem.Store("echo from unexpected task " + m.TaskName)
				return
			}
			if m.MessageData != fmt.Sprint(next[w]) {
				problem.Store(fmt.Sprintf("%s: echo %q, want %d", m.TaskName, m.MessageData, next[w]))
				return
			}
			next[w]++
		}
	}
}

func TestExactlyOnceInOrderOverLossyFakeCluster(t *testing.T) {
	checkNoLeak(t)
	const workers, msgs = 4, 25_000 // 100,000 messages each way
	if testing.Short() {
		t.Skip("long")
	}
	f := newFakeJob(t, 2, func(e *GoTaskExecutor) { e.RegisterTaskFunc("seq", seqTask) })
	faults := mesostest.RandomFaults(42, 0.20, 0.05, 5*time.Millisecond)
	f.hooks.FrameworkMessage = faults
	f.sched.SpawnTask("seq", workers, map[string]float64{"cpus": 0.5})
	var problem atomic.Value
	evs := &events{}
	f.sched.RegisterSchedFunc(exchange(workers, msgs, &problem, evs))
	require.NoError(t, f.run())
	require.Nil(t, problem.Load())
	st := f.cluster.Stats()
	t.Logf("framework messages: to executors %+v, to scheduler %+v", st.ToExecutor, st.ToScheduler)
	assert.Positive(t, st.ToExecutor.Dropped)
	assert.Positive(t, st.ToScheduler.Duplicated)
}

func TestSilentTaskDoesNotBlockItsSiblings(t *testing.T) {
	checkNoLeak(t)
	// toSilent exceeds the silent task's in buffer and its stream's credit,
	// so its messages back up in the link (bounded) while the siblings on
	// the same executor exchange theirs.
	const siblings, msgs, toSilent = 3, 5000, 1000
	release := make(chan struct{})
	var silentGot atomic.Int32
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("seq", seqTask)
		e.RegisterTaskFunc("silent", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			<-release // does not read in until the siblings are done
			for range in {
				silentGot.Add(1)
			}
			return nil
		})
	})
	f.sched.SpawnTask("seq", siblings, nil)
	f.sched.SpawnTask("silent", 1, nil)
	var problem atomic.Value
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(siblings+1, evs, schedevent) {
			return
		}
		for i := 0; i < toSilent; i++ {
			schedout <- GoTaskMsg{TaskName: "silent-0", MessageData: fmt.Sprint(i)}
		}
		exchange(siblings, msgs, &problem, evs)(schedin, schedout, alreadyRunning(siblings))
		close(release)
	})
	require.NoError(t, f.run())
	require.Nil(t, problem.Load())
	assert.Equal(t, int32(toSilent), silentGot.Load(), "the silent task got all its messages once it read")
	c := f.sched.job.conns["mesosgot-executor-agent-0"]
	st := c.link.Stats()
	cfg := f.sched.linkCfg
	t.Logf("scheduler link: max stream queue %d, max queued %d msgs / %d bytes, max in flight %d", st.MaxStreamQueued, st.MaxQueuedMsgs, st.MaxQueuedBytes, st.MaxInflightMsgs)
	assert.LessOrEqual(t, st.MaxStreamQueued, cfg.TaskQueue, "bounded per-stream queue")
	assert.LessOrEqual(t, st.MaxInflightMsgs, cfg.WindowMsgs, "bounded window")
}

// alreadyRunning is an event channel that reports n tasks running, for an
// exchange started after the tasks are known to run.
func alreadyRunning(n int) <-chan SchedEvent {
	ch := make(chan SchedEvent, n)
	for i := 0; i < n; i++ {
		ch <- SchedEvent{EventType: TaskRunning}
	}
	return ch
}

func TestMessagesBeforeTaskFinishedEvent(t *testing.T) {
	checkNoLeak(t)
	const n = 3000
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("talk", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			for i := 0; i < n; i++ {
				out <- GoTaskMsg{MessageData: fmt.Sprint(i)}
			}
			return nil
		})
	})
	f.hooks.FrameworkMessage = mesostest.RandomFaults(7, 0.1, 0.05, 2*time.Millisecond)
	f.sched.SpawnTask("talk", 1, nil)
	var atFinish, total int
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		got := 0
		for {
			select {
			case m, ok := <-schedin:
				if !ok { // closed once the task ended and all it sent was taken
					schedin = nil
					continue
				}
				require.Equal(t, fmt.Sprint(got), m.MessageData)
				got++
			case ev := <-schedevent:
				if ev.EventType == TaskFinished {
					atFinish = got
					if schedin != nil {
						atFinish += len(schedin)
						for m := range schedin { // ends by itself: the only task has ended
							require.Equal(t, fmt.Sprint(got), m.MessageData)
							got++
						}
					}
					total = got
					return
				}
			}
		}
	})
	require.NoError(t, f.run())
	assert.Equal(t, n, atFinish, "every message was on schedin before TaskFinished")
	assert.Equal(t, n, total)
}

func TestLargeMessages(t *testing.T) {
	checkNoLeak(t)
	big := strings.Repeat("0123456789abcdef", (16<<20)/16) // exactly 16 MiB
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("echo", echoTask)
		e.RegisterTaskFunc("bigout", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			out <- GoTaskMsg{MessageData: big + "y"} // too large: refused, reported
			<-in
			return nil
		})
	})
	f.sched.SpawnTask("echo", 1, nil)
	f.sched.SpawnTask("bigout", 1, nil)
	evs := &events{}
	var back string
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			return
		}
		schedout <- GoTaskMsg{TaskName: "echo-0", MessageData: big + "x"} // too large: refused
		schedout <- GoTaskMsg{TaskName: "echo-0", MessageData: big}
		back = (<-schedin).MessageData
		for ev := range schedevent {
			evs.add(ev)
			if evs.count(Error) == 2 {
				return
			}
		}
	})
	require.NoError(t, f.run())
	assert.True(t, back == big, "16 MiB message delivered intact (got %d bytes)", len(back))
	errs := evs.find(Error)
	require.Len(t, errs, 2)
	var texts []string
	for _, e := range errs {
		texts = append(texts, e.EventData.(error).Error())
	}
	all := strings.Join(texts, "\n")
	assert.Regexp(t, `task "?echo-0"?.*too large`, all, "scheduler-side refusal names the task")
	assert.Regexp(t, `task bigout-0.*too large`, all, "executor-side refusal reaches the scheduler, naming the task")
	st := f.cluster.Stats()
	assert.Greater(t, st.ToExecutor.Sent, 16, "split across many framework messages")
}

func TestLinkSurvivesDisconnectAndReregistration(t *testing.T) {
	checkNoLeak(t)
	const msgs = 2000
	var partitioned atomic.Bool
	var dropped atomic.Int32
	droppedSome := make(chan struct{})
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("seq", seqTask) })
	f.hooks.FrameworkMessage = mesostest.DropIf(func(dir mesostest.Direction, executorID, agentID, data string) bool {
		if !partitioned.Load() {
			return false
		}
		if dropped.Add(1) == 3 { // first sends and at least one retransmission lost
			close(droppedSome)
		}
		return true
	})
	f.sched.SpawnTask("seq", 1, nil)
	f.start()
	evs := &events{}
	var problem atomic.Value
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		// The master goes away: every framework message is lost meanwhile.
		partitioned.Store(true)
		f.sched.Disconnected(f.driver)
		go func() {
			for i := 0; i < msgs; i++ {
				schedout <- GoTaskMsg{TaskName: "seq-0", MessageData: fmt.Sprint(i)}
			}
		}()
		ev := <-schedevent
		evs.add(ev)
		<-droppedSome
		// A new master: the framework re-registers, the link resumes.
		partitioned.Store(false)
		f.sched.Reregistered(f.driver, nil)
		for i := 0; i < msgs; i++ {
			m := <-schedin
			if m.MessageData != fmt.Sprint(i) {
				problem.Store(fmt.Sprintf("echo %q, want %d", m.MessageData, i))
				return
			}
		}
		for ev := range schedevent {
			evs.add(ev)
			if ev.EventType == Reregistered {
				return
			}
		}
	})
	require.NoError(t, f.run())
	require.Nil(t, problem.Load())
	assert.Equal(t, 1, evs.count(Disconnected))
	assert.Equal(t, 1, evs.count(Reregistered))
	assert.Positive(t, f.cluster.Stats().ToExecutor.Dropped, "messages were lost while disconnected")
}

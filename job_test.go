package mesosgot

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/mesostest"
)

// fakeJob is one job over the in-process fake cluster.
type fakeJob struct {
	t         *testing.T
	agents    int
	agentRes  map[string]float64
	hooks     mesostest.Hooks
	register  func(e *GoTaskExecutor)
	sched     *GoTaskScheduler
	cluster   *mesostest.Cluster
	driver    sched.SchedulerDriver
	execMu    sync.Mutex
	executors []*GoTaskExecutor
}

func newFakeJob(t *testing.T, agents int, register func(e *GoTaskExecutor)) *fakeJob {
	conf := DefaultSchedulerConfig()
	conf.TaskRefuseSeconds = 0.05
	s := NewGoTaskScheduler("", conf, nil)
	s.timing.DrainGrace = 20 * time.Second
	s.timing.StopGrace = 10 * time.Second
	s.timing.AppGrace = 5 * time.Second
	return &fakeJob{t: t, agents: agents, agentRes: map[string]float64{"cpus": 4, "mem": 4096}, register: register, sched: s}
}

// start builds the cluster and the driver; run runs the job to its end.
func (f *fakeJob) start() {
	var agents []mesostest.Agent
	for i := 0; i < f.agents; i++ {
		agents = append(agents, mesostest.Agent{ID: fmt.Sprintf("agent-%d", i), Resources: f.agentRes})
	}
	f.cluster = mesostest.NewCluster(mesostest.Config{
		Agents: agents,
		Hooks:  f.hooks,
		NewExecutor: func(agentID string, info *mesos.ExecutorInfo) exec.Executor {
			e := NewGoTaskExecutor(nil)
			f.register(e)
			f.execMu.Lock()
			f.executors = append(f.executors, e)
			f.execMu.Unlock()
			return e
		},
		OfferDelay: func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) },
	})
	f.sched.executorURI = "http://artifacts.invalid/executor"
	f.driver = f.cluster.SchedulerDriver(f.sched)
}

func (f *fakeJob) run() error {
	if f.cluster == nil {
		f.start()
	}
	err := f.sched.RunDriver(f.driver)
	f.cluster.Close()
	f.execMu.Lock()
	defer f.execMu.Unlock()
	for _, e := range f.executors {
		e.shutdown()
	}
	return err
}

// checkNoLeak fails the test if goroutines started during it are still
// running once it ends (they get a bounded time to unwind).
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond) // only for the leak check: waiting for goroutines to unwind
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d running, %d before the test\n%s", n, before, buf)
		}
	})
}

// events collects every event the app scheduler saw.
type events struct {
	mu  sync.Mutex
	evs []SchedEvent
}

func (e *events) add(ev SchedEvent) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) count(t SchedEventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.evs {
		if ev.EventType == t {
			n++
		}
	}
	return n
}

func (e *events) find(t SchedEventType) []SchedEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []SchedEvent
	for _, ev := range e.evs {
		if ev.EventType == t {
			out = append(out, ev)
		}
	}
	return out
}

// echoTask answers every message with the same data and returns nil when in closes.
func echoTask(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
	for m := range in {
		out <- GoTaskMsg{MessageData: m.MessageData}
	}
	return nil
}

// waitTask waits for in to close.
func waitTask(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
	for range in {
	}
	return nil
}

// untilRunning is an app scheduler prefix: it collects events until n tasks run.
func untilRunning(n int, evs *events, schedevent <-chan SchedEvent) bool {
	running := 0
	for ev := range schedevent {
		evs.add(ev)
		if ev.EventType == TaskRunning {
			running++
			if running == n {
				return true
			}
		}
	}
	return false
}

// drainEvents records events until schedevent closes.
func drainEvents(evs *events, schedevent <-chan SchedEvent) {
	for ev := range schedevent {
		evs.add(ev)
	}
}

func TestEchoJobDeliversEveryMessageInOrder(t *testing.T) {
	checkNoLeak(t)
	const workers, msgs = 6, 2000
	var returned atomic.Int32
	f := newFakeJob(t, 3, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("echo", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			defer returned.Add(1)
			return echoTask(in, out, args, env)
		})
	})
	f.sched.SpawnTask("echo", workers, map[string]float64{"cpus": 0.5, "mem": 64})
	evs := &events{}
	var got [workers][]string
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(workers, evs, schedevent) {
			return
		}
		go func() { // send from another goroutine, receive here: no deadlock on full buffers
			for i := 0; i < msgs; i++ {
				for w := 0; w < workers; w++ {
					schedout <- GoTaskMsg{TaskName: fmt.Sprintf("echo-%d", w), MessageData: fmt.Sprint(i)}
				}
			}
		}()
		for n := 0; n < workers*msgs; n++ {
			m := <-schedin
			var w int
			_, err := fmt.Sscanf(m.TaskName, "echo-%d", &w)
			require.NoError(t, err)
			got[w] = append(got[w], m.MessageData)
		}
	})
	require.NoError(t, f.run())
	for w := 0; w < workers; w++ {
		require.Len(t, got[w], msgs)
		for i, d := range got[w] {
			require.Equal(t, fmt.Sprint(i), d, "worker %d message %d", w, i)
		}
	}
	assert.Equal(t, int32(workers), returned.Load(), "every task's in was closed and it returned")
	assert.Equal(t, workers, evs.count(TaskLaunched))
	assert.Equal(t, 1, evs.count(Registered))
}

func TestTaskFailureEndsTheJob(t *testing.T) {
	checkNoLeak(t)
	var others atomic.Int32
	f := newFakeJob(t, 2, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("wait", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			defer others.Add(1)
			return waitTask(in, out, args, env)
		})
		e.RegisterTaskFunc("bad", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			<-in
			return errors.New("disk full")
		})
	})
	f.sched.SpawnTask("wait", 3, map[string]float64{"cpus": 0.5})
	f.sched.SpawnTask("bad", 1, map[string]float64{"cpus": 0.5})
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(4, evs, schedevent) {
			return
		}
		schedout <- GoTaskMsg{TaskName: "bad-0", MessageData: "go"}
		drainEvents(evs, schedevent)
	})
	err := f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, "bad-0", je.TaskName)
	assert.Contains(t, je.Cause, "TASK_FAILED")
	assert.Contains(t, err.Error(), "disk full")
	require.Len(t, evs.find(TaskFailed), 1)
	assert.Equal(t, "bad-0", evs.find(TaskFailed)[0].EventData.(TaskEvent).TaskName)
	sd := evs.find(Shutdown)
	require.Len(t, sd, 1)
	assert.Equal(t, err, sd[0].EventData)
	assert.Equal(t, int32(3), others.Load(), "the other tasks' in was closed")
}

func TestPanickingTaskFailsJobExecutorSurvives(t *testing.T) {
	checkNoLeak(t)
	var others atomic.Int32
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("wait", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			defer others.Add(1)
			return waitTask(in, out, args, env)
		})
		e.RegisterTaskFunc("boom", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			<-in
			panic("kaboom")
		})
	})
	f.sched.SpawnTask("wait", 2, nil)
	f.sched.SpawnTask("boom", 1, nil)
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(3, evs, schedevent) {
			return
		}
		schedout <- GoTaskMsg{TaskName: "boom-0", MessageData: "go"}
		drainEvents(evs, schedevent)
	})
	err := f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, "boom-0", je.TaskName)
	assert.Contains(t, je.Cause, "panic: kaboom")
	assert.Regexp(t, `panic: kaboom\n\tgithub\.com/mesosgot/mesosgot\.TestPanickingTaskFailsJobExecutorSurvives\.func[\d.]+\(`, je.Cause, "the stack's head, from the panicking function")
	assert.Contains(t, je.Cause, "job_test.go:", "with file and line")
	assert.NotContains(t, je.Cause, "execTask", "mesosgot's own frames below the task are left out")
	assert.Equal(t, int32(2), others.Load(), "the executor survived the panic and closed the other tasks' in")
	killed := evs.find(TaskKilled)
	assert.Len(t, killed, 2, "the other tasks report TASK_KILLED")
}

func TestUnrequestedKillFailsJob(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.SpawnTask("wait", 2, nil)
	evs := &events{}
	f.start()
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			return
		}
		// someone else (an operator) kills a task
		_, err := f.driver.KillTask(&mesos.TaskID{Value: strPtr("wait-1")})
		require.NoError(t, err)
		drainEvents(evs, schedevent)
	})
	err := f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, "wait-1", je.TaskName)
	assert.Contains(t, je.Cause, "TASK_KILLED")
}

func TestUnknownTaskNameOnExecutorFailsWithClearMessage(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.SpawnTask("nosuch", 1, nil)
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		drainEvents(evs, schedevent)
	})
	err := f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, "nosuch-0", je.TaskName)
	assert.Contains(t, je.Cause, "no task registered")
}

func TestArgsAndEnvReachTheTask(t *testing.T) {
	checkNoLeak(t)
	got := make(chan string, 2)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("show", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			got <- fmt.Sprintf("%s|%q|%s|%s", env["MESOSGOT_TASK_NAME"], args, env["K"], env["MESOSGOT_TASK_INDEX"])
			return nil
		})
	})
	f.sched.SpawnTasks([]*AppTaskResourceInfo{{Name: "show", Count: 2, Args: []string{"a b", "^c\x00"}, Env: map[string]string{"K": "v=1"}}})
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		for ev := range schedevent {
			evs.add(ev)
			if evs.count(TaskFinished) == 2 {
				return
			}
		}
	})
	require.NoError(t, f.run())
	seen := []string{<-got, <-got}
	assert.ElementsMatch(t, []string{`show-0|["show-0" "a b" "^c\x00"]|v=1|0`, `show-1|["show-1" "a b" "^c\x00"]|v=1|1`}, seen)
}

func TestMalformedFrameworkMessagesAreReportedNotFatal(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("echo", echoTask) })
	f.sched.SpawnTask("echo", 1, nil)
	evs := &events{}
	f.start()
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		// garbage from an executor, and from an executor we never launched
		f.sched.FrameworkMessage(f.driver, &mesos.ExecutorID{Value: strPtr("mesosgot-executor-agent-0")}, &mesos.SlaveID{Value: strPtr("agent-0")}, "\xff\x00garbage")
		f.sched.FrameworkMessage(f.driver, &mesos.ExecutorID{Value: strPtr("stranger")}, &mesos.SlaveID{Value: strPtr("agent-9")}, "hello")
		// garbage into the executor
		f.execMu.Lock()
		e := f.executors[0]
		f.execMu.Unlock()
		e.FrameworkMessage(nil, "\x07garbage")
		// a message to a task that does not exist
		schedout <- GoTaskMsg{TaskName: "ghost-3", MessageData: "boo"}
		// the job still works
		schedout <- GoTaskMsg{TaskName: "echo-0", MessageData: "still alive"}
		for m := range schedin {
			if m.MessageData == "still alive" {
				break
			}
		}
		for ev := range schedevent {
			evs.add(ev)
			if evs.count(Error) >= 4 {
				return
			}
		}
	})
	require.NoError(t, f.run())
	var texts []string
	for _, ev := range evs.find(Error) {
		texts = append(texts, ev.EventData.(error).Error())
	}
	all := strings.Join(texts, "\n")
	// Garbage is not sealed with the job's link key: dropped and counted.
	assert.Contains(t, all, "claiming to come from executor mesosgot-executor-agent-0 on agent agent-0: mesosgot: link frame failed authentication")
	assert.Contains(t, all, "unknown executor stranger")
	assert.Contains(t, all, `unknown task "ghost-3"`)
	assert.Contains(t, all, "executor mesosgot-executor-agent-0 on agent agent-0: dropped 1 frames (1 in all) claiming to come from the scheduler, last of 8 bytes: mesosgot: link frame failed authentication", "the executor's own report")
}

func TestFragmentedOffersNeverLaunch(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 2, func(e *GoTaskExecutor) { e.RegisterTaskFunc("big", waitTask) })
	f.agentRes = map[string]float64{"cpus": 1, "mem": 1024}
	// 2 cpus offered in all, but no agent holds 1.5 cpus (+ the executor's 0.1)
	f.sched.SpawnTask("big", 1, map[string]float64{"cpus": 1.5, "mem": 64})
	f.start()
	declinedTwice := make(chan struct{})
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		<-declinedTwice
	})
	go func() {
		defer close(declinedTwice)
		require.Eventually(t, func() bool {
			n := 0
			for _, o := range f.cluster.Offers() {
				if o.State == mesostest.OfferDeclined {
					n++
				}
			}
			return n >= 4 // two rounds of two agents
		}, 10*time.Second, 5*time.Millisecond)
	}()
	require.NoError(t, f.run())
	assert.Empty(t, f.cluster.Tasks(), "no task was launched")
}

func TestAgentLostFailsJob(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 2, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.agentRes = map[string]float64{"cpus": 1, "mem": 1024}
	f.sched.SpawnTask("wait", 2, map[string]float64{"cpus": 0.8})
	evs := &events{}
	f.start()
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			return
		}
		f.cluster.LoseAgent("agent-1")
		drainEvents(evs, schedevent)
	})
	err := f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Contains(t, err.Error(), "agent-1")
	assert.GreaterOrEqual(t, evs.count(SlaveLost)+evs.count(TaskLost), 1)
}

func TestExecutorLostFailsJob(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.SpawnTask("wait", 1, nil)
	evs := &events{}
	f.start()
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		f.cluster.KillExecutor("mesosgot-executor-agent-0", "agent-0", 137)
		drainEvents(evs, schedevent)
	})
	err := f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, "wait-0", je.TaskName)
}

func TestJobWithoutTasksEndsWhenAppReturns(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {})
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		ev := <-schedevent
		evs.add(ev)
	})
	require.NoError(t, f.run())
	assert.Equal(t, 1, evs.count(Registered))
}

func TestBadTaskRequestIsAnError(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {})
	f.sched.SpawnTask("x", 1, map[string]float64{"cpus": -1})
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		for range schedevent {
		}
	})
	err := f.run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `task "x"`)
}

func strPtr(s string) *string { return &s }

func TestAppSchedulerPanicFailsJob(t *testing.T) {
	checkNoLeak(t)
	var closed atomic.Int32
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("wait", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			defer closed.Add(1)
			return waitTask(in, out, args, env)
		})
	})
	f.sched.SpawnTask("wait", 2, nil)
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		untilRunning(2, &events{}, schedevent)
		panic("scheduler bug")
	})
	err := f.run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "app scheduler panicked: scheduler bug")
	assert.Equal(t, int32(2), closed.Load(), "the tasks were told to exit")
}

func TestOfferRescindedIsAnEvent(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.SpawnTask("wait", 1, nil)
	f.start()
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		f.sched.OfferRescinded(f.driver, &mesos.OfferID{Value: strPtr("offer-42")})
		for ev := range schedevent {
			evs.add(ev)
			if ev.EventType == OfferRescinded {
				return
			}
		}
	})
	require.NoError(t, f.run())
	rescinded := evs.find(OfferRescinded)
	require.Len(t, rescinded, 1)
	assert.Equal(t, "offer-42", rescinded[0].EventData)
}

func TestAppSchedulerPanicWithoutTasksFailsJob(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {})
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		panic("early bug")
	})
	err := f.run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "app scheduler panicked: early bug")
}

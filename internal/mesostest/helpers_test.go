package mesostest

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/stretchr/testify/require"
)

const waitTimeout = 5 * time.Second

// ev is one callback seen by a test scheduler or executor.
type ev struct {
	kind    string
	fwID    string
	offers  []*mesos.Offer
	offerID string
	status  *mesos.TaskStatus
	execID  string
	slaveID string
	data    string
	code    int
	task    *mesos.TaskInfo
	drv     exec.ExecutorDriver
}

// serial fails the test if callbacks of one driver ever overlap.
type serial struct {
	in       atomic.Int32
	overlaps atomic.Int32
}

func (s *serial) enter() {
	if s.in.Add(1) != 1 {
		s.overlaps.Add(1)
	}
}
func (s *serial) exit() { s.in.Add(-1) }

// testSched records every callback on ch; onOffers, if set, runs first in
// ResourceOffers (to test driver calls made from inside a callback).
type testSched struct {
	serial
	ch       chan ev
	onOffers func(d sched.SchedulerDriver, offers []*mesos.Offer)

	mu      sync.Mutex
	byAgent map[string]chan *mesos.Offer // every offer, per agent
}

func newTestSched() *testSched {
	return &testSched{ch: make(chan ev, 100000), byAgent: map[string]chan *mesos.Offer{}}
}

func (s *testSched) agentOffers(agentID string) chan *mesos.Offer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.byAgent[agentID]
	if ch == nil {
		ch = make(chan *mesos.Offer, 100000)
		s.byAgent[agentID] = ch
	}
	return ch
}

func (s *testSched) rec(e ev) { s.enter(); defer s.exit(); s.ch <- e }

func (s *testSched) Registered(_ sched.SchedulerDriver, id *mesos.FrameworkID, _ *mesos.MasterInfo) {
	s.rec(ev{kind: "registered", fwID: id.GetValue()})
}
func (s *testSched) Reregistered(sched.SchedulerDriver, *mesos.MasterInfo) {
	s.rec(ev{kind: "reregistered"})
}
func (s *testSched) Disconnected(sched.SchedulerDriver) { s.rec(ev{kind: "disconnected"}) }
func (s *testSched) ResourceOffers(d sched.SchedulerDriver, offers []*mesos.Offer) {
	if s.onOffers != nil {
		s.onOffers(d, offers)
	}
	for _, o := range offers {
		s.agentOffers(o.GetSlaveId().GetValue()) <- o
	}
	s.rec(ev{kind: "offers", offers: offers})
}
func (s *testSched) OfferRescinded(_ sched.SchedulerDriver, id *mesos.OfferID) {
	s.rec(ev{kind: "rescinded", offerID: id.GetValue()})
}
func (s *testSched) StatusUpdate(_ sched.SchedulerDriver, st *mesos.TaskStatus) {
	s.rec(ev{kind: "status", status: st})
}
func (s *testSched) FrameworkMessage(_ sched.SchedulerDriver, e *mesos.ExecutorID, a *mesos.SlaveID, data string) {
	s.rec(ev{kind: "message", execID: e.GetValue(), slaveID: a.GetValue(), data: data})
}
func (s *testSched) SlaveLost(_ sched.SchedulerDriver, a *mesos.SlaveID) {
	s.rec(ev{kind: "slaveLost", slaveID: a.GetValue()})
}
func (s *testSched) ExecutorLost(_ sched.SchedulerDriver, e *mesos.ExecutorID, a *mesos.SlaveID, code int) {
	s.rec(ev{kind: "executorLost", execID: e.GetValue(), slaveID: a.GetValue(), code: code})
}
func (s *testSched) Error(_ sched.SchedulerDriver, msg string) { s.rec(ev{kind: "error", data: msg}) }

// testExec reports TASK_RUNNING on launch, then TASK_FINISHED if the task's
// data is "finish"; answers a kill with TASK_KILLED; answers a message
// "echo:X" with "re:X". Every callback is recorded on ch, after it acted.
type testExec struct {
	serial
	agentID string
	execID  string
	ch      chan ev
}

func (x *testExec) rec(e ev) {
	e.execID, e.slaveID = x.execID, x.agentID
	x.ch <- e
}

func status(id *mesos.TaskID, s mesos.TaskState) *mesos.TaskStatus {
	return &mesos.TaskStatus{TaskId: id, State: s.Enum()}
}

func (x *testExec) Registered(d exec.ExecutorDriver, info *mesos.ExecutorInfo, fw *mesos.FrameworkInfo, slave *mesos.SlaveInfo) {
	x.enter()
	defer x.exit()
	x.rec(ev{kind: "registered", drv: d, fwID: fw.GetId().GetValue(), data: slave.GetId().GetValue() + "/" + info.GetExecutorId().GetValue()})
}
func (x *testExec) Reregistered(exec.ExecutorDriver, *mesos.SlaveInfo) {}
func (x *testExec) Disconnected(exec.ExecutorDriver)                   {}
func (x *testExec) LaunchTask(d exec.ExecutorDriver, t *mesos.TaskInfo) {
	x.enter()
	defer x.exit()
	_, _ = d.SendStatusUpdate(status(t.TaskId, mesos.TaskState_TASK_RUNNING))
	if string(t.Data) == "finish" {
		_, _ = d.SendStatusUpdate(status(t.TaskId, mesos.TaskState_TASK_FINISHED))
	}
	x.rec(ev{kind: "launch", task: t, drv: d})
}
func (x *testExec) KillTask(d exec.ExecutorDriver, id *mesos.TaskID) {
	x.enter()
	defer x.exit()
	_, _ = d.SendStatusUpdate(status(id, mesos.TaskState_TASK_KILLED))
	x.rec(ev{kind: "kill", data: id.GetValue()})
}
func (x *testExec) FrameworkMessage(d exec.ExecutorDriver, data string) {
	x.enter()
	defer x.exit()
	if rest, ok := strings.CutPrefix(data, "echo:"); ok {
		_, _ = d.SendFrameworkMessage("re:" + rest)
	}
	x.rec(ev{kind: "message", data: data})
}
func (x *testExec) Shutdown(d exec.ExecutorDriver) {
	x.enter()
	defer x.exit()
	x.rec(ev{kind: "shutdown", drv: d})
}
func (x *testExec) Error(exec.ExecutorDriver, string) {}

// env is a cluster of two agents, a1 (cpus 2, mem 1024) and a2 (cpus 1,
// mem 512), a test scheduler and its driver; refuse seconds are scaled to
// milliseconds.
type env struct {
	t     *testing.T
	c     *Cluster
	s     *testSched
	d     sched.SchedulerDriver
	exCh  chan ev
	execs chan *testExec
}

func newEnv(t *testing.T, hooks Hooks) *env {
	t.Helper()
	e := &env{t: t, s: newTestSched(), exCh: make(chan ev, 100000), execs: make(chan *testExec, 100)}
	e.c = NewCluster(Config{
		Agents: []Agent{
			{ID: "a1", Hostname: "host1", Resources: map[string]float64{"cpus": 2, "mem": 1024}},
			{ID: "a2", Resources: map[string]float64{"cpus": 1, "mem": 512}},
		},
		NewExecutor: func(agentID string, info *mesos.ExecutorInfo) exec.Executor {
			x := &testExec{agentID: agentID, execID: info.GetExecutorId().GetValue(), ch: e.exCh}
			e.execs <- x
			return x
		},
		Hooks:      hooks,
		OfferDelay: func(s float64) time.Duration { return time.Duration(s * float64(time.Millisecond)) },
	})
	e.d = e.c.SchedulerDriver(e.s)
	t.Cleanup(func() {
		e.c.Close()
		require.Zero(t, e.s.overlaps.Load(), "scheduler callbacks overlapped")
		for {
			select {
			case x := <-e.execs:
				require.Zero(t, x.overlaps.Load(), "executor callbacks overlapped")
				continue
			default:
			}
			break
		}
	})
	return e
}

// start starts the driver and returns the first offer per agent.
func (e *env) start() map[string]*mesos.Offer {
	e.t.Helper()
	st, err := e.d.Start()
	require.NoError(e.t, err)
	require.Equal(e.t, mesos.Status_DRIVER_RUNNING, st)
	waitFor(e.t, e.s.ch, is("registered"))
	got := waitFor(e.t, e.s.ch, is("offers"))
	out := map[string]*mesos.Offer{}
	for _, o := range got.offers {
		out[o.GetSlaveId().GetValue()] = o
	}
	return out
}

// runTask launches task id on the offer's agent with executor "e-<agent>"
// and waits for TASK_RUNNING.
func (e *env) runTask(o *mesos.Offer, id string) {
	e.t.Helper()
	a := o.GetSlaveId().GetValue()
	_, err := e.d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{mkTask(id, a, "e-"+a, 0.5, "")}, nil)
	require.NoError(e.t, err)
	waitStatus(e.t, e.s.ch, id, mesos.TaskState_TASK_RUNNING)
}

// nextOffer returns an outstanding offer of the agent, waiting for one.
func (e *env) nextOffer(agentID string) *mesos.Offer {
	e.t.Helper()
	ch := e.s.agentOffers(agentID)
	deadline := time.After(waitTimeout)
	for {
		select {
		case o := <-ch:
			for _, r := range e.c.Offers() {
				if r.ID == o.GetId().GetValue() && r.State == OfferOutstanding {
					return o
				}
			}
		case <-deadline:
			e.t.Fatalf("timed out waiting for an offer of %s", agentID)
			return nil
		}
	}
}

func mkTask(id, agentID, execID string, cpus float64, data string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    util.NewTaskID(id),
		SlaveId:   util.NewSlaveID(agentID),
		Resources: []*mesos.Resource{util.NewScalarResource("cpus", cpus), util.NewScalarResource("mem", 64)},
		Executor: &mesos.ExecutorInfo{
			ExecutorId: util.NewExecutorID(execID),
			Command:    util.NewCommandInfo("./executor"),
			Resources:  []*mesos.Resource{util.NewScalarResource("cpus", 0.1), util.NewScalarResource("mem", 32)},
		},
		Data: []byte(data),
	}
}

func is(kind string) func(ev) bool { return func(e ev) bool { return e.kind == kind } }

// waitFor returns the first event on ch matching pred, skipping others.
func waitFor(t *testing.T, ch <-chan ev, pred func(ev) bool) ev {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case e := <-ch:
			if pred(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("timed out waiting for an event")
			return ev{}
		}
	}
}

// waitStatus waits for a status update of task id in state s.
func waitStatus(t *testing.T, ch <-chan ev, id string, s mesos.TaskState) *mesos.TaskStatus {
	t.Helper()
	return waitFor(t, ch, func(e ev) bool {
		return e.kind == "status" && e.status.GetTaskId().GetValue() == id && e.status.GetState() == s
	}).status
}

// waitGoroutines waits until the goroutine count is back to base (polling:
// only for the leak check).
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

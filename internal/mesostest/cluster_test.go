package mesostest

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func scalarOf(o *mesos.Offer, name string) float64 {
	for _, r := range o.Resources {
		if r.GetName() == name {
			return r.GetScalar().GetValue()
		}
	}
	return 0
}

func TestRegistrationAndOffers(t *testing.T) {
	e := newEnv(t, Hooks{})
	_, err := e.d.Start()
	require.NoError(t, err)
	reg := waitFor(t, e.s.ch, is("registered"))
	assert.Equal(t, "mesostest-framework", reg.fwID)
	got := waitFor(t, e.s.ch, is("offers")).offers
	require.Len(t, got, 2)
	assert.NotEqual(t, got[0].GetId().GetValue(), got[1].GetId().GetValue())
	assert.Equal(t, "a1", got[0].GetSlaveId().GetValue())
	assert.Equal(t, "host1", got[0].GetHostname())
	assert.Equal(t, "a2", got[1].GetHostname(), "hostname defaults to the agent ID")
	assert.Equal(t, 2.0, scalarOf(got[0], "cpus"))
	assert.Equal(t, 1024.0, scalarOf(got[0], "mem"))
	assert.Equal(t, 1.0, scalarOf(got[1], "cpus"))
	assert.Equal(t, "mesostest-framework", got[0].GetFrameworkId().GetValue())

	recs := e.c.Offers()
	require.Len(t, recs, 2)
	assert.Equal(t, OfferOutstanding, recs[0].State)
	assert.Equal(t, 2, e.c.Stats().OffersMade)

	// A second Start, and a second driver while this one runs, fail.
	_, err = e.d.Start()
	assert.Error(t, err)
	_, err = e.c.SchedulerDriver(newTestSched()).Start()
	assert.Error(t, err)
}

func TestLaunchOnTwoAgents(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	for _, a := range []string{"a1", "a2"} {
		st, err := e.d.LaunchTasks([]*mesos.OfferID{offers[a].Id},
			[]*mesos.TaskInfo{mkTask("t-"+a, a, "e-"+a, 0.5, "finish")}, nil)
		require.NoError(t, err)
		assert.Equal(t, mesos.Status_DRIVER_RUNNING, st)
	}
	// Statuses of the two tasks interleave; each task's are in order.
	seen := map[string][]mesos.TaskState{}
	for len(seen["t-a1"])+len(seen["t-a2"]) < 4 {
		st := waitFor(t, e.s.ch, is("status")).status
		id := st.GetTaskId().GetValue()
		seen[id] = append(seen[id], st.GetState())
		a := id[2:]
		assert.Equal(t, a, st.GetSlaveId().GetValue())
		assert.Equal(t, "e-"+a, st.GetExecutorId().GetValue())
		assert.Equal(t, mesos.TaskStatus_SOURCE_EXECUTOR, st.GetSource())
	}
	for _, a := range []string{"a1", "a2"} {
		assert.Equal(t, []mesos.TaskState{mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED}, seen["t-"+a])
		st, ok := e.c.TaskState("t-" + a)
		assert.True(t, ok)
		assert.Equal(t, mesos.TaskState_TASK_FINISHED, st)
	}
	// Each executor registered once, with the agent and the framework ID.
	regs := map[string]bool{}
	for len(regs) < 2 {
		r := waitFor(t, e.exCh, is("registered"))
		assert.Equal(t, "mesostest-framework", r.fwID)
		regs[r.data] = true
	}
	assert.Equal(t, map[string]bool{"a1/e-a1": true, "a2/e-a2": true}, regs)
	// Finished tasks freed their resources; the executors still hold theirs.
	assert.InDelta(t, 1.9, e.c.FreeResources("a1")["cpus"], 1e-9)
	assert.InDelta(t, 1024-32, e.c.FreeResources("a1")["mem"], 1e-9)
	assert.Len(t, e.c.Tasks(), 2)
	s := e.c.Stats()
	assert.Equal(t, 2, s.TasksLaunched)
	assert.Equal(t, 2, s.ExecutorsLaunched)
	assert.Equal(t, 2, s.OffersAccepted)

	// A second task for the same executor does not start a new executor and
	// is not charged the executor's resources again.
	o := e.nextOffer("a2")
	assert.InDelta(t, 0.9, scalarOf(o, "cpus"), 1e-9)
	_, err := e.d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{mkTask("t2", "a2", "e-a2", 0.9, "")}, nil)
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "t2", mesos.TaskState_TASK_RUNNING)
	assert.Equal(t, 2, e.c.Stats().ExecutorsLaunched)
}

func TestFrameworkMessagesBothWaysInOrder(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	eid, sid := util.NewExecutorID("e-a1"), util.NewSlaveID("a1")
	const n = 200
	for i := 0; i < n; i++ {
		_, err := e.d.SendFrameworkMessage(eid, sid, fmt.Sprintf("echo:%d", i))
		require.NoError(t, err)
	}
	for i := 0; i < n; i++ {
		m := waitFor(t, e.exCh, is("message"))
		require.Equal(t, fmt.Sprintf("echo:%d", i), m.data)
	}
	for i := 0; i < n; i++ {
		m := waitFor(t, e.s.ch, is("message"))
		require.Equal(t, fmt.Sprintf("re:%d", i), m.data)
		require.Equal(t, "e-a1", m.execID)
		require.Equal(t, "a1", m.slaveID)
	}
	// A message to an executor that does not exist is dropped, no error.
	st, err := e.d.SendFrameworkMessage(util.NewExecutorID("nobody"), sid, "x")
	assert.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_RUNNING, st)
	s := e.c.Stats()
	assert.Equal(t, MessageStats{Sent: n + 1, Delivered: n, Undeliverable: 1}, s.ToExecutor)
	assert.Equal(t, MessageStats{Sent: n, Delivered: n}, s.ToScheduler)
}

func TestInvalidLaunches(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()

	// Unknown offer.
	_, err := e.d.LaunchTasks([]*mesos.OfferID{util.NewOfferID("nope")}, []*mesos.TaskInfo{mkTask("x1", "a1", "e", 0.1, "")}, nil)
	require.NoError(t, err)
	st := waitStatus(t, e.s.ch, "x1", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_INVALID_OFFERS, st.GetReason())
	assert.Contains(t, st.GetMessage(), "no longer valid")

	// No offers at all.
	_, err = e.d.LaunchTasks(nil, []*mesos.TaskInfo{mkTask("x0", "a1", "e", 0.1, "")}, nil)
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "x0", mesos.TaskState_TASK_LOST)

	// Offers of two agents: invalid, and both offers are used up.
	_, err = e.d.LaunchTasks([]*mesos.OfferID{offers["a1"].Id, offers["a2"].Id}, []*mesos.TaskInfo{mkTask("x2", "a1", "e", 0.1, "")}, nil)
	require.NoError(t, err)
	st = waitStatus(t, e.s.ch, "x2", mesos.TaskState_TASK_LOST)
	assert.Contains(t, st.GetMessage(), "more than one agent")
	// The resources came back in new offers.
	o := e.nextOffer("a1")
	assert.Equal(t, 2.0, scalarOf(o, "cpus"))
	_, err = e.d.LaunchTasks([]*mesos.OfferID{offers["a1"].Id}, []*mesos.TaskInfo{mkTask("x3", "a1", "e", 0.1, "")}, nil)
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "x3", mesos.TaskState_TASK_LOST)

	// Per-task validation: too big, then a good task, its duplicate, a
	// wrong agent, a command task, and a nil task.
	noExec := mkTask("x6", "a1", "e", 0.1, "")
	noExec.Executor = nil
	_, err = e.d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{
		mkTask("big", "a1", "e", 5, ""),
		mkTask("ok", "a1", "e", 1, ""),
		mkTask("ok", "a1", "e", 0.1, ""),
		mkTask("x5", "a2", "e", 0.1, ""),
		noExec,
		nil,
		mkTask("big2", "a1", "e", 0.95, ""), // 2 - 0.1 executor - 1 = 0.9 left
	}, nil)
	require.NoError(t, err)
	st = waitStatus(t, e.s.ch, "big", mesos.TaskState_TASK_ERROR)
	assert.Equal(t, mesos.TaskStatus_REASON_TASK_INVALID, st.GetReason())
	assert.Contains(t, st.GetMessage(), "more resources")
	st = waitStatus(t, e.s.ch, "ok", mesos.TaskState_TASK_ERROR)
	assert.Contains(t, st.GetMessage(), "already in use")
	st = waitStatus(t, e.s.ch, "x5", mesos.TaskState_TASK_ERROR)
	assert.Contains(t, st.GetMessage(), "does not match")
	st = waitStatus(t, e.s.ch, "x6", mesos.TaskState_TASK_ERROR)
	assert.Contains(t, st.GetMessage(), "ExecutorInfo")
	waitStatus(t, e.s.ch, "big2", mesos.TaskState_TASK_ERROR)
	waitStatus(t, e.s.ch, "ok", mesos.TaskState_TASK_RUNNING)

	// Reusing a running task's ID in a later launch is an error too.
	o = e.nextOffer("a1")
	_, err = e.d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{mkTask("ok", "a1", "e", 0.1, "")}, nil)
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "ok", mesos.TaskState_TASK_ERROR)
	st2, _ := e.c.TaskState("ok")
	assert.Equal(t, mesos.TaskState_TASK_RUNNING, st2, "a rejected duplicate does not touch the running task")

	s := e.c.Stats()
	assert.Equal(t, 1, s.TasksLaunched)
	assert.Equal(t, 10, s.TasksRejected)
}

func TestDeclineRefuseAndRevive(t *testing.T) {
	e := newEnv(t, Hooks{}) // refuse seconds are milliseconds here
	offers := e.start()
	// a1 refused "forever" (1000 s), a2 for 20 ms: the next offer is a2's.
	_, err := e.d.DeclineOffer(offers["a1"].Id, &mesos.Filters{RefuseSeconds: proto64(1e6)})
	require.NoError(t, err)
	_, err = e.d.DeclineOffer(offers["a2"].Id, &mesos.Filters{RefuseSeconds: proto64(20)})
	require.NoError(t, err)
	o := waitFor(t, e.s.ch, is("offers")).offers
	require.Len(t, o, 1)
	assert.Equal(t, "a2", o[0].GetSlaveId().GetValue())
	recs := e.c.Offers()
	assert.Equal(t, OfferDeclined, recs[0].State)
	assert.Equal(t, 1e6, recs[0].RefuseSeconds)
	assert.Equal(t, 20.0, recs[1].RefuseSeconds)
	assert.Equal(t, OfferOutstanding, recs[2].State)

	// Declining without Filters uses Mesos's default of 5 s (5 ms here).
	_, err = e.d.DeclineOffer(o[0].Id, nil)
	require.NoError(t, err)
	o = waitFor(t, e.s.ch, is("offers")).offers
	assert.Equal(t, "a2", o[0].GetSlaveId().GetValue())
	assert.Equal(t, 5.0, e.c.Offers()[2].RefuseSeconds)

	// Revive clears a1's filter at once.
	_, err = e.d.ReviveOffers()
	require.NoError(t, err)
	o = waitFor(t, e.s.ch, is("offers")).offers
	require.Len(t, o, 1)
	assert.Equal(t, "a1", o[0].GetSlaveId().GetValue())

	// An empty launch is a decline; an unknown decline is ignored.
	_, err = e.d.LaunchTasks([]*mesos.OfferID{o[0].Id}, nil, &mesos.Filters{RefuseSeconds: proto64(1)})
	require.NoError(t, err)
	_, err = e.d.DeclineOffer(util.NewOfferID("nope"), nil)
	require.NoError(t, err)
	assert.Equal(t, 2.0, scalarOf(e.nextOffer("a1"), "cpus"))
}

func proto64(f float64) *float64 { return &f }

func TestDriverCallsFromInsideCallbacks(t *testing.T) {
	e := newEnv(t, Hooks{})
	declined := 0
	e.s.onOffers = func(d sched.SchedulerDriver, offers []*mesos.Offer) {
		for _, o := range offers {
			if declined < 6 {
				declined++
				_, err := d.DeclineOffer(o.Id, &mesos.Filters{RefuseSeconds: proto64(1)})
				assert.NoError(t, err)
			}
		}
	}
	_, err := e.d.Start()
	require.NoError(t, err)
	for e.c.Stats().OffersDeclined < 6 {
		waitFor(t, e.s.ch, is("offers"))
	}
}

func TestRescindOffer(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	id := offers["a2"].GetId().GetValue()
	e.c.RescindOffer(id)
	assert.Equal(t, id, waitFor(t, e.s.ch, is("rescinded")).offerID)
	o := waitFor(t, e.s.ch, is("offers")).offers
	require.Len(t, o, 1)
	assert.Equal(t, "a2", o[0].GetSlaveId().GetValue())
	assert.Equal(t, OfferRescinded, e.c.Offers()[1].State)
	// A rescinded offer cannot be used.
	_, err := e.d.LaunchTasks([]*mesos.OfferID{offers["a2"].Id}, []*mesos.TaskInfo{mkTask("t", "a2", "e", 0.1, "")}, nil)
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "t", mesos.TaskState_TASK_LOST)
}

func TestHookDropAndDuplicate(t *testing.T) {
	e := newEnv(t, Hooks{FrameworkMessage: func(dir Direction, executorID, agentID, data string) []Delivery {
		switch data {
		case "drop", "re:drop":
			return nil
		case "dup":
			return []Delivery{{Data: data}, {Data: data + "2"}}
		}
		return []Delivery{{Data: data}}
	}})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	eid, sid := util.NewExecutorID("e-a1"), util.NewSlaveID("a1")
	for _, m := range []string{"drop", "dup", "echo:drop", "echo:x"} {
		_, err := e.d.SendFrameworkMessage(eid, sid, m)
		require.NoError(t, err)
	}
	var got []string
	for len(got) < 4 {
		got = append(got, waitFor(t, e.exCh, is("message")).data)
	}
	assert.Equal(t, []string{"dup", "dup2", "echo:drop", "echo:x"}, got)
	assert.Equal(t, "re:x", waitFor(t, e.s.ch, is("message")).data, "re:drop was dropped")
	s := e.c.Stats()
	assert.Equal(t, MessageStats{Sent: 4, Dropped: 1, Duplicated: 1, Delivered: 4}, s.ToExecutor)
	assert.Equal(t, MessageStats{Sent: 2, Dropped: 1, Delivered: 1}, s.ToScheduler)
}

func TestHookDropAll(t *testing.T) {
	e := newEnv(t, Hooks{FrameworkMessage: DropIf(func(Direction, string, string, string) bool { return true })})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	_, err := e.d.SendFrameworkMessage(util.NewExecutorID("e-a1"), util.NewSlaveID("a1"), "x")
	require.NoError(t, err)
	// The drop is decided and counted before SendFrameworkMessage returns.
	assert.Equal(t, MessageStats{Sent: 1, Dropped: 1}, e.c.Stats().ToExecutor)
	// Status updates are not framework messages: still delivered.
	_, err = e.d.KillTask(util.NewTaskID("t1"))
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "t1", mesos.TaskState_TASK_KILLED)
	select {
	case m := <-e.exCh:
		assert.NotEqual(t, "message", m.kind)
	default:
	}
}

func TestHookDelayReorders(t *testing.T) {
	e := newEnv(t, Hooks{FrameworkMessage: func(dir Direction, executorID, agentID, data string) []Delivery {
		if data == "a" || data == "re:1" {
			return []Delivery{{Data: data, Delay: 200 * time.Millisecond}}
		}
		return []Delivery{{Data: data}}
	}})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	eid, sid := util.NewExecutorID("e-a1"), util.NewSlaveID("a1")
	for _, m := range []string{"a", "b", "echo:1", "echo:2"} {
		_, err := e.d.SendFrameworkMessage(eid, sid, m)
		require.NoError(t, err)
	}
	var got []string
	for len(got) < 4 {
		got = append(got, waitFor(t, e.exCh, is("message")).data)
	}
	assert.Equal(t, "b", got[0])
	assert.Equal(t, "a", got[3])
	assert.Equal(t, "re:2", waitFor(t, e.s.ch, is("message")).data)
	assert.Equal(t, "re:1", waitFor(t, e.s.ch, is("message")).data)
	assert.Equal(t, 1, e.c.Stats().ToExecutor.Delayed)
	assert.Equal(t, 1, e.c.Stats().ToScheduler.Delayed)
}

func TestRandomFaults(t *testing.T) {
	run := func(seed int64) [][]Delivery {
		h := RandomFaults(seed, 0.3, 0.3, 10*time.Millisecond)
		var out [][]Delivery
		for i := 0; i < 200; i++ {
			out = append(out, h(ToExecutor, "e", "a", fmt.Sprint(i)))
		}
		return out
	}
	a, b := run(7), run(7)
	assert.Equal(t, a, b, "same seed, same faults")
	assert.NotEqual(t, a, run(8))
	var drops, dups int
	for i, ds := range a {
		switch len(ds) {
		case 0:
			drops++
		case 2:
			dups++
		}
		for _, d := range ds {
			assert.Equal(t, fmt.Sprint(i), d.Data)
			assert.True(t, d.Delay >= 0 && d.Delay <= 10*time.Millisecond)
		}
	}
	assert.InDelta(t, 60, drops, 30)
	assert.InDelta(t, 42, dups, 30)
	assert.Empty(t, RandomFaults(1, 1, 0, 0)(ToScheduler, "e", "a", "x"))
	assert.Equal(t, []Delivery{{Data: "x"}, {Data: "x"}}, RandomFaults(1, 0, 1, 0)(ToScheduler, "e", "a", "x"))
}

func TestRandomFaultsThroughCluster(t *testing.T) {
	e := newEnv(t, Hooks{FrameworkMessage: RandomFaults(42, 0.2, 0.2, 5*time.Millisecond)})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	eid, sid := util.NewExecutorID("e-a1"), util.NewSlaveID("a1")
	for i := 0; i < 100; i++ {
		_, err := e.d.SendFrameworkMessage(eid, sid, fmt.Sprint(i))
		require.NoError(t, err)
	}
	s := e.c.Stats().ToExecutor
	want := s.Sent - s.Dropped + s.Duplicated
	for i := 0; i < want; i++ {
		waitFor(t, e.exCh, is("message"))
	}
	assert.Equal(t, 100, s.Sent)
	assert.Positive(t, s.Dropped)
	assert.Positive(t, s.Duplicated)
}

func TestLoseAgent(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	e.runTask(offers["a2"], "t2")
	e.c.LoseAgent("a1")
	st := waitStatus(t, e.s.ch, "t1", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_SLAVE_REMOVED, st.GetReason())
	assert.Equal(t, "a1", waitFor(t, e.s.ch, is("slaveLost")).slaveID)
	sh := waitFor(t, e.exCh, is("shutdown"))
	assert.Equal(t, "a1", sh.slaveID)
	status, err := sh.drv.Join()
	assert.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_STOPPED, status)

	s2, _ := e.c.TaskState("t2")
	assert.Equal(t, mesos.TaskState_TASK_RUNNING, s2)
	_, err = e.d.SendFrameworkMessage(util.NewExecutorID("e-a1"), util.NewSlaveID("a1"), "x")
	require.NoError(t, err)
	assert.Equal(t, 1, e.c.Stats().ToExecutor.Undeliverable)
	for _, r := range e.c.Offers() {
		if r.AgentID == "a1" {
			assert.NotEqual(t, OfferOutstanding, r.State, "no offers of a lost agent")
		}
	}
}

func TestKillExecutor(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	e.runTask(offers["a2"], "t2")
	launch := waitFor(t, e.exCh, is("launch"))
	e.c.KillExecutor("e-a2", "a2", 137)
	st := waitStatus(t, e.s.ch, "t2", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, st.GetReason())
	lost := waitFor(t, e.s.ch, is("executorLost"))
	assert.Equal(t, ev{kind: "executorLost", execID: "e-a2", slaveID: "a2", code: 137}, lost)
	// The dead executor's driver refuses to work.
	status, err := launch.drv.SendStatusUpdate(status(util.NewTaskID("t2"), mesos.TaskState_TASK_FINISHED))
	assert.Error(t, err)
	assert.Equal(t, mesos.Status_DRIVER_ABORTED, status)
	// Its resources are free again.
	assert.Equal(t, map[string]float64{"cpus": 1, "mem": 512}, e.c.FreeResources("a2"))
}

func TestExecutorStopIsExit(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	launch := waitFor(t, e.exCh, is("launch"))
	st, err := launch.drv.Stop()
	require.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_STOPPED, st)
	waitStatus(t, e.s.ch, "t1", mesos.TaskState_TASK_LOST)
	assert.Equal(t, 0, waitFor(t, e.s.ch, is("executorLost")).code)
	_, err = launch.drv.Stop()
	assert.Error(t, err)
}

func TestKillTaskAndReconcile(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	_, err := e.d.ReconcileTasks(nil)
	require.NoError(t, err)
	st := waitFor(t, e.s.ch, is("status")).status
	assert.Equal(t, "t1", st.GetTaskId().GetValue())
	assert.Equal(t, mesos.TaskState_TASK_RUNNING, st.GetState())
	assert.Equal(t, mesos.TaskStatus_REASON_RECONCILIATION, st.GetReason())

	_, err = e.d.ReconcileTasks([]*mesos.TaskStatus{status(util.NewTaskID("ghost"), mesos.TaskState_TASK_RUNNING)})
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "ghost", mesos.TaskState_TASK_LOST)

	_, err = e.d.KillTask(util.NewTaskID("t1"))
	require.NoError(t, err)
	assert.Equal(t, "t1", waitFor(t, e.exCh, is("kill")).data)
	waitStatus(t, e.s.ch, "t1", mesos.TaskState_TASK_KILLED)
	_, err = e.d.KillTask(util.NewTaskID("t1"))
	require.NoError(t, err)
	st = waitFor(t, e.s.ch, is("status")).status
	assert.Equal(t, mesos.TaskState_TASK_KILLED, st.GetState(), "killing a finished task reports its state")
}

func TestStopTearsDown(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	e.runTask(offers["a2"], "t2")
	joined := make(chan mesos.Status, 1)
	go func() {
		st, err := e.d.Join()
		assert.NoError(t, err)
		joined <- st
	}()
	st, err := e.d.Stop(false)
	require.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_STOPPED, st)
	select {
	case st := <-joined:
		assert.Equal(t, mesos.Status_DRIVER_STOPPED, st)
	case <-time.After(waitTimeout):
		t.Fatal("Join did not return")
	}
	for i := 0; i < 2; i++ {
		sh := waitFor(t, e.exCh, is("shutdown"))
		st, err := sh.drv.Join()
		assert.NoError(t, err)
		assert.Equal(t, mesos.Status_DRIVER_STOPPED, st)
	}
	st, err = e.d.Stop(false)
	assert.Error(t, err)
	assert.Equal(t, mesos.Status_DRIVER_STOPPED, st)
	_, err = e.d.LaunchTasks(nil, nil, nil)
	assert.Error(t, err)
}

func TestAbortAndFailover(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	e.runTask(offers["a1"], "t1")
	st, err := e.d.Abort()
	require.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_ABORTED, st)
	st, err = e.d.Join()
	require.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_ABORTED, st)

	// A new driver takes over: same framework ID, the executor still runs.
	s2 := newTestSched()
	d2 := e.c.SchedulerDriver(s2)
	_, err = d2.Start()
	require.NoError(t, err)
	assert.Equal(t, "mesostest-framework", waitFor(t, s2.ch, is("registered")).fwID)
	_, err = d2.SendFrameworkMessage(util.NewExecutorID("e-a1"), util.NewSlaveID("a1"), "echo:hi")
	require.NoError(t, err)
	assert.Equal(t, "re:hi", waitFor(t, s2.ch, is("message")).data)
	_, err = d2.Stop(true)
	require.NoError(t, err)
	s1, _ := e.c.TaskState("t1")
	assert.Equal(t, mesos.TaskState_TASK_RUNNING, s1, "failover keeps tasks")
}

func TestRunReturnsOnStopFromCallback(t *testing.T) {
	e := newEnv(t, Hooks{})
	e.s.onOffers = func(d sched.SchedulerDriver, _ []*mesos.Offer) { _, _ = d.Stop(false) }
	st, err := e.d.Run()
	require.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_STOPPED, st)
}

func TestNoGoroutineLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		e := newEnv(t, Hooks{FrameworkMessage: RandomFaults(3, 0.1, 0.3, time.Second)})
		offers := e.start()
		e.runTask(offers["a1"], "t1")
		e.runTask(offers["a2"], "t2")
		for i := 0; i < 50; i++ {
			_, err := e.d.SendFrameworkMessage(util.NewExecutorID("e-a1"), util.NewSlaveID("a1"), fmt.Sprint("echo:", i))
			require.NoError(t, err)
		}
		o := waitFor(t, e.s.ch, is("offers")).offers[0]
		_, err := e.d.DeclineOffer(o.Id, &mesos.Filters{RefuseSeconds: proto64(1e6)}) // a pending timer
		require.NoError(t, err)
		joined := make(chan mesos.Status, 1)
		go func() { st, _ := e.d.Join(); joined <- st }()
		e.c.Close()
		assert.Equal(t, mesos.Status_DRIVER_ABORTED, <-joined)
		e.c.Close() // idempotent
		_, err = e.c.SchedulerDriver(newTestSched()).Start()
		assert.Error(t, err)
	}()
	waitGoroutines(t, base)
}

func TestAcceptOffers(t *testing.T) {
	e := newEnv(t, Hooks{})
	offers := e.start()
	_, err := e.d.AcceptOffers([]*mesos.OfferID{offers["a1"].Id},
		[]*mesos.Offer_Operation{util.NewReserveOperation(nil)}, nil)
	assert.Error(t, err, "only LAUNCH is supported")
	_, err = e.d.AcceptOffers([]*mesos.OfferID{offers["a1"].Id},
		[]*mesos.Offer_Operation{util.NewLaunchOperation([]*mesos.TaskInfo{mkTask("t1", "a1", "e", 0.5, "finish")})}, nil)
	require.NoError(t, err)
	waitStatus(t, e.s.ch, "t1", mesos.TaskState_TASK_FINISHED)
	assert.Equal(t, OfferAccepted, e.c.Offers()[0].State)
	assert.Equal(t, []string{"t1"}, e.c.Offers()[0].Tasks)
}

func TestNilExecutorIsAFailedStart(t *testing.T) {
	s := newTestSched()
	c := NewCluster(Config{
		Agents:      []Agent{{ID: "a1", Resources: map[string]float64{"cpus": 1, "mem": 512}}},
		NewExecutor: func(string, *mesos.ExecutorInfo) exec.Executor { return nil },
	})
	defer c.Close()
	d := c.SchedulerDriver(s)
	_, err := d.Start()
	require.NoError(t, err)
	o := waitFor(t, s.ch, is("offers")).offers[0]
	_, err = d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{mkTask("t1", "a1", "e", 0.5, "")}, nil)
	require.NoError(t, err)
	st := waitStatus(t, s.ch, "t1", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, st.GetReason())
	assert.Equal(t, 1, waitFor(t, s.ch, is("executorLost")).code)
}

package localmesos

import (
	"testing"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertReconciled checks a reply of Mesos' Master::reconcile: from the
// master, REASON_RECONCILIATION, the given state and message, no data and
// no uuid (it is not acknowledged).
func assertReconciled(t *testing.T, st *mesos.TaskStatus, state mesos.TaskState, msg string) {
	t.Helper()
	assert.Equal(t, state, st.GetState())
	assert.Equal(t, msg, st.GetMessage())
	assert.Equal(t, mesos.TaskStatus_REASON_RECONCILIATION, st.GetReason())
	assert.Equal(t, mesos.TaskStatus_SOURCE_MASTER, st.GetSource())
	assert.Empty(t, st.GetData())
	assert.Empty(t, st.GetUuid())
}

// Follows Mesos' src/master/master.cpp, Master::reconcile (explicit
// reconciliation, cases 1, 3, 4 and 6 for a framework that is not
// partition-aware) and docs/reconciliation.md.
func TestConformanceExplicitReconciliation(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Agents: 2})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	offers := offersByAgent(t, s, 2)
	var keep, lose *mesos.Offer
	for _, o := range offers {
		if keep == nil {
			keep = o
		} else {
			lose = o
		}
	}
	e := testExecutorInfo("exec")
	_, err := d.LaunchTasks([]*mesos.OfferID{keep.Id}, []*mesos.TaskInfo{newTask("t1", keep, e, "data")}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "t1", mesos.TaskState_TASK_RUNNING)
	require.Equal(t, "payload", string(st.GetData()), "the executor's own update carries data")
	// The master's view of an agent it lost (removed after its ping
	// timeouts; how it gets there is tested with the agents): reconciliation
	// only reads it.
	c.master.mu.Lock()
	c.master.agents[lose.GetSlaveId().GetValue()].lost = true
	c.master.mu.Unlock()

	_, err = d.ReconcileTasks([]*mesos.TaskStatus{
		{TaskId: util.NewTaskID("t1"), State: mesos.TaskState_TASK_STAGING.Enum()},
		{TaskId: util.NewTaskID("here"), SlaveId: keep.SlaveId, State: mesos.TaskState_TASK_RUNNING.Enum()},
		{TaskId: util.NewTaskID("gone"), SlaveId: lose.SlaveId, State: mesos.TaskState_TASK_RUNNING.Enum()},
		{TaskId: util.NewTaskID("nowhere"), State: mesos.TaskState_TASK_RUNNING.Enum()},
		{TaskId: util.NewTaskID("stranger"), SlaveId: util.NewSlaveID("no-such-agent"), State: mesos.TaskState_TASK_RUNNING.Enum()},
	})
	require.NoError(t, err)

	st = recv(t, s.statuses, "t1")
	require.Equal(t, "t1", st.GetTaskId().GetValue())
	assertReconciled(t, st, mesos.TaskState_TASK_RUNNING, "Reconciliation: Latest task state")
	assert.Equal(t, "exec", st.GetExecutorId().GetValue())
	assert.Equal(t, keep.GetSlaveId().GetValue(), st.GetSlaveId().GetValue())
	for _, want := range []struct{ id, msg string }{
		{"here", "Reconciliation: Task is unknown to the agent"},
		{"gone", "Reconciliation: Task is unreachable"},
		{"nowhere", "Reconciliation: Task is unknown"},
		{"stranger", "Reconciliation: Task is unknown"},
	} {
		st := recv(t, s.statuses, want.id)
		require.Equal(t, want.id, st.GetTaskId().GetValue())
		assertReconciled(t, st, mesos.TaskState_TASK_LOST, want.msg)
	}
}

// Follows Mesos' src/master/master.cpp, Master::reconcile (implicit
// reconciliation covers framework->tasks, where a terminal task stays
// until its update is acknowledged) and Master::acknowledge / removeTask
// (acknowledging the terminal update makes the master forget the task).
func TestConformanceImplicitReconciliationAndAcknowledgement(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	r := newRawSched(t, c)
	fid := r.register()
	o := recv(t, r.offers, "offer")
	r.launch(fid, o, commandTask("done", "true", o))
	r.ack(r.update("done", mesos.TaskState_TASK_RUNNING))
	finished := r.update("done", mesos.TaskState_TASK_FINISHED)
	require.NotEmpty(t, finished.GetStatus().GetUuid())

	// Not acknowledged yet: still known, and its ID is still taken.
	r.reconcile(fid)
	u := r.update("done", mesos.TaskState_TASK_FINISHED)
	assertReconciled(t, u.GetStatus(), mesos.TaskState_TASK_FINISHED, "Reconciliation: Latest task state")
	o = recv(t, r.offers, "offer")
	r.launch(fid, o, commandTask("done", "true", o))
	u = r.update("done", mesos.TaskState_TASK_ERROR)
	assert.Equal(t, "Task has duplicate ID: done", u.GetStatus().GetMessage())

	// Acknowledged: forgotten (implicit reconciliation answers nothing,
	// explicit says the agent does not know it), and the ID is free again.
	r.ack(finished)
	r.reconcile(fid)
	r.reconcile(fid, &mesos.TaskStatus{TaskId: util.NewTaskID("done"), SlaveId: o.SlaveId, State: mesos.TaskState_TASK_FINISHED.Enum()})
	u = recv(t, r.updates, "explicit reconciliation")
	require.Equal(t, "done", u.GetStatus().GetTaskId().GetValue())
	assertReconciled(t, u.GetStatus(), mesos.TaskState_TASK_LOST, "Reconciliation: Task is unknown to the agent")
	o = recv(t, r.offers, "offer")
	r.launch(fid, o, commandTask("done", "true", o))
	r.ack(r.update("done", mesos.TaskState_TASK_RUNNING))
	r.ack(r.update("done", mesos.TaskState_TASK_FINISHED))

	var states []mesos.TaskState
	for _, ts := range c.Tasks() {
		states = append(states, ts.State)
	}
	assert.Equal(t, []mesos.TaskState{mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FINISHED}, states,
		"Tasks still lists completed tasks")
}

// Follows Mesos' src/master/master.cpp, Master::kill: killing a task the
// master does not know performs reconciliation (TASK_LOST,
// REASON_RECONCILIATION, "Reconciliation: Task is unknown" as the v0 kill
// carries no agent ID).
func TestConformanceKillUnknownTask(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	_, err := d.KillTask(util.NewTaskID("nope"))
	require.NoError(t, err)
	st := recv(t, s.statuses, "kill of an unknown task")
	assert.Equal(t, "nope", st.GetTaskId().GetValue())
	assertReconciled(t, st, mesos.TaskState_TASK_LOST, "Reconciliation: Task is unknown")
}

// Follows Mesos' src/master/master.cpp, Master::kill (a task the master
// still knows, terminal but unacknowledged, is killed on its agent) and
// src/slave/slave.cpp, Slave::killTask / Slave::kill (the agent, which still
// holds that update, does not invent another terminal state for it).
func TestConformanceKillTerminalUnacknowledgedTask(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	r := newRawSched(t, c)
	fid := r.register()
	o := recv(t, r.offers, "offer")
	r.launch(fid, o, commandTask("done", "true", o))
	r.ack(r.update("done", mesos.TaskState_TASK_RUNNING))
	finished := r.update("done", mesos.TaskState_TASK_FINISHED)
	r.send(&mesos.KillTaskMessage{FrameworkId: fid, TaskId: util.NewTaskID("done")})
	// A task launched after the kill goes the same way (master, then the
	// agent, whose updates reach the scheduler in order): any answer of the
	// agent to the kill would arrive before this task's TASK_RUNNING.
	o = recv(t, r.offers, "offer")
	r.launch(fid, o, commandTask("probe", "exec sleep 600", o))
	for {
		u := recv(t, r.updates, "probe running")
		if u.GetStatus().GetTaskId().GetValue() == "probe" {
			require.Equal(t, mesos.TaskState_TASK_RUNNING, u.GetStatus().GetState())
			break
		}
		t.Fatalf("unexpected update for the killed terminal task: %s %s", u.GetStatus().GetState(), u.GetStatus().GetMessage())
	}
	r.reconcile(fid, &mesos.TaskStatus{TaskId: util.NewTaskID("done"), State: mesos.TaskState_TASK_FINISHED.Enum()})
	u := recv(t, r.updates, "reconciliation")
	assertReconciled(t, u.GetStatus(), mesos.TaskState_TASK_FINISHED, "Reconciliation: Latest task state")
	// An answer queued behind the unacknowledged update would leave once
	// it is acknowledged, before the TASK_RUNNING of a task launched after.
	r.ack(finished)
	o = recv(t, r.offers, "offer")
	r.launch(fid, o, commandTask("probe2", "exec sleep 600", o))
	for {
		u := recv(t, r.updates, "probe2 running")
		if u.GetStatus().GetTaskId().GetValue() == "probe2" {
			require.Equal(t, mesos.TaskState_TASK_RUNNING, u.GetStatus().GetState())
			break
		}
		t.Fatalf("unexpected update for the killed terminal task: %s %s", u.GetStatus().GetState(), u.GetStatus().GetMessage())
	}
}

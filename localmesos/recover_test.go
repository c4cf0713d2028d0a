package localmesos

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Agent recovery: an agent restarted on the same work directory and port
// (Slave::recover, Slave::reregisterExecutor, Slave::reregisterExecutorTimeout).

// startFrameworkDriver is startDriver with a FrameworkInfo that does or
// does not ask for checkpointing.
func startFrameworkDriver(t *testing.T, m *Master, s *testSched, checkpoint bool) *sched.MesosSchedulerDriver {
	t.Helper()
	return startDriverOn(t, m.Addr(), s, &mesos.FrameworkInfo{Checkpoint: proto.Bool(checkpoint)})
}

// recoveryRig is a master, an agent with a work directory and fixed port,
// and a scheduler running task "t" on executor "e".
type recoveryRig struct {
	m    *Master
	dir  string
	port int
	a1   *Agent
	s    *testSched
	d    *sched.MesosSchedulerDriver
	pgid int // the executor's process group
	id   string
}

func startRecoveryRig(t *testing.T, checkpoint bool) *recoveryRig {
	t.Helper()
	r := &recoveryRig{m: startTestMaster(t, 0), dir: t.TempDir(), port: freePort(t)}
	var err error
	r.a1, err = StartAgent(AgentConfig{Master: r.m.Addr(), WorkDir: r.dir, Port: r.port, RegistrationBackoffFactor: testBackoff, Logf: testLogf(t, "agent 1")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.a1.Close()) }) // runs after the restarted agent's Close
	waitRegistered(t, r.a1)
	r.id = r.a1.ID()
	r.s = newTestSched()
	r.d = startFrameworkDriver(t, r.m, r.s, checkpoint)
	recv(t, r.s.registered, "registration")
	o := recv(t, r.s.offers, "offer")
	_, err = r.d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, testExecutorInfo("e"), "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, r.s, "t", mesos.TaskState_TASK_RUNNING)
	ex := r.a1.Executors()
	require.Len(t, ex, 1)
	r.pgid = ex[0].Pid
	// The executor may outlive the agent by design: never past the test.
	t.Cleanup(func() { signalGroup(r.pgid, syscall.SIGKILL) })
	return r
}

// restart starts the agent again on the same work directory and port. The
// crashed agent's listening socket can outlive its Close for a moment here
// (a child being forked by a parallel test holds a copy until it execs), so
// a bind that fails is tried again, for a few seconds.
func (r *recoveryRig) restart(t *testing.T, cfg AgentConfig) *Agent {
	t.Helper()
	cfg.Master, cfg.WorkDir, cfg.Port = r.m.Addr(), r.dir, r.port
	cfg.RegistrationBackoffFactor = testBackoff
	cfg.Logf = testLogf(t, "agent 2")
	deadline := time.Now().Add(5 * time.Second)
	for {
		a2, err := StartAgent(cfg)
		if err == nil {
			t.Cleanup(func() { require.NoError(t, a2.Close()) })
			return a2
		}
		if !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) { // mesos-go does not wrap the error
			require.NoError(t, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for the port, bounded by the deadline
	}
}

func (r *recoveryRig) echo(t *testing.T, msg string) {
	t.Helper()
	_, err := r.d.SendFrameworkMessage(util.NewExecutorID("e"), util.NewSlaveID(r.id), msg)
	require.NoError(t, err)
	assert.Equal(t, "echo:"+msg, recv(t, r.s.messages, "echo of "+msg))
}

func TestAgentRecoveryReconnectsExecutor(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	r.echo(t, "before")

	r.a1.a.crash()
	require.True(t, processRunning(r.pgid), "a checkpointing framework's executor outlives its agent")

	a2 := r.restart(t, AgentConfig{})
	waitRegistered(t, a2)
	assert.Equal(t, r.id, a2.ID())
	ex := a2.Executors()
	require.Len(t, ex, 1)
	assert.Equal(t, r.pgid, ex[0].Pid)
	assert.True(t, ex[0].Registered, "the executor re-registered")
	r.echo(t, "after")
	require.Len(t, r.m.Tasks(), 1)
	assert.Equal(t, mesos.TaskState_TASK_RUNNING, r.m.Tasks()[0].State)

	// The recovered executor still runs its task: a kill reaches it.
	_, err := r.d.KillTask(util.NewTaskID("t"))
	require.NoError(t, err)
	waitState(t, r.s, "t", mesos.TaskState_TASK_KILLED)
}

// An update the scheduler had not acknowledged when the agent died is sent
// again by the restarted agent.
func TestAgentRecoveryResendsUnacknowledgedUpdates(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	require.NoError(t, r.a1.c.PartitionAgent(r.id)) // the master hears nothing of the agent
	a := r.a1.a
	a.mu.Lock()
	var ex *executor
	for _, fw := range a.frameworks {
		ex = fw.executors["e"]
	}
	require.NotNil(t, ex)
	fid := ex.fwID
	a.send(ex.pid, &mesos.KillTaskMessage{FrameworkId: &mesos.FrameworkID{Value: proto.String(fid)}, TaskId: util.NewTaskID("t")})
	a.mu.Unlock()
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		s := a.streams[fid+"/t"]
		return s != nil && s.pending[len(s.pending)-1].GetStatus().GetState() == mesos.TaskState_TASK_KILLED
	}, waitTimeout, 10*time.Millisecond, "the executor's TASK_KILLED reaches the partitioned agent")
	r.a1.a.crash()

	a2 := r.restart(t, AgentConfig{})
	waitRegistered(t, a2)
	st := waitState(t, r.s, "t", mesos.TaskState_TASK_KILLED)
	assert.Equal(t, mesos.TaskStatus_SOURCE_EXECUTOR, st.GetSource())
	require.Eventually(t, func() bool {
		a2.a.mu.Lock()
		defer a2.a.mu.Unlock()
		return len(a2.a.streams) == 0
	}, waitTimeout, 10*time.Millisecond, "the resent update is acknowledged")
}

// An executor that does not re-register in time is killed and its tasks
// are lost with REASON_EXECUTOR_REREGISTRATION_TIMEOUT.
func TestAgentRecoveryKillsExecutorThatDoesNotReregister(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	r.a1.a.crash()
	require.NoError(t, syscall.Kill(-r.pgid, syscall.SIGSTOP)) // it cannot answer
	a2 := r.restart(t, AgentConfig{ExecutorReregistrationTimeout: 300 * time.Millisecond})
	st := waitState(t, r.s, "t", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT, st.GetReason())
	assert.Equal(t, "Executor did not reregister within 300ms", st.GetMessage())
	assert.Equal(t, mesos.TaskStatus_SOURCE_SLAVE, st.GetSource())
	eventuallyGone(t, r.pgid, "the executor is killed")
	assert.True(t, a2.Registered())
}

// An executor that died while its agent was down has its tasks failed.
func TestAgentRecoveryReportsExecutorGoneWhileDown(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	r.a1.a.crash()
	signalGroup(r.pgid, syscall.SIGKILL)
	eventuallyGone(t, r.pgid)
	r.restart(t, AgentConfig{})
	st := waitState(t, r.s, "t", mesos.TaskState_TASK_FAILED)
	assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, st.GetReason())
	assert.Equal(t, "Executor terminated", st.GetMessage())
	lost := recv(t, r.s.execLost, "executor lost")
	assert.Equal(t, "e", lost.executorID)
}

// Without checkpointing the executor dies with the agent, and the
// restarted agent, knowing nothing of the task, has the master report it
// lost (Master::reconcileKnownSlave, Slave::reregistered).
func TestAgentRestartWithoutCheckpointLosesTasks(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, false)
	r.a1.a.crash()
	eventuallyGone(t, r.pgid, "a non-checkpointing framework's executor dies with its agent")
	a2 := r.restart(t, AgentConfig{})
	waitRegistered(t, a2)
	st := waitState(t, r.s, "t", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_RECONCILIATION, st.GetReason())
	assert.Empty(t, a2.Executors())
}

// With Recover: RecoverCleanup the restarted agent shuts the old executors
// down and does not register.
func TestAgentRecoveryCleanup(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	r.a1.a.crash()
	a2 := r.restart(t, AgentConfig{Recover: RecoverCleanup, ExecutorShutdownGrace: time.Second})
	assert.True(t, processGroupGone(r.pgid), "the executor was shut down before StartAgent returned")
	assert.False(t, a2.Registered())
	assert.Empty(t, a2.Executors())
}

func TestAgentRecoveryFlagsChecked(t *testing.T) {
	t.Parallel()
	_, err := StartAgent(AgentConfig{Master: "127.0.0.1:5050", Recover: "keep"})
	assert.ErrorContains(t, err, `recover "keep"`)
	_, err = StartAgent(AgentConfig{Master: "127.0.0.1:5050", ExecutorReregistrationTimeout: time.Hour})
	assert.ErrorContains(t, err, "expected not more than 15mins")
}

// An executor that ended before the agent died leaves its run completed
// (executor.sentinel): it is not recovered, but the updates of its tasks
// the scheduler had not acknowledged are sent again.
func TestAgentRecoveryResendsUpdatesOfEndedExecutor(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	require.NoError(t, r.a1.c.PartitionAgent(r.id))
	signalGroup(r.pgid, syscall.SIGKILL)
	a := r.a1.a
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for key, s := range a.streams {
			if strings.HasSuffix(key, "/t") && s.pending[len(s.pending)-1].GetStatus().GetState() == mesos.TaskState_TASK_FAILED {
				return true
			}
		}
		return false
	}, waitTimeout, 10*time.Millisecond, "the agent reports the task failed (to a master it cannot reach)")
	a.crash()

	a2 := r.restart(t, AgentConfig{})
	waitRegistered(t, a2)
	st := waitState(t, r.s, "t", mesos.TaskState_TASK_FAILED)
	assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, st.GetReason())
	assert.Equal(t, "Executor terminated with signal Killed", st.GetMessage())
	assert.Empty(t, a2.Executors(), "the ended executor is not recovered")
}

// A task the agent had not yet handed to its executor when it died is
// unknown to the re-registering executor: TASK_LOST, REASON_SLAVE_RESTARTED.
func TestAgentRecoveryLosesTaskNotDeliveredBeforeRestart(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	a := r.a1.a
	a.mu.Lock()
	for _, fw := range a.frameworks {
		fw.executors["e"].state = execStarted // the next task waits in the queue, as for an executor not yet registered
	}
	a.mu.Unlock()
	o := recvUntil(t, r.s.offers, "an offer with room for t2", func(o *mesos.Offer) bool { return o.GetSlaveId().GetValue() == r.id })
	_, err := r.d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t2", o, testExecutorInfo("e"), "run")}, noRefuse())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, fw := range a.frameworks {
			if len(fw.executors["e"].queued) == 1 {
				return true
			}
		}
		return false
	}, waitTimeout, 10*time.Millisecond, "t2 reaches the agent")
	a.crash()

	a2 := r.restart(t, AgentConfig{})
	waitRegistered(t, a2)
	st := waitState(t, r.s, "t2", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_SLAVE_RESTARTED, st.GetReason())
	assert.Equal(t, "Task launched during agent restart", st.GetMessage())
	r.echo(t, "t still runs")
}

// A damaged checkpoint fails the restart unless recovery is not strict
// (Mesos' --strict), which recovers what it can.
func TestAgentRecoveryStrict(t *testing.T) {
	t.Parallel()
	r := startRecoveryRig(t, true)
	r.a1.a.crash()
	infos, err := filepath.Glob(filepath.Join(r.dir, "meta", "slaves", r.id, "frameworks", "*", "executors", "e", "executor.info"))
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.NoError(t, os.WriteFile(infos[0], []byte("\xff\xff not a protobuf"), 0o644))

	_, err = StartAgent(AgentConfig{Master: r.m.Addr(), WorkDir: r.dir, Port: r.port})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "executor.info")
	assert.Contains(t, err.Error(), "-strict=false")

	a2 := r.restart(t, AgentConfig{NonStrictRecovery: true})
	waitRegistered(t, a2)
	assert.Empty(t, a2.Executors(), "the damaged executor is skipped")
	st := waitState(t, r.s, "t", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_RECONCILIATION, st.GetReason())
}

package localmesos

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/auth"
	"github.com/mesos/mesos-go/api/v0/auth/sasl"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/context"
)

func killGroup0(pgid int) error { return syscall.Kill(-pgid, 0) }

func withSASL(ctx context.Context) context.Context {
	ctx = auth.WithLoginProvider(ctx, sasl.ProviderName)
	return sasl.WithBindingAddress(ctx, net.ParseIP("127.0.0.1"))
}

// offersByAgent collects offers until it has one from each of n agents.
func offersByAgent(t *testing.T, s *testSched, n int) map[string]*mesos.Offer {
	t.Helper()
	got := map[string]*mesos.Offer{}
	for len(got) < n {
		o := recv(t, s.offers, "offers")
		got[o.GetSlaveId().GetValue()] = o
	}
	return got
}

func TestLaunchOnTwoAgents(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Agents: 2})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	fid := recv(t, s.registered, "registration")

	offers := offersByAgent(t, s, 2)
	e := testExecutorInfo("exec")
	var ids []string
	for agentID, o := range offers {
		assert.Equal(t, "cpus:4;disk:10000;mem:4096;ports:[31000-32000]", FormatResources(o.Resources))
		var tasks []*mesos.TaskInfo
		for i := 0; i < 2; i++ {
			id := agentID + "-t" + string(rune('0'+i))
			ids = append(ids, id)
			tasks = append(tasks, newTask(id, o, e, "finish"))
		}
		_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, tasks, noRefuse())
		require.NoError(t, err)
	}
	seen := map[string][]mesos.TaskState{}
	for finished := 0; finished < len(ids); {
		st := recv(t, s.statuses, "status updates")
		id := st.GetTaskId().GetValue()
		seen[id] = append(seen[id], st.GetState())
		switch st.GetState() {
		case mesos.TaskState_TASK_FINISHED:
			finished++
		case mesos.TaskState_TASK_RUNNING:
		default:
			t.Fatalf("task %s: unexpected %s: %s", id, st.GetState(), st.GetMessage())
		}
	}
	for _, id := range ids {
		assert.Equal(t, []mesos.TaskState{mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED}, seen[id], id)
	}
	for _, ts := range c.Tasks() {
		assert.Equal(t, fid.GetValue(), ts.FrameworkID)
		assert.Equal(t, mesos.TaskState_TASK_FINISHED, ts.State)
	}
	st := c.Stats()
	assert.EqualValues(t, 4, st.TasksLaunched)
	assert.EqualValues(t, 2, st.ExecutorsLaunched)
	execs := c.Executors()
	require.Len(t, execs, 2)
	for _, ex := range execs {
		assert.True(t, ex.Registered)
		out, err := os.ReadFile(filepath.Join(ex.Directory, "stdout"))
		require.NoError(t, err)
		assert.Contains(t, string(out), "registered exec")
		assert.FileExists(t, filepath.Join(ex.Directory, "testexec"))
	}
}

func TestFrameworkMessagesAndReconcile(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := testExecutorInfo("echoer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t1", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t1", mesos.TaskState_TASK_RUNNING)

	for _, m := range []string{"a", "b", "c"} {
		_, err = d.SendFrameworkMessage(e.ExecutorId, o.SlaveId, m)
		require.NoError(t, err)
		assert.Equal(t, "echo:"+m, recv(t, s.messages, "echo"))
	}
	assert.EqualValues(t, 6, c.Stats().FrameworkMessages)

	_, err = d.ReconcileTasks(nil)
	require.NoError(t, err)
	st := recv(t, s.statuses, "reconciliation")
	assert.Equal(t, "t1", st.GetTaskId().GetValue())
	assert.Equal(t, mesos.TaskState_TASK_RUNNING, st.GetState())
	assert.Equal(t, mesos.TaskStatus_REASON_RECONCILIATION, st.GetReason())

	_, err = d.ReconcileTasks([]*mesos.TaskStatus{{TaskId: util.NewTaskID("nope"), State: mesos.TaskState_TASK_RUNNING.Enum()}})
	require.NoError(t, err)
	st = recv(t, s.statuses, "reconciliation of an unknown task")
	assert.Equal(t, "nope", st.GetTaskId().GetValue())
	assert.Equal(t, mesos.TaskState_TASK_LOST, st.GetState())

	_, err = d.KillTask(util.NewTaskID("t1"))
	require.NoError(t, err)
	waitState(t, s, "t1", mesos.TaskState_TASK_KILLED)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Credentials: map[string]string{"alice": "s3cret"}})

	good := newTestSched()
	startDriver(t, c, good, &mesos.Credential{Principal: proto.String("alice"), Secret: proto.String("s3cret")})
	recv(t, good.registered, "authenticated registration")
	recv(t, good.offers, "offer")
	require.EqualValues(t, 1, c.Stats().AuthenticationsOK)
	require.Len(t, c.Frameworks(), 1)
	assert.Equal(t, "alice", c.Frameworks()[0].Principal)

	bad := newTestSched()
	startDriver(t, c, bad, &mesos.Credential{Principal: proto.String("alice"), Secret: proto.String("wrong")})
	require.Eventually(t, func() bool { return c.Stats().AuthenticationsFailed >= 1 }, waitTimeout, 10*time.Millisecond)
	none(t, bad.registered, 500*time.Millisecond, "registration with a wrong secret")
	assert.Len(t, c.Frameworks(), 1)

	anon := newTestSched()
	startDriver(t, c, anon, nil)
	msg := recv(t, anon.errors, "framework error")
	assert.Contains(t, msg, "not authenticated")
	assert.Len(t, c.Frameworks(), 1)
}

func TestInvalidLaunches(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Resources: "cpus:2;mem:512"})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	e := testExecutorInfo("exec")

	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("ok", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	// The same offer again: it is used up.
	_, err = d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("stale", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "stale", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_INVALID_OFFERS, st.GetReason())
	assert.Contains(t, st.GetMessage(), "no longer valid")
	// An offer that never existed.
	_, err = d.LaunchTasks([]*mesos.OfferID{util.NewOfferID("bogus")}, []*mesos.TaskInfo{newTask("bogus", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "bogus", mesos.TaskState_TASK_LOST)
	waitState(t, s, "ok", mesos.TaskState_TASK_RUNNING)

	cases := []struct {
		name string
		mod  func(*mesos.TaskInfo)
		want string
	}{
		{"too-big", func(ti *mesos.TaskInfo) { ti.Resources = []*mesos.Resource{util.NewScalarResource("cpus", 64)} }, "is more than available"},
		{"ok", func(*mesos.TaskInfo) {}, "duplicate ID"},
		{"no-executor", func(ti *mesos.TaskInfo) { ti.Executor = nil }, "CommandInfo or ExecutorInfo"},
		{"wrong-agent", func(ti *mesos.TaskInfo) { ti.SlaveId = util.NewSlaveID("elsewhere") }, "agent"},
		{"changed-executor", func(ti *mesos.TaskInfo) {
			ti.Executor = testExecutorInfo("exec")
			ti.Executor.Command.Value = proto.String("./other")
		}, "not compatible"},
	}
	for _, tc := range cases {
		o := recv(t, s.offers, "offer")
		ti := newTask(tc.name, o, e, "run")
		tc.mod(ti)
		_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{ti}, noRefuse())
		require.NoError(t, err)
		st := recvUntil(t, s.statuses, tc.name, func(st *mesos.TaskStatus) bool {
			return st.GetTaskId().GetValue() == tc.name && st.GetState() == mesos.TaskState_TASK_ERROR
		})
		assert.Contains(t, st.GetMessage(), tc.want, tc.name)
	}
	assert.EqualValues(t, 7, c.Stats().TasksInvalid)
	assert.EqualValues(t, 1, c.Stats().TasksLaunched)
}

func TestExecutorKilled(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	fid := recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := testExecutorInfo("victim")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{
		newTask("v1", o, e, "run"), newTask("v2", o, e, "run"),
	}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "v1", mesos.TaskState_TASK_RUNNING)
	waitState(t, s, "v2", mesos.TaskState_TASK_RUNNING)
	execs := c.Executors()
	require.Len(t, execs, 1)
	pgid := execs[0].Pid

	require.NoError(t, c.KillExecutor(fid.GetValue(), "victim"))
	for _, id := range []string{"v1", "v2"} {
		st := waitState(t, s, id, mesos.TaskState_TASK_FAILED)
		assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, st.GetReason())
		assert.Contains(t, st.GetMessage(), "signal")
	}
	lost := recv(t, s.execLost, "executor lost")
	assert.Equal(t, "victim", lost.executorID)
	assert.Equal(t, o.GetSlaveId().GetValue(), lost.agentID)
	assert.Equal(t, int(syscall.SIGKILL), lost.status) // raw wait status
	eventuallyGone(t, pgid)
	assert.Error(t, c.KillExecutor(fid.GetValue(), "victim"))

	// A new executor can be started.
	o = recv(t, s.offers, "offer")
	_, err = d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("v3", o, e, "finish")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "v3", mesos.TaskState_TASK_FINISHED)
}

func TestSchedulerStopShutsDownExecutors(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Agents: 2})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	e := testExecutorInfo("exec")
	for _, o := range offersByAgent(t, s, 2) {
		_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t-"+o.GetSlaveId().GetValue(), o, e, "run")}, noRefuse())
		require.NoError(t, err)
	}
	for i := 0; i < 2; i++ {
		recvUntil(t, s.statuses, "running", func(st *mesos.TaskStatus) bool { return st.GetState() == mesos.TaskState_TASK_RUNNING })
	}
	execs := c.Executors()
	require.Len(t, execs, 2)

	_, err := d.Stop(false) // unregisters the framework
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(c.Executors()) == 0 }, waitTimeout, 10*time.Millisecond)
	for _, ex := range execs {
		eventuallyGone(t, ex.Pid, "executor process group %d", ex.Pid)
		out, err := os.ReadFile(filepath.Join(ex.Directory, "stdout"))
		require.NoError(t, err)
		assert.Contains(t, string(out), "shutdown", "the executor was asked to shut down")
	}
	fws := c.Frameworks()
	require.Len(t, fws, 1)
	assert.True(t, fws[0].Removed)
	for _, ts := range c.Tasks() {
		assert.Equal(t, mesos.TaskState_TASK_KILLED, ts.State)
	}
}

func TestCloseKillsExecutors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := Start(Config{WorkDir: dir, ExecutorShutdownGrace: 200 * time.Millisecond})
	require.NoError(t, err)
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	// An executor that ignores the shutdown message and leaves a child behind.
	e := &mesos.ExecutorInfo{
		ExecutorId: util.NewExecutorID("stubborn"),
		Command:    &mesos.CommandInfo{Value: proto.String("sleep 600 & trap '' TERM; exec sleep 600")},
	}
	_, err = d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("s1", o, e, "")}, noRefuse())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ex := c.Executors()
		return len(ex) == 1 && ex[0].Pid != 0
	}, waitTimeout, 10*time.Millisecond)
	pgid := c.Executors()[0].Pid
	require.False(t, processGroupGone(pgid))
	require.NoError(t, c.Close())
	eventuallyGone(t, pgid, "Close left the executor's process group behind")
	assert.DirExists(t, filepath.Join(dir, "slaves"), "a given work dir is kept")
	require.NoError(t, c.Close())
}

func TestFrameworkMessageFaults(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, f *Faults, sends int) (*Cluster, *testSched) {
		c := startCluster(t, Config{Faults: f})
		s := newTestSched()
		d := startDriver(t, c, s, nil)
		recv(t, s.registered, "registration")
		o := recv(t, s.offers, "offer")
		e := testExecutorInfo("exec")
		_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, e, "run")}, noRefuse())
		require.NoError(t, err)
		waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)
		for i := 0; i < sends; i++ {
			_, err = d.SendFrameworkMessage(e.ExecutorId, o.SlaveId, "ping")
			require.NoError(t, err)
		}
		return c, s
	}
	t.Run("drop", func(t *testing.T) {
		t.Parallel()
		c, s := run(t, &Faults{Drop: 1.0}, 3)
		require.Eventually(t, func() bool { return c.Stats().FrameworkMsgsDropped == 3 }, waitTimeout, 10*time.Millisecond)
		none(t, s.messages, 300*time.Millisecond, "framework message")
		assert.EqualValues(t, 0, c.Stats().FrameworkMessages)
	})
	t.Run("dup", func(t *testing.T) {
		t.Parallel()
		c, s := run(t, &Faults{Dup: 1.0, Seed: 1}, 1)
		for i := 0; i < 4; i++ { // ping twice, each echo twice
			assert.Equal(t, "echo:ping", recv(t, s.messages, "echo"))
		}
		assert.EqualValues(t, 3, c.Stats().FrameworkMsgsDuped)
	})
	t.Run("dropif", func(t *testing.T) {
		t.Parallel()
		f := &Faults{DropIf: func(m FrameworkMessage) bool { return !m.ToExecutor }}
		c, s := run(t, f, 2)
		require.Eventually(t, func() bool { return c.Stats().FrameworkMsgsDropped == 2 }, waitTimeout, 10*time.Millisecond)
		none(t, s.messages, 200*time.Millisecond, "echo")
		assert.EqualValues(t, 2, c.Stats().FrameworkMessages)
	})
}

func TestDeclineFilterAndRevive(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")

	o := recv(t, s.offers, "offer")
	_, err := d.DeclineOffer(o.Id, &mesos.Filters{RefuseSeconds: proto.Float64(60)})
	require.NoError(t, err)
	none(t, s.offers, 1500*time.Millisecond, "offer during refuse_seconds")
	_, err = d.ReviveOffers()
	require.NoError(t, err)
	o = recv(t, s.offers, "offer after revive")

	declined := time.Now()
	_, err = d.DeclineOffer(o.Id, &mesos.Filters{RefuseSeconds: proto.Float64(1)})
	require.NoError(t, err)
	recv(t, s.offers, "offer after the filter expired")
	assert.GreaterOrEqual(t, time.Since(declined), time.Second)
	assert.EqualValues(t, 2, c.Stats().OffersDeclined)
}

func TestLoseAgent(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Agents: 2, AgentPingTimeout: testPingTimeout, MaxAgentPingTimeouts: testMaxPings})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	offers := offersByAgent(t, s, 2)
	var victim *mesos.Offer
	for _, o := range offers {
		victim = o
	}
	_, err := d.LaunchTasks([]*mesos.OfferID{victim.Id}, []*mesos.TaskInfo{newTask("t", victim, testExecutorInfo("e"), "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)
	pgid := c.Executors()[0].Pid
	held := recvUntil(t, s.offers, "an offer of the victim's remaining resources", func(o *mesos.Offer) bool {
		return o.GetSlaveId().GetValue() == victim.GetSlaveId().GetValue()
	})

	lostAt := time.Now()
	require.NoError(t, c.LoseAgent(victim.GetSlaveId().GetValue()))
	st := waitState(t, s, "t", mesos.TaskState_TASK_LOST)
	t.Logf("agent removed %v after it was lost", time.Since(lostAt))
	assert.Equal(t, mesos.TaskStatus_REASON_SLAVE_REMOVED, st.GetReason())
	assert.Equal(t, "health check timed out", st.GetMessage())
	assert.Equal(t, mesos.TaskStatus_SOURCE_MASTER, st.GetSource())
	assert.Equal(t, victim.GetSlaveId().GetValue(), recv(t, s.agentLost, "agent lost"))
	recvUntil(t, s.rescinded, "the held offer rescinded", func(id string) bool { return id == held.GetId().GetValue() })
	a, ok := agentByID(c, victim.GetSlaveId().GetValue())
	require.True(t, ok)
	assert.True(t, a.Lost)
	eventuallyGone(t, pgid)
	assert.Error(t, c.LoseAgent(victim.GetSlaveId().GetValue()))
}

func TestCommandTasksAndFetchFailure(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")

	cmdTask := func(id, cmd string, o *mesos.Offer) *mesos.TaskInfo {
		ti := newTask(id, o, nil, "")
		ti.Command = &mesos.CommandInfo{Value: proto.String(cmd)}
		return ti
	}
	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{
		cmdTask("ok", "echo hello; test -n \"$MESOS_SANDBOX\"", o),
		cmdTask("bad", "exit 3", o),
	}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "ok", mesos.TaskState_TASK_FINISHED)
	st := waitState(t, s, "bad", mesos.TaskState_TASK_FAILED)
	assert.Contains(t, st.GetMessage(), "status 3")

	o = recv(t, s.offers, "offer")
	e := testExecutorInfo("unfetchable")
	e.Command.Uris[0].Value = proto.String("/nonexistent/executor")
	_, err = d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("f", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	st = waitState(t, s, "f", mesos.TaskState_TASK_FAILED)
	assert.Contains(t, st.GetMessage(), "Failed to fetch")
	assert.Equal(t, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, st.GetReason())
	lost := recv(t, s.execLost, "executor lost")
	assert.Equal(t, "unfetchable", lost.executorID)
}

func TestStateEndpoint(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Agents: 3, Resources: "cpus:1;mem:128;disks:{a,b}"})
	require.Len(t, c.Agents(), 3)
	assert.True(t, strings.HasPrefix(c.MasterPID(), "master@127.0.0.1:"))
	resp, err := httpGet("http://" + c.MasterAddr() + "/state")
	require.NoError(t, err)
	assert.Contains(t, resp, `"leader":"`+c.MasterPID()+`"`)
	assert.Contains(t, resp, `disks:{a,b}`)
}

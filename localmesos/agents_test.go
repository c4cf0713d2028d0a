package localmesos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// Short health checks for tests: removal after 5 × 200 ms unanswered pings
// (long enough that a loaded machine does not miss them).
const (
	testPingTimeout = 200 * time.Millisecond
	testMaxPings    = 5
	testBackoff     = 10 * time.Millisecond
)

// testLogf returns a Logf that writes to t until the test ends.
func testLogf(t *testing.T, prefix string) func(string, ...any) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf("%s: %s", prefix, fmt.Sprintf(format, args...))
		}
	}
}

func startTestMaster(t *testing.T, port int) *Master {
	t.Helper()
	m, err := StartMaster(MasterConfig{Port: port, AgentPingTimeout: testPingTimeout, MaxAgentPingTimeouts: testMaxPings,
		AllocationInterval: 100 * time.Millisecond, Logf: testLogf(t, "master")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

func startTestAgent(t *testing.T, cfg AgentConfig) *Agent {
	t.Helper()
	cfg.RegistrationBackoffFactor = testBackoff
	cfg.Logf = testLogf(t, "agent")
	a, err := StartAgent(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	return a
}

func waitRegistered(t *testing.T, a *Agent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, a.WaitRegistered(ctx))
}

// freePort returns a port free now and below the kernel's ephemeral range,
// so that no listener on port 0 or outgoing connection takes it before the
// test binds it (again).
func freePort(t *testing.T) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 12000 {
				low = n
			}
		}
	}
	for i := 0; i < 100; i++ {
		port := 10000 + rand.IntN(low-10000)
		if ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			require.NoError(t, ln.Close())
			return port
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

func agentByID(c *Cluster, id string) (AgentState, bool) {
	for _, a := range c.Agents() {
		if a.ID == id {
			return a, true
		}
	}
	return AgentState{}, false
}

// Agents started by Start register over loopback one by one and get the
// master's IDs in start order (Mesos' Master::registerSlave).
func TestInProcessAgentsRegister(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Agents: 3})
	agents := c.Agents()
	require.Len(t, agents, 3)
	for i, a := range agents {
		assert.Equal(t, fmt.Sprintf("%s-S%d", c.runID, i), a.ID)
		assert.Equal(t, fmt.Sprintf("slave(%d)", i+1), a.PID[:len("slave(1)")])
		assert.False(t, a.Lost)
		assert.Equal(t, "127.0.0.1", a.Hostname)
	}
}

// A master and agents started on their own: agents register over the
// wire with their attributes, which offers carry.
func TestStandaloneMasterAndAgents(t *testing.T) {
	t.Parallel()
	m := startTestMaster(t, 0)
	a1 := startTestAgent(t, AgentConfig{Master: m.Addr(), Resources: "cpus:2;mem:512", Attributes: "rack:r1;level:2", Hostname: "node-a"})
	a2 := startTestAgent(t, AgentConfig{Master: "localhost:" + m.Addr()[len("127.0.0.1:"):], Resources: "cpus:1;mem:256"})
	waitRegistered(t, a1)
	waitRegistered(t, a2)
	assert.NotEqual(t, a1.ID(), a2.ID())
	require.Len(t, m.Agents(), 2)
	st, ok := agentByID(m.c, a1.ID())
	require.True(t, ok)
	assert.Equal(t, "node-a", st.Hostname)
	assert.Equal(t, a1.PID(), st.PID)

	s := newTestSched()
	startDriver(t, m.c, s, nil)
	recv(t, s.registered, "registration")
	offers := offersByAgent(t, s, 2)
	o := offers[a1.ID()]
	require.NotNil(t, o)
	assert.Equal(t, "node-a", o.GetHostname())
	attrs := map[string]*mesos.Attribute{}
	for _, at := range o.GetAttributes() {
		attrs[at.GetName()] = at
	}
	assert.Equal(t, "r1", attrs["rack"].GetText().GetValue())
	assert.Equal(t, 2.0, attrs["level"].GetScalar().GetValue())
}

// An agent started before its master retries registration until the master
// is there (Slave::doReliableRegistration).
func TestAgentRetriesRegistration(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	a := startTestAgent(t, AgentConfig{Master: "127.0.0.1:" + strconv.Itoa(port)})
	assert.False(t, a.Registered())
	m := startTestMaster(t, port)
	waitRegistered(t, a)
	require.Len(t, m.Agents(), 1)
	assert.Equal(t, a.ID(), m.Agents()[0].ID)
}

// A partitioned agent is removed after the ping timeouts; once healed it
// re-registers with the task it still runs, which the master reports with
// REASON_SLAVE_REREGISTERED, and framework messages flow again.
func TestPartitionedAgentReregisters(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{Agents: 1, AgentPingTimeout: testPingTimeout, MaxAgentPingTimeouts: testMaxPings, RegistrationBackoffFactor: testBackoff})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := testExecutorInfo("e")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)
	agentID := o.GetSlaveId().GetValue()
	pgid := c.Executors()[0].Pid

	require.NoError(t, c.PartitionAgent(agentID))
	st := waitState(t, s, "t", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_SLAVE_REMOVED, st.GetReason())
	assert.Equal(t, agentID, recv(t, s.agentLost, "agent lost"))
	a, _ := agentByID(c, agentID)
	assert.True(t, a.Lost)
	assert.False(t, processGroupGone(pgid), "a partitioned agent's executor keeps running")

	require.NoError(t, c.HealAgent(agentID))
	st = recvUntil(t, s.statuses, "task reported again", func(st *mesos.TaskStatus) bool {
		return st.GetTaskId().GetValue() == "t" && st.GetState() == mesos.TaskState_TASK_RUNNING
	})
	assert.Equal(t, reasonSlaveReregistered, st.GetReason())
	assert.Equal(t, "Unreachable agent re-reregistered", st.GetMessage())
	a, _ = agentByID(c, agentID)
	assert.False(t, a.Lost)
	require.Len(t, c.Tasks(), 1)
	assert.Equal(t, mesos.TaskState_TASK_RUNNING, c.Tasks()[0].State)

	_, err = d.SendFrameworkMessage(e.ExecutorId, o.SlaveId, "after")
	require.NoError(t, err)
	assert.Equal(t, "echo:after", recv(t, s.messages, "echo after healing"))
}

// After a master restart the agent, hearing no pings, re-registers with
// its task; the new master learns the task and the framework.
func TestMasterRestartAgentReregisters(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	m1, err := StartMaster(MasterConfig{Port: port, AgentPingTimeout: testPingTimeout, MaxAgentPingTimeouts: testMaxPings, Logf: testLogf(t, "master 1")})
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = m1.Close()
		}
	})
	a := startTestAgent(t, AgentConfig{Master: m1.Addr()})
	waitRegistered(t, a)
	s := newTestSched()
	d := startDriver(t, m1.c, s, nil)
	fwID := recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err = d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, testExecutorInfo("e"), "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)

	require.NoError(t, m1.Close())
	closed = true
	m2 := startTestMaster(t, port)
	require.Eventually(t, func() bool {
		ts := m2.Tasks()
		return len(ts) == 1 && ts[0].State == mesos.TaskState_TASK_RUNNING
	}, waitTimeout, 10*time.Millisecond, "the agent re-registers its task with the new master")
	ts := m2.Tasks()
	assert.Equal(t, "t", ts[0].TaskID)
	assert.Equal(t, fwID.GetValue(), ts[0].FrameworkID)
	assert.Equal(t, a.ID(), ts[0].AgentID)
	require.Len(t, m2.Agents(), 1)
	assert.Equal(t, a.ID(), m2.Agents()[0].ID)
	require.Eventually(t, a.Registered, waitTimeout, time.Millisecond)
}

// An agent restarted on the same work directory re-registers under its
// old ID; a clean stop unregisters it, so its tasks are lost at once.
func TestAgentRestartKeepsID(t *testing.T) {
	t.Parallel()
	m := startTestMaster(t, 0)
	dir := t.TempDir()
	a1, err := StartAgent(AgentConfig{Master: m.Addr(), WorkDir: dir, RegistrationBackoffFactor: testBackoff, Logf: testLogf(t, "agent 1")})
	require.NoError(t, err)
	waitRegistered(t, a1)
	id := a1.ID()

	s := newTestSched()
	d := startDriver(t, m.c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err = d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, testExecutorInfo("e"), "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)

	require.NoError(t, a1.Close())
	st := waitState(t, s, "t", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_SLAVE_REMOVED, st.GetReason())
	assert.Equal(t, "the agent unregistered", st.GetMessage())
	assert.Equal(t, id, recv(t, s.agentLost, "agent lost"))

	a2 := startTestAgent(t, AgentConfig{Master: m.Addr(), WorkDir: dir})
	waitRegistered(t, a2)
	assert.Equal(t, id, a2.ID())
	require.Len(t, m.Agents(), 1)
	assert.False(t, m.Agents()[0].Lost)
	assert.Equal(t, a2.PID(), m.Agents()[0].PID)
	// Its resources are offered again.
	recvUntil(t, s.offers, "offer from the restarted agent", func(o *mesos.Offer) bool { return o.GetSlaveId().GetValue() == id })
}

// A known agent that re-registers without a task the master has loses it:
// the master asks it to reconcile and it answers TASK_LOST
// (Master::reconcileKnownSlave, Slave::reregistered).
func TestReregistrationReconcilesUnknownTasks(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, testExecutorInfo("e"), "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)

	// The agent forgets the task (as one restarted without recovery would)
	// and is asked by the master to re-register.
	ag := c.agents[0]
	ag.mu.Lock()
	for _, fw := range ag.frameworks {
		for _, ex := range fw.executors {
			delete(ex.tasks, "t")
		}
	}
	ag.mu.Unlock()
	c.master.mu.Lock()
	c.master.send(&ag.pid, &mesos.PingSlaveMessage{Connected: new(bool)})
	c.master.mu.Unlock()

	st := waitState(t, s, "t", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_RECONCILIATION, st.GetReason())
	assert.Equal(t, "Reconciliation: task unknown to the agent", st.GetMessage())
	assert.Equal(t, mesos.TaskStatus_SOURCE_SLAVE, st.GetSource())
}

// Executor messages go from the agent straight to the scheduler, not via
// the master (Slave::executorMessage).
func TestExecutorMessagesBypassMaster(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := testExecutorInfo("echoer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)
	for _, m := range []string{"a", "b"} {
		_, err = d.SendFrameworkMessage(e.ExecutorId, o.SlaveId, m)
		require.NoError(t, err)
		assert.Equal(t, "echo:"+m, recv(t, s.messages, "echo"))
	}
	assert.EqualValues(t, 4, c.Stats().FrameworkMessages)
	assert.Zero(t, c.Stats().FrameworkMsgsViaMaster)
}

func TestStartRefusesBadAddresses(t *testing.T) {
	for _, ip := range []string{"0.0.0.0", "::1", "nonsense"} {
		_, err := StartMaster(MasterConfig{IP: ip})
		assert.Error(t, err, ip)
		_, err = StartAgent(AgentConfig{Master: "127.0.0.1:5050", IP: ip})
		assert.Error(t, err, ip)
	}
	for _, master := range []string{"", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x", "no-such-host.invalid:5050"} {
		_, err := StartAgent(AgentConfig{Master: master})
		assert.Error(t, err, master)
	}
}

func TestParseAttributes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // name=type per attribute
		err  bool
	}{
		{in: "", want: ""},
		{in: "rack:r1", want: "rack=TEXT"},
		{in: "level:2; zone : z-1", want: "level=SCALAR zone=TEXT"},
		{in: "ports:[1-5,7-9];disks:{a,b}", want: "ports=RANGES disks=SET"},
		{in: "rack", err: true},
		{in: "rack:", err: true},
		{in: ":x", err: true},
		{in: "ports:[5-1]", err: true},
	} {
		attrs, err := ParseAttributes(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		got := ""
		for i, a := range attrs {
			if i > 0 {
				got += " "
			}
			got += a.GetName() + "=" + a.GetType().String()
		}
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// With a cluster secret, agent messages without it are refused by the
// master, master messages without it by agents, and agents that have it
// register as usual.
func TestClusterSecret(t *testing.T) {
	t.Parallel()
	m, err := StartMaster(MasterConfig{ClusterSecret: "s3cret", Logf: testLogf(t, "master")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	a := startTestAgent(t, AgentConfig{Master: m.Addr(), ClusterSecret: "s3cret"})
	waitRegistered(t, a)

	// A process without the secret poses as an agent, then as the master.
	impostor, err := libprocess.New("slave(9)", net.ParseIP("127.0.0.1").To4(), 0, nil, func(messenger.Messenger) error { return nil })
	require.NoError(t, err)
	t.Cleanup(impostor.Stop)
	masterPID, agentPID := m.c.master.pid, a.a.pid
	var se *libprocess.StatusError
	err = impostor.SendNow(t.Context(), &masterPID, &mesos.RegisterSlaveMessage{Slave: &mesos.SlaveInfo{Hostname: proto.String("x")}})
	require.ErrorAs(t, err, &se)
	assert.Contains(t, se.Status, "401")
	err = impostor.SendNow(t.Context(), &agentPID, &mesos.ShutdownFrameworkMessage{FrameworkId: &mesos.FrameworkID{Value: proto.String("f")}})
	require.ErrorAs(t, err, &se)
	assert.Contains(t, se.Status, "401")
	// What schedulers and executors send needs no secret.
	require.NoError(t, impostor.SendNow(t.Context(), &agentPID, &mesos.FrameworkToExecutorMessage{
		SlaveId: &mesos.SlaveID{Value: proto.String(a.ID())}, FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
		ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Data: []byte("x")}))
	assert.Len(t, m.Agents(), 1)
}

// An agent pointed at a new master (as after a leader election)
// re-registers with it under its ID, with its task.
func TestAgentSetMaster(t *testing.T) {
	t.Parallel()
	m1 := startTestMaster(t, 0)
	m2 := startTestMaster(t, 0)
	a := startTestAgent(t, AgentConfig{Master: m1.Addr()})
	waitRegistered(t, a)
	s := newTestSched()
	d := startDriver(t, m1.c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, testExecutorInfo("e"), "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)

	require.Error(t, a.SetMaster("nonsense"))
	require.NoError(t, a.SetMaster(m2.Addr()))
	require.Eventually(t, func() bool {
		ts := m2.Tasks()
		return len(ts) == 1 && ts[0].State == mesos.TaskState_TASK_RUNNING && ts[0].AgentID == a.ID()
	}, waitTimeout, 10*time.Millisecond, "the agent re-registers its task with the new master")
	require.Eventually(t, a.Registered, waitTimeout, time.Millisecond)
	require.Len(t, m2.Agents(), 1)
	assert.Equal(t, a.ID(), m2.Agents()[0].ID)
}

// A message whose sender pid names another host than the connection comes
// from is refused unless NoSenderCheck is set.
func TestSenderCheck(t *testing.T) {
	t.Parallel()
	// Listening on 127.0.0.2, it connects to the master from 127.0.0.1.
	impostor, err := libprocess.New("slave(9)", net.ParseIP("127.0.0.2").To4(), 0, nil, func(messenger.Messenger) error { return nil })
	require.NoError(t, err)
	t.Cleanup(impostor.Stop)
	for _, noCheck := range []bool{false, true} {
		m, err := StartMaster(MasterConfig{NoSenderCheck: noCheck})
		require.NoError(t, err)
		pid := m.c.master.pid
		err = impostor.SendNow(t.Context(), &pid, &mesos.PongSlaveMessage{})
		require.NoError(t, m.Close())
		if noCheck {
			assert.NoError(t, err)
			continue
		}
		var se *libprocess.StatusError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Status, "403")
	}
}

package mesosgot

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// openPolicy accepts everything (a test peer).
type openPolicy struct{}

func (openPolicy) accept(*upid.UPID, string) (bool, string)  { return true, "" }
func (openPolicy) received(*upid.UPID, proto.Message) string { return "" }
func (openPolicy) routed(proto.Message)                      {}
func (openPolicy) sending(*upid.UPID, proto.Message) func()  { return nil }
func (openPolicy) stopped()                                  {}

// startMessenger starts a messenger on loopback, stopped at the test's end.
func startMessenger(t *testing.T, id string, p msgPolicy) *driverMessenger {
	t.Helper()
	m := newDriverMessenger("test", id, net.IPv4(127, 0, 0, 1), 0, "127.0.0.1", p)
	return m
}

func started(t *testing.T, m *driverMessenger) *driverMessenger {
	t.Helper()
	require.NoError(t, m.Start())
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

// masterInfo is a well-formed MasterInfo naming pid.
func masterInfo(pid upid.UPID) *mesos.MasterInfo {
	mi := util.NewMasterInfo("m", 0x7f000001, 5050)
	mi.Pid = proto.String(pid.String())
	return mi
}

// got is one message a test handler received.
type got struct {
	from string
	msg  proto.Message
}

func collect(t *testing.T, m *driverMessenger, msgs ...proto.Message) chan got {
	ch := make(chan got, 64)
	for _, msg := range msgs {
		require.NoError(t, m.Install(func(from *upid.UPID, pb proto.Message) { ch <- got{from.String(), pb} }, msg))
	}
	return ch
}

func recvGot(t *testing.T, ch chan got) got {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return got{}
	}
}

// sendAndWait sends msg from src to dst and waits for the send's result.
func sendAndWait(t *testing.T, src *driverMessenger, dst upid.UPID, msg proto.Message) {
	t.Helper()
	done, err := src.sendWait(&dst, msg)
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("send not done within 10s")
	}
}

// waitRefused polls until m has refused n messages.
func waitRefused(t *testing.T, m *driverMessenger, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.refusedCount() < n {
		require.True(t, time.Now().Before(deadline), "refused %d of %d within 10s", m.refusedCount(), n)
		time.Sleep(time.Millisecond)
	}
}

func TestSchedulerMessengerFollowsMasterAndLaunchedAgents(t *testing.T) {
	p := newSchedPolicy(nil)
	s := startMessenger(t, "scheduler(1)", p)
	ch := collect(t, s, &mesos.FrameworkErrorMessage{}, &mesos.ResourceOffersMessage{}, &mesos.ExecutorToFrameworkMessage{}, &mesos.InternalMasterChangeDetected{})
	started(t, s)
	master := started(t, startMessenger(t, "master", openPolicy{}))
	agent := started(t, startMessenger(t, "slave(1)", openPolicy{}))
	other := started(t, startMessenger(t, "slave(2)", openPolicy{}))

	// No master detected yet: even the real master is refused.
	sendAndWait(t, master, s.UPID(), &mesos.FrameworkErrorMessage{Message: proto.String("early")})
	waitRefused(t, s, 1)

	self := s.UPID()
	require.NoError(t, s.Route(context.Background(), &self, &mesos.InternalMasterChangeDetected{Master: masterInfo(master.UPID())}))
	recvGot(t, ch)

	// A forger's control message is refused, the master's accepted.
	sendAndWait(t, other, s.UPID(), &mesos.FrameworkErrorMessage{Message: proto.String("forged")})
	waitRefused(t, s, 2)
	sendAndWait(t, master, s.UPID(), &mesos.FrameworkErrorMessage{Message: proto.String("real")})
	g := recvGot(t, ch)
	assert.Equal(t, "real", g.msg.(*mesos.FrameworkErrorMessage).GetMessage())

	// Driver-internal messages never come from the network, even from the master.
	sendAndWait(t, master, s.UPID(), &mesos.InternalMasterChangeDetected{Master: masterInfo(other.UPID())})
	waitRefused(t, s, 3)

	// Offers name the agents' pids; framework messages are taken only from
	// agents the job launched on, naming themselves.
	sendAndWait(t, master, s.UPID(), &mesos.ResourceOffersMessage{
		Offers: []*mesos.Offer{
			{Id: util.NewOfferID("o1"), FrameworkId: util.NewFrameworkID("f"), SlaveId: util.NewSlaveID("a1"), Hostname: proto.String("h")},
			{Id: util.NewOfferID("o2"), FrameworkId: util.NewFrameworkID("f"), SlaveId: util.NewSlaveID("a2"), Hostname: proto.String("h")},
		},
		Pids: []string{agent.UPID().String(), other.UPID().String()},
	})
	recvGot(t, ch)
	fm := func(agentID, data string) *mesos.ExecutorToFrameworkMessage {
		return &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID(agentID), FrameworkId: util.NewFrameworkID("f"),
			ExecutorId: util.NewExecutorID("e"), Data: []byte(data)}
	}
	sendAndWait(t, agent, s.UPID(), fm("a1", "before launch"))
	waitRefused(t, s, 4)
	p.sending(nil, &mesos.LaunchTasksMessage{Tasks: []*mesos.TaskInfo{{SlaveId: util.NewSlaveID("a1")}}})
	sendAndWait(t, agent, s.UPID(), fm("a1", "hello"))
	g = recvGot(t, ch)
	assert.Equal(t, agent.UPID().String(), g.from)
	assert.Equal(t, "hello", string(g.msg.(*mesos.ExecutorToFrameworkMessage).Data))
	sendAndWait(t, other, s.UPID(), fm("a2", "not launched there"))
	waitRefused(t, s, 5)
	sendAndWait(t, agent, s.UPID(), fm("a2", "claims another agent"))
	waitRefused(t, s, 6)
	// The master relays framework messages too.
	sendAndWait(t, master, s.UPID(), fm("a2", "relayed"))
	g = recvGot(t, ch)
	assert.Equal(t, "relayed", string(g.msg.(*mesos.ExecutorToFrameworkMessage).Data))
	assert.Equal(t, uint64(6), s.refusedCount())
}

func TestSchedulerMessengerTokensLargeFrameworkMessages(t *testing.T) {
	p := newSchedPolicy(nil)
	s := startMessenger(t, "scheduler(1)", p)
	ch := collect(t, s, &mesos.ExecutorToFrameworkMessage{})
	started(t, s)
	master := started(t, startMessenger(t, "master", openPolicy{}))
	p.routed(&mesos.InternalMasterChangeDetected{Master: masterInfo(master.UPID())})
	sched := &GoTaskScheduler{msgr: &jobMessenger{dm: s, policy: p}}

	big := strings.Repeat("x", 64<<10)
	for _, data := range []string{"small", big, frameworkToken + "1", frameworkToken + "999"} {
		sendAndWait(t, master, s.UPID(), &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
			ExecutorId: util.NewExecutorID("e"), Data: []byte(data)})
		g := recvGot(t, ch)
		seen := string(g.msg.(*mesos.ExecutorToFrameworkMessage).Data)
		if len(data) < tokenMinBytes && !strings.HasPrefix(data, frameworkToken) {
			assert.Equal(t, data, seen, "small messages pass as they are")
			continue
		}
		require.True(t, strings.HasPrefix(seen, frameworkToken), "the driver sees a token")
		assert.Less(t, len(seen), 64)
		back, ok := sched.frameworkData(seen)
		require.True(t, ok)
		assert.Equal(t, data, back, "the token gives the data back, even data that looks like a token")
		_, ok = sched.frameworkData(seen)
		assert.False(t, ok, "a token is taken once")
	}
	// A token the messenger never issued is unknown.
	_, ok := sched.frameworkData(frameworkToken + "12345")
	assert.False(t, ok)

	// Tokens the driver never took are freed when the messenger stops.
	sendAndWait(t, master, s.UPID(), &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
		ExecutorId: util.NewExecutorID("e"), Data: []byte(big)})
	recvGot(t, ch)
	require.NoError(t, s.Stop())
	p.tokens.mu.Lock()
	assert.Empty(t, p.tokens.data)
	p.tokens.mu.Unlock()
}

func TestExecutorMessengerTakesOnlyItsAgent(t *testing.T) {
	agent := started(t, startMessenger(t, "slave(1)", openPolicy{}))
	other := started(t, startMessenger(t, "slave(2)", openPolicy{}))
	e := startMessenger(t, "executor(1)", &execPolicy{agent: agent.UPID().String()})
	ch := collect(t, e, &mesos.FrameworkToExecutorMessage{}, &mesos.InternalNetworkError{})
	started(t, e)
	msg := &mesos.FrameworkToExecutorMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
		ExecutorId: util.NewExecutorID("e"), Data: []byte("from the agent")}
	sendAndWait(t, other, e.UPID(), msg)
	waitRefused(t, e, 1)
	sendAndWait(t, agent, e.UPID(), &mesos.InternalNetworkError{Pid: proto.String("x")})
	waitRefused(t, e, 2)
	sendAndWait(t, agent, e.UPID(), msg)
	g := recvGot(t, ch)
	assert.Equal(t, "from the agent", string(g.msg.(*mesos.FrameworkToExecutorMessage).Data))
	assert.Equal(t, uint64(2), e.refusedCount())
}

func TestMessengerSendToStoppedPeerFailsAndStopIsPrompt(t *testing.T) {
	a := started(t, startMessenger(t, "a", openPolicy{}))
	b := startMessenger(t, "b", openPolicy{})
	collect(t, b, &mesos.FrameworkErrorMessage{})
	started(t, b)
	to := b.UPID()
	require.NoError(t, b.Stop())
	done, err := a.sendWait(&to, &mesos.FrameworkErrorMessage{Message: proto.String("x")})
	require.NoError(t, err)
	select {
	case err := <-done:
		assert.Error(t, err, "a send to a stopped peer reports an error")
	case <-time.After(15 * time.Second):
		t.Fatal("send to a stopped peer did not end within 15s")
	}
	stopped := make(chan struct{})
	go func() {
		_ = a.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("Stop did not return within 15s")
	}
	_, err = a.sendWait(&to, &mesos.FrameworkErrorMessage{Message: proto.String("y")})
	assert.Error(t, err, "a stopped messenger refuses sends")
}

func TestPipeDialFallsBackWhenPidHostIsNotLocal(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	var wg sync.WaitGroup
	// 192.0.2.1 (TEST-NET-1) is no address of this host: a published address
	pc, err := libprocess.DialPipe(ln.Addr().String(), "192.0.2.1", &wg, "test")
	require.NoError(t, err)
	c := <-accepted
	pc.Fail()
	c.Close()
	wg.Wait()
}

func TestExecutorMessengerTokensLargeFrameworkMessages(t *testing.T) {
	agent := started(t, startMessenger(t, "slave(1)", openPolicy{}))
	tokens := newTokenTable()
	e := startMessenger(t, "executor(1)", &execPolicy{agent: agent.UPID().String(), tokens: tokens})
	ch := collect(t, e, &mesos.FrameworkToExecutorMessage{})
	started(t, e)
	big := strings.Repeat("y", 1<<20)
	for _, data := range []string{"small", big} {
		sendAndWait(t, agent, e.UPID(), &mesos.FrameworkToExecutorMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
			ExecutorId: util.NewExecutorID("e"), Data: []byte(data)})
		seen := string(recvGot(t, ch).msg.(*mesos.FrameworkToExecutorMessage).Data)
		assert.Equal(t, len(data) >= tokenMinBytes, strings.HasPrefix(seen, frameworkToken), "only large messages become tokens")
		back, ok := tokens.resolve(seen)
		require.True(t, ok)
		assert.Equal(t, data, back)
	}
	_, ok := tokens.resolve(frameworkToken + "77")
	assert.False(t, ok, "an unknown token is refused")
}

// An agent restarted on the same pid sends ReconnectExecutorMessage; the
// executor's answer must reach the new agent process, not the dead
// connection to the old one (Mesos' executor library re-links, MESOS-7057).
func TestExecutorMessengerRelinksToRestartedAgent(t *testing.T) {
	old := started(t, startMessenger(t, "slave(1)", openPolicy{}))
	oldGot := collect(t, old, &mesos.FrameworkErrorMessage{})
	pid := old.UPID()
	p := &execPolicy{agent: pid.String()}
	e := startMessenger(t, "executor(1)", p)
	p.relink = e.relink
	require.NoError(t, e.Install(func(from *upid.UPID, _ proto.Message) {
		// as mesos-go's executor driver answers a reconnect request
		_ = e.Send(context.Background(), from, &mesos.ReregisterExecutorMessage{ExecutorId: util.NewExecutorID("e"), FrameworkId: util.NewFrameworkID("f")})
	}, &mesos.ReconnectExecutorMessage{}))
	started(t, e)
	// The executor talks to the agent over a connection it keeps.
	require.NoError(t, e.Send(context.Background(), &pid, &mesos.FrameworkErrorMessage{Message: proto.String("hello")}))
	recvGot(t, oldGot)
	require.NoError(t, old.Stop())

	port, err := strconv.Atoi(pid.Port)
	require.NoError(t, err)
	restarted := newDriverMessenger("test", "slave(1)", net.IPv4(127, 0, 0, 1), uint16(port), "127.0.0.1", openPolicy{})
	newGot := collect(t, restarted, &mesos.ReregisterExecutorMessage{})
	started(t, restarted)
	require.Equal(t, pid, restarted.UPID())
	sendAndWait(t, restarted, e.UPID(), &mesos.ReconnectExecutorMessage{SlaveId: util.NewSlaveID("a")})
	g := recvGot(t, newGot)
	assert.Equal(t, e.UPID().String(), g.from)
}

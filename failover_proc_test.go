package mesosgot

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/proctest"
	"github.com/mesosgot/mesosgot/internal/zktest"
)

var (
	haBinOnce           sync.Once
	haMaster, haAgentPt string
)

// haBinaries builds mesos-master and mesos-agent once per test binary.
func haBinaries(t *testing.T) (master, agent string) {
	testExecutor(t) // makes testExecDir, removed by TestMain
	haBinOnce.Do(func() {
		haMaster = proctest.Build(t, testExecDir, "mesos-master", "./cmd/mesos-master")
		haAgentPt = proctest.Build(t, testExecDir, "mesos-agent", "./cmd/mesos-agent")
	})
	require.NotEmpty(t, haMaster, "building mesos-master and mesos-agent failed earlier")
	return haMaster, haAgentPt
}

// haCluster is a ZooKeeper server, masters and agents as processes.
type haCluster struct {
	t              *testing.T
	zkURL          string
	sessionTimeout string
	masters        []*proctest.Proc
	pids           []string // the masters' libprocess pids
}

// startHACluster starts ZooKeeper, nMasters mesos-master -zk processes (the
// first is elected before the next starts) and nAgents mesos-agent
// -master=zk:// processes, each with cpus:4 so that two 1.5-cpu tasks fill
// it.
func startHACluster(t *testing.T, nMasters, nAgents int, sessionTimeout string) *haCluster {
	_, agentBin := haBinaries(t)
	zs := zktest.Start(t)
	h := &haCluster{t: t, zkURL: zs.URL("/mesos"), sessionTimeout: sessionTimeout}
	for i := 0; i < nMasters; i++ {
		h.startMaster()
		if i == 0 {
			h.masters[0].WaitLine(`elected as the leading master`, 60*time.Second)
		}
	}
	for i := 0; i < nAgents; i++ {
		p := proctest.Start(t, agentBin, "-ip=127.0.0.1", "-port=0", "-master="+h.zkURL, "-work_dir="+filepath.Join(t.TempDir(), "agent"),
			"-resources=cpus:4;mem:4096", "-registration_backoff_factor=100ms", "-executor_shutdown_grace_period=1secs")
		reapExecutors(t, p)
		p.WaitLine(`registered with master `+regexp.QuoteMeta(h.pids[0]), 60*time.Second)
	}
	return h
}

// startMaster starts one more mesos-master -zk and waits until it has
// joined the ZooKeeper group; it returns its index.
func (h *haCluster) startMaster() int {
	masterBin, _ := haBinaries(h.t)
	p := proctest.Start(h.t, masterBin, "-ip=127.0.0.1", "-port=0", "-zk="+h.zkURL, "-zk_session_timeout="+h.sessionTimeout,
		"-agent_ping_timeout=1secs", "-max_agent_ping_timeouts=5")
	m := p.WaitLine(`listening on \S+ \(pid (\S+)\)`, 60*time.Second)
	p.WaitLine(`contending for leadership`, 60*time.Second)
	h.masters = append(h.masters, p)
	h.pids = append(h.pids, m[1])
	return len(h.masters) - 1
}

// kill9 kills master i as a crash would.
func (h *haCluster) kill9(i int) {
	require.NoError(h.t, syscall.Kill(h.masters[i].Pid(), syscall.SIGKILL))
}

// haRounds is the number of messages each task exchanges: def, or
// MESOSGOT_HA_ROUNDS.
func haRounds(t *testing.T, def int) int {
	if v := os.Getenv("MESOSGOT_HA_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "MESOSGOT_HA_ROUNDS")
		return n
	}
	return def
}

// haSessionTimeout is the masters' ZooKeeper session timeout: 2secs, or
// MESOSGOT_HA_ZK_SESSION_TIMEOUT (Mesos' default is 10secs).
func haSessionTimeout() string {
	if v := os.Getenv("MESOSGOT_HA_ZK_SESSION_TIMEOUT"); v != "" {
		return v
	}
	return "2secs"
}

// haTasks are the job's four seq tasks (two per agent).
var haTasks = []string{"seq-0", "seq-1", "seq-2", "seq-3"}

// haJob is a ping-pong job over the cluster run by the test: the exchange
// runs in the app scheduler, the test goroutine injects the faults.
type haJob struct {
	x     *haExchange
	s     *GoTaskScheduler
	done  chan struct{} // closed when Run returned
	err   error         // Run's error, set before done closes
	took  time.Duration
	start time.Time
}

// startHAJob starts the job of x over h in the background. It is stopped
// (its exchange aborted) and waited for when the test ends, before the
// cluster goes.
func startHAJob(t *testing.T, h *haCluster, x *haExchange) *haJob {
	conf := localConf(t, h.zkURL)
	conf.MasterLostTimeout = 60 * time.Second
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("seq", len(x.tasks), map[string]float64{"cpus": 1.5, "mem": 64})
	s.RegisterSchedFunc(x.run)
	j := &haJob{x: x, s: s, done: make(chan struct{}), start: time.Now()}
	go func() {
		j.err = s.Run()
		j.took = time.Since(j.start)
		close(j.done)
	}()
	t.Cleanup(func() {
		x.stop()
		select {
		case <-j.done:
		case <-time.After(2 * time.Minute):
			t.Errorf("the job did not end within 2m of the test's end")
		}
	})
	return j
}

// await waits for ch, failing the test if the job ends first or after
// timeout; what says what was awaited.
func (j *haJob) await(t *testing.T, ch <-chan struct{}, timeout time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-j.done:
		t.Fatalf("the job ended (%v; exchange: %v) before %s", j.err, j.x.err(), what)
	case <-time.After(timeout):
		t.Fatalf("no %s within %v (exchange: %v)", what, timeout, j.x.progress())
	}
}

// wait waits for the job's end and checks that it succeeded, every message
// echoed once and in order.
func (j *haJob) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-j.done:
	case <-time.After(timeout):
		t.Fatalf("the job did not end within %v (exchange: %v)", timeout, j.x.progress())
	}
	t.Logf("%d tasks x %d messages (window %d per task) in %v", len(j.x.tasks), j.x.n, j.x.window, j.took.Round(time.Millisecond))
	require.NoError(t, j.err)
	require.NoError(t, j.x.err())
}

// haLinkStats sums the scheduler side's link counters of an ended job.
func haLinkStats(t *testing.T, j *haJob) (sent, retx, timeouts uint64) {
	<-j.done
	for _, c := range j.s.job.conns {
		st := c.link.Stats()
		sent, retx, timeouts = sent+st.RecordsSent, retx+st.Retransmits, timeouts+st.Timeouts
	}
	t.Logf("scheduler links: %d records sent, %d retransmitted, %d retransmission timeouts", sent, retx, timeouts)
	return sent, retx, timeouts
}

// electedAt returns when master p logged its election (its log lines start
// with the wall clock time, HH:MM:SS.mmm, of this same machine), or zero.
func electedAt(t *testing.T, p *proctest.Proc, near time.Time) time.Time {
	m := regexp.MustCompile(`(?m)^(\d\d:\d\d:\d\d\.\d\d\d) .*elected as the leading master`).FindStringSubmatch(p.Output())
	if m == nil {
		return time.Time{}
	}
	return clockAt(t, m[1], near)
}

// clockAt is the moment of the wall clock reading hms (HH:MM:SS.mmm) of
// the day of near (the day before if that puts it far after near).
func clockAt(t *testing.T, hms string, near time.Time) time.Time {
	c, err := time.ParseInLocation("15:04:05.000", hms, time.Local)
	require.NoError(t, err)
	y, mo, d := near.Date()
	at := time.Date(y, mo, d, c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), time.Local)
	if at.Sub(near) > 12*time.Hour {
		at = at.AddDate(0, 0, -1)
	}
	return at
}

// reregisteredAgents counts the agents that master p says re-registered
// (an agent may re-register more than once: it repeats its message until
// the master answers).
func reregisteredAgents(p *proctest.Proc) int {
	rereg := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d\d\d agent (\S+) re-registered from slave`) // the master's own log lines
	ids := map[string]bool{}
	for _, m := range rereg.FindAllStringSubmatch(p.Output(), -1) {
		ids[m[1]] = true
	}
	return len(ids)
}

// killLeader kills master i as failover f of x: the kill is noted by the
// exchange at once (the pings then in flight are counted).
func (h *haCluster) killLeader(x *haExchange, f, i int) {
	x.markKill(f)
	h.kill9(i)
}

// Two masters and two agents as processes, a ping-pong job over
// -master=zk://... (4 tasks, 2 per agent, 100,000 messages each, up to
// haWindow unanswered per task): kill -9 the leading master mid-exchange.
// The standby is elected once the dead master's ZooKeeper session expires,
// the agents and the framework re-register with it, and the job completes
// with every message once and in order (the seq tasks fail on a gap,
// repeat or reorder, and so does the exchange). The test logs the failover
// times and the retransmissions.
func TestProcessesSurviveLeadingMasterKill(t *testing.T) {
	h := startHACluster(t, 2, 2, haSessionTimeout())
	// the last 5% wait for the re-registration, however long the
	// session timeout: the failover always happens mid-exchange
	x := newHAExchange(haTasks, haRounds(t, 100000), haWindow, 1, []haHold{{Signal: 1.0 / 3, Stall: 0.5}, {Signal: 0.95, Stall: 0.95}})
	j := startHAJob(t, h, x)
	j.await(t, x.reached[0], 5*time.Minute, "a third of the echoes")
	h.killLeader(x, 0, 0)
	close(x.resume[0])
	j.await(t, x.reregistered[0], 2*time.Minute, "re-registration with the standby")
	close(x.resume[1])
	j.wait(t, 10*time.Minute)

	f := x.failover(0)
	f.elected = electedAt(t, h.masters[1], f.kill)
	t.Logf("failover (ZooKeeper session timeout %s): %v", h.sessionTimeout, f)
	haLinkStats(t, j)
	assert.False(t, f.elected.IsZero(), "the standby never said it was elected:\n%s", h.masters[1].Output())
	assert.Equal(t, 1, x.evs.count(Disconnected))
	assert.Equal(t, 1, x.evs.count(Reregistered))
	assert.Equal(t, 2, reregisteredAgents(h.masters[1]), "both agents re-register with the new leader:\n%s", h.masters[1].Output())
}

// The standby dying changes nothing for the job: no Disconnected, no
// Reregistered, every message once and in order.
func TestProcessesIgnoreStandbyMasterKill(t *testing.T) {
	h := startHACluster(t, 2, 2, "2secs")
	x := newHAExchange(haTasks, haRounds(t, 100000), haWindow, 0, []haHold{{Signal: 0.5, Stall: 0.9}})
	j := startHAJob(t, h, x)
	j.await(t, x.reached[0], 5*time.Minute, "half of the echoes")
	h.kill9(1)
	killed := time.Now()
	close(x.resume[0])
	j.wait(t, 10*time.Minute)
	gap, end := x.longestPause()
	t.Logf("standby killed: longest pause between echoes %v (ending %v after the kill)", gap.Round(time.Millisecond), end.Sub(killed).Round(time.Millisecond))
	haLinkStats(t, j)
	assert.Zero(t, x.evs.count(Disconnected))
	assert.Zero(t, x.evs.count(Reregistered))
	assert.NotContains(t, h.masters[0].Output(), "re-registered", "the agents stay with the leader")
}

// After a failover the killed master is started again and joins as a
// standby; then the new leader is killed too, and the restarted master is
// elected. One job rides through both failovers: two Disconnected /
// Reregistered pairs, every message once and in order.
func TestProcessesSurviveTwoFailoversWithRestartedMaster(t *testing.T) {
	h := startHACluster(t, 2, 2, haSessionTimeout())
	// each kill lands mid-exchange, and the exchange waits where it must
	// for the re-registrations and the restart, however long they take
	x := newHAExchange(haTasks, haRounds(t, 100000), haWindow, 2, []haHold{
		{Signal: 0.2, Stall: 0.3},   // first kill
		{Signal: 0.3, Stall: 0.45},  // re-registered, killed master restarted
		{Signal: 0.5, Stall: 0.6},   // second kill
		{Signal: 0.95, Stall: 0.95}, // re-registered again
	})
	j := startHAJob(t, h, x)
	j.await(t, x.reached[0], 5*time.Minute, "a fifth of the echoes")
	h.killLeader(x, 0, 0)
	close(x.resume[0])

	j.await(t, x.reregistered[0], 2*time.Minute, "re-registration with the standby")
	restarted := h.startMaster() // joins as a standby: masters[1] leads
	close(x.resume[1])
	j.await(t, x.reached[2], 5*time.Minute, "half of the echoes")
	require.NotContains(t, h.masters[restarted].Output(), "elected as the leading master", "the restarted master must not lead while the other one lives")
	h.killLeader(x, 1, 1)
	close(x.resume[2])
	j.await(t, x.reregistered[1], 2*time.Minute, "re-registration with the restarted master")
	close(x.resume[3])
	j.wait(t, 10*time.Minute)

	for i, leader := range []int{1, restarted} {
		f := x.failover(i)
		f.elected = electedAt(t, h.masters[leader], f.kill)
		t.Logf("failover %d (ZooKeeper session timeout %s): %v", i+1, h.sessionTimeout, f)
		assert.False(t, f.elected.IsZero(), "master %d was never elected:\n%s", leader, h.masters[leader].Output())
		assert.Equal(t, 2, reregisteredAgents(h.masters[leader]), "both agents re-register with master %d:\n%s", leader, h.masters[leader].Output())
	}
	haLinkStats(t, j)
	assert.Equal(t, 2, x.evs.count(Disconnected))
	assert.Equal(t, 2, x.evs.count(Reregistered))
}

// String is the one-line form of a failover's figures.
func (f haFailover) String() string {
	since := func(at time.Time) string {
		if at.IsZero() {
			return "never"
		}
		return at.Sub(f.kill).Round(time.Millisecond).String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kill -9 -> new leader elected %s -> Disconnected %s -> Reregistered %s -> first echo of a ping sent after Reregistered %s",
		since(f.elected), since(f.disconnected), since(f.reregistered), since(f.afterRereg))
	fmt.Fprintf(&b, "; first echo of a ping sent after the kill %s; %d pings in flight at the kill; %d echoes between the kill and Reregistered",
		since(f.afterKill), f.inFlight, f.echoesBeforeRereg)
	fmt.Fprintf(&b, "; longest pause between echoes after the kill %v (ending %s)", f.pause.Round(time.Millisecond), since(f.pauseEnd))
	return b.String()
}

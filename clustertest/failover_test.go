package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/netns"
	"github.com/mesosgot/mesosgot/internal/zktest"
)

// zkPort is the ZooKeeper client port on its own host.
const zkPort = 2181

// haSessionTimeout is the masters' ZooKeeper session timeout: 2secs, or
// MESOSGOT_HA_ZK_SESSION_TIMEOUT (Mesos' default is 10secs).
func haSessionTimeout() string {
	if v := os.Getenv("MESOSGOT_HA_ZK_SESSION_TIMEOUT"); v != "" {
		return v
	}
	return "2secs"
}

// haMessages is the messages per worker of the failover job: 200,000 (the
// exchange must outlast the failover: about 140,000 pongs a second flow
// between these hosts on a 2-core machine, and the data keeps flowing while
// the master is away), or MESOSGOT_HA_ROUNDS (raise it with
// MESOSGOT_HA_ZK_SESSION_TIMEOUT).
func haMessages(t *testing.T) int {
	if v := os.Getenv("MESOSGOT_HA_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "MESOSGOT_HA_ROUNDS")
		return n
	}
	return 200000
}

// haHosts is ZooKeeper, two masters, two agents and the scheduler, each on
// a host of its own.
type haHosts struct {
	t       *testing.T
	bin     string
	net     *netns.Net
	zk      *zktest.Server
	zkURL   string
	masters []*netns.Host
	agents  []*netns.Host
	sched   *netns.Host

	masterProcs []*netns.Proc
	agentProcs  []*netns.Proc
	schedTmp    string
}

// startHAHosts starts ZooKeeper on its host, the first master (and waits
// until it leads), the second (a standby), and two agents following the
// leader through ZooKeeper.
func startHAHosts(t *testing.T) *haHosts {
	t.Helper()
	requireNetns(t)
	bin := binaries(t)
	for _, b := range []string{"mesos-master", "mesos-agent"} {
		if !has(bin, b) {
			t.Skipf("!!! cmd/%s does not exist in this tree: the failover test across hosts NOT run", b)
		}
	}
	c := &haHosts{t: t, bin: bin, schedTmp: t.TempDir()}
	c.net = netns.New(t, subnet, "zk", "master1", "master2", "agent1", "agent2", "sched")
	c.masters = []*netns.Host{c.net.Host("master1"), c.net.Host("master2")}
	c.agents = []*netns.Host{c.net.Host("agent1"), c.net.Host("agent2")}
	c.sched = c.net.Host("sched")
	zkh := c.net.Host("zk")
	c.zk = zktest.StartWith(t, zktest.Options{IP: zkh.IP.String(), Port: zkPort,
		Wrap: []string{"ip", "netns", "exec", zkh.NS}, Dial: dialFrom(zkh)})
	c.zkURL = c.zk.URL("/mesos")

	secret := filepath.Join(t.TempDir(), "cluster-secret")
	require.NoError(t, os.WriteFile(secret, []byte("clustertest-secret\n"), 0o600))
	for i, h := range c.masters {
		p, err := h.Start(nil, bin+"/mesos-master",
			"-ip", h.IP.String(), "-port", "5050", "-work_dir", t.TempDir(), "-cluster_secret_file", secret,
			"-zk", c.zkURL, "-zk_session_timeout", haSessionTimeout(),
			"-agent_ping_timeout", pingTimeout.String(), "-max_agent_ping_timeouts", fmt.Sprint(maxPings))
		require.NoError(t, err)
		c.masterProcs = append(c.masterProcs, p)
		want := `contending for leadership`
		if i == 0 {
			want = `elected as the leading master`
		}
		_, err = p.WaitFor(regexp.MustCompile(want), time.Minute)
		require.NoError(t, err, p.Output())
	}
	for _, h := range c.agents {
		p, err := h.Start(nil, bin+"/mesos-agent",
			"-ip", h.IP.String(), "-port", "5051", "-master", c.zkURL, "-registration_backoff_factor", "100ms",
			"-work_dir", t.TempDir(), "-resources", agentResources, "-cluster_secret_file", secret)
		require.NoError(t, err)
		c.agentProcs = append(c.agentProcs, p)
		_, err = p.WaitFor(regexp.MustCompile(`registered with master `+regexp.QuoteMeta(c.masterPID(0))), time.Minute)
		require.NoError(t, err, p.Output())
	}
	return c
}

// masterPID is master i's libprocess pid.
func (c *haHosts) masterPID(i int) string { return "master@" + c.masters[i].IP.String() + ":5050" }

// kill9 kills every process on master i's host (only its mesos-master
// runs there) as a crash would.
func (c *haHosts) kill9(i int) {
	c.t.Helper()
	out, err := exec.Command("ip", "netns", "pids", c.masters[i].NS).Output()
	require.NoError(c.t, err, "ip netns pids %s", c.masters[i].NS)
	pids := strings.Fields(string(out))
	require.NotEmpty(c.t, pids, "no process on %s", c.masters[i].Name)
	for _, s := range pids {
		pid, err := strconv.Atoi(s)
		require.NoError(c.t, err)
		require.NoError(c.t, syscall.Kill(pid, syscall.SIGKILL))
	}
}

// dump is the processes' output, for a failure message.
func (c *haHosts) dump(sched *netns.Proc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scheduler:\n%s\n", tail(sched.Output(), 25))
	for i, p := range c.masterProcs {
		fmt.Fprintf(&b, "master%d:\n%s\n", i+1, tail(p.Output(), 25))
	}
	for i, p := range c.agentProcs {
		fmt.Fprintf(&b, "agent%d:\n%s\n", i+1, tail(p.Output(), 15))
	}
	b.WriteString(glogTail(c.schedTmp, 40))
	return b.String()
}

// firstMatches polls p's output until every pattern has matched or p
// exits or timeout passes, and returns when each first matched (zero if
// never); the times are as precise as the polling (10ms).
func firstMatches(p *netns.Proc, timeout time.Duration, res ...*regexp.Regexp) []time.Time {
	at := make([]time.Time, len(res))
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for exited := false; ; {
		out, now, left := p.Output(), time.Now(), 0
		for i, re := range res {
			if at[i].IsZero() {
				if re.MatchString(out) {
					at[i] = now
				} else {
					left++
				}
			}
		}
		if left == 0 || exited || now.After(deadline) {
			return at
		}
		select {
		case <-p.Done():
			exited = true // one more look at the output
		case <-tick.C:
		}
	}
}

// loggedAt is when a master logged the line matching re (its lines start
// with the wall clock time HH:MM:SS.mmm; the hosts share the machine's
// clock), or zero.
func loggedAt(out string, re string, near time.Time) time.Time {
	m := regexp.MustCompile(`(?m)^(\d\d:\d\d:\d\d\.\d\d\d) ` + re).FindStringSubmatch(out)
	if m == nil {
		return time.Time{}
	}
	c, err := time.ParseInLocation("15:04:05.000", m[1], time.Local)
	if err != nil {
		return time.Time{}
	}
	y, mo, d := near.Date()
	at := time.Date(y, mo, d, c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), time.Local)
	if at.Sub(near) > 12*time.Hour {
		at = at.AddDate(0, 0, -1)
	}
	return at
}

// TestFailoverAcrossHosts runs ZooKeeper, two masters, two agents and the
// scheduler each on a host (network namespace) of its own; the scheduler
// gets only -master=zk://<ZooKeeper's host>:2181/mesos and -executor. The
// pingpong job (4 workers x 200,000 messages) runs; mid-exchange the
// leading master is killed with -9; the standby is elected, the agents and
// the framework re-register with it across the hosts' network, and the
// job completes with every message once and in order. Every address used
// is a host's own (none is 127.0.0.1), and the failover times are logged.
func TestFailoverAcrossHosts(t *testing.T) {
	c := startHAHosts(t)
	msgs := haMessages(t)
	p, err := c.sched.Start([]string{"TMPDIR=" + c.schedTmp}, c.bin+"/pingpong-scheduler",
		"-master="+c.zkURL, "-executor="+c.bin+"/pingpong-executor", "-workers", "4", "-messages", fmt.Sprint(msgs))
	require.NoError(t, err)

	// mid-exchange: every worker runs and a tenth of the pongs are back
	_, err = p.WaitFor(regexp.MustCompile(`pingpong: \d+/\d+ pongs`), 3*time.Minute)
	require.NoError(t, err, c.dump(p))
	cons, err := c.zk.Command("cons")
	require.NoError(t, err)
	for _, h := range []*netns.Host{c.masters[0], c.masters[1], c.agents[0], c.agents[1], c.sched} {
		assert.Contains(t, cons, "/"+h.IP.String()+":", "%s holds a ZooKeeper session from its own address:\n%s", h.Name, cons)
	}
	assert.NotContains(t, cons, "/127.0.0.1:", "no ZooKeeper session over loopback:\n%s", cons)

	kill := time.Now()
	c.kill9(0)
	at := firstMatches(p, 3*time.Minute,
		regexp.MustCompile(`pingpong: Disconnected\b`), regexp.MustCompile(`pingpong: Reregistered\b`))
	err = p.Wait(5 * time.Minute)
	took := time.Since(kill)
	require.NoError(t, err, c.dump(p))
	out := p.Output()
	assert.Contains(t, out, fmt.Sprintf("%d pongs received in order, 0 errors", 4*msgs))
	require.False(t, at[1].IsZero(), "the scheduler never said Reregistered (did the exchange end before the failover?):\n%s", c.dump(p))
	assert.Equal(t, 1, strings.Count(out, "pingpong: Disconnected"), out)
	assert.Equal(t, 1, strings.Count(out, "pingpong: Reregistered"), out)

	standby := c.masterProcs[1].Output()
	elected := loggedAt(standby, `master \S+ elected as the leading master`, kill)
	fwRereg := loggedAt(standby, `framework \S+ \(\S+\) re-registered from scheduler`, kill)
	assert.False(t, elected.IsZero(), "the standby never said it was elected:\n%s", standby)
	for _, h := range c.agents {
		assert.Contains(t, standby, "re-registered from slave(1)@"+h.IP.String()+":5051", "agent %s re-registers from its own address", h.Name)
	}
	assert.Contains(t, standby, "re-registered from scheduler(1)@"+c.sched.IP.String()+":", "the framework re-registers from its host's address")
	assert.Contains(t, c.masterProcs[0].Output(), "registered from scheduler(1)@"+c.sched.IP.String()+":")
	for i, mp := range c.masterProcs {
		assert.NotContains(t, mp.Output(), "127.0.0.1", "master%d saw only the hosts' addresses", i+1)
	}
	retx := "?"
	if m := regexp.MustCompile(`job finished after .*\| retransmits (\d+)`).FindStringSubmatch(out); m != nil {
		retx = m[1]
	}
	since := func(x time.Time) string {
		if x.IsZero() {
			return "never"
		}
		return x.Sub(kill).Round(time.Millisecond).String()
	}
	t.Logf("figure: failover across hosts (ZooKeeper session timeout %s): kill -9 -> new leader elected %s -> framework re-registered (master's log) %s; scheduler saw Disconnected %s, Reregistered %s (±10ms); job ended %s after the kill; %s retransmissions (scheduler links)",
		haSessionTimeout(), since(elected), since(fwRereg), since(at[0]), since(at[1]), took.Round(time.Millisecond), retx)
}

package clustertest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/netns"
)

// The test master's agent health check: an agent is removed after
// maxPings missed pings of pingTimeout each (Mesos' defaults are 15s x 5).
const (
	pingTimeout = 3 * time.Second
	maxPings    = 3
)

// agentResources holds one executor (cpus 0.1, mem 32) and two tasks of
// cpus 0.1, mem 16 but not three, so a job of four tasks needs both agents.
const agentResources = "cpus:0.35;mem:256;disk:1000;ports:[31000-32000]"

// cluster is the four hosts: a master, two agents and the scheduler's.
type cluster struct {
	t      *testing.T
	bin    string
	net    *netns.Net
	master *netns.Host
	agents []*netns.Host
	sched  *netns.Host

	masterProc *netns.Proc
	agentProcs []*netns.Proc
	agentWork  []string
	schedTmp   string
}

// startCluster runs mesos-master and two mesos-agents, each on a host of its
// own, with Mesos' flag names.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	requireNetns(t)
	bin := binaries(t)
	for _, b := range []string{"mesos-master", "mesos-agent"} {
		if !has(bin, b) {
			t.Skipf("!!! cmd/%s does not exist in this tree: the four-host test (master, two agents, scheduler) NOT run", b)
		}
	}
	c := &cluster{t: t, bin: bin, schedTmp: t.TempDir()}
	masterWork := t.TempDir()
	c.agentWork = []string{t.TempDir(), t.TempDir()}
	c.net = netns.New(t, subnet, "master", "agent1", "agent2", "sched")
	c.master, c.sched = c.net.Host("master"), c.net.Host("sched")
	c.agents = []*netns.Host{c.net.Host("agent1"), c.net.Host("agent2")}

	// agents prove they belong to the cluster with a shared secret
	secret := filepath.Join(t.TempDir(), "cluster-secret")
	require.NoError(t, os.WriteFile(secret, []byte("clustertest-secret\n"), 0o600))

	var err error
	c.masterProc, err = c.master.Start(nil, bin+"/mesos-master",
		"-ip", c.master.IP.String(), "-port", "5050", "-work_dir", masterWork, "-cluster_secret_file", secret,
		"-agent_ping_timeout", pingTimeout.String(), "-max_agent_ping_timeouts", fmt.Sprint(maxPings))
	require.NoError(t, err)
	c.waitListening(c.master.IP.String()+":5050", c.masterProc)
	for i, h := range c.agents {
		p, err := h.Start(nil, bin+"/mesos-agent",
			"-ip", h.IP.String(), "-port", "5051", "-master", c.master.IP.String()+":5050",
			"-work_dir", c.agentWork[i], "-resources", agentResources, "-cluster_secret_file", secret)
		require.NoError(t, err)
		c.agentProcs = append(c.agentProcs, p)
		c.waitListening(h.IP.String()+":5051", p)
	}
	return c
}

// waitListening waits until addr accepts TCP connections from the
// scheduler's host (a helper process there dials it).
func (c *cluster) waitListening(addr string, p *netns.Proc) {
	c.t.Helper()
	self, err := os.Executable()
	require.NoError(c.t, err)
	d, err := c.sched.Start([]string{helperEnv + "=dial-until:" + addr}, self)
	require.NoError(c.t, err)
	require.NoError(c.t, d.Wait(time.Minute), "%s on %s never listened:\n%s\nits output:\n%s", addr, p.Name, d.Output(), tail(p.Output(), 30))
}

// runScheduler starts an example scheduler on the scheduler's host with
// only -master and -executor (plus the example's own flags).
func (c *cluster) runScheduler(example string, args ...string) *netns.Proc {
	c.t.Helper()
	args = append([]string{
		"-master=" + c.master.IP.String() + ":5050",
		"-executor=" + c.bin + "/" + example + "-executor",
	}, args...)
	p, err := c.sched.Start([]string{"TMPDIR=" + c.schedTmp}, c.bin+"/"+example+"-scheduler", args...)
	require.NoError(c.t, err)
	return p
}

// dump is the processes' output, for a failure message.
func (c *cluster) dump(sched *netns.Proc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scheduler:\n%s\n", tail(sched.Output(), 25))
	fmt.Fprintf(&b, "master:\n%s\n", tail(c.masterProc.Output(), 25))
	for i, p := range c.agentProcs {
		fmt.Fprintf(&b, "agent%d:\n%s\n", i+1, tail(p.Output(), 15))
	}
	b.WriteString(glogTail(c.schedTmp, 30))
	return b.String()
}

// agentIDs returns the IDs the agent on host i ran executors under (the
// sandbox tree is work_dir/slaves/<agent ID>/..., as in Mesos).
func (c *cluster) agentIDs(i int) []string {
	dirs, _ := filepath.Glob(filepath.Join(c.agentWork[i], "slaves", "*"))
	var ids []string
	for _, d := range dirs {
		ids = append(ids, filepath.Base(d))
	}
	return ids
}

// TestFourHosts runs pingpong (4 workers x 5,000 messages) and the elevator
// with the master, two agents and the scheduler each on a host of its own,
// the scheduler given only -master and -executor; then it cuts one agent's
// link in the middle of a job, which must fail once the master's ping
// timeout removes the agent, naming a task that ran there.
func TestFourHosts(t *testing.T) {
	c := startCluster(t)

	t.Run("pingpong", func(t *testing.T) {
		t0 := time.Now()
		p := c.runScheduler("pingpong", "-workers", "4", "-messages", "5000")
		err := p.Wait(3 * time.Minute)
		took := since(t0)
		require.NoError(t, err, c.dump(p))
		out := p.Output()
		assert.Contains(t, out, "20000 pongs received in order, 0 errors")
		assert.Len(t, agentsUsed(out), 2, "the job spans both agents:\n%s", out)
		assert.Contains(t, c.masterProc.Output(), "registered from scheduler(1)@"+c.sched.IP.String()+":", "the scheduler advertised its own host's address")
		t.Logf("figure: pingpong 4x5000 on four hosts (master, 2 agents, scheduler): job %s", took)
	})

	t.Run("elevator", func(t *testing.T) {
		t0 := time.Now()
		p := c.runScheduler("elevator", "-requests", "200")
		err := p.Wait(3 * time.Minute)
		took := since(t0)
		require.NoError(t, err, c.dump(p))
		assert.Contains(t, p.Output(), "200/200 requests served")
		assert.Contains(t, p.Output(), "0 anomalies")
		t.Logf("figure: elevator (4 elevators, 200 requests) on four hosts: job %s", took)
	})

	t.Run("agent link cut mid-job", func(t *testing.T) {
		// long enough (about 30 s) to be cut at a tenth
		p := c.runScheduler("pingpong", "-workers", "4", "-messages", "300000")
		// mid-job: every task runs and a tenth of the pongs are back
		_, err := p.WaitFor(regexp.MustCompile(`pingpong: \d+/\d+ pongs`), 2*time.Minute)
		require.NoError(t, err, c.dump(p))
		used := agentsUsed(p.Output())
		require.Len(t, used, 2, "the job spans both agents")

		lost := c.agents[1]
		lostIDs := c.agentIDs(1)
		require.Len(t, lostIDs, 1, "agent2 ran one executor, under one agent ID")
		lostTasks := used[lostIDs[0]]
		require.NotEmpty(t, lostTasks, "tasks ran on agent2 (%s): %v", lostIDs[0], used)

		cut := time.Now()
		require.NoError(t, c.net.Cut(lost))
		seen, err := p.WaitFor(regexp.MustCompile(`pingpong: (SlaveLost|TaskLost|TaskFailed|Error)\b.*`), time.Minute)
		detected := time.Since(cut)
		require.NoError(t, err, c.dump(p))
		err = p.Wait(2 * time.Minute)
		ended := time.Since(cut)
		require.Error(t, err, "the job fails")
		out := p.Output()
		m := regexp.MustCompile(`job failed: (.*)`).FindStringSubmatch(out)
		require.NotNil(t, m, "the scheduler says why the job failed:\n%s", c.dump(p))
		named := false
		for _, task := range lostTasks {
			named = named || strings.Contains(m[1], task+":") || strings.Contains(m[1], task+" ")
		}
		assert.True(t, named, "the error %q names a task of the lost agent %s (%v)", m[1], lostIDs[0], lostTasks)
		// Mesos removes an agent after maxPings missed pings; allow for one
		// ping period of phase and the job's shutdown.
		removal := pingTimeout * (maxPings + 1)
		assert.Less(t, detected, removal+10*time.Second, "the loss is seen within the master's ping timeout (%v x %d)", pingTimeout, maxPings)
		t.Logf("figure: agent link cut: first loss event after %s (%q), job ended after %s, with %q; ping timeout %v x %d",
			detected.Round(time.Millisecond), seen[0], ended.Round(time.Millisecond), m[1], pingTimeout, maxPings)
	})
}

// agentsUsed maps agent IDs to the tasks the scheduler saw running there,
// from the example's "TaskRunning <task> on agent <id>" lines.
func agentsUsed(out string) map[string][]string {
	used := map[string][]string{}
	for _, m := range regexp.MustCompile(`TaskRunning\s+(\S+) on agent (\S+)`).FindAllStringSubmatch(out, -1) {
		used[m[2]] = append(used[m[2]], m[1])
	}
	return used
}

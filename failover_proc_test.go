package mesosgot

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	t       *testing.T
	zkURL   string
	masters []*proctest.Proc
	pids    []string // the masters' libprocess pids
}

// startHACluster starts ZooKeeper, nMasters mesos-master -zk processes (the
// first is elected before the next starts) and nAgents mesos-agent
// -master=zk:// processes, each with cpus:4 so that two 1.5-cpu tasks fill
// it.
func startHACluster(t *testing.T, nMasters, nAgents int, sessionTimeout string) *haCluster {
	masterBin, agentBin := haBinaries(t)
	zs := zktest.Start(t)
	h := &haCluster{t: t, zkURL: zs.URL("/mesos")}
	for i := 0; i < nMasters; i++ {
		p := proctest.Start(t, masterBin, "-ip=127.0.0.1", "-port=0", "-zk="+h.zkURL, "-zk_session_timeout="+sessionTimeout,
			"-agent_ping_timeout=1secs", "-max_agent_ping_timeouts=5")
		m := p.WaitLine(`listening on \S+ \(pid (\S+)\)`, 60*time.Second)
		h.masters = append(h.masters, p)
		h.pids = append(h.pids, m[1])
		if i == 0 {
			p.WaitLine(`elected as the leading master`, 60*time.Second)
		}
	}
	for i := 0; i < nAgents; i++ {
		p := proctest.Start(t, agentBin, "-ip=127.0.0.1", "-port=0", "-master="+h.zkURL, "-work_dir="+filepath.Join(t.TempDir(), "agent"),
			"-resources=cpus:4;mem:4096", "-registration_backoff_factor=100ms", "-executor_shutdown_grace_period=1secs")
		p.WaitLine(`registered with master `+regexp.QuoteMeta(h.pids[0]), 60*time.Second)
	}
	return h
}

// kill9 kills master i as a crash would.
func (h *haCluster) kill9(i int) {
	require.NoError(h.t, syscall.Kill(h.masters[i].Pid(), syscall.SIGKILL))
}

// haRounds is the number of ping-pong rounds: def, or MESOSGOT_HA_ROUNDS
// (for measuring longer runs by hand).
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

// pingpong runs a job of four seq tasks (two per agent) over the cluster
// for rounds rounds, each round one message to every task and its echo;
// at round at it calls fault. It returns the job's error, an app-side
// error and the failover times.
func pingpong(t *testing.T, h *haCluster, rounds, at int, fault func()) (error, error, *failoverTimes, *events) {
	conf := localConf(t, h.zkURL)
	conf.MasterLostTimeout = 60 * time.Second
	s := NewGoTaskScheduler("", conf, nil)
	names := []string{"seq-0", "seq-1", "seq-2", "seq-3"}
	s.SpawnTask("seq", len(names), map[string]float64{"cpus": 1.5, "mem": 64})
	times := &failoverTimes{}
	evs := &events{}
	var appErr error
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(len(names), evs, schedevent) {
			appErr = fmt.Errorf("tasks not running")
			return
		}
		for i := 0; i < rounds; i++ {
			if i == at {
				times.set(&times.kill)
				fault()
			}
			for _, name := range names {
				schedout <- GoTaskMsg{TaskName: name, MessageData: strconv.Itoa(i)}
			}
			for got := 0; got < len(names); {
				select {
				case m := <-schedin:
					if m.MessageData != strconv.Itoa(i) {
						appErr = fmt.Errorf("round %d: %s echoed %q", i, m.TaskName, m.MessageData)
						return
					}
					got++
					if i >= at {
						times.delivered()
					}
				case ev := <-schedevent:
					evs.add(ev)
					switch ev.EventType {
					case Disconnected:
						times.set(&times.disconnected)
					case Reregistered:
						times.set(&times.reregistered)
					}
				}
			}
		}
	})
	start := time.Now()
	err := s.Run()
	t.Logf("%d rounds x %d tasks in %v", rounds, len(names), time.Since(start).Round(time.Millisecond))
	if err == nil {
		logRetransmits(t, s)
	}
	return err, appErr, times, evs
}

// electedAt returns when master p logged its election (its log lines start
// with the wall clock time, HH:MM:SS.mmm, of this same machine).
func electedAt(t *testing.T, p *proctest.Proc, kill time.Time) time.Time {
	m := regexp.MustCompile(`(?m)^(\d\d:\d\d:\d\d\.\d\d\d) .*elected as the leading master`).FindStringSubmatch(p.Output())
	if m == nil {
		return time.Time{}
	}
	hms, err := time.ParseInLocation("15:04:05.000", m[1], time.Local)
	require.NoError(t, err)
	y, mo, d := kill.Date()
	return time.Date(y, mo, d, hms.Hour(), hms.Minute(), hms.Second(), hms.Nanosecond(), time.Local)
}

// Two masters and two agents as processes, a ping-pong job over
// -master=zk://... (4 tasks, 2 per agent): kill -9 the leading master
// mid-exchange. The standby is
// elected once the dead master's ZooKeeper session expires, the agents and
// the framework re-register with it, and the job completes with every
// message once and in order (the seq tasks fail on a gap, repeat or
// reorder).
func TestProcessesSurviveLeadingMasterKill(t *testing.T) {
	h := startHACluster(t, 2, 2, haSessionTimeout())
	rounds := haRounds(t, 2000)
	jobErr, appErr, times, evs := pingpong(t, h, rounds, rounds/3, func() { h.kill9(0) })
	kill := times.kill
	elected := electedAt(t, h.masters[1], kill)
	t.Logf("kill -9 -> new leader elected %v (ZooKeeper session timeout %s); %v",
		elected.Sub(kill).Round(time.Millisecond), haSessionTimeout(), times)
	require.NoError(t, jobErr, "standby output:\n%s", h.masters[1].Output())
	require.NoError(t, appErr)
	assert.False(t, elected.IsZero(), "the standby never said it was elected")
	assert.Equal(t, 1, evs.count(Reregistered))
	out := h.masters[1].Output()
	rereg := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d\d\d agent \S+ re-registered from slave`) // the master's own log lines
	assert.Len(t, rereg.FindAllString(out, -1), 2, "both agents re-register with the new leader:\n%s", out)
}

// The standby dying changes nothing for the job.
func TestProcessesIgnoreStandbyMasterKill(t *testing.T) {
	h := startHACluster(t, 2, 2, "2secs")
	rounds := haRounds(t, 1000)
	jobErr, appErr, _, evs := pingpong(t, h, rounds, rounds/2, func() { h.kill9(1) })
	require.NoError(t, jobErr)
	require.NoError(t, appErr)
	assert.Zero(t, evs.count(Disconnected))
	assert.Zero(t, evs.count(Reregistered))
}

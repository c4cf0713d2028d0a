package mesosgot

import (
	"fmt"
	"math/rand/v2"
	"net"
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
)

// Agent restart with recovery, with the master and agents as processes: a
// ping-pong job runs on two mesos-agent processes; one is killed with -9
// mid-exchange and restarted on the same -work_dir and -port, as a real
// agent on 5051 would be.

// recoveryCluster is a mesos-master and two mesos-agent processes.
type recoveryCluster struct {
	t        *testing.T
	agentBin string
	master   string // host:port
	agents   []*recoveryAgent
}

type recoveryAgent struct {
	args []string // how it was started: a restart uses them again
	proc *proctest.Proc
	id   string
	port string

	restarted time.Time // when the restarted process was started
}

const recoveryReregTimeout = "2secs"

func startRecoveryCluster(t *testing.T) *recoveryCluster {
	masterBin, agentBin := haBinaries(t)
	rc := &recoveryCluster{t: t, agentBin: agentBin}
	m := proctest.Start(t, masterBin, "-ip=127.0.0.1", "-port=0", "-agent_ping_timeout=1secs", "-max_agent_ping_timeouts=5")
	rc.master = m.WaitLine(`listening on (\S+) \(pid \S+\)`, 60*time.Second)[1]
	for i := 0; i < 2; i++ {
		ra := &recoveryAgent{args: []string{"-ip=127.0.0.1", "-master=" + rc.master,
			"-work_dir=" + filepath.Join(t.TempDir(), "agent"), "-resources=cpus:4;mem:4096",
			"-registration_backoff_factor=100ms", "-executor_shutdown_grace_period=1secs",
			"-recovery_timeout=30secs", "-executor_reregistration_timeout=" + recoveryReregTimeout}}
		ra.port = strconv.Itoa(fixedPort(t))
		ra.proc = proctest.Start(t, agentBin, append(ra.args, "-port="+ra.port)...)
		reapExecutors(t, ra.proc)
		ra.id = ra.proc.WaitLine(`registered with master \S+ as (\S+)`, 60*time.Second)[1]
		rc.agents = append(rc.agents, ra)
	}
	return rc
}

// fixedPort returns a port free now below the kernel's ephemeral range, as
// an agent's 5051 is: no outgoing connection takes it while the agent is
// down between its kill and its restart.
func fixedPort(t *testing.T) int {
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
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// restart kills agent i with -9 and starts it again on the same work
// directory and port; it returns when the new process runs.
func (rc *recoveryCluster) restart(i int) {
	a := rc.agents[i]
	require.NoError(rc.t, syscall.Kill(a.proc.Pid(), syscall.SIGKILL))
	_ = a.proc.Wait(10 * time.Second)
	// The port is free once nothing holds the dead agent's socket.
	require.Eventually(rc.t, func() bool {
		ln, err := net.Listen("tcp4", "127.0.0.1:"+a.port)
		if err == nil {
			ln.Close()
		}
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "port %s free again", a.port)
	a.proc = proctest.Start(rc.t, rc.agentBin, append(a.args, "-port="+a.port)...)
	reapExecutors(rc.t, a.proc)
	a.restarted = time.Now()
}

// executorLogs returns the logs of the executors the agent ran.
func (a *recoveryAgent) executorLogs() string {
	var dir string
	for _, arg := range a.args {
		if v, ok := strings.CutPrefix(arg, "-work_dir="); ok {
			dir = v
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "stderr"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "== %s\n%s\n", f, data)
	}
	return b.String()
}

// recoveryRun is what the test saw of a job across an agent restart.
type recoveryRun struct {
	mu        sync.Mutex
	kill      time.Time   // when the fault began
	fromVictm []time.Time // deliveries from the victim agent's tasks since the kill
	victim    []string    // the tasks on the victim agent
}

// firstAfter returns the first delivery from the victim's tasks after t.
func (r *recoveryRun) firstAfter(t time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.fromVictm {
		if d.After(t) {
			return d
		}
	}
	return time.Time{}
}

// recoveryPingpong runs four seq tasks (two per agent) for rounds rounds,
// every message checked in order; at round at it calls fault in a goroutine
// of its own, so that the fault strikes while the round's messages are in
// flight. It returns the job's error, an app-side error, what it saw of
// the victim agent's tasks, and the scheduler.
func recoveryPingpong(t *testing.T, rc *recoveryCluster, checkpoint bool, rounds, at, victim int, fault func()) (error, error, *recoveryRun, *GoTaskScheduler) {
	conf := localConf(t, rc.master)
	conf.Checkpoint = checkpoint
	conf.ExecutorArgs = []string{"-logtostderr"} // its log in the sandbox's stderr, shown when the test fails
	s := NewGoTaskScheduler("", conf, nil)
	names := []string{"seq-0", "seq-1", "seq-2", "seq-3"}
	s.SpawnTask("seq", len(names), map[string]float64{"cpus": 1.5, "mem": 64})
	run := &recoveryRun{}
	var appErr error
	faultDone := make(chan struct{})
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		onVictim := map[string]bool{}
		for running := 0; running < len(names); {
			ev, ok := <-schedevent
			if !ok {
				appErr = fmt.Errorf("the job ended before its tasks ran")
				return
			}
			if ev.EventType == TaskRunning {
				te := ev.EventData.(TaskEvent)
				onVictim[te.TaskName] = te.AgentID == rc.agents[victim].id
				if onVictim[te.TaskName] {
					run.mu.Lock()
					run.victim = append(run.victim, te.TaskName)
					run.mu.Unlock()
				}
				running++
			}
		}
		for i := 0; i < rounds; i++ {
			if i == at {
				run.mu.Lock()
				run.kill = time.Now()
				run.mu.Unlock()
				go func() { defer close(faultDone); fault() }()
			}
			for _, name := range names {
				schedout <- GoTaskMsg{TaskName: name, MessageData: strconv.Itoa(i)}
			}
			for got := 0; got < len(names); {
				select {
				case m, ok := <-schedin:
					if !ok {
						appErr = fmt.Errorf("round %d: schedin closed", i)
						return
					}
					if m.MessageData != strconv.Itoa(i) {
						appErr = fmt.Errorf("round %d: %s echoed %q", i, m.TaskName, m.MessageData)
						return
					}
					got++
					if i >= at && onVictim[m.TaskName] {
						run.mu.Lock()
						run.fromVictm = append(run.fromVictm, time.Now())
						run.mu.Unlock()
					}
				case _, ok := <-schedevent:
					if !ok {
						appErr = fmt.Errorf("round %d: the job ended", i)
						return
					}
				}
			}
		}
	})
	start := time.Now()
	err := s.Run()
	if at < rounds {
		<-faultDone
	}
	t.Logf("%d rounds x %d tasks in %v", rounds, len(names), time.Since(start).Round(time.Millisecond))
	return err, appErr, run, s
}

// agentLogTime returns when agent process p logged a line matching re (its
// log lines start with this machine's wall clock time, HH:MM:SS.mmm).
func agentLogTime(t *testing.T, p *proctest.Proc, re string, near time.Time) time.Time {
	m := regexp.MustCompile(`(?m)^(\d\d:\d\d:\d\d\.\d\d\d) .*` + re).FindStringSubmatch(p.Output())
	if m == nil {
		return time.Time{}
	}
	hms, err := time.ParseInLocation("15:04:05.000", m[1], time.Local)
	require.NoError(t, err)
	y, mo, d := near.Date()
	return time.Date(y, mo, d, hms.Hour(), hms.Minute(), hms.Second(), hms.Nanosecond(), time.Local)
}

// With checkpointing (mesosgot's default) the restarted agent reconnects to
// its executors, which outlived it, re-registers with the master, and the
// job completes with every message once and in order (the seq tasks fail on
// a gap, repeat or reorder).
func TestProcessesSurviveAgentRestart(t *testing.T) {
	rc := startRecoveryCluster(t)
	rounds := haRounds(t, 2000)
	victim := 1
	jobErr, appErr, run, s := recoveryPingpong(t, rc, true, rounds, rounds/3, victim, func() { rc.restart(victim) })
	a := rc.agents[victim]
	require.NoError(t, jobErr, "restarted agent's output:\n%s\nits executors' logs:\n%s", a.proc.Output(), a.executorLogs())
	require.NoError(t, appErr)
	out := a.proc.Output()
	assert.Regexp(t, `recovered 1 executor\(s\)`, out)
	assert.Regexp(t, `executor \S+ of framework \S+ re-registered from executor`, out)
	rereg := agentLogTime(t, a.proc, `agent `+regexp.QuoteMeta(a.id)+` re-registered with master`, run.kill)
	reconnected := agentLogTime(t, a.proc, `re-registered from executor`, run.kill)
	assert.False(t, rereg.IsZero(), "the restarted agent re-registered:\n%s", out)
	since := func(x time.Time) string {
		if x.IsZero() {
			return "never"
		}
		return x.Sub(run.kill).Round(time.Millisecond).String()
	}
	t.Logf("kill -9 -> agent restarted %s -> executor re-registered %s -> agent re-registered %s -> first message from its tasks after that %s",
		since(a.restarted), since(reconnected), since(rereg), since(run.firstAfter(rereg)))
	for _, line := range strings.Split(out, "\n") {
		if regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d .*(recover|re-regist|reconnect)`).MatchString(line) {
			t.Logf("restarted agent: %s", line)
		}
	}
	logRetransmits(t, s)
}

// Without checkpointing the executors die with the agent; the restarted
// agent knows nothing of their tasks, the master reports them lost, and
// the job fails naming them.
func TestProcessesAgentRestartWithoutCheckpointFailsJob(t *testing.T) {
	rc := startRecoveryCluster(t)
	victim := 1
	jobErr, _, run, _ := recoveryPingpong(t, rc, false, 1000000, 200, victim, func() { rc.restart(victim) })
	failed := time.Now()
	require.Error(t, jobErr)
	run.mu.Lock()
	t.Logf("kill -9 -> job failed %v: %v", failed.Sub(run.kill).Round(time.Millisecond), jobErr)
	run.mu.Unlock()
	require.Len(t, run.victim, 2)
	named := false
	for _, n := range run.victim {
		named = named || strings.Contains(jobErr.Error(), "task "+n+": TASK_LOST")
	}
	assert.True(t, named, "the error names a lost task of the restarted agent (%v): %v", run.victim, jobErr)
	assert.Contains(t, rc.agents[victim].proc.Output(), "re-registered with master", "the restarted agent re-registered")
}

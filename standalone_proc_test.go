package mesosgot

import (
	"fmt"
	"net"
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
)

// plainCluster is one mesos-master without ZooKeeper and its agents, as
// processes.
type plainCluster struct {
	t      *testing.T
	addr   string // the master's host:port, what the job's -master is
	master *proctest.Proc
	agents []*proctest.Proc
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPlainCluster starts a mesos-master (no -zk) on a free port and
// nAgents mesos-agent -master=127.0.0.1:<port> processes of cpus:4 each.
func startPlainCluster(t *testing.T, nAgents int) *plainCluster {
	_, agentBin := haBinaries(t)
	p := &plainCluster{t: t, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))}
	p.startMaster()
	for i := 0; i < nAgents; i++ {
		a := proctest.Start(t, agentBin, "-ip=127.0.0.1", "-port=0", "-master="+p.addr, "-work_dir="+filepath.Join(t.TempDir(), "agent"),
			"-resources=cpus:4;mem:4096", "-registration_backoff_factor=100ms", "-executor_shutdown_grace_period=1secs")
		reapExecutors(t, a)
		a.WaitLine(`registered with master`, 60*time.Second)
		p.agents = append(p.agents, a)
	}
	return p
}

// startMaster starts the master on p.addr (again, after a kill).
func (p *plainCluster) startMaster() {
	masterBin, _ := haBinaries(p.t)
	_, port, _ := net.SplitHostPort(p.addr)
	p.master = proctest.Start(p.t, masterBin, "-ip=127.0.0.1", "-port="+port, "-agent_ping_timeout=1secs", "-max_agent_ping_timeouts=5")
	p.master.WaitLine(`listening on \S+ \(pid \S+\)`, 60*time.Second)
}

// kill9 kills the master as a crash would, and waits until it is gone.
func (p *plainCluster) kill9() {
	require.NoError(p.t, syscall.Kill(p.master.Pid(), syscall.SIGKILL))
	_ = p.master.Wait(30 * time.Second)
}

// stopAgents stops the agents as an operator would (SIGTERM: they shut their
// executors down) and checks that no executor process is left.
func (p *plainCluster) stopAgents() {
	for _, a := range p.agents {
		a.Signal(syscall.SIGTERM)
	}
	for _, a := range p.agents {
		require.NoError(p.t, a.Wait(60*time.Second), a.Output())
	}
	assert.Empty(p.t, executorProcesses(p.t, testExecutor(p.t)), "no executor process left behind")
}

// plainPingpong runs four seq tasks (two per agent) over the plain master,
// for rounds rounds (each round one message to every task and its echo)
// and, with untilRereg, until rounds rounds after Reregistered, or until
// the job ends; at round at it calls fault. It returns the job's
// error, the app's own error and the times and events it saw.
func plainPingpong(t *testing.T, p *plainCluster, lostTimeout time.Duration, rounds, at int, untilRereg bool, fault func()) (error, error, *failoverTimes, *events) {
	conf := localConf(t, p.addr)
	conf.MasterLostTimeout = lostTimeout
	s := NewGoTaskScheduler("", conf, nil)
	names := []string{"seq-0", "seq-1", "seq-2", "seq-3"}
	s.SpawnTask("seq", len(names), map[string]float64{"cpus": 1.5, "mem": 64})
	times := &failoverTimes{sched: s}
	evs := &events{}
	var appErr error
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(len(names), evs, schedevent) {
			appErr = fmt.Errorf("tasks not running")
			return
		}
		end := rounds
		for i := 0; i < end || untilRereg && times.reregistered.IsZero(); i++ {
			if i == at {
				times.set(&times.kill)
				fault()
			}
			for _, name := range names {
				schedout <- GoTaskMsg{TaskName: name, MessageData: strconv.Itoa(i)}
			}
			for got := 0; got < len(names); {
				select {
				case m, ok := <-schedin:
					if !ok {
						drainEvents(evs, schedevent)
						return
					}
					if m.MessageData != strconv.Itoa(i) {
						appErr = fmt.Errorf("round %d: %s echoed %q", i, m.TaskName, m.MessageData)
						drainEvents(evs, schedevent)
						return
					}
					got++
					if i >= at {
						times.delivered()
					}
				case ev, ok := <-schedevent:
					if !ok {
						return
					}
					evs.add(ev)
					switch ev.EventType {
					case Disconnected:
						times.set(&times.disconnected)
					case Reregistered:
						times.set(&times.reregistered)
						end = i + rounds
					}
				}
			}
		}
	})
	err := s.Run()
	if err == nil {
		logRetransmits(t, s)
	}
	return err, appErr, times, evs
}

// The plain master is killed with -9 mid-job: the job fails within
// MasterLostTimeout with an error naming the master and pointing to zk://,
// the app saw Disconnected when the master went, and once the agents are
// stopped no executor is left.
func TestProcessesStandaloneMasterKilled(t *testing.T) {
	p := startPlainCluster(t, 2)
	const timeout = 3 * time.Second
	var killed time.Time
	jobErr, appErr, times, evs := plainPingpong(t, p, timeout, 1<<30, 500, false, func() { p.kill9(); killed = time.Now() })
	failedAfter := time.Since(killed)
	t.Logf("kill -9 -> job failed %v (MasterLostTimeout %v); %v", failedAfter.Round(time.Millisecond), timeout, times)
	require.NoError(t, appErr)
	require.Error(t, jobErr)
	t.Logf("error: %v", jobErr)
	assert.Contains(t, jobErr.Error(), "master "+p.addr+" lost for 3s")
	assert.Contains(t, jobErr.Error(), "use -master=zk://")
	assert.Equal(t, 1, evs.count(Disconnected))
	assert.False(t, times.disconnected.IsZero())
	assert.Zero(t, evs.count(Reregistered))
	p.stopAgents()
}

// The plain master is killed with -9 mid-job and started again on the same
// port, a new master with a new id that knows nothing of the framework
// (mesos-go's standalone detector cannot see it: the leader pid is the
// same). The agents re-register with it on their own; the job notices the
// new id in the master's /state and has the driver re-register the
// framework, so that the job completes with every message once and in
// order (the seq tasks fail on a gap, repeat or reorder), the app sees
// Disconnected then Reregistered, the tasks are reconciled with the new
// master, and at the end the new master shuts the executors down.
func TestProcessesStandaloneMasterRestarted(t *testing.T) {
	p := startPlainCluster(t, 2)
	var restarted time.Time
	jobErr, appErr, times, evs := plainPingpong(t, p, 30*time.Second, 1000, 500, true, func() {
		p.kill9()
		p.startMaster()
		restarted = time.Now()
	})
	t.Logf("kill -9 -> new master listening %v; %v", restarted.Sub(times.kill).Round(time.Millisecond), times)
	require.NoError(t, jobErr, "master:\n%s", p.master.Output())
	require.NoError(t, appErr)
	assert.Equal(t, 1, evs.count(Disconnected))
	assert.Equal(t, 1, evs.count(Reregistered))
	assert.EqualValues(t, 4, times.sched.reconciledTasks.Load(), "each task reconciled with the new master")
	assert.Equal(t, 4, evs.count(TaskRunning), "a reconciled RUNNING is not a new TaskRunning")
	out := p.master.Output()
	assert.Regexp(t, regexp.MustCompile(`framework \S+ \(mesosgot\) re-registered from`), out)
	// the framework's end reached the new master: it shuts the executors down
	deadline := time.Now().Add(30 * time.Second)
	for len(executorProcesses(t, testExecutor(t))) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	assert.Empty(t, executorProcesses(t, testExecutor(t)), "the new master shut the executors down:\n%s", out)
	p.stopAgents()
}

var (
	localBinOnce sync.Once
	localBin     string
)

// mesosLocalBinary builds cmd/mesos-local once per test binary.
func mesosLocalBinary(t *testing.T) string {
	testExecutor(t) // makes testExecDir, removed by TestMain
	localBinOnce.Do(func() { localBin = proctest.Build(t, testExecDir, "mesos-local", "./cmd/mesos-local") })
	require.NotEmpty(t, localBin, "building mesos-local failed earlier")
	return localBin
}

// mesos-local handles SIGINT and SIGTERM itself: with a job's executors
// running on its agents, the signal makes it shut them down, stop its
// master and agents, remove its work directory and exit with status 0,
// like mesos-master and mesos-agent. The job then fails (its tasks shut
// down, its master gone).
func TestProcessesMesosLocalStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			c := proctest.Start(t, mesosLocalBinary(t), "-port=0", "-num_slaves=2", "-resources=cpus:4;mem:4096", "-executor_shutdown_grace_period=1secs")
			m := c.WaitLine(`mesos-local: master (\S+) \(pid \S+\), 2 agent\(s\), work dir (\S+)`, 60*time.Second)
			addr, workDir := m[1], m[2]
			conf := localConf(t, addr)
			conf.MasterLostTimeout = 2 * time.Second
			s := NewGoTaskScheduler("", conf, nil)
			s.SpawnTask("wait", 4, map[string]float64{"cpus": 1.5, "mem": 64}) // two per agent
			evs := &events{}
			executors := 0
			var signalled time.Time
			s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
				if !untilRunning(4, evs, schedevent) {
					return
				}
				executors = len(executorProcesses(t, testExecutor(t)))
				signalled = time.Now()
				c.Signal(sig)
				drainEvents(evs, schedevent)
			})
			jobErr := s.Run()
			require.NoError(t, c.Wait(60*time.Second), c.Output())
			t.Logf("%v -> mesos-local exited %v later", sig, time.Since(signalled).Round(time.Millisecond))
			assert.Equal(t, 2, executors, "one executor per agent ran")
			assert.Contains(t, c.Output(), "mesos-local: "+sig.String()+": shutting down")
			assert.Regexp(t, `mesos-local: done: 1 framework\(s\), 4 task\(s\) launched`, c.Output())
			assert.Empty(t, executorProcesses(t, testExecutor(t)), "mesos-local shut its executors down")
			_, err := os.Stat(workDir)
			assert.True(t, os.IsNotExist(err), "work dir %s removed: %v", workDir, err)
			// the job failed: its tasks were shut down, or its master went
			require.Error(t, jobErr)
			t.Logf("job error: %v", jobErr)
		})
	}
}

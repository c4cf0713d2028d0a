package mesosgot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/localmesos"
)

var (
	testExecOnce sync.Once
	testExecPath string
	testExecErr  error
	testExecDir  string
)

// testExecutor builds internal/testexec once per test binary.
func testExecutor(t *testing.T) string {
	t.Helper()
	testExecOnce.Do(func() {
		testExecDir, testExecErr = os.MkdirTemp("", "mesosgot-testexec-")
		if testExecErr != nil {
			return
		}
		// a name of its own, so that the leak checks see only this test binary's executors
		testExecPath = filepath.Join(testExecDir, fmt.Sprintf("mesosgot-testexec-%d", os.Getpid()))
		out, err := exec.Command("go", "build", "-o", testExecPath, "./internal/testexec").CombinedOutput()
		if err != nil {
			testExecErr = fmt.Errorf("building the test executor: %v\n%s", err, out)
		}
	})
	require.NoError(t, testExecErr)
	return testExecPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testExecDir != "" {
		os.RemoveAll(testExecDir)
	}
	os.Exit(code)
}

// localConf is a scheduler config for a job on the embedded cluster.
func localConf(t *testing.T, master string) *GoTaskSchedConfig {
	conf := DefaultSchedulerConfig()
	conf.Master = master
	conf.ExecutorPath = testExecutor(t)
	conf.TaskRefuseSeconds = 0.1
	return conf
}

// executorProcesses lists running processes of the test executor binary.
func executorProcesses(t *testing.T, path string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		// the agent runs "./testexec" from the sandbox
		if strings.Contains(string(cmdline), filepath.Base(path)) && !strings.Contains(string(cmdline), "go\x00build") {
			if exe, err := os.Readlink(filepath.Join(d, "exe")); err == nil && filepath.Base(exe) == filepath.Base(path) {
				out = append(out, d)
			}
		}
	}
	return out
}

func TestLocalMasterRunsJobThroughRealDrivers(t *testing.T) {
	const workers, msgs = 4, 2000
	s := NewGoTaskScheduler("", localConf(t, "local:2"), nil)
	s.SpawnTask("seq", workers, map[string]float64{"cpus": 0.5, "mem": 32})
	var problem atomic.Value
	evs := &events{}
	s.RegisterSchedFunc(exchange(workers, msgs, &problem, evs))
	require.NoError(t, s.Run())
	require.Nil(t, problem.Load())
	assert.Equal(t, 1, evs.count(Registered))
	assert.Empty(t, executorProcesses(t, testExecutor(t)), "no executor process left behind")
}

func TestLocalExactlyOnceOverLossyCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const workers, msgs = 4, 25_000 // 100,000 messages each way
	c, err := localmesos.Start(localmesos.Config{
		Agents: 2,
		Faults: &localmesos.Faults{Drop: 0.20, Dup: 0.05, Seed: 1, Delay: randomDelay(2 * time.Millisecond)},
	})
	require.NoError(t, err)
	defer c.Close()
	s := NewGoTaskScheduler("", localConf(t, c.MasterAddr()), nil)
	s.SpawnTask("seq", workers, map[string]float64{"cpus": 0.5, "mem": 32})
	var problem atomic.Value
	evs := &events{}
	s.RegisterSchedFunc(exchange(workers, msgs, &problem, evs))
	start := time.Now()
	require.NoError(t, s.Run())
	require.Nil(t, problem.Load())
	st := c.Stats()
	t.Logf("%d messages each way in %v; cluster: %+v", workers*msgs, time.Since(start), st)
	var maxRTO int
	for _, conn := range s.job.conns {
		ls := conn.link.Stats()
		maxRTO = max(maxRTO, ls.MaxRTOTicks)
		t.Logf("scheduler link to %s: retransmits %d, dups dropped %d, max RTO %d ticks", conn.execID, ls.Retransmits, ls.DupsDropped, ls.MaxRTOTicks)
	}
	t.Logf("longest retransmission timeout: %v", time.Duration(maxRTO)*s.timing.Tick)
}

func TestLocalExecutorExitFailsJobNamingTask(t *testing.T) {
	s := NewGoTaskScheduler("", localConf(t, "local:1"), nil)
	s.SpawnTask("wait", 2, nil)
	s.SpawnTask("exit", 1, nil)
	evs := &events{}
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(3, evs, schedevent) {
			return
		}
		schedout <- GoTaskMsg{TaskName: "exit-0", MessageData: "die"}
		drainEvents(evs, schedevent)
	})
	err := s.Run()
	t.Cleanup(func() { os.RemoveAll(s.keptSandbox) })
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Regexp(t, `^(wait|exit)-\d$`, je.TaskName)
	assert.NotEmpty(t, s.keptSandbox, "the failed executor's sandbox is kept")
	t.Logf("job error: %v", err)
	assert.GreaterOrEqual(t, evs.count(TaskFailed)+evs.count(TaskLost)+evs.count(ExecutorLost), 1)
	assert.Empty(t, executorProcesses(t, testExecutor(t)), "no executor process left behind")
}

// randomDelay returns a delay function for fault injection (0..max).
func randomDelay(maxDelay time.Duration) func() time.Duration {
	var mu sync.Mutex
	var x uint64 = 88172645463325252
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return time.Duration(x % uint64(maxDelay))
	}
}

// TestSeedStyleDriverWiring runs a job the way the seed's users wire it:
// DriverConfig into mesos-go's own NewMesosSchedulerDriver, then driver.Run.
func TestSeedStyleDriverWiring(t *testing.T) {
	s := NewGoTaskScheduler("", localConf(t, "local:1"), nil)
	s.SpawnTask("seq", 2, nil)
	var problem atomic.Value
	s.RegisterSchedFunc(exchange(2, 500, &problem, &events{}))
	cfg := s.DriverConfig()
	require.NoError(t, s.Err())
	driver, err := sched.NewMesosSchedulerDriver(cfg)
	require.NoError(t, err)
	status, err := driver.Run()
	require.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_STOPPED, status)
	<-s.Done()
	require.NoError(t, s.Result())
	require.Nil(t, problem.Load())
}

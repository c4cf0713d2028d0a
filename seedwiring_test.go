package mesosgot

import (
	"bytes"
	"fmt"
	"net"
	"os"
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

// syncBuffer is a bytes.Buffer safe for the job's and the test's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runSeedStyle runs s the way the original documentation wires it and
// checks that the job's teardown was complete when driver.Run returned.
func runSeedStyle(t *testing.T, s *GoTaskScheduler) (mesos.Status, error) {
	t.Helper()
	cfg := s.DriverConfig()
	driver, err := sched.NewMesosSchedulerDriver(cfg)
	require.NoError(t, err)
	status, err := driver.Run()
	select {
	case <-s.Done():
	default:
		t.Fatal("driver.Run returned before the job's teardown completed")
	}
	if dir := s.localWorkDir; dir != "" && s.keptSandbox == "" {
		_, statErr := os.Stat(dir)
		assert.True(t, os.IsNotExist(statErr), "the embedded cluster's work dir %s is gone when driver.Run returns", dir)
	}
	return status, err
}

func TestSeedStyleFailedJobAbortsTheDriver(t *testing.T) {
	conf := localConf(t, "local:1")
	diag := &syncBuffer{}
	conf.DiagOutput = diag
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("wait", 2, nil)
	s.SpawnTask("fail", 1, nil) // returns an error on its first message
	evs := &events{}
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(3, evs, schedevent) {
			return
		}
		schedout <- GoTaskMsg{TaskName: "fail-0", MessageData: "now"}
		drainEvents(evs, schedevent)
	})
	status, err := runSeedStyle(t, s)
	require.NoError(t, err, "mesos-go's Run returns no error once it ran")
	assert.Equal(t, mesos.Status_DRIVER_ABORTED, status)
	var je *JobError
	require.ErrorAs(t, s.Result(), &je)
	assert.Equal(t, "fail-0", je.TaskName)
	assert.Equal(t, "TASK_FAILED: fail-0: asked to fail: now", je.Cause)
	assert.Equal(t, 1, evs.count(Shutdown), "the app saw Shutdown before driver.Run returned")
	assert.Empty(t, s.keptSandbox, "a task's own failure keeps no sandbox")
	assert.Empty(t, executorProcesses(t, testExecutor(t)), "no executor process left behind")
}

func TestSeedStyleNormalEndStopsWithoutSleep(t *testing.T) {
	s := NewGoTaskScheduler("", localConf(t, "local:1"), nil)
	s.SpawnTask("seq", 2, nil)
	var problem atomic.Value
	evs := &events{}
	s.RegisterSchedFunc(exchange(2, 100, &problem, evs))
	status, err := runSeedStyle(t, s)
	require.NoError(t, err)
	assert.Equal(t, mesos.Status_DRIVER_STOPPED, status)
	require.NoError(t, s.Result())
	require.Nil(t, problem.Load())
}

func TestSeedStyleSetupErrorFailsAtOnce(t *testing.T) {
	conf := localConf(t, "local:1")
	conf.ExecutorPath = "/nonexistent/app-executor"
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("seq", 1, nil)
	s.RegisterSchedFunc(func(<-chan GoTaskMsg, chan<- GoTaskMsg, <-chan SchedEvent) {})
	cfg := s.DriverConfig()
	require.ErrorContains(t, s.Err(), "/nonexistent/app-executor")
	driver, err := sched.NewMesosSchedulerDriver(cfg)
	require.NoError(t, err, "a driver can still be built; it refuses to run")
	done := make(chan struct{})
	var status mesos.Status
	go func() {
		defer close(done)
		status, err = driver.Run()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("driver.Run did not return")
	}
	require.Error(t, err)
	assert.NotEqual(t, mesos.Status_DRIVER_RUNNING, status)
	_, statErr := os.Stat(s.localWorkDir)
	assert.True(t, os.IsNotExist(statErr), "the embedded cluster was closed at once")
}

func TestLocalFailedExecutorStderrIsInTheError(t *testing.T) {
	for _, tc := range []struct {
		name, script, want, hint string
	}{
		{"crashing executor", "#!/bin/sh\necho 'boom from the executor' >&2\nexit 3\n", "boom from the executor", ""},
		{"not a program", "this is not a program\n", "not found", "the shell could not run the executor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := localConf(t, "local:1")
			conf.ExecutorPath = writeTempFile(t, "app-executor", tc.script)
			diag := &syncBuffer{}
			conf.DiagOutput = diag
			s := NewGoTaskScheduler("", conf, nil)
			s.SpawnTask("seq", 1, nil)
			s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
				drainEvents(&events{}, schedevent)
			})
			err := s.Run()
			t.Cleanup(func() { os.RemoveAll(s.keptSandbox) })
			var je *JobError
			require.ErrorAs(t, err, &je)
			t.Logf("error: %v\ndiagnostics:\n%s", err, diag)
			assert.Equal(t, "seq-0", je.TaskName)
			assert.Contains(t, je.ExecutorStderr, tc.want)
			assert.Contains(t, err.Error(), "executor stderr (last lines):")
			require.NotEmpty(t, s.keptSandbox, "the failed executor's sandbox is kept")
			assert.DirExists(t, s.keptSandbox)
			assert.Contains(t, diag.String(), "sandbox of the failed job kept at "+s.keptSandbox)
			assert.True(t, strings.HasPrefix(je.Cause, "TASK_FAILED") || strings.HasPrefix(je.Cause, "executor "), je.Cause)
			if tc.hint != "" {
				assert.Contains(t, je.Cause, tc.hint)
			} else {
				assert.NotContains(t, je.Cause, "the shell could not run")
			}
		})
	}
}

func TestSeedStyleRegistrationTimeoutAbortsTheDriver(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	nobody := l.Addr().String()
	require.NoError(t, l.Close()) // a master address nobody listens at
	conf := localConf(t, nobody)
	conf.RegistrationTimeout = time.Second
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("seq", 1, nil)
	s.RegisterSchedFunc(func(<-chan GoTaskMsg, chan<- GoTaskMsg, <-chan SchedEvent) {})
	driver, err := sched.NewMesosSchedulerDriver(s.DriverConfig())
	require.NoError(t, err)
	require.NoError(t, s.Err())
	done := make(chan mesos.Status, 1)
	go func() {
		status, _ := driver.Run()
		done <- status
	}()
	select {
	case status := <-done:
		assert.Equal(t, mesos.Status_DRIVER_ABORTED, status)
	case <-time.After(60 * time.Second):
		t.Fatal("driver.Run still waits for a master nobody runs")
	}
	<-s.Done()
	require.Error(t, s.Result())
	assert.Contains(t, s.Result().Error(), "not registered with master "+nobody+" within 1s")
}

// TestJobEndUnregistersTheFramework: both a normal and a failed end
// unregister the framework (Mesos then shuts its executors down), though
// neither waits for mesos-go's 2 s stop sleep. The cluster does not check
// links here, so only an unregistration can remove the framework.
func TestJobEndUnregistersTheFramework(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("failed=%v", fail), func(t *testing.T) {
			c, err := localmesos.Start(localmesos.Config{Agents: 1, LinkCheckInterval: time.Hour})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			s := NewGoTaskScheduler("", localConf(t, c.MasterAddr()), nil)
			s.SpawnTask("wait", 1, nil)
			s.SpawnTask("fail", 1, nil)
			s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
				if !untilRunning(2, &events{}, schedevent) || !fail {
					return
				}
				schedout <- GoTaskMsg{TaskName: "fail-0", MessageData: "now"}
				drainEvents(&events{}, schedevent)
			})
			status, _ := runSeedStyle(t, s)
			if fail {
				assert.Equal(t, mesos.Status_DRIVER_ABORTED, status)
				require.Error(t, s.Result())
			} else {
				assert.Equal(t, mesos.Status_DRIVER_STOPPED, status)
				require.NoError(t, s.Result())
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				fws := c.Frameworks()
				require.Len(t, fws, 1)
				if fws[0].Removed && len(executorProcesses(t, testExecutor(t))) == 0 {
					break
				}
				require.True(t, time.Now().Before(deadline), "framework %+v not removed, or executors left", fws[0])
				time.Sleep(20 * time.Millisecond) // polling the cluster's state
			}
		})
	}
}

func TestTailLines(t *testing.T) {
	tests := []struct {
		in     string
		n, max int
		want   string
	}{
		{"", 3, 100, ""},
		{"a\nb\nc\nd\n", 2, 100, "c\nd"},
		{"a\nb\n", 5, 100, "a\nb"},
		{"0123456789\nabc\n", 5, 6, "abc"}, // a cut line is left out
		{strings.Repeat("x", 50), 3, 10, strings.Repeat("x", 10)},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tailLines(tc.in, tc.n, tc.max), "%q", tc.in)
	}
}

// TestMasterErrorBeforeStartIsTheReason: a master that refuses the
// framework (here: it requires authentication and the job has no
// principal) aborts the driver; Run says what the master said.
func TestMasterErrorBeforeStartIsTheReason(t *testing.T) {
	c, err := localmesos.Start(localmesos.Config{Credentials: map[string]string{"ops": "right"}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s := NewGoTaskScheduler("", localConf(t, c.MasterAddr()), nil)
	s.SpawnTask("wait", 1, nil)
	s.RegisterSchedFunc(func(<-chan GoTaskMsg, chan<- GoTaskMsg, <-chan SchedEvent) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the job did not end")
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "master error: framework at scheduler")
	assert.Contains(t, err.Error(), "is not authenticated")
}

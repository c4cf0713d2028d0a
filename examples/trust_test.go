package examples_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Signals, orphans and liveness, tried on the pingpong example with
// -master=local as a user would: the scheduler binary with its embedded
// cluster, real executor processes.

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
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

// trustJob is a pingpong scheduler process on -master=local.
type trustJob struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	exe  string // the executor binary's unique name
	tmp  string // the job's TMPDIR (where localmesos puts its sandbox)
	done chan struct{}
	err  error
}

// pingpongBins builds the pingpong binaries once per test, the executor
// under a name no other process has, so that its processes can be found.
func pingpongBins(t *testing.T) (sched, executor string) {
	dir := t.TempDir()
	bins := build(t, dir, "./pingpong/scheduler", "./pingpong/executor")
	unique := filepath.Join(dir, fmt.Sprintf("ppexec%d", time.Now().UnixNano()))
	require.NoError(t, os.Rename(bins[1], unique))
	return bins[0], unique
}

// startTrustJob starts the scheduler with a TMPDIR of its own (tmp, or a
// new one when empty).
func startTrustJob(t *testing.T, sched, executor, tmp string, args ...string) *trustJob {
	if tmp == "" {
		tmp = t.TempDir()
	}
	args = append([]string{"-master=local", "-executor=" + executor}, args...)
	j := &trustJob{t: t, cmd: exec.Command(sched, args...), out: &syncBuffer{}, exe: filepath.Base(executor), tmp: tmp, done: make(chan struct{})}
	j.cmd.Dir = t.TempDir()
	j.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	j.cmd.Stdout, j.cmd.Stderr = j.out, j.out
	require.NoError(t, j.cmd.Start())
	go func() {
		j.err = j.cmd.Wait()
		close(j.done)
	}()
	t.Cleanup(func() {
		_ = j.cmd.Process.Signal(syscall.SIGCONT)
		_ = j.cmd.Process.Kill()
		<-j.done
		for _, pid := range executorPids(j.exe) { // a failed test leaves nothing behind
			_ = syscall.Kill(pid, syscall.SIGCONT)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return j
}

// waitOutput waits (bounded) until the output contains s.
func (j *trustJob) waitOutput(s string, within time.Duration) {
	j.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(j.out.String(), s) {
		select {
		case <-j.done:
			require.FailNow(j.t, "the job ended before printing "+s, "%v\n%s", j.err, tail(j.out.String(), 30))
		case <-time.After(50 * time.Millisecond): // polling the output
		}
		if time.Now().After(deadline) {
			require.FailNow(j.t, "no "+s+" within "+within.String(), tail(j.out.String(), 30))
		}
	}
}

// wait waits (bounded) for the scheduler to exit and returns its exit code.
func (j *trustJob) wait(within time.Duration) int {
	j.t.Helper()
	select {
	case <-j.done:
	case <-time.After(within):
		require.FailNow(j.t, "the scheduler did not exit within "+within.String(), tail(j.out.String(), 30))
	}
	var ee *exec.ExitError
	if errors.As(j.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(j.t, j.err)
	return 0
}

// executorPids returns the live (not zombie) processes whose program
// (argv[0]) is the executor binary named exe.
func executorPids(exe string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if err != nil || filepath.Base(string(argv0)) != exe {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitNoExecutors waits (bounded) until no executor process is left.
func waitNoExecutors(t *testing.T, exe string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(executorPids(exe)) > 0 {
		if time.Now().After(deadline) {
			require.FailNow(t, "executor processes still running", "pids %v after %v", executorPids(exe), within)
		}
		time.Sleep(50 * time.Millisecond) // polling the process table
	}
}

// sandboxes returns the localmesos work dirs in tmp.
func sandboxes(t *testing.T, tmp string) []string {
	dirs, err := filepath.Glob(filepath.Join(tmp, "localmesos-*"))
	require.NoError(t, err)
	return dirs
}

func TestInterruptLeavesNothingBehind(t *testing.T) {
	sched, executor := pingpongBins(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{{syscall.SIGINT, "SIGINT", 130}, {syscall.SIGTERM, "SIGTERM", 143}} {
		t.Run(tc.name, func(t *testing.T) {
			j := startTrustJob(t, sched, executor, "", "-workers", "3", "-messages", "5", "-hold", "10m")
			j.waitOutput("holding the idle workers", 2*time.Minute)
			require.NotEmpty(t, executorPids(j.exe), "executors run")
			require.NotEmpty(t, sandboxes(t, j.tmp))
			require.NoError(t, j.cmd.Process.Signal(tc.sig))
			assert.Equal(t, tc.code, j.wait(2*time.Minute), tail(j.out.String(), 20))
			assert.Contains(t, j.out.String(), "interrupted by "+tc.name)
			assert.NotContains(t, j.out.String(), "job failed: mesosgot: job failed")
			waitNoExecutors(t, j.exe, time.Minute)
			assert.Empty(t, sandboxes(t, j.tmp), "the local cluster's sandbox is removed")
		})
	}
}

func TestKill9LeavesNoExecutorAndNextRunClearsSandbox(t *testing.T) {
	sched, executor := pingpongBins(t)
	tmp := t.TempDir()
	j := startTrustJob(t, sched, executor, tmp, "-workers", "3", "-messages", "5", "-hold", "10m")
	j.waitOutput("holding the idle workers", 2*time.Minute)
	require.NotEmpty(t, executorPids(j.exe))
	require.NoError(t, j.cmd.Process.Kill())
	j.wait(time.Minute)
	waitNoExecutors(t, j.exe, time.Minute)
	require.NotEmpty(t, sandboxes(t, tmp), "kill -9 leaves the sandbox")

	next := startTrustJob(t, sched, executor, tmp, "-workers", "1", "-messages", "3")
	assert.Equal(t, 0, next.wait(2*time.Minute), tail(next.out.String(), 20))
	assert.Empty(t, sandboxes(t, tmp), "the next run removed the stale sandbox, then its own")
}

func TestStoppedExecutorFailsJob(t *testing.T) {
	sched, executor := pingpongBins(t)
	j := startTrustJob(t, sched, executor, "", "-workers", "2", "-messages", "5", "-hold", "10m", "-link_timeout", "2s")
	j.waitOutput("holding the idle workers", 2*time.Minute)
	pids := executorPids(j.exe)
	require.NotEmpty(t, pids)
	for _, pid := range pids {
		require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	}
	assert.Equal(t, 1, j.wait(3*time.Minute), tail(j.out.String(), 20))
	out := j.out.String()
	assert.Contains(t, out, "unresponsive")
	assert.Regexp(t, `tasks pingpong-\d(, pingpong-\d)*\) unresponsive`, out, "the error names the executor's tasks")
	waitNoExecutors(t, j.exe, time.Minute)
}

func TestStoppedSchedulerEndsExecutors(t *testing.T) {
	sched, executor := pingpongBins(t)
	j := startTrustJob(t, sched, executor, "", "-workers", "2", "-messages", "5", "-hold", "10m", "-link_timeout", "2s")
	j.waitOutput("holding the idle workers", 2*time.Minute)
	require.NotEmpty(t, executorPids(j.exe))
	require.NoError(t, j.cmd.Process.Signal(syscall.SIGSTOP))
	waitNoExecutors(t, j.exe, 2*time.Minute) // they end on their own: the scheduler answers nothing
}

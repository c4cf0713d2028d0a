// Package examples_test builds the example binaries and runs each job end to
// end on the embedded local Mesos cluster, as `make run` does: CI runs what
// users run.
package examples_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/examples/montecarlo/montecarlo"
)

// build compiles pkgs into dir and returns the binaries' paths.
func build(t *testing.T, dir string, pkgs ...string) []string {
	t.Helper()
	var out []string
	for _, p := range pkgs {
		bin := filepath.Join(dir, filepath.Base(filepath.Dir(p))+"-"+filepath.Base(p))
		cmd := exec.Command("go", "build", "-o", bin, p)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s:\n%s", p, b)
		out = append(out, bin)
	}
	return out
}

// runJob runs a scheduler binary on -master=local and returns its output.
func runJob(t *testing.T, sched, executor string, args ...string) (string, error) {
	t.Helper()
	return runJobOn(t, "local", sched, executor, args...)
}

// runJobOn runs a scheduler binary against master and returns its output.
func runJobOn(t *testing.T, master, sched, executor string, args ...string) (string, error) {
	t.Helper()
	args = append([]string{"-master=" + master, "-executor=" + executor}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sched, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir()) // glog files land here
	// a job that hangs gets SIGQUIT first: its goroutine dump is in the output
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not end within 3m (sent SIGQUIT): %w", filepath.Base(sched), err)
	}
	return string(b), err
}

func TestPingPongExampleOnLocalCluster(t *testing.T) {
	bins := build(t, t.TempDir(), "./pingpong/scheduler", "./pingpong/executor")
	start := time.Now()
	out, err := runJob(t, bins[0], bins[1], "-workers", "4", "-messages", "2000")
	t.Logf("took %v:\n%s", time.Since(start), tail(out, 8))
	require.NoError(t, err, out)
	assert.Contains(t, out, "pingpong: Registered")
	assert.Contains(t, out, "pingpong: TaskRunning")
	assert.Contains(t, out, "8000 pongs received in order, 0 errors")
}

func TestElevatorExampleOnLocalCluster(t *testing.T) {
	bins := build(t, t.TempDir(), "./elevator/scheduler", "./elevator/executor")
	out, err := runJob(t, bins[0], bins[1], "-requests", "200")
	t.Logf("%s", tail(out, 5))
	require.NoError(t, err, out)
	assert.Contains(t, out, "200/200 requests served")
	assert.Contains(t, out, "0 anomalies")
}

// TestMonteCarloExampleOnLocalCluster runs the compute example as a user
// would, with the status server and progress line on: its estimate equals
// a local run's, and -fail_batch makes it fail naming the task.
func TestMonteCarloExampleOnLocalCluster(t *testing.T) {
	bins := build(t, t.TempDir(), "./montecarlo/scheduler", "./montecarlo/executor")
	const batches, samples = 40, 100000
	out, err := runJob(t, bins[0], bins[1], "-workers", "3", "-batches", fmt.Sprint(batches), "-samples", fmt.Sprint(samples),
		"-status_address", "127.0.0.1:0")
	t.Logf("%s", tail(out, 6))
	require.NoError(t, err, out)
	var want uint64
	for b := uint64(0); b < batches; b++ {
		want += montecarlo.Sample(b, samples)
	}
	assert.Contains(t, out, fmt.Sprintf("from %d hits in %d samples, %d/%d batches", want, batches*samples, batches, batches))
	assert.Regexp(t, `mesosgot: status page at http://127\.0\.0\.1:\d+/`, out)
	assert.Regexp(t, `mesosgot: job finished after \S+ \| tasks: .*\(of 3\) \| msgs in 40 out 40`, out)

	out, err = runJob(t, bins[0], bins[1], "-workers", "3", "-batches", "30", "-samples", "1000", "-fail_batch", "5")
	t.Logf("%s", tail(out, 6))
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Regexp(t, `montecarlo: job failed: mesosgot: job failed: task sampler-\d: .*failing at batch 5 as asked`, out)
	assert.Regexp(t, `mesosgot: job failed after \S+ \| tasks: .* 1 failed \(of 3\)`, out)
}

// TestPingPongOverLossyMesosLocal runs the pingpong binaries against the
// standalone cmd/mesos-local with 20% of framework messages dropped and 5%
// duplicated, as a user would from the shell; every message still arrives
// once and in order.
func TestPingPongOverLossyMesosLocal(t *testing.T) {
	dir := t.TempDir()
	bins := build(t, dir, "./pingpong/scheduler", "./pingpong/executor", "../cmd/mesos-local")
	master, stop := startMesosLocal(t, bins[2], "-num_slaves", "2", "-drop", "0.2", "-dup", "0.05")
	out, err := runJobOn(t, master, bins[0], bins[1], "-workers", "4", "-messages", "5000")
	rest := stop()
	t.Logf("%s\nmesos-local: ...%s", tail(out, 2), tail(rest, 2))
	require.NoError(t, err, out)
	assert.Contains(t, out, "20000 pongs received in order, 0 errors")
	assert.Regexp(t, `[1-9]\d* dropped, [1-9]\d* duplicated`, rest, "faults were injected")
}

// TestPlacementTimeoutOnTooSmallCluster: a job that asks for more than the
// cluster has ends, with -placement_timeout 5s, well within its deadline,
// naming the short resource on stderr.
func TestPlacementTimeoutOnTooSmallCluster(t *testing.T) {
	dir := t.TempDir()
	bins := build(t, dir, "./pingpong/scheduler", "./pingpong/executor", "../cmd/mesos-local")
	master, stop := startMesosLocal(t, bins[2], "-num_slaves", "1", "-resources", "cpus:4;mem:4096;disk:10000;ports:[31000-32000]")
	defer stop()
	out, err := runJobOn(t, master, bins[0], bins[1], "-workers", "8", "-task_cpus", "1000", "-placement_timeout", "5s")
	t.Logf("%s", out)
	require.Error(t, err, "the job fails")
	assert.Contains(t, out, "mesosgot: WARNING: offers cannot hold the job yet")
	assert.Contains(t, out, "within -placement_timeout 5s")
	assert.Contains(t, out, "cpus: the job needs 8000.1 in one round (pingpong: 8 x 1000, one task does not fit on any agent), the largest round offered 4")
}

// startMesosLocal starts the cmd/mesos-local binary on a free port and
// returns its master address and a function that stops it and returns
// what it printed after the address.
func startMesosLocal(t *testing.T, bin string, args ...string) (master string, stop func() string) {
	t.Helper()
	ml := exec.Command(bin, append([]string{"-port", "0"}, args...)...)
	ml.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	stdout, err := ml.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, ml.Start())
	lines := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`mesos-local: master (\S+) `)
	for master == "" && lines.Scan() {
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			master = m[1]
		}
	}
	require.NotEmpty(t, master, "mesos-local printed its address")
	var rest strings.Builder
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for lines.Scan() {
			rest.WriteString(lines.Text() + "\n")
		}
	}()
	var once sync.Once
	stop = func() string {
		once.Do(func() {
			assert.NoError(t, ml.Process.Signal(syscall.SIGTERM))
			<-copied
			assert.NoError(t, ml.Wait())
		})
		return rest.String()
	}
	t.Cleanup(func() { stop() })
	return master, stop
}

// runSeedStyle runs the seedstyle scheduler on -master=local with its own
// TMPDIR and the scheduler's glog files sent elsewhere, and returns its
// stdout, stderr, exit error and what it left in TMPDIR.
func runSeedStyle(t *testing.T, bins []string, args ...string) (stdout, stderr string, err error, left []string) {
	t.Helper()
	tmp, logs := t.TempDir(), t.TempDir()
	args = append([]string{"-master=local", "-executor=" + bins[1], "-log_dir=" + logs}, args...)
	cmd := exec.Command(bins[0], args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	timer := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err = cmd.Run()
	entries, rerr := os.ReadDir(tmp)
	require.NoError(t, rerr)
	for _, en := range entries {
		left = append(left, en.Name())
	}
	return o.String(), e.String(), err, left
}

// TestSeedStyleExample runs a job wired as the original documentation
// shows (driver built by hand, driver.Run in main, task name from args[0],
// a range loop over schedin): it succeeds with exit status 0 and, with
// -fail, exits non-zero with an ERROR line naming the task; either way
// nothing is left in the temp dir (no sandbox, no executor log files).
func TestSeedStyleExample(t *testing.T) {
	bins := build(t, t.TempDir(), "./seedstyle/scheduler", "./seedstyle/executor")
	t.Run("succeeds", func(t *testing.T) {
		out, errOut, err, left := runSeedStyle(t, bins)
		t.Logf("stderr:\n%s", errOut)
		require.NoError(t, err, "%s\n%s", out, errOut)
		for i := 0; i < 3; i++ {
			assert.Contains(t, out, fmt.Sprintf("seedstyle: worker-%d: done", i))
		}
		assert.Contains(t, out, "seedstyle: every task has ended", "range over schedin ended by itself")
		assert.Contains(t, out, "seedstyle: framework terminating")
		assert.NotContains(t, errOut, "job failed")
		assert.Empty(t, left, "nothing left in TMPDIR")
	})
	t.Run("fails", func(t *testing.T) {
		out, errOut, err, left := runSeedStyle(t, bins, "-fail")
		t.Logf("stderr:\n%s", errOut)
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "non-zero exit\n%s\n%s", out, errOut)
		assert.NotEqual(t, 0, ee.ExitCode())
		assert.Regexp(t, `(?m)^E\d{4} .*mesosgot: job failed: task faulty-0: TASK_FAILED: faulty-0: asked to fail at step 2$`, errOut)
		assert.Contains(t, errOut, "DRIVER_ABORTED")
		assert.Contains(t, out, "seedstyle: event Shutdown mesosgot: job failed: task faulty-0")
		assert.Empty(t, left, "nothing left in TMPDIR")
	})
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			lines++
			if lines > n {
				return s[i+1:]
			}
		}
	}
	return s
}

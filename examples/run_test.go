// Package examples_test builds the example binaries and runs each job end to
// end on the embedded local Mesos cluster, as `make run` does: CI runs what
// users run.
package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	args = append([]string{"-master=local", "-executor=" + executor}, args...)
	cmd := exec.Command(sched, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir()) // glog files land here
	timer := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	b, err := cmd.CombinedOutput()
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

// Package clustertest runs mesosgot's example jobs on a Mesos cluster
// spread over network namespaces, one per host, as a user moving from the
// laptop to a cluster would: the scheduler gets only -master and -executor,
// and must advertise an address the master and the agents can reach.
//
// It needs root and `ip netns` (make test-cluster); elsewhere it is skipped
// loudly, and fails under MESOSGOT_REQUIRE_ALL=1.
package clustertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/netns"
	"github.com/mesosgot/mesosgot/internal/testenv"
)

// subnet is the private test range: only addresses inside the test's own
// namespaces are ever contacted.
const subnet = "10.233.0.0/24"

// requireNetns ends the test loudly when namespaces cannot be made here.
func requireNetns(t *testing.T) {
	t.Helper()
	if err := netns.Available(); err != nil {
		testenv.Missing(t, "network namespaces (root + ip netns)",
			err.Error()+"; run `make test-cluster` as root on Linux (the Makefile installs iproute2 with apt-get)")
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds the commands and examples once per test binary and
// returns the directory holding them, named after their packages'
// directories with "/" as "-" (e.g. pingpong-scheduler, mesos-local).
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mesosgot-clustertest-")
		if buildErr != nil {
			return
		}
		pkgs := []string{
			"examples/pingpong/scheduler", "examples/pingpong/executor",
			"examples/elevator/scheduler", "examples/elevator/executor",
			"cmd/mesos-local",
		}
		for _, opt := range []string{"cmd/mesos-master", "cmd/mesos-agent"} {
			if _, err := os.Stat(filepath.Join("..", opt)); err == nil {
				pkgs = append(pkgs, opt)
			}
		}
		for _, p := range pkgs {
			name := strings.TrimPrefix(strings.ReplaceAll(strings.TrimPrefix(p, "examples/"), "/", "-"), "cmd-")
			out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, name), "../"+p).CombinedOutput()
			if err != nil {
				buildErr = &buildError{pkg: p, err: err, out: string(out)}
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return buildDir
}

type buildError struct {
	pkg, out string
	err      error
}

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

// helperEnv makes the test binary a helper process on a host:
// "dial-until:<addr>" connects to addr every 50ms until it succeeds (exit
// 0) or a minute has passed (exit 1).
const helperEnv = "CLUSTERTEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(helper(h))
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// has reports whether the built binary exists.
func has(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// glogTail returns the end of the glog INFO files under dir, for failures.
func glogTail(dir string, n int) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.INFO"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		b.WriteString("== " + filepath.Base(f) + "\n" + tail(string(data), n) + "\n")
	}
	return b.String()
}

// since formats a duration for the logged figures.
func since(t0 time.Time) string { return time.Since(t0).Round(time.Millisecond).String() }

func helper(mode string) int {
	addr, ok := strings.CutPrefix(mode, "dial-until:")
	if !ok {
		fmt.Println("unknown helper mode", mode)
		return 1
	}
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Println("still not listening:", err)
			return 1
		}
		time.Sleep(50 * time.Millisecond) // polling a remote port, with a deadline
	}
}

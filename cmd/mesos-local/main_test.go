package main

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/proctest"
)

const wait = 60 * time.Second

// mesos-go's own v0 example framework, unmodified, runs its tasks to the
// end against mesos-local, whose agents register with its master over
// loopback.
func TestMesosGoExampleFramework(t *testing.T) {
	dir := t.TempDir()
	local := proctest.Build(t, dir, "mesos-local", ".")
	scheduler := proctest.Build(t, dir, "example-scheduler", "github.com/mesos/mesos-go/api/v0/examples/scheduler")
	executor := proctest.Build(t, dir, "executor", "github.com/mesos/mesos-go/api/v0/examples/executor")

	c := proctest.Start(t, local, "-port=0", "-num_slaves=2", "-agent_ping_timeout=1secs")
	addr := c.WaitLine(`mesos-local: master (\S+) \(pid`, wait)[1]

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	artifactPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())
	s := proctest.Start(t, scheduler, "-master="+addr, "-executor="+executor, "-task-count=4",
		"-address=127.0.0.1", "-artifactPort="+artifactPort, "-logtostderr=true")
	require.NoError(t, s.Wait(wait), s.Output())
	assert.Contains(t, s.Output(), "Total tasks completed, stopping framework.")
	assert.NotContains(t, s.Output(), "slave lost")

	c.Signal(syscall.SIGTERM)
	require.NoError(t, c.Wait(wait), c.Output())
	done := c.WaitLine(`mesos-local: done: 1 framework\(s\), (\d+) task\(s\) launched`, wait)
	assert.Equal(t, "4", done[1])
	assert.False(t, strings.Contains(c.Output(), "removed:"), "no agent was removed:\n%s", c.Output())
}

func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

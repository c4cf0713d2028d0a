package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/proctest"
	"github.com/mesosgot/mesosgot/internal/zktest"
)

// A leading master that loses ZooKeeper for longer than its session
// timeout exits with status 1, as a Mesos master "commits suicide"
// (Master::lostCandidacy) so that it can come back as a standby.
func TestLeaderExitsWhenItLosesLeadership(t *testing.T) {
	zs := zktest.Start(t)
	bin := proctest.Build(t, t.TempDir(), "mesos-master", ".")
	m := proctest.Start(t, bin, "-port=0", "-zk="+zs.URL("/mesos"), "-zk_session_timeout=2secs")
	m.WaitLine(`contending for leadership at `+zs.URL("/mesos")+` \(session timeout 2secs\)`, wait)
	m.WaitLine(`elected as the leading master`, wait)
	zs.Stop()
	err := m.Wait(wait)
	require.Error(t, err, "mesos-master still running or exited 0 after ZooKeeper went away:\n%s", m.Output())
	assert.Contains(t, err.Error(), "exit status 1")
	m.WaitLine(`lost leadership: .*session timeout 2s`, wait)
}

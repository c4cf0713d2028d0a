package clustertest

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/netns"
)

// TestTwoHostsMesosLocal runs pingpong and the elevator with the scheduler on one host and
// cmd/mesos-local (master and agents in one process) on another: the
// scheduler, given only -master and -executor, must advertise its own
// host's address for the master to reply and the agents to fetch the
// executor from its artifact server.
func TestTwoHostsMesosLocal(t *testing.T) {
	requireNetns(t)
	bin := binaries(t)
	work, schedTmp := t.TempDir(), t.TempDir()
	n := netns.New(t, subnet, "master", "sched")
	master, sched := n.Host("master"), n.Host("sched")

	ml, err := master.Start(nil, bin+"/mesos-local", "-ip", master.IP.String(), "-port", "5050", "-num_slaves", "2", "-work_dir", work)
	require.NoError(t, err)
	_, err = ml.WaitFor(regexp.MustCompile(`mesos-local: master \S+`), 30*time.Second)
	require.NoError(t, err, ml.Output())

	t0 := time.Now()
	p, err := sched.Start([]string{"TMPDIR=" + schedTmp}, bin+"/pingpong-scheduler",
		"-master="+master.IP.String()+":5050", "-executor="+bin+"/pingpong-executor",
		"-workers", "4", "-messages", "5000")
	require.NoError(t, err)
	err = p.Wait(3 * time.Minute)
	took := since(t0)
	out := p.Output()
	require.NoError(t, err, "scheduler:\n%s\nmesos-local:\n%s\nscheduler log:\n%s", tail(out, 20), tail(ml.Output(), 30), glogTail(schedTmp, 40))
	assert.Contains(t, out, "20000 pongs received in order, 0 errors")
	assert.Contains(t, ml.Output(), "registered from scheduler(1)@"+sched.IP.String()+":", "the scheduler advertised its own host's address")
	t.Logf("figure: pingpong 4x5000 over two hosts (mesos-local): job %s", took)

	t0 = time.Now()
	p, err = sched.Start([]string{"TMPDIR=" + schedTmp}, bin+"/elevator-scheduler",
		"-master="+master.IP.String()+":5050", "-executor="+bin+"/elevator-executor", "-requests", "200")
	require.NoError(t, err)
	err = p.Wait(3 * time.Minute)
	took = since(t0)
	require.NoError(t, err, "scheduler:\n%s\nmesos-local:\n%s", tail(p.Output(), 20), tail(ml.Output(), 30))
	assert.Contains(t, p.Output(), "200/200 requests served")
	assert.Contains(t, p.Output(), "0 anomalies")
	t.Logf("figure: elevator 200 requests over two hosts (mesos-local): job %s", took)

	// Bound to every interface with fixed ports, as for a firewall: the
	// driver still advertises the routing IP, on the port asked for.
	p, err = sched.Start([]string{"TMPDIR=" + schedTmp}, bin+"/pingpong-scheduler",
		"-master="+master.IP.String()+":5050", "-executor="+bin+"/pingpong-executor",
		"-address=0.0.0.0", "-driver_port=40100", "-artifactPort=40101", "-workers", "2", "-messages", "100")
	require.NoError(t, err)
	err = p.Wait(3 * time.Minute)
	require.NoError(t, err, "scheduler:\n%s\nmesos-local:\n%s", tail(p.Output(), 20), tail(ml.Output(), 30))
	assert.Contains(t, p.Output(), "200 pongs received in order, 0 errors")
	assert.Contains(t, ml.Output(), "registered from scheduler(1)@"+sched.IP.String()+":40100")

	// The control: advertising loopback (the old default) cannot work
	// across hosts, and says so within the registration timeout.
	p, err = sched.Start([]string{"TMPDIR=" + schedTmp}, bin+"/pingpong-scheduler",
		"-master="+master.IP.String()+":5050", "-executor="+bin+"/pingpong-executor",
		"-address=127.0.0.1", "-registration_timeout=3s", "-workers", "1", "-messages", "1")
	require.NoError(t, err)
	err = p.Wait(time.Minute)
	assert.Error(t, err, "a scheduler advertising 127.0.0.1 to a remote master never registers")
	assert.Contains(t, p.Output(), "not registered with master")
}

package localmesos

import (
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Follows Mesos' src/master/master.cpp, Master::_subscribe and
// Master::failoverFramework / _failoverFramework: a scheduler started with
// the framework's ID (mesos-go sets failover) replaces the running one. The
// old scheduler gets FrameworkErrorMessage "Framework failed over", its
// offers are discarded (not leaked), the new one gets
// FrameworkRegisteredMessage, and the agents learn its pid
// (Master::sendFrameworkUpdates, UpdateFrameworkMessage).
func TestConformanceSchedulerFailover(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	old := newTestSched()
	d1 := startDriverWith(t, c, old, &mesos.FrameworkInfo{FailoverTimeout: proto.Float64(60)})
	fid := recv(t, old.registered, "registration")
	o := recv(t, old.offers, "offer")
	e := testExecutorInfo("echoer")
	_, err := d1.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t1", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	waitState(t, old, "t1", mesos.TaskState_TASK_RUNNING)
	held := recv(t, old.offers, "the offer the old scheduler holds")

	s := newTestSched()
	d2 := startDriverWith(t, c, s, &mesos.FrameworkInfo{Id: fid, FailoverTimeout: proto.Float64(60)})
	assert.Equal(t, fid.GetValue(), recv(t, s.registered, "registration of the new scheduler").GetValue())
	assert.Equal(t, "Framework failed over", recv(t, old.errors, "error of the old scheduler"))

	// The held offer went back: the new scheduler is offered everything
	// the task and its executor do not use.
	o2 := recv(t, s.offers, "offer to the new scheduler")
	assert.Equal(t, FormatResources(held.Resources), FormatResources(o2.Resources))
	assert.NotEqual(t, held.GetId().GetValue(), o2.GetId().GetValue())
	fws := c.Frameworks()
	require.Len(t, fws, 1)
	assert.True(t, fws[0].Connected)
	a := c.agents[0]
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		f := a.frameworks[fid.GetValue()]
		return f != nil && f.pid == fws[0].PID
	}, waitTimeout, 10*time.Millisecond, "the agent learns the new scheduler's pid %s", fws[0].PID)

	// The agent and master route the framework to the new scheduler.
	_, err = d2.SendFrameworkMessage(e.ExecutorId, o.SlaveId, "hi")
	require.NoError(t, err)
	assert.Equal(t, "echo:hi", recv(t, s.messages, "echo to the new scheduler"))
	_, err = d2.KillTask(util.NewTaskID("t1"))
	require.NoError(t, err)
	waitState(t, s, "t1", mesos.TaskState_TASK_KILLED)
}

// Follows Mesos' src/master/master.cpp, Master::_subscribe: a scheduler
// re-registering from its own pid without failover (after a disconnection)
// has its offers rescinded and gets FrameworkReregisteredMessage; one
// re-registering from another pid without failover is told "Framework
// failed over"; a removed framework is told "Framework has been removed";
// registering with an ID set is refused.
func TestConformanceReregistration(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	r := newRawSched(t, c)
	fid := r.register()
	o := recv(t, r.offers, "offer")
	info := &mesos.FrameworkInfo{Id: fid, User: proto.String(""), Name: proto.String(t.Name())}

	r.send(&mesos.ReregisterFrameworkMessage{Framework: info, Failover: proto.Bool(false)})
	assert.Equal(t, o.GetId().GetValue(), recv(t, r.rescinded, "rescind"))
	assert.Equal(t, fid.GetValue(), recv(t, r.reregistered, "re-registration").GetFrameworkId().GetValue())
	o2 := recv(t, r.offers, "new offer")
	assert.NotEqual(t, o.GetId().GetValue(), o2.GetId().GetValue())

	other := newRawSched(t, c)
	other.send(&mesos.ReregisterFrameworkMessage{Framework: info, Failover: proto.Bool(false)})
	assert.Equal(t, "Framework failed over", recv(t, other.errors, "refusal"))
	other.send(&mesos.RegisterFrameworkMessage{Framework: info})
	assert.Equal(t, "Registering with 'id' already set", recv(t, other.errors, "refusal"))
	other.send(&mesos.ReregisterFrameworkMessage{Framework: &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String("x")}, Failover: proto.Bool(true)})
	assert.Equal(t, "Re-registering without an 'id'", recv(t, other.errors, "refusal"))

	r.send(&mesos.UnregisterFrameworkMessage{FrameworkId: fid})
	require.Eventually(t, func() bool { return c.Frameworks()[0].Removed }, waitTimeout, 10*time.Millisecond)
	other.send(&mesos.ReregisterFrameworkMessage{Framework: info, Failover: proto.Bool(true)})
	assert.Equal(t, "Framework has been removed", recv(t, other.errors, "refusal"))
}

// Follows Mesos' src/master/master.cpp, Master::_subscribe and
// Master::connectAndActivateRecoveredFramework: a framework this master
// knows only from an agent's report (after a master failover) is recovered
// by its scheduler re-registering, failover or not, and the scheduler gets
// FrameworkRegisteredMessage; so is a framework the master never heard of.
func TestConformanceRecoveredFramework(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	const known = "fw-known-from-an-agent"
	c.master.mu.Lock()
	fw := c.master.newFramework(known, &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String("")}, &upid.UPID{}, "")
	fw.connected, fw.active = false, false
	c.master.mu.Unlock()

	for _, id := range []string{known, "fw-never-seen"} {
		r := newRawSched(t, c)
		info := &mesos.FrameworkInfo{Id: util.NewFrameworkID(id), User: proto.String(""), Name: proto.String(t.Name())}
		r.send(&mesos.ReregisterFrameworkMessage{Framework: info, Failover: proto.Bool(false)})
		assert.Equal(t, id, recv(t, r.registered, "registration of "+id).GetFrameworkId().GetValue())
		if id == known {
			recv(t, r.offers, "offer to "+id) // it is active again (the other one finds the agent taken)
		}
	}
}

package localmesos

import (
	"testing"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Mesos' src/master/master.cpp (Master::killTask, Master::launchTasks,
// Master::reconcileTasks, Master::statusUpdateAcknowledgement,
// Master::schedulerMessage, Master::deactivateFramework, Master::receive's
// "Framework cannot be found" / "Call is not from registered framework"):
// a scheduler message naming a framework the master does not know, or sent
// from a pid that is not the framework's scheduler (a framework the master
// knows only from a re-registering agent has none), is logged and ignored.
// There is no FrameworkErrorMessage, no reconciliation answer, no state
// change: a scheduler talking to a restarted master that forgot it hears
// nothing back.
func TestConformanceMessagesFromUnknownFrameworkIgnored(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	const recovered = "fw-known-from-an-agent"
	c.master.mu.Lock()
	fw := c.master.newFramework(recovered, &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String("")}, &upid.UPID{}, "")
	fw.connected, fw.active = false, false
	c.master.mu.Unlock()

	r := newRawSched(t, c)
	agentID := c.Agents()[0].ID
	for _, id := range []string{recovered, "fw-never-seen"} {
		fid := util.NewFrameworkID(id)
		task := util.NewTaskID("t-" + id)
		r.send(&mesos.KillTaskMessage{FrameworkId: fid, TaskId: task})
		r.reconcile(fid, &mesos.TaskStatus{TaskId: task, State: mesos.TaskState_TASK_RUNNING.Enum(), SlaveId: util.NewSlaveID(agentID)})
		r.reconcile(fid)
		r.send(&mesos.LaunchTasksMessage{FrameworkId: fid, OfferIds: []*mesos.OfferID{util.NewOfferID("no-such-offer")}, Filters: noRefuse(),
			Tasks: []*mesos.TaskInfo{{Name: proto.String("t"), TaskId: task, SlaveId: util.NewSlaveID(agentID)}}})
		r.send(&mesos.StatusUpdateAcknowledgementMessage{FrameworkId: fid, SlaveId: util.NewSlaveID(agentID), TaskId: task, Uuid: []byte("0123456789abcdef")})
		r.send(&mesos.FrameworkToExecutorMessage{FrameworkId: fid, SlaveId: util.NewSlaveID(agentID), ExecutorId: util.NewExecutorID("e"), Data: []byte("x")})
		r.send(&mesos.DeactivateFrameworkMessage{FrameworkId: fid})
		r.send(&mesos.UnregisterFrameworkMessage{FrameworkId: fid})
	}
	// the master takes one sender's messages in order: once this
	// registration is answered, the messages above have been handled
	r.register()
	assert.Empty(t, r.errors, "no FrameworkErrorMessage")
	assert.Empty(t, r.updates, "no status update (no reconciliation answer, no TASK_LOST for the launch)")
	var found bool
	for _, f := range c.Frameworks() {
		if f.ID == recovered {
			found = true
			assert.False(t, f.Removed, "the recovered framework was not unregistered by a stranger")
		}
		assert.NotEqual(t, "fw-never-seen", f.ID)
	}
	require.True(t, found)
	assert.Zero(t, c.Stats().FrameworkMessages, "the framework message was not carried")
}

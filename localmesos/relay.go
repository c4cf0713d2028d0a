package localmesos

import (
	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

func (m *master) agentFrom(from *upid.UPID) *agentRec {
	for _, a := range m.agents {
		if a.pid.Equal(from) && !a.lost {
			return a
		}
	}
	return nil
}

// statusUpdate routes an agent's status update to the scheduler.
func (m *master) statusUpdate(from *upid.UPID, msg *mesos.StatusUpdateMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.agentFrom(from) == nil {
		log.Warningf("localmesos: ignoring status update from %s, not an agent", from)
		return
	}
	u := msg.GetUpdate()
	fw := m.frameworks[u.GetFrameworkId().GetValue()]
	if fw == nil || fw.removed {
		return
	}
	if t := fw.tasks[u.GetStatus().GetTaskId().GetValue()]; t != nil {
		m.setTaskState(fw, t, u.GetStatus())
		if isTerminal(t.state) {
			m.allocateSoon()
		}
	}
	if fw.connected {
		m.c.stats.statusUpdates.Add(1)
		m.send(fw.pid, msg)
	}
}

// forwardToAgent passes msg from a framework's scheduler on to an agent
// that is not lost; messages from a pid that is not the framework's are
// dropped.
func (m *master) forwardToAgent(from *upid.UPID, fwID *mesos.FrameworkID, agentID *mesos.SlaveID, msg proto.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lookup(fwID, from) == nil {
		return
	}
	if a := m.agents[agentID.GetValue()]; a != nil && !a.lost {
		m.send(&a.pid, msg)
	}
}

func (m *master) exitedExecutor(from *upid.UPID, msg *mesos.ExitedExecutorMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agentFrom(from)
	if a == nil {
		return
	}
	fw := m.frameworks[msg.GetFrameworkId().GetValue()]
	if fw == nil || fw.removed {
		return
	}
	delete(fw.executors[a.id], msg.GetExecutorId().GetValue())
	if fw.connected {
		m.send(fw.pid, msg)
	}
	m.allocate()
}

// executorToFramework passes an executor's message, relayed by its agent,
// on to the framework's scheduler; like the agent (agent_relay.go), without
// decoding or copying its data.
func (m *master) executorToFramework(from *upid.UPID, msg *libprocess.ExecutorToFrameworkMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.agentFrom(from) == nil {
		return
	}
	fw := m.frameworks[msg.FrameworkID]
	if fw != nil && fw.connected {
		m.c.stats.fwMsgsViaMaster.Add(1)
		m.send(fw.pid, msg)
	}
}

// frameworkToExecutor passes a scheduler's message on to the agent it
// names, without decoding or copying its data.
func (m *master) frameworkToExecutor(from *upid.UPID, msg *libprocess.FrameworkToExecutorMessage) {
	m.forwardToAgent(from, &mesos.FrameworkID{Value: &msg.FrameworkID}, &mesos.SlaveID{Value: &msg.SlaveID}, msg)
}

package localmesos

import (
	"bytes"
	"sort"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// Reconciliation messages, as Mesos' Master::reconcile words them.
const (
	reconcileLatest      = "Reconciliation: Latest task state"
	reconcileUnknownHere = "Reconciliation: Task is unknown to the agent"
	reconcileUnreachable = "Reconciliation: Task is unreachable"
	reconcileUnknown     = "Reconciliation: Task is unknown"
)

func (m *master) reconcileTasks(from *upid.UPID, msg *mesos.ReconcileTasksMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.lookup(msg.GetFrameworkId(), from)
	if fw == nil {
		return
	}
	m.reconcile(fw, msg.GetStatuses())
}

// reconcile follows Mesos' Master::reconcile. Implicit (no statuses): the
// latest state of every task the master knows, terminal ones the scheduler
// has not acknowledged included. Explicit: a known task's latest state; an
// unknown one is TASK_LOST, worded by what the master knows of its agent.
// Replies carry no data and no uuid (they are not acknowledged).
func (m *master) reconcile(fw *framework, statuses []*mesos.TaskStatus) {
	if len(statuses) == 0 {
		ids := make([]string, 0, len(fw.tasks))
		for id := range fw.tasks {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			m.reconcileKnown(fw, fw.tasks[id])
		}
		return
	}
	for _, s := range statuses {
		if t := fw.tasks[s.GetTaskId().GetValue()]; t != nil {
			m.reconcileKnown(fw, t)
			continue
		}
		agentID := s.GetSlaveId().GetValue()
		if m.recoveringAgent(agentID) {
			continue // no answer yet, as Mesos for a recovered agent (election.go)
		}
		a := m.agents[agentID]
		why := reconcileUnknown
		switch {
		case agentID == "" || a == nil:
		case a.lost:
			why = reconcileUnreachable
		default:
			why = reconcileUnknownHere
		}
		m.reconcileReply(fw, s.GetTaskId(), s.GetSlaveId(), nil, mesos.TaskState_TASK_LOST, why)
	}
}

func (m *master) reconcileKnown(fw *framework, t *task) {
	var execID *mesos.ExecutorID
	if e := t.info.GetExecutor(); e != nil {
		execID = e.GetExecutorId()
	}
	m.reconcileReply(fw, t.info.GetTaskId(), t.info.GetSlaveId(), execID, t.state, reconcileLatest)
}

func (m *master) reconcileReply(fw *framework, taskID *mesos.TaskID, agentID *mesos.SlaveID, execID *mesos.ExecutorID, state mesos.TaskState, why string) {
	if taskID == nil {
		taskID = &mesos.TaskID{Value: proto.String("")}
	}
	if agentID.GetValue() == "" {
		agentID = nil
	}
	now := float64(time.Now().UnixNano()) / 1e9
	st := &mesos.TaskStatus{
		TaskId:     taskID,
		State:      state.Enum(),
		Message:    proto.String(why),
		Source:     mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:     mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
		SlaveId:    agentID,
		ExecutorId: execID,
		Timestamp:  proto.Float64(now),
	}
	log.V(1).Infof("localmesos: reconciliation of task %s of framework %s: %s (%s)", taskID.GetValue(), fw.id, state, why)
	if fw.connected {
		m.c.stats.statusUpdates.Add(1)
		m.send(fw.pid, &mesos.StatusUpdateMessage{Update: &mesos.StatusUpdate{
			FrameworkId: fw.info.Id,
			SlaveId:     agentID,
			ExecutorId:  execID,
			Status:      st,
			Timestamp:   proto.Float64(now),
		}})
	}
}

// statusUpdateAck passes a scheduler's acknowledgement on to the agent; as
// in Mesos' Master::acknowledge, acknowledging a task's terminal update
// makes the master forget the task.
func (m *master) statusUpdateAck(from *upid.UPID, msg *mesos.StatusUpdateAcknowledgementMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.lookup(msg.GetFrameworkId(), from)
	if fw == nil {
		return
	}
	a := m.agents[msg.GetSlaveId().GetValue()]
	if a == nil || a.lost {
		log.Warningf("localmesos: cannot send acknowledgement for task %s of framework %s to agent %s: agent is not registered",
			msg.GetTaskId().GetValue(), fw.id, msg.GetSlaveId().GetValue())
		return
	}
	if t := fw.tasks[msg.GetTaskId().GetValue()]; t != nil && t.agentID == a.id && isTerminal(t.state) &&
		t.status != nil && len(t.status.GetUuid()) > 0 && bytes.Equal(t.status.GetUuid(), msg.GetUuid()) {
		m.completeTask(fw, t, false)
	}
	m.send(&a.pid, msg)
}

package localmesos

import (
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

func (m *master) reconcileTasks(from *upid.UPID, msg *mesos.ReconcileTasksMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.lookup(msg.GetFrameworkId(), from)
	if fw == nil {
		return
	}
	reply := func(t *task) {
		st := proto.Clone(t.status).(*mesos.TaskStatus)
		st.Reason = mesos.TaskStatus_REASON_RECONCILIATION.Enum()
		st.Source = mesos.TaskStatus_SOURCE_MASTER.Enum()
		st.Uuid = nil
		now := float64(time.Now().UnixNano()) / 1e9
		st.Timestamp = proto.Float64(now)
		m.send(fw.pid, &mesos.StatusUpdateMessage{Update: &mesos.StatusUpdate{
			FrameworkId: fw.info.Id,
			SlaveId:     t.info.SlaveId,
			Status:      st,
			Timestamp:   proto.Float64(now),
		}})
	}
	statusOf := func(t *task) {
		if t.status == nil {
			t.status = &mesos.TaskStatus{TaskId: t.info.TaskId, State: t.state.Enum(), SlaveId: t.info.SlaveId}
		}
	}
	if len(msg.GetStatuses()) == 0 {
		ids := make([]string, 0, len(fw.tasks))
		for id, t := range fw.tasks {
			if !isTerminal(t.state) {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			statusOf(fw.tasks[id])
			reply(fw.tasks[id])
		}
		return
	}
	for _, s := range msg.GetStatuses() {
		t := fw.tasks[s.GetTaskId().GetValue()]
		if t == nil {
			if m.recoveringAgent(s.GetSlaveId().GetValue()) {
				continue // no answer yet, as Mesos for a recovered agent
			}
			m.masterUpdate(fw, &mesos.TaskInfo{TaskId: s.GetTaskId(), SlaveId: s.GetSlaveId()}, mesos.TaskState_TASK_LOST,
				mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: task is unknown")
			continue
		}
		statusOf(t)
		reply(t)
	}
}

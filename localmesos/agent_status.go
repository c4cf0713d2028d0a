package localmesos

import (
	"bytes"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

func (a *agent) statusUpdateAck(from *upid.UPID, msg *mesos.StatusUpdateAcknowledgementMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost || !a.fromMaster(from) {
		return
	}
	key := msg.GetFrameworkId().GetValue() + "/" + msg.GetTaskId().GetValue()
	s := a.streams[key]
	if s == nil || len(s.pending) == 0 || !bytes.Equal(s.pending[0].GetUuid(), msg.GetUuid()) {
		return
	}
	if s.stopRetry != nil {
		s.stopRetry()
	}
	a.checkpointAck(s, msg.GetUuid())
	s.pending = s.pending[1:]
	s.backoff = a.c.cfg.StatusUpdateRetry
	if len(s.pending) > 0 {
		a.forward(key, s)
	} else {
		delete(a.streams, key)
	}
}

func (a *agent) statusUpdate(from *upid.UPID, msg *mesos.StatusUpdateMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
	a.statusUpdateLocked(from, msg)
}

// statusUpdateLocked takes an executor's status update (also those a
// re-registering executor resends). Called with a.mu held.
func (a *agent) statusUpdateLocked(from *upid.UPID, msg *mesos.StatusUpdateMessage) {
	u := proto.Clone(msg.GetUpdate()).(*mesos.StatusUpdate)
	st := u.GetStatus()
	fw, ex := a.lookupExecutor(u.GetFrameworkId().GetValue(), u.GetExecutorId().GetValue())
	if fw == nil || st == nil || st.GetState() == mesos.TaskState_TASK_STAGING {
		log.Warningf("localmesos: agent %s: ignoring status update %v from %s", a.id, st, from)
		return
	}
	if ex != nil {
		if t := ex.tasks[st.GetTaskId().GetValue()]; t != nil {
			t.state = st.GetState()
		}
	}
	// The agent takes over responsibility for the update: ack it now.
	a.send(from, &mesos.StatusUpdateAcknowledgementMessage{
		SlaveId:     a.slaveID(),
		FrameworkId: u.FrameworkId,
		TaskId:      st.TaskId,
		Uuid:        u.Uuid,
	})
	if fw.shuttingDown {
		return
	}
	u.SlaveId = a.slaveID()
	st.SlaveId = a.slaveID()
	if st.Source == nil {
		st.Source = mesos.TaskStatus_SOURCE_EXECUTOR.Enum()
	}
	if len(u.Uuid) == 0 {
		u.Uuid = newUUID()
	}
	st.Uuid = u.Uuid
	a.enqueue(u)
}

// update generates a status update on behalf of the agent. reason < 0 means
// none.
func (a *agent) update(fid, eid string, taskID *mesos.TaskID, state mesos.TaskState, reason mesos.TaskStatus_Reason, why string) {
	a.enqueue(a.newUpdate(fid, eid, taskID, state, mesos.TaskStatus_SOURCE_SLAVE, reason, why))
}

// commandUpdate generates a status update of a command task on behalf of
// the command executor the agent stands in for: from SOURCE_EXECUTOR, as
// Mesos' command executor (src/launcher/executor.cpp) sends them.
func (a *agent) commandUpdate(ex *executor, taskID *mesos.TaskID, state mesos.TaskState, reason mesos.TaskStatus_Reason, why string) {
	u := a.newUpdate(ex.fwID, ex.id, taskID, state, mesos.TaskStatus_SOURCE_EXECUTOR, reason, why)
	if why == "" {
		u.Status.Message = nil
	}
	a.enqueue(u)
}

func (a *agent) newUpdate(fid, eid string, taskID *mesos.TaskID, state mesos.TaskState, source mesos.TaskStatus_Source, reason mesos.TaskStatus_Reason, why string) *mesos.StatusUpdate {
	id := newUUID()
	now := float64(time.Now().UnixNano()) / 1e9
	st := &mesos.TaskStatus{
		TaskId:    taskID,
		State:     state.Enum(),
		Message:   proto.String(why),
		Source:    source.Enum(),
		SlaveId:   a.slaveID(),
		Timestamp: proto.Float64(now),
		Uuid:      id,
	}
	if reason >= 0 {
		st.Reason = reason.Enum()
	}
	u := &mesos.StatusUpdate{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fid)},
		SlaveId:     a.slaveID(),
		Status:      st,
		Timestamp:   proto.Float64(now),
		Uuid:        id,
	}
	if eid != "" {
		u.ExecutorId = &mesos.ExecutorID{Value: proto.String(eid)}
		st.ExecutorId = u.ExecutorId
	}
	return u
}

func (a *agent) enqueue(u *mesos.StatusUpdate) {
	key := u.GetFrameworkId().GetValue() + "/" + u.GetStatus().GetTaskId().GetValue()
	s := a.streams[key]
	if s == nil {
		s = &updateStream{backoff: a.c.cfg.StatusUpdateRetry}
		a.streams[key] = s
	}
	s.pending = append(s.pending, u)
	a.checkpointUpdate(s, u)
	if len(s.pending) == 1 {
		a.forward(key, s)
	}
}

// statusUpdateRetryMax is Mesos' STATUS_UPDATE_RETRY_INTERVAL_MAX.
const statusUpdateRetryMax = 10 * time.Minute

// nextRetry doubles a status update's retry interval up to
// statusUpdateRetryMax, as Mesos' TaskStatusUpdateManagerProcess::timeout
// does (starting from STATUS_UPDATE_RETRY_INTERVAL_MIN, Config.StatusUpdateRetry).
func nextRetry(d time.Duration) time.Duration { return min(2*d, statusUpdateRetryMax) }

// forward sends the stream's head to the master and schedules its retry.
func (a *agent) forward(key string, s *updateStream) {
	head := s.pending[0]
	a.toMaster(&mesos.StatusUpdateMessage{Update: head, Pid: proto.String(a.pid.String())})
	d := s.backoff
	s.backoff = nextRetry(s.backoff)
	id := head.GetUuid()
	s.stopRetry = a.c.after(d, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.lost && a.streams[key] == s && len(s.pending) > 0 && bytes.Equal(s.pending[0].GetUuid(), id) {
			log.V(1).Infof("localmesos: agent %s: retrying status update for %s", a.id, key)
			a.forward(key, s)
		}
	})
}

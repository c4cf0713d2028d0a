package localmesos

import (
	"syscall"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

func (a *agent) runTask(from *upid.UPID, msg *mesos.RunTaskMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost || !a.fromMaster(from) {
		return
	}
	ti := msg.GetTask()
	fid := msg.GetFramework().GetId().GetValue()
	if fid == "" {
		fid = msg.GetFrameworkId().GetValue()
	}
	fw := a.frameworks[fid]
	if fw == nil {
		fw = &agentFramework{id: fid, executors: map[string]*executor{}}
		a.frameworks[fid] = fw
	}
	if ckpt := fw.info == nil || fw.pid != msg.GetPid() || !proto.Equal(fw.info, msg.GetFramework()); ckpt {
		fw.info, fw.pid = msg.GetFramework(), msg.GetPid()
		a.checkpointFramework(fw)
	}
	einfo, command := ti.GetExecutor(), false
	if einfo == nil {
		command = true
		einfo = &mesos.ExecutorInfo{
			ExecutorId:  &mesos.ExecutorID{Value: proto.String(ti.GetTaskId().GetValue())},
			FrameworkId: fw.info.Id,
			Command:     ti.GetCommand(),
			Name:        proto.String("Command Executor (Task: " + ti.GetTaskId().GetValue() + ")"),
		}
	}
	eid := einfo.GetExecutorId().GetValue()
	if fw.shuttingDown {
		a.update(fid, eid, ti.GetTaskId(), mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_FRAMEWORK_REMOVED, "framework is shutting down")
		return
	}
	ex := fw.executors[eid]
	if ex != nil && ex.state >= execTerminating {
		a.update(fid, eid, ti.GetTaskId(), mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "executor "+eid+" is terminating")
		return
	}
	if ex == nil {
		a.runs++
		ex = &executor{
			fwID:    fid,
			id:      eid,
			info:    einfo,
			command: command,
			dir:     sandboxDir(a.c.workDir, a.id, fid, eid, a.runs),
			tasks:   map[string]*agentTask{},
			exited:  make(chan struct{}),
		}
		if !a.c.goTracked(func() { a.launch(fw, ex) }) {
			a.update(fid, eid, ti.GetTaskId(), mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_SLAVE_REMOVED, "agent is shutting down")
			return
		}
		fw.executors[eid] = ex
		a.checkpointExecutor(fw, ex)
	}
	ex.tasks[ti.GetTaskId().GetValue()] = &agentTask{info: ti, state: mesos.TaskState_TASK_STAGING}
	a.checkpointTask(fw, ex, ti)
	run := &mesos.RunTaskMessage{FrameworkId: fw.info.Id, Framework: fw.info, Pid: proto.String(fw.pid), Task: ti}
	if ex.state == execRegistered && !ex.command {
		a.send(ex.pid, run)
	} else {
		ex.queued = append(ex.queued, run)
	}
}

func (a *agent) killTask(from *upid.UPID, msg *mesos.KillTaskMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost || !a.fromMaster(from) {
		return
	}
	fid, tid := msg.GetFrameworkId().GetValue(), msg.GetTaskId().GetValue()
	fw := a.frameworks[fid]
	var ex *executor
	known := false
	if fw != nil {
		if fw.shuttingDown {
			return // Mesos ignores kills for a terminating framework
		}
		for _, e := range fw.executors {
			if t := e.tasks[tid]; t != nil {
				known = true
				if !isTerminal(t.state) {
					ex = e
				}
			}
		}
	}
	if s := a.streams[fid+"/"+tid]; s != nil && len(s.pending) > 0 {
		known = true // its terminal update is not acknowledged yet
	}
	if ex == nil && known {
		log.V(1).Infof("localmesos: agent %s: task %s of framework %s is already terminal; ignoring kill", a.id, tid, fid)
		return
	}
	if ex == nil {
		// Mesos' Slave::killTask when no executor has the task.
		a.update(fid, "", msg.GetTaskId(), mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Cannot find executor")
		return
	}
	switch {
	case ex.command:
		a.terminate(ex, syscall.SIGTERM)
	case ex.state == execRegistered:
		a.send(ex.pid, msg)
	default:
		// Not yet delivered to the executor: kill it here.
		for i, q := range ex.queued {
			if q.GetTask().GetTaskId().GetValue() == tid {
				ex.queued = append(ex.queued[:i], ex.queued[i+1:]...)
				break
			}
		}
		ex.tasks[tid].state = mesos.TaskState_TASK_KILLED
		a.update(fid, ex.id, msg.GetTaskId(), mesos.TaskState_TASK_KILLED, -1, "Killed before delivery to the executor")
	}
}

func (a *agent) shutdownFramework(from *upid.UPID, msg *mesos.ShutdownFrameworkMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost || !a.fromMaster(from) {
		return
	}
	a.shutdownFrameworkLocked(msg.GetFrameworkId().GetValue())
}

func (a *agent) shutdownFrameworkLocked(fid string) []<-chan struct{} {
	fw := a.frameworks[fid]
	if fw == nil {
		return nil
	}
	fw.shuttingDown = true
	for key, s := range a.streams {
		if len(s.pending) > 0 && s.pending[0].GetFrameworkId().GetValue() == fid {
			if s.stopRetry != nil {
				s.stopRetry()
			}
			delete(a.streams, key)
		}
	}
	var exited []<-chan struct{}
	for _, ex := range fw.executors {
		a.terminate(ex, syscall.SIGTERM)
		exited = append(exited, ex.exited)
	}
	if len(fw.executors) == 0 {
		delete(a.frameworks, fid)
	}
	return exited
}

func (a *agent) updateFramework(from *upid.UPID, msg *mesos.UpdateFrameworkMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if fw := a.frameworks[msg.GetFrameworkId().GetValue()]; fw != nil && a.fromMaster(from) {
		fw.pid = msg.GetPid()
		a.checkpointFramework(fw)
	}
}

package localmesos

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// Checkpointing: what an agent with a work directory of its own writes,
// for the frameworks that ask for it (FrameworkInfo.checkpoint), so that
// after a restart it can reconnect to their executors (agent_recover.go).
// The layout is Mesos' (src/slave/paths.hpp), under <work_dir>/meta:
//
//	slaves/latest/slave.id                          the agent's ID
//	slaves/<agent>/slave.info                       SlaveInfo
//	slaves/<agent>/frameworks/<framework>/framework.info, framework.pid
//	  executors/<executor>/executor.info            ExecutorInfo
//	    runs/<run>/forked.pid                       OS pid (process group)
//	    runs/<run>/libprocess.pid                   the executor driver's pid
//	    runs/<run>/executor.sentinel                the run has ended
//	    runs/<run>/tasks/<task>/task.info           Task
//	    runs/<run>/tasks/<task>/task.updates        StatusUpdateRecords
//
// Files holding one value are replaced atomically (write, then rename);
// task.updates is appended to, one length-prefixed StatusUpdateRecord
// (UPDATE, or ACK with the update's UUID) per write, as Mesos' task status
// update manager does. Command tasks, which the agent runs itself rather
// than through an executor of their own, are not checkpointed: they end
// with the agent.

const (
	slaveInfoFile      = "slave.info"
	frameworkInfoFile  = "framework.info"
	frameworkPIDFile   = "framework.pid"
	executorInfoFile   = "executor.info"
	forkedPIDFile      = "forked.pid"
	libprocessPIDFile  = "libprocess.pid"
	executorSentinel   = "executor.sentinel"
	taskInfoFile       = "task.info"
	taskUpdatesFile    = "task.updates"
	maxCheckpointBytes = 64 << 20 // a record larger than this is corruption
)

// checkpoints reports whether the agent checkpoints at all: only one with a
// work directory of its own does (StartAgent with AgentConfig.WorkDir), and
// not once lost or crashed.
func (a *agent) checkpoints() bool { return a.opts.idFile != "" && !a.lost }

// checkpointsFor reports whether fw's state is checkpointed.
func (a *agent) checkpointsFor(fw *agentFramework) bool {
	return a.checkpoints() && fw != nil && fw.info.GetCheckpoint()
}

// checkpointsExec reports whether ex's state is checkpointed.
func (a *agent) checkpointsExec(fw *agentFramework, ex *executor) bool {
	return a.checkpointsFor(fw) && !ex.command
}

func (a *agent) metaDir() string {
	return filepath.Join(a.c.workDir, "meta", "slaves", a.id)
}

func (a *agent) frameworkMeta(fid string) string {
	return filepath.Join(a.metaDir(), "frameworks", fid)
}

func (a *agent) executorMeta(fid, eid string) string {
	return filepath.Join(a.frameworkMeta(fid), "executors", eid)
}

// runMeta is the meta directory of ex's run (the run is its sandbox's name).
func (a *agent) runMeta(ex *executor) string {
	return filepath.Join(a.executorMeta(ex.fwID, ex.id), "runs", filepath.Base(ex.dir))
}

func (a *agent) taskMeta(ex *executor, tid string) string {
	return filepath.Join(a.runMeta(ex), "tasks", tid)
}

// checkpointFile replaces path's content with b.
func checkpointFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

func checkpointProto(path string, msg proto.Message) error {
	b, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encoding %T: %w", path, msg, err)
	}
	return checkpointFile(path, b)
}

// appendRecord appends one length-prefixed record to path, in one write.
func appendRecord(path string, rec *mesos.StatusUpdateRecord) error {
	b, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encoding the record: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	buf := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	if _, err := f.Write(append(buf, b...)); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return f.Close()
}

// readRecords reads the StatusUpdateRecords of path.
func readRecords(path string) ([]*mesos.StatusUpdateRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*mesos.StatusUpdateRecord
	for len(b) > 0 {
		if len(b) < 4 {
			return out, fmt.Errorf("%s: truncated record length at the end", path)
		}
		n := binary.LittleEndian.Uint32(b)
		if n > maxCheckpointBytes || int(n) > len(b)-4 {
			return out, fmt.Errorf("%s: truncated record of %d bytes at the end", path, n)
		}
		rec := &mesos.StatusUpdateRecord{}
		if err := proto.Unmarshal(b[4:4+n], rec); err != nil {
			return out, fmt.Errorf("%s: bad record: %w", path, err)
		}
		out = append(out, rec)
		b = b[4+n:]
	}
	return out, nil
}

// ckpt logs a checkpoint failure: the agent goes on (its state in memory is
// right), but a restart could not recover what was not written.
func (a *agent) ckpt(err error) {
	if err != nil {
		log.Errorf("localmesos: agent %s: %v (recovery after a restart would miss it)", a.id, err)
	}
}

// checkpointAgent writes the agent's SlaveInfo once it has an ID.
func (a *agent) checkpointAgent() {
	if a.checkpoints() && a.id != "" {
		a.ckpt(checkpointProto(filepath.Join(a.metaDir(), slaveInfoFile), a.info))
	}
}

// checkpointFramework writes fw's info and scheduler pid.
func (a *agent) checkpointFramework(fw *agentFramework) {
	if !a.checkpointsFor(fw) {
		return
	}
	dir := a.frameworkMeta(fw.id)
	a.ckpt(checkpointProto(filepath.Join(dir, frameworkInfoFile), fw.info))
	a.ckpt(checkpointFile(filepath.Join(dir, frameworkPIDFile), []byte(fw.pid)))
}

// checkpointExecutor writes ex's info and creates its run's meta directory.
func (a *agent) checkpointExecutor(fw *agentFramework, ex *executor) {
	if !a.checkpointsExec(fw, ex) {
		return
	}
	info := proto.Clone(ex.info).(*mesos.ExecutorInfo)
	info.FrameworkId = &mesos.FrameworkID{Value: proto.String(ex.fwID)}
	a.ckpt(checkpointProto(filepath.Join(a.executorMeta(ex.fwID, ex.id), executorInfoFile), info))
	a.ckpt(os.MkdirAll(filepath.Join(a.runMeta(ex), "tasks"), 0o755))
}

// checkpointForkedPID writes the OS pid of ex's process once started.
func (a *agent) checkpointForkedPID(fw *agentFramework, ex *executor) {
	if a.checkpointsExec(fw, ex) {
		a.ckpt(checkpointFile(filepath.Join(a.runMeta(ex), forkedPIDFile), []byte(strconv.Itoa(ex.osPid))))
	}
}

// checkpointLibprocessPID writes ex's driver pid once it registered.
func (a *agent) checkpointLibprocessPID(fw *agentFramework, ex *executor) {
	if a.checkpointsExec(fw, ex) && ex.pid != nil {
		a.ckpt(checkpointFile(filepath.Join(a.runMeta(ex), libprocessPIDFile), []byte(ex.pid.String())))
	}
}

// checkpointEnded marks ex's run ended: a restarted agent does not recover
// it.
func (a *agent) checkpointEnded(fw *agentFramework, ex *executor) {
	if a.checkpointsExec(fw, ex) {
		a.ckpt(checkpointFile(filepath.Join(a.runMeta(ex), executorSentinel), nil))
	}
}

// checkpointTask writes task t of ex as Mesos' Task.
func (a *agent) checkpointTask(fw *agentFramework, ex *executor, t *mesos.TaskInfo) {
	if !a.checkpointsExec(fw, ex) {
		return
	}
	pt := &mesos.Task{
		Name:        proto.String(t.GetName()),
		TaskId:      t.TaskId,
		FrameworkId: &mesos.FrameworkID{Value: proto.String(ex.fwID)},
		ExecutorId:  ex.info.ExecutorId,
		SlaveId:     a.slaveID(),
		State:       mesos.TaskState_TASK_STAGING.Enum(),
		Resources:   t.Resources,
	}
	a.ckpt(checkpointProto(filepath.Join(a.taskMeta(ex, t.GetTaskId().GetValue()), taskInfoFile), pt))
}

// taskExecutor finds the checkpointed executor holding task tid of
// framework fid; nil when there is none (or nothing is checkpointed).
func (a *agent) taskExecutor(fid, tid string) *executor {
	fw := a.frameworks[fid]
	if !a.checkpointsFor(fw) {
		return nil
	}
	for _, ex := range fw.executors {
		if ex.tasks[tid] != nil && !ex.command {
			return ex
		}
	}
	return nil
}

// checkpointUpdate appends status update u to its task's stream s.
func (a *agent) checkpointUpdate(s *updateStream, u *mesos.StatusUpdate) {
	if s.ckptPath == "" {
		tid := u.GetStatus().GetTaskId().GetValue()
		if ex := a.taskExecutor(u.GetFrameworkId().GetValue(), tid); ex != nil {
			s.ckptPath = filepath.Join(a.taskMeta(ex, tid), taskUpdatesFile)
		}
	}
	if s.ckptPath != "" && a.checkpoints() {
		a.ckpt(appendRecord(s.ckptPath, &mesos.StatusUpdateRecord{Type: mesos.StatusUpdateRecord_UPDATE.Enum(), Update: u}))
	}
}

// checkpointAck appends the acknowledgement of update uuid to stream s.
func (a *agent) checkpointAck(s *updateStream, uuid []byte) {
	if s.ckptPath != "" && a.checkpoints() {
		a.ckpt(appendRecord(s.ckptPath, &mesos.StatusUpdateRecord{Type: mesos.StatusUpdateRecord_ACK.Enum(), Uuid: uuid}))
	}
}

package localmesos

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// Reading back what agent_checkpoint.go wrote, for recovery
// (agent_recover.go), after Mesos' src/slave/state.cpp.

// readCheckpoints reads the checkpointed frameworks of this agent. With
// strict recovery any unreadable state is an error; otherwise it is logged
// and skipped.
func (a *agent) readCheckpoints() (*recoveredState, error) {
	st := &recoveredState{frameworks: map[string]*agentFramework{}, streams: map[string]*updateStream{}}
	strict := a.opts.recovery.strict
	problem := func(err error) error {
		if strict {
			return err
		}
		log.Warningf("localmesos: agent %s: recovery: %v; skipped", a.id, err)
		return nil
	}
	fdirs, err := os.ReadDir(filepath.Join(a.metaDir(), "frameworks"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	} else if err != nil {
		return nil, err
	}
	for _, fd := range fdirs {
		fid := fd.Name()
		fw, err := a.readFramework(fid, st)
		if err != nil {
			if err := problem(err); err != nil {
				return nil, err
			}
			continue
		}
		if fw != nil && len(fw.executors) > 0 {
			st.frameworks[fid] = fw
		}
	}
	// The highest run number in the sandboxes, so that new runs do not
	// reuse a directory.
	runs, _ := filepath.Glob(filepath.Join(a.c.workDir, "slaves", a.id, "frameworks", "*", "executors", "*", "runs", "*"))
	for _, r := range runs {
		if n, err := strconv.Atoi(filepath.Base(r)); err == nil {
			st.maxRun = max(st.maxRun, n)
		}
	}
	return st, nil
}

func (a *agent) readFramework(fid string, st *recoveredState) (*agentFramework, error) {
	dir := a.frameworkMeta(fid)
	info := &mesos.FrameworkInfo{}
	if err := readProto(filepath.Join(dir, frameworkInfoFile), info); err != nil {
		return nil, err
	}
	if !info.GetCheckpoint() {
		return nil, nil
	}
	pid, err := os.ReadFile(filepath.Join(dir, frameworkPIDFile))
	if err != nil {
		return nil, fmt.Errorf("framework %s: %w", fid, err)
	}
	fw := &agentFramework{id: fid, info: info, pid: string(bytes.TrimSpace(pid)), executors: map[string]*executor{}}
	edirs, err := os.ReadDir(filepath.Join(dir, "executors"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, ed := range edirs {
		ex, err := a.readExecutor(fw, ed.Name(), st)
		if err != nil {
			if a.opts.recovery.strict {
				return nil, err
			}
			log.Warningf("localmesos: agent %s: recovery: %v; skipped", a.id, err)
			continue
		}
		if ex != nil {
			fw.executors[ex.id] = ex
		}
	}
	return fw, nil
}

// readExecutor reads the latest run of executor eid; nil when that run has
// ended.
func (a *agent) readExecutor(fw *agentFramework, eid string, st *recoveredState) (*executor, error) {
	dir := a.executorMeta(fw.id, eid)
	info := &mesos.ExecutorInfo{}
	if err := readProto(filepath.Join(dir, executorInfoFile), info); err != nil {
		return nil, err
	}
	rdirs, err := os.ReadDir(filepath.Join(dir, "runs"))
	if err != nil {
		return nil, fmt.Errorf("executor %s of framework %s: %w", eid, fw.id, err)
	}
	latest := -1
	for _, rd := range rdirs {
		if n, err := strconv.Atoi(rd.Name()); err == nil {
			latest = max(latest, n)
		}
	}
	if latest < 0 {
		return nil, fmt.Errorf("executor %s of framework %s: no run", eid, fw.id)
	}
	ex := &executor{
		fwID:      fw.id,
		id:        eid,
		info:      info,
		dir:       sandboxDir(a.c.workDir, a.id, fw.id, eid, latest),
		state:     execStarted,
		tasks:     map[string]*agentTask{},
		exited:    make(chan struct{}),
		recovered: true,
		seen:      map[string]bool{},
	}
	run := a.runMeta(ex)
	completed := false
	if _, err := os.Stat(filepath.Join(run, executorSentinel)); err == nil {
		completed = true // ended before the restart: only its unacknowledged updates are left
	}
	if b, err := os.ReadFile(filepath.Join(run, forkedPIDFile)); err == nil {
		if ex.osPid, err = strconv.Atoi(string(bytes.TrimSpace(b))); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(run, forkedPIDFile), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// else: the agent died before it started the executor (no process to
	// watch: its tasks end at once).
	if completed {
		ex.osPid = 0
	}
	if b, err := os.ReadFile(filepath.Join(run, libprocessPIDFile)); err == nil {
		p, err := upid.Parse(string(bytes.TrimSpace(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(run, libprocessPIDFile), err)
		}
		ex.pid = p
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tdirs, err := os.ReadDir(filepath.Join(run, "tasks"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, td := range tdirs {
		if err := a.readTask(ex, td.Name(), st); err != nil {
			if a.opts.recovery.strict {
				return nil, err
			}
			log.Warningf("localmesos: agent %s: recovery: %v; skipped", a.id, err)
		}
	}
	if completed {
		return nil, nil
	}
	return ex, nil
}

// readTask reads task tid of ex and its status update stream: the task's
// latest state and the updates not yet acknowledged.
func (a *agent) readTask(ex *executor, tid string, st *recoveredState) error {
	dir := a.taskMeta(ex, tid)
	pt := &mesos.Task{}
	if err := readProto(filepath.Join(dir, taskInfoFile), pt); err != nil {
		return err
	}
	t := &agentTask{
		info:  &mesos.TaskInfo{Name: pt.Name, TaskId: pt.TaskId, SlaveId: a.slaveID(), Resources: pt.Resources, Executor: ex.info},
		state: pt.GetState(),
	}
	recs, err := readRecords(filepath.Join(dir, taskUpdatesFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if a.opts.recovery.strict {
			return err
		}
		log.Warningf("localmesos: agent %s: recovery: %v; using the %d record(s) before it", a.id, err, len(recs))
	}
	var pending []*mesos.StatusUpdate
	for _, r := range recs {
		switch r.GetType() {
		case mesos.StatusUpdateRecord_UPDATE:
			u := r.GetUpdate()
			if u == nil {
				continue
			}
			ex.seen[string(u.GetUuid())] = true
			t.state = u.GetStatus().GetState()
			pending = append(pending, u)
		case mesos.StatusUpdateRecord_ACK:
			if len(pending) > 0 && bytes.Equal(pending[0].GetUuid(), r.GetUuid()) {
				pending = pending[1:]
			}
		}
	}
	ex.tasks[tid] = t
	if len(pending) > 0 {
		st.streams[ex.fwID+"/"+tid] = &updateStream{pending: pending, backoff: a.c.cfg.StatusUpdateRetry,
			ckptPath: filepath.Join(dir, taskUpdatesFile)}
	}
	return nil
}

func readProto(path string, msg proto.Message) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

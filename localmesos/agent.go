package localmesos

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// agent is a Mesos agent process ("slave(N)@ip:port"): it runs executors as
// child processes and relays status updates and framework messages.
type agent struct {
	c    *Cluster
	id   string
	proc *libprocess
	pid  upid.UPID
	info *mesos.SlaveInfo

	mu         sync.Mutex
	lost       bool
	frameworks map[string]*agentFramework
	streams    map[string]*updateStream // by framework ID + "/" + task ID
	runs       int
}

type agentFramework struct {
	id           string
	info         *mesos.FrameworkInfo
	pid          string
	executors    map[string]*executor
	shuttingDown bool
}

type execState int

const (
	execLaunching   execState = iota // sandbox, fetch, start
	execStarted                      // process running, not registered
	execRegistered                   // registered (command executors: running)
	execTerminating                  // shutdown or kill requested
	execTerminated
)

type executor struct {
	fwID    string
	id      string
	info    *mesos.ExecutorInfo
	command bool // a command task the agent runs itself (no executor driver)
	dir     string
	state   execState
	pid     *upid.UPID // the executor driver, once registered
	queued  []*mesos.RunTaskMessage
	tasks   map[string]*agentTask
	osPid   int // also the process group ID
	exited  chan struct{}
	killed  bool   // shutdown/kill requested: tasks end TASK_KILLED
	failure string // why the agent killed it
	stopReg func()
}

type agentTask struct {
	info  *mesos.TaskInfo
	state mesos.TaskState
}

// updateStream holds a task's unacknowledged status updates; only the head
// is in flight, retried with back-off until the scheduler acknowledges it.
type updateStream struct {
	pending   []*mesos.StatusUpdate
	backoff   time.Duration
	stopRetry func()
}

func newAgent(c *Cluster, n int) (*agent, error) {
	a := &agent{
		c:          c,
		id:         fmt.Sprintf("%s-S%d", c.runID, n-1),
		frameworks: map[string]*agentFramework{},
		streams:    map[string]*updateStream{},
	}
	proc, err := newLibprocess(fmt.Sprintf("slave(%d)", n), c.ip, 0, nil, func(ms messenger.Messenger) error {
		for _, err := range []error{
			handle(ms, a.runTask),
			handle(ms, a.killTask),
			handle(ms, a.shutdownFramework),
			handle(ms, a.updateFramework),
			handle(ms, a.statusUpdateAck),
			handle(ms, a.frameworkToExecutor),
			handle(ms, a.registerExecutor),
			handle(ms, a.reregisterExecutor),
			handle(ms, a.statusUpdate),
			handle(ms, a.executorToFramework),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.proc = proc
	a.pid = proc.pid
	port, _ := strconv.Atoi(a.pid.Port)
	a.info = &mesos.SlaveInfo{
		Hostname:  proto.String(c.cfg.IP),
		Port:      proto.Int32(int32(port)),
		Resources: c.resources,
		Id:        a.slaveID(),
	}
	return a, nil
}

func (a *agent) slaveID() *mesos.SlaveID { return &mesos.SlaveID{Value: proto.String(a.id)} }

func (a *agent) send(to *upid.UPID, msg proto.Message) {
	if !a.lost {
		a.proc.send(to, msg)
	}
}

func (a *agent) toMaster(msg proto.Message) {
	if !a.c.isClosing() {
		a.send(&a.c.master.pid, msg)
	}
}

func (a *agent) fromMaster(from *upid.UPID) bool { return from.Equal(&a.c.master.pid) }

// ---------------------------------------------------------------------------
// From the master

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
	fw.info, fw.pid = msg.GetFramework(), msg.GetPid()
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
	}
	ex.tasks[ti.GetTaskId().GetValue()] = &agentTask{info: ti, state: mesos.TaskState_TASK_STAGING}
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
	if fw != nil {
		for _, e := range fw.executors {
			if t := e.tasks[tid]; t != nil && !isTerminal(t.state) {
				ex = e
			}
		}
	}
	if ex == nil {
		a.update(fid, "", msg.GetTaskId(), mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_TASK_UNKNOWN, "cannot find task "+tid+" on agent "+a.id)
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
		a.update(fid, ex.id, msg.GetTaskId(), mesos.TaskState_TASK_KILLED, -1, "killed before delivery to the executor")
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

// terminate asks ex to stop: ShutdownExecutorMessage to a registered
// executor, sig to the process group of others, and SIGKILL to the group
// after the grace period.
func (a *agent) terminate(ex *executor, sig syscall.Signal) {
	ex.killed = true
	switch ex.state {
	case execLaunching:
		ex.state = execTerminating // launch gives up
	case execStarted, execRegistered:
		if ex.state == execRegistered && !ex.command {
			a.send(ex.pid, &mesos.ShutdownExecutorMessage{
				ExecutorId:  ex.info.ExecutorId,
				FrameworkId: &mesos.FrameworkID{Value: proto.String(ex.fwID)},
			})
		} else {
			signalGroup(ex.osPid, sig)
		}
		ex.state = execTerminating
		pgid, exited := ex.osPid, ex.exited
		a.c.after(a.c.cfg.ExecutorShutdownGrace, func() {
			select {
			case <-exited:
			default:
				signalGroup(pgid, syscall.SIGKILL)
			}
		})
	}
}

func (a *agent) updateFramework(from *upid.UPID, msg *mesos.UpdateFrameworkMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if fw := a.frameworks[msg.GetFrameworkId().GetValue()]; fw != nil && a.fromMaster(from) {
		fw.pid = msg.GetPid()
	}
}

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
	s.pending = s.pending[1:]
	s.backoff = a.c.cfg.StatusUpdateRetry
	if len(s.pending) > 0 {
		a.forward(key, s)
	} else {
		delete(a.streams, key)
	}
}

// frameworkToExecutor delivers a scheduler's message (sent here directly or
// through the master) to the executor.
func (a *agent) frameworkToExecutor(from *upid.UPID, msg *mesos.FrameworkToExecutorMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
	fm := FrameworkMessage{
		FrameworkID: msg.GetFrameworkId().GetValue(),
		ExecutorID:  msg.GetExecutorId().GetValue(),
		AgentID:     a.id,
		ToExecutor:  true,
		Data:        msg.GetData(),
	}
	var ex *executor
	if fw := a.frameworks[fm.FrameworkID]; fw != nil {
		ex = fw.executors[fm.ExecutorID]
	}
	if ex == nil || ex.state != execRegistered || ex.command {
		log.Warningf("localmesos: agent %s: dropping framework message for executor %q of framework %q: not registered",
			a.id, fm.ExecutorID, fm.FrameworkID)
		a.c.stats.fwMsgsDropped.Add(1)
		return
	}
	a.carry(fm, ex.pid, msg)
}

// carry delivers a framework message through the fault hooks.
func (a *agent) carry(fm FrameworkMessage, to *upid.UPID, msg proto.Message) {
	copies, delay := a.c.cfg.Faults.decide(fm)
	st := &a.c.stats
	if copies == 0 {
		st.fwMsgsDropped.Add(1)
		return
	}
	st.fwMsgs.Add(1)
	if copies > 1 {
		st.fwMsgsDuped.Add(1)
	}
	deliver := func() {
		for i := 0; i < copies; i++ {
			a.send(to, msg)
		}
	}
	if delay > 0 {
		st.fwMsgsDelayed.Add(1)
		a.c.after(delay, func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			deliver()
		})
		return
	}
	deliver()
}

// ---------------------------------------------------------------------------
// From executors

func (a *agent) lookupExecutor(fid, eid string) (*agentFramework, *executor) {
	fw := a.frameworks[fid]
	if fw == nil {
		return nil, nil
	}
	return fw, fw.executors[eid]
}

func (a *agent) registerExecutor(from *upid.UPID, msg *mesos.RegisterExecutorMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
	fw, ex := a.lookupExecutor(msg.GetFrameworkId().GetValue(), msg.GetExecutorId().GetValue())
	if ex == nil || ex.command || ex.state != execStarted {
		log.Warningf("localmesos: agent %s: shutting down unexpected executor %q of framework %q at %s",
			a.id, msg.GetExecutorId().GetValue(), msg.GetFrameworkId().GetValue(), from)
		a.send(from, &mesos.ShutdownExecutorMessage{ExecutorId: msg.ExecutorId, FrameworkId: msg.FrameworkId})
		return
	}
	p := *from
	ex.pid = &p
	ex.state = execRegistered
	if ex.stopReg != nil {
		ex.stopReg()
	}
	a.send(ex.pid, &mesos.ExecutorRegisteredMessage{
		ExecutorInfo:  ex.info,
		FrameworkId:   fw.info.Id,
		FrameworkInfo: fw.info,
		SlaveId:       a.slaveID(),
		SlaveInfo:     a.info,
	})
	for _, run := range ex.queued {
		run.Pid = proto.String(fw.pid)
		a.send(ex.pid, run)
	}
	ex.queued = nil
}

func (a *agent) reregisterExecutor(from *upid.UPID, msg *mesos.ReregisterExecutorMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
	_, ex := a.lookupExecutor(msg.GetFrameworkId().GetValue(), msg.GetExecutorId().GetValue())
	if ex != nil && ex.state == execRegistered && ex.pid.Equal(from) {
		a.send(from, &mesos.ExecutorReregisteredMessage{SlaveId: a.slaveID(), SlaveInfo: a.info})
		return
	}
	a.send(from, &mesos.ShutdownExecutorMessage{ExecutorId: msg.ExecutorId, FrameworkId: msg.FrameworkId})
}

func (a *agent) statusUpdate(from *upid.UPID, msg *mesos.StatusUpdateMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
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

func (a *agent) executorToFramework(from *upid.UPID, msg *mesos.ExecutorToFrameworkMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
	fm := FrameworkMessage{
		FrameworkID: msg.GetFrameworkId().GetValue(),
		ExecutorID:  msg.GetExecutorId().GetValue(),
		AgentID:     a.id,
		Data:        msg.GetData(),
	}
	fw, ex := a.lookupExecutor(fm.FrameworkID, fm.ExecutorID)
	if ex == nil || fw.shuttingDown || !ex.pid.Equal(from) {
		a.c.stats.fwMsgsDropped.Add(1)
		return
	}
	out := proto.Clone(msg).(*mesos.ExecutorToFrameworkMessage)
	out.SlaveId = a.slaveID()
	a.carry(fm, &a.c.master.pid, out)
}

// ---------------------------------------------------------------------------
// Status update streams

// update generates a status update on behalf of the agent. reason < 0 means
// none.
func (a *agent) update(fid, eid string, taskID *mesos.TaskID, state mesos.TaskState, reason mesos.TaskStatus_Reason, why string) {
	id := newUUID()
	now := float64(time.Now().UnixNano()) / 1e9
	st := &mesos.TaskStatus{
		TaskId:    taskID,
		State:     state.Enum(),
		Message:   proto.String(why),
		Source:    mesos.TaskStatus_SOURCE_SLAVE.Enum(),
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
	a.enqueue(u)
}

func (a *agent) enqueue(u *mesos.StatusUpdate) {
	key := u.GetFrameworkId().GetValue() + "/" + u.GetStatus().GetTaskId().GetValue()
	s := a.streams[key]
	if s == nil {
		s = &updateStream{backoff: a.c.cfg.StatusUpdateRetry}
		a.streams[key] = s
	}
	s.pending = append(s.pending, u)
	if len(s.pending) == 1 {
		a.forward(key, s)
	}
}

// forward sends the stream's head to the master and schedules its retry.
func (a *agent) forward(key string, s *updateStream) {
	head := s.pending[0]
	a.toMaster(&mesos.StatusUpdateMessage{Update: head, Pid: proto.String(a.pid.String())})
	d := s.backoff
	s.backoff = min(2*s.backoff, time.Minute)
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

// ---------------------------------------------------------------------------
// Executor processes

// launch prepares the sandbox, fetches the URIs, starts the executor and
// waits for it to exit. It runs in its own goroutine.
func (a *agent) launch(fw *agentFramework, ex *executor) {
	fail := func(why string) { a.executorExited(fw, ex, nil, why) }
	if err := os.MkdirAll(ex.dir, 0o755); err != nil {
		fail("failed to create sandbox: " + err.Error())
		return
	}
	if err := fetchURIs(a.c.ctx, ex.info.GetCommand().GetUris(), ex.dir); err != nil {
		fail("Failed to fetch URIs: " + err.Error())
		return
	}
	vars := map[string]string{
		"MESOS_SLAVE_PID":                      a.pid.String(),
		"MESOS_AGENT_PID":                      a.pid.String(),
		"MESOS_SLAVE_ID":                       a.id,
		"MESOS_AGENT_ID":                       a.id,
		"MESOS_FRAMEWORK_ID":                   ex.fwID,
		"MESOS_EXECUTOR_ID":                    ex.id,
		"MESOS_DIRECTORY":                      ex.dir,
		"MESOS_SANDBOX":                        ex.dir,
		"MESOS_CHECKPOINT":                     "0",
		"MESOS_RECOVERY_TIMEOUT":               "15mins",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": a.c.cfg.ExecutorShutdownGrace.String(),
		"MESOS_SLAVE_ENDPOINT":                 a.pid.Host + ":" + a.pid.Port,
		"MESOS_AGENT_ENDPOINT":                 a.pid.Host + ":" + a.pid.Port,
		"LIBPROCESS_IP":                        a.c.cfg.IP,
	}
	if ex.command {
		vars["MESOS_TASK_ID"] = ex.id
	}
	cmd, closeFiles, err := executorCommand(ex.info.GetCommand(), ex.dir, executorEnv(vars, ex.info.GetCommand()))
	if err != nil {
		fail("Failed to launch executor: " + err.Error())
		return
	}
	a.mu.Lock()
	if ex.state != execLaunching || a.lost || a.c.isClosing() {
		a.mu.Unlock()
		closeFiles()
		fail("executor shut down before it started")
		return
	}
	if err := cmd.Start(); err != nil {
		a.mu.Unlock()
		closeFiles()
		fail("Failed to launch executor: " + err.Error())
		return
	}
	ex.osPid = cmd.Process.Pid
	ex.state = execStarted
	if ex.command {
		ex.state = execRegistered
		for _, run := range ex.queued {
			t := run.GetTask()
			ex.tasks[t.GetTaskId().GetValue()].state = mesos.TaskState_TASK_RUNNING
			a.update(ex.fwID, ex.id, t.GetTaskId(), mesos.TaskState_TASK_RUNNING, -1, "")
		}
		ex.queued = nil
	} else {
		timeout := a.c.cfg.ExecutorRegistrationTimeout
		ex.stopReg = a.c.after(timeout, func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if ex.state == execStarted {
				ex.failure = fmt.Sprintf("executor did not register within %v", timeout)
				signalGroup(ex.osPid, syscall.SIGKILL)
			}
		})
	}
	a.mu.Unlock()
	a.c.stats.executorsLaunched.Add(1)
	a.c.logf("executor %s of framework %s started on agent %s (pid %d, sandbox %s)", ex.id, ex.fwID, a.id, cmd.Process.Pid, ex.dir)
	_ = cmd.Wait()
	closeFiles()
	a.executorExited(fw, ex, cmd.ProcessState, "")
}

// executorExited cleans up after ex: its process group is killed, its
// unfinished tasks fail (or are killed, if that was asked for), and the
// master learns of the exit.
func (a *agent) executorExited(fw *agentFramework, ex *executor, ps *os.ProcessState, why string) {
	signalGroup(ex.osPid, syscall.SIGKILL) // whatever the executor left behind
	status, desc := exitStatus(ps)
	a.mu.Lock()
	defer a.mu.Unlock()
	if ex.stopReg != nil {
		ex.stopReg()
	}
	ex.state = execTerminated
	if why == "" {
		why = ex.failure
	}
	ids := make([]string, 0, len(ex.tasks))
	for id := range ex.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := ex.tasks[id]
		if isTerminal(t.state) {
			continue
		}
		state, reason, msg := mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor "+desc
		switch {
		case ps == nil && ex.killed:
			state, reason, msg = mesos.TaskState_TASK_KILLED, -1, "killed before the executor started"
		case ps == nil:
			reason, msg = mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, why
		case ex.command && ps.Success() && !ex.killed:
			state, reason, msg = mesos.TaskState_TASK_FINISHED, -1, "Command "+desc
		case ex.command:
			msg = "Command " + desc
			if ex.killed {
				state, reason = mesos.TaskState_TASK_KILLED, -1
			}
		case ex.killed:
			state, msg = mesos.TaskState_TASK_KILLED, "Executor shut down: "+desc
		}
		if why != "" && ps != nil {
			msg += " (" + why + ")"
		}
		t.state = state
		if !a.lost && !fw.shuttingDown {
			a.update(ex.fwID, ex.id, t.info.GetTaskId(), state, reason, msg)
		}
	}
	if fw.executors[ex.id] == ex {
		delete(fw.executors, ex.id)
	}
	close(ex.exited)
	if !ex.command {
		a.toMaster(&mesos.ExitedExecutorMessage{
			SlaveId:     a.slaveID(),
			FrameworkId: &mesos.FrameworkID{Value: proto.String(ex.fwID)},
			ExecutorId:  ex.info.ExecutorId,
			Status:      proto.Int32(status),
		})
	}
	if ps != nil {
		a.c.stats.executorsExited.Add(1)
	}
	if why != "" && ps == nil {
		desc = why
	}
	a.c.logf("executor %s of framework %s on agent %s %s", ex.id, ex.fwID, a.id, desc)
	if fw.shuttingDown && len(fw.executors) == 0 && a.frameworks[fw.id] == fw {
		delete(a.frameworks, fw.id)
	}
}

// shutdownAll shuts every framework down (Close) and returns channels
// closed as each executor exits.
func (a *agent) shutdownAll() []<-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	var exited []<-chan struct{}
	for fid := range a.frameworks {
		exited = append(exited, a.shutdownFrameworkLocked(fid)...)
	}
	return exited
}

// killAll SIGKILLs every executor's process group.
func (a *agent) killAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			ex.killed = true
			if ex.state == execLaunching {
				ex.state = execTerminating
			}
			signalGroup(ex.osPid, syscall.SIGKILL)
		}
	}
}

func (a *agent) killExecutor(fid, eid string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ex := a.lookupExecutor(fid, eid)
	if ex == nil || ex.osPid == 0 || ex.state == execTerminated {
		return false
	}
	signalGroup(ex.osPid, syscall.SIGKILL)
	return true
}

// lose makes the agent vanish: executors are killed without reports and
// the messenger stops.
func (a *agent) lose() bool {
	a.mu.Lock()
	if a.lost {
		a.mu.Unlock()
		return false
	}
	a.lost = true
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.state == execLaunching {
				ex.state = execTerminating
			}
			signalGroup(ex.osPid, syscall.SIGKILL)
		}
	}
	for _, s := range a.streams {
		if s.stopRetry != nil {
			s.stopRetry()
		}
	}
	a.streams = map[string]*updateStream{}
	a.mu.Unlock()
	a.proc.stop()
	return true
}

func (a *agent) executorStates() []ExecutorState {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []ExecutorState
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			out = append(out, ExecutorState{
				FrameworkID: ex.fwID,
				ExecutorID:  ex.id,
				AgentID:     a.id,
				Directory:   ex.dir,
				Pid:         ex.osPid,
				Registered:  ex.state == execRegistered,
			})
		}
	}
	return out
}

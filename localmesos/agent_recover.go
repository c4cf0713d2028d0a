package localmesos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// Agent recovery after a restart on the same work directory, after Mesos'
// Slave::recover, Slave::_recover, Slave::reregisterExecutor and
// Slave::reregisterExecutorTimeout: the agent reads what it checkpointed
// (agent_checkpoint.go), sends ReconnectExecutorMessage to every executor
// of a checkpointing framework whose process still runs, waits up to the
// executor re-registration timeout for their ReregisterExecutorMessage,
// destroys those that do not re-register (their tasks TASK_LOST with
// REASON_EXECUTOR_REREGISTRATION_TIMEOUT), and only then registers with
// the master, reporting the recovered tasks and executors and resending the
// status updates the scheduler had not acknowledged.

// Recovery modes (Mesos' --recover).
const (
	// RecoverReconnect reconnects to the executors that still run.
	RecoverReconnect = "reconnect"
	// RecoverCleanup shuts them down and does not register.
	RecoverCleanup = "cleanup"
)

// Recovery defaults, as in Mesos.
const (
	defaultRecoveryTimeout          = 15 * time.Minute // --recovery_timeout
	defaultExecutorReregTimeout     = 2 * time.Second  // --executor_reregistration_timeout
	maxExecutorReregTimeout         = 15 * time.Minute // MAX_EXECUTOR_REREGISTRATION_TIMEOUT
	recoveredExecutorPollInterval   = 100 * time.Millisecond
	recoveredExecutorCloseTolerance = 30 * time.Second
)

// recoveryOpts configure recovery (agentOpts.recovery).
type recoveryOpts struct {
	mode         string        // RecoverReconnect (default) or RecoverCleanup
	strict       bool          // any error in the checkpointed state fails the start
	timeout      time.Duration // MESOS_RECOVERY_TIMEOUT given to executors
	reregTimeout time.Duration // how long recovered executors have to re-register
}

func (a *agent) recoveryTimeout() time.Duration {
	if d := a.opts.recovery.timeout; d > 0 {
		return d
	}
	return defaultRecoveryTimeout
}

func (a *agent) executorReregTimeout() time.Duration {
	if d := a.opts.recovery.reregTimeout; d > 0 {
		return d
	}
	return defaultExecutorReregTimeout
}

// recoveredState is what readCheckpoints found.
type recoveredState struct {
	frameworks map[string]*agentFramework
	streams    map[string]*updateStream
	maxRun     int
}

// recover restores the checkpointed frameworks and executors and starts
// reconnecting to (or, in cleanup mode, shutting down) their executors. It
// is called before the agent registers; registration waits until recovery
// is complete (see finishRecovery). It returns the channels closed as the
// recovered executors exit.
func (a *agent) recover() ([]<-chan struct{}, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.checkpoints() || a.id == "" {
		return nil, nil
	}
	start := time.Now()
	st, err := a.readCheckpoints()
	if err != nil {
		return nil, fmt.Errorf("localmesos: agent %s: recovering from %s: %w (recover what can be with mesos-agent -strict=false, AgentConfig.NonStrictRecovery, or remove %s to start as a new agent)",
			a.id, a.metaDir(), err, a.opts.idFile)
	}
	a.runs = max(a.runs, st.maxRun)
	var exited []<-chan struct{}
	n := 0
	for fid, fw := range st.frameworks {
		a.frameworks[fid] = fw
		for _, ex := range fw.executors {
			n++
			exited = append(exited, ex.exited)
			f, e := fw, ex
			if !a.c.goTracked(func() { a.watchRecovered(f, e) }) {
				return nil, errors.New("localmesos: agent closed during recovery")
			}
		}
	}
	for key, s := range st.streams {
		a.streams[key] = s
	}
	cleanup := a.opts.recovery.mode == RecoverCleanup
	if n == 0 {
		a.c.logf("agent %s: recovered no executor from %s", a.id, a.metaDir())
		return nil, nil
	}
	a.recovering = !cleanup
	for _, fid := range sortedKeysOf(a.frameworks) {
		fw := a.frameworks[fid]
		for _, eid := range sortedKeysOf(fw.executors) {
			ex := fw.executors[eid]
			switch {
			case cleanup && ex.pid != nil:
				ex.state = execRegistered // so that terminate sends ShutdownExecutorMessage
				a.terminate(ex, syscall.SIGTERM)
			case cleanup:
				ex.state = execTerminating
				ex.killed = true
				signalGroup(ex.osPid, syscall.SIGKILL)
			case ex.pid != nil:
				a.c.logf("agent %s: sending reconnect request to executor %s of framework %s at %s", a.id, eid, fid, ex.pid)
				a.send(ex.pid, &mesos.ReconnectExecutorMessage{SlaveId: a.slaveID()})
			default:
				a.c.logf("agent %s: executor %s of framework %s never registered: it cannot be reconnected", a.id, eid, fid)
			}
		}
	}
	a.c.logf("agent %s: recovered %d executor(s) of %d framework(s) and %d unacknowledged status update stream(s) from %s in %v (mode %s)",
		a.id, n, len(st.frameworks), len(st.streams), a.metaDir(), time.Since(start).Round(time.Millisecond), a.opts.recovery.mode)
	if !cleanup {
		a.stopRecovery = a.c.after(a.executorReregTimeout(), a.reregisterExecutorTimeout)
	}
	return exited, nil
}

// reregisterExecutorTimeout destroys the recovered executors that did not
// re-register in time and ends recovery.
func (a *agent) reregisterExecutorTimeout() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if !ex.recovered || ex.state != execStarted {
				continue
			}
			a.c.logf("agent %s: killing executor %s of framework %s: it did not re-register within %s", a.id, ex.id, ex.fwID, stoutDuration(a.executorReregTimeout()))
			ex.state = execTerminating
			ex.pending = &termination{mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
				"Executor did not reregister within " + stoutDuration(a.executorReregTimeout())}
			signalGroup(ex.osPid, syscall.SIGKILL)
		}
	}
	a.finishRecovery()
}

// finishRecovery ends recovery once no recovered executor is still
// expected to re-register, and starts registering with the master. (Mesos
// always waits the whole executor re-registration timeout, MESOS-7539.)
func (a *agent) finishRecovery() {
	if !a.recovering {
		return
	}
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.recovered && ex.state == execStarted {
				return
			}
		}
	}
	a.recovering = false
	if a.stopRecovery != nil {
		a.stopRecovery()
	}
	a.c.logf("agent %s: recovery complete; registering with the master", a.id)
	if a.opts.master.Host != "" {
		a.registerLocked(a.c.cfg.RegistrationBackoffFactor)
	}
}

// executorReregistered takes a recovered executor's ReregisterExecutorMessage
// (Slave::reregisterExecutor in state REGISTERING).
func (a *agent) executorReregistered(fw *agentFramework, ex *executor, from *upid.UPID, msg *mesos.ReregisterExecutorMessage) {
	p := *from
	ex.pid = &p
	ex.state = execRegistered
	a.checkpointLibprocessPID(fw, ex)
	a.c.logf("agent %s: executor %s of framework %s re-registered from %s with %d unacknowledged update(s)", a.id, ex.id, ex.fwID, from, len(msg.GetUpdates()))
	a.send(ex.pid, &mesos.ExecutorReregisteredMessage{SlaveId: a.slaveID(), SlaveInfo: a.info})
	for _, u := range msg.GetUpdates() {
		if ex.seen[string(u.GetUuid())] {
			// Checkpointed before the restart, its acknowledgement lost.
			a.send(ex.pid, &mesos.StatusUpdateAcknowledgementMessage{
				SlaveId: a.slaveID(), FrameworkId: u.FrameworkId, TaskId: u.GetStatus().TaskId, Uuid: u.Uuid})
			continue
		}
		a.statusUpdateLocked(from, &mesos.StatusUpdateMessage{Update: u, Pid: proto.String(from.String())})
	}
	unacked := map[string]bool{}
	for _, t := range msg.GetTasks() {
		unacked[t.GetTaskId().GetValue()] = true
	}
	for _, tid := range sortedKeysOf(ex.tasks) {
		if t := ex.tasks[tid]; t.state == mesos.TaskState_TASK_STAGING && !unacked[tid] {
			// The agent died before the executor got the task.
			t.state = mesos.TaskState_TASK_LOST
			a.update(ex.fwID, ex.id, t.info.TaskId, mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_SLAVE_RESTARTED, "Task launched during agent restart")
		}
	}
	for _, run := range ex.queued {
		run.Pid = proto.String(fw.pid)
		a.send(ex.pid, run)
	}
	ex.queued = nil
	a.finishRecovery()
}

// watchRecovered waits for a recovered executor's process to end (it is
// not the agent's child, so the agent polls for it) and then cleans up as
// for any executor that exits.
func (a *agent) watchRecovered(fw *agentFramework, ex *executor) {
	tick := time.NewTicker(recoveredExecutorPollInterval)
	defer tick.Stop()
	var closingSince time.Time
	for processRunning(ex.osPid) {
		if a.c.isClosing() {
			if closingSince.IsZero() {
				closingSince = time.Now()
			} else if time.Since(closingSince) > recoveredExecutorCloseTolerance {
				log.Errorf("localmesos: agent %s: recovered executor %s (pid %d) still runs %v after the agent closed; leaving it",
					a.id, ex.id, ex.osPid, recoveredExecutorCloseTolerance)
				return
			}
		}
		<-tick.C
	}
	a.mu.Lock()
	if ex.pending == nil {
		if ex.killed {
			ex.pending = &termination{mesos.TaskState_TASK_KILLED, -1, "Executor shut down"}
		} else {
			ex.pending = &termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor terminated"}
		}
	}
	a.mu.Unlock()
	a.executorExited(fw, ex, nil, "exited (a recovered executor: exit status unknown)")
	a.mu.Lock()
	a.finishRecovery()
	a.mu.Unlock()
}

// processRunning reports whether process pid exists and is not a zombie.
func processRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false
		}
		return processAlive(pid) // no /proc
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// crash makes the agent stop as a killed agent process does (a test
// stand-in for kill -9): it stops listening and forgets everything; the
// executors it checkpoints go on running, to be recovered by an agent
// started on the same work directory, and the others are killed, as their
// parent-death signal kills them when a real agent process dies.
func (a *agent) crash() {
	a.mu.Lock()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if !a.checkpointsExec(fw, ex) {
				signalGroup(ex.osPid, syscall.SIGKILL)
			}
		}
	}
	a.lost = true
	a.stopTimersLocked()
	if a.stopRecovery != nil {
		a.stopRecovery()
	}
	for _, s := range a.streams {
		if s.stopRetry != nil {
			s.stopRetry()
		}
	}
	a.streams = map[string]*updateStream{}
	a.frameworks = map[string]*agentFramework{}
	a.mu.Unlock()
	a.proc.Stop()
}

// recoveryOptsOf checks and defaults cfg's recovery settings.
func recoveryOptsOf(cfg AgentConfig) (recoveryOpts, error) {
	r := recoveryOpts{
		mode:         cfg.Recover,
		strict:       !cfg.NonStrictRecovery,
		timeout:      cfg.RecoveryTimeout,
		reregTimeout: cfg.ExecutorReregistrationTimeout,
	}
	switch r.mode {
	case "":
		r.mode = RecoverReconnect
	case RecoverReconnect, RecoverCleanup:
	default:
		return r, fmt.Errorf("localmesos: recover %q: want %q or %q", cfg.Recover, RecoverReconnect, RecoverCleanup)
	}
	if r.reregTimeout > maxExecutorReregTimeout {
		return r, fmt.Errorf("localmesos: executor re-registration timeout %v: expected not more than %s", r.reregTimeout, stoutDuration(maxExecutorReregTimeout))
	}
	return r, nil
}

// waitExited waits for every channel in exited to close, at most d in all.
func waitExited(exited []<-chan struct{}, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for _, ch := range exited {
		select {
		case <-ch:
		case <-deadline.C:
			log.Errorf("localmesos: recovered executors did not exit within %v", d)
			return
		}
	}
}

package localmesos

import (
	"fmt"
	"os"
	"sort"
	"syscall"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

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

func (a *agent) lookupExecutor(fid, eid string) (*agentFramework, *executor) {
	fw := a.frameworks[fid]
	if fw == nil {
		return nil, nil
	}
	return fw, fw.executors[eid]
}

package localmesos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"syscall"
	"time"

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
		a.c.after(a.shutdownGrace(ex), func() {
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
	a.checkpointLibprocessPID(fw, ex)
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
	fw, ex := a.lookupExecutor(msg.GetFrameworkId().GetValue(), msg.GetExecutorId().GetValue())
	if ex != nil && ex.recovered && ex.state == execStarted && !fw.shuttingDown {
		a.executorReregistered(fw, ex, from, msg) // agent_recover.go
		return
	}
	if ex != nil && ex.state == execRegistered && ex.pid.Equal(from) {
		a.send(from, &mesos.ExecutorReregisteredMessage{SlaveId: a.slaveID(), SlaveInfo: a.info})
		return
	}
	log.Warningf("localmesos: agent %s: shutting down re-registering executor %q of framework %q at %s: not one it is recovering",
		a.id, msg.GetExecutorId().GetValue(), msg.GetFrameworkId().GetValue(), from)
	a.send(from, &mesos.ShutdownExecutorMessage{ExecutorId: msg.ExecutorId, FrameworkId: msg.FrameworkId})
}

// termination says how an executor's unfinished tasks end when the agent
// ends it.
type termination struct {
	state  mesos.TaskState
	reason mesos.TaskStatus_Reason
	msg    string
}

// shutdownGrace is ex's time between ShutdownExecutorMessage and SIGKILL:
// ExecutorInfo.shutdown_grace_period if set, else the agent's default (Mesos'
// Slave::shutdownExecutor).
func (a *agent) shutdownGrace(ex *executor) time.Duration {
	if g, ok := shutdownGracePeriod(ex.info); ok && g >= 0 {
		return g
	}
	return a.c.cfg.ExecutorShutdownGrace
}

// launch prepares the sandbox, fetches the URIs, starts the executor and
// waits for it to exit. It runs in its own goroutine.
func (a *agent) launch(fw *agentFramework, ex *executor) {
	fail := func(why string) { a.executorExited(fw, ex, nil, why) }
	a.mu.Lock()
	name, checkpoint := a.executorUser(fw, ex), fw.info.GetCheckpoint()
	// Executors whose state is checkpointed outlive the agent, to be
	// recovered by its next run; the others die with it.
	survive := a.checkpointsExec(fw, ex)
	a.mu.Unlock()
	var owner *runAs
	if name != "" {
		r, err := lookupUser(name)
		if err == nil {
			err = createSandbox(ex.dir, r)
		} else {
			err = fmt.Errorf("Failed to chown directory to '%s': %w", name, err)
		}
		if err != nil {
			// Mesos' Slave::_run: the tasks are dropped (TASK_LOST for a
			// framework that is not partition-aware).
			ex.pending = &termination{mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
				fmt.Sprintf("Failed to create executor directory '%s': %v", ex.dir, err)}
			fail(ex.pending.msg)
			return
		}
		owner = r
	} else if err := createSandbox(ex.dir, nil); err != nil {
		fail("Failed to create executor directory '" + ex.dir + "': " + err.Error())
		return
	}
	if err := fetchURIs(a.c.ctx, ex.info.GetCommand().GetUris(), ex.dir); err != nil {
		fail("Failed to fetch URIs: " + err.Error())
		return
	}
	cmd, closeFiles, err := executorCommand(ex.info.GetCommand(), ex.dir, a.executorEnvironment(ex, checkpoint), owner.credential(), survive)
	if err == nil {
		if err = chownTree(ex.dir, owner); err != nil {
			closeFiles()
		}
	}
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
		why := "Failed to launch executor: " + err.Error()
		if owner != nil && errors.Is(err, fs.ErrPermission) {
			why += fmt.Sprintf(" (user '%s' must be able to reach its sandbox: every directory above %s needs o+x)", owner.name, ex.dir)
		}
		fail(why)
		return
	}
	ex.osPid = cmd.Process.Pid
	ex.state = execStarted
	a.checkpointForkedPID(fw, ex)
	if ex.command {
		// Mesos' command executor reports TASK_RUNNING once the command
		// runs.
		ex.state = execRegistered
		for _, run := range ex.queued {
			t := run.GetTask()
			ex.tasks[t.GetTaskId().GetValue()].state = mesos.TaskState_TASK_RUNNING
			a.commandUpdate(ex, t.GetTaskId(), mesos.TaskState_TASK_RUNNING, -1, "")
		}
		ex.queued = nil
	} else {
		timeout := a.c.cfg.ExecutorRegistrationTimeout
		ex.stopReg = a.c.after(timeout, func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if ex.state == execStarted {
				// Mesos' Slave::registerExecutorTimeout.
				ex.pending = &termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT,
					"Executor did not register within " + stoutDuration(timeout)}
				ex.state = execTerminating
				signalGroup(ex.osPid, syscall.SIGKILL)
			}
		})
	}
	a.mu.Unlock()
	a.c.stats.executorsLaunched.Add(1)
	who := ""
	if owner != nil {
		who = " as " + owner.name
	}
	a.c.logf("executor %s of framework %s started on agent %s%s (pid %d, sandbox %s)", ex.id, ex.fwID, a.id, who, cmd.Process.Pid, ex.dir)
	_ = cmd.Wait()
	closeFiles()
	a.executorExited(fw, ex, cmd.ProcessState, "")
}

// hostDefaultPath is stout's os::host_default_path, the PATH Mesos gives an
// executor whose environment has none.
const hostDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// executorEnvironment is ex's environment as Mesos builds it
// (executorEnvironment in src/slave/slave.cpp, then the Mesos
// containerizer): the agent's LIBPROCESS_IP, Config.ExecutorEnvironment,
// LIBPROCESS_PORT=0, the MESOS_* variables an executor driver reads (MESOS_
// SLAVE_*, not MESOS_AGENT_* but for MESOS_AGENT_ENDPOINT), durations in
// stout's format, MESOS_SANDBOX, CommandInfo.environment last, and PATH
// defaulted. Nothing else is inherited from the agent's environment.
func (a *agent) executorEnvironment(ex *executor, checkpoint bool) []string {
	env := map[string]string{"LIBPROCESS_IP": a.c.cfg.IP}
	for k, v := range a.c.cfg.ExecutorEnvironment {
		env[k] = v
	}
	env["LIBPROCESS_PORT"] = "0"
	env["MESOS_FRAMEWORK_ID"] = ex.fwID
	env["MESOS_EXECUTOR_ID"] = ex.id
	env["MESOS_DIRECTORY"] = ex.dir
	env["MESOS_SLAVE_ID"] = a.id
	env["MESOS_SLAVE_PID"] = a.pid.String()
	env["MESOS_AGENT_ENDPOINT"] = a.pid.Host + ":" + a.pid.Port
	env["MESOS_CHECKPOINT"] = "0"
	if checkpoint {
		env["MESOS_CHECKPOINT"] = "1"
	}
	env["MESOS_HTTP_COMMAND_EXECUTOR"] = "0"
	env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = stoutDuration(a.shutdownGrace(ex))
	if checkpoint {
		env["MESOS_RECOVERY_TIMEOUT"] = stoutDuration(a.recoveryTimeout())              // --recovery_timeout
		env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = stoutDuration(a.executorReregTimeout()) // --executor_reregistration_timeout
	}
	env["MESOS_SANDBOX"] = ex.dir
	for _, v := range ex.info.GetCommand().GetEnvironment().GetVariables() {
		env[v.GetName()] = v.GetValue()
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = hostDefaultPath
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
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
	a.checkpointEnded(fw, ex)
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
		case ex.pending != nil:
			state, reason, msg = ex.pending.state, ex.pending.reason, ex.pending.msg
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
		if why != "" && ps != nil && ex.pending == nil {
			msg += " (" + why + ")"
		}
		t.state = state
		if a.lost || fw.shuttingDown {
			continue
		}
		if ex.command && ps != nil && ex.pending == nil {
			a.commandUpdate(ex, t.info.GetTaskId(), state, reason, msg) // from the command executor
		} else {
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

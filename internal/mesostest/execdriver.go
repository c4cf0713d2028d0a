package mesostest

import (
	"errors"
	"fmt"
	"time"

	"github.com/gogo/protobuf/proto"
	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// execDriver is the fake exec.ExecutorDriver of one executor on one agent.
// Its state is guarded by the cluster's mutex, except executor, which only
// its queue goroutine touches.
type execDriver struct {
	c            *Cluster
	agentID      string
	execID       string
	res          scalars
	tasks        map[string]*task // unfinished tasks
	q            *serialQueue
	status       mesos.Status
	shuttingDown bool
	terminated   bool
	done         chan struct{}

	executor exec.Executor // set on q's goroutine

	launches int                      // LaunchTask calls queued
	held     []func(ex exec.Executor) // launches held (Hooks.LaunchAfterMessage)
}

// pushLaunch queues a LaunchTask, or holds it (Hooks.LaunchAfterMessage).
func (e *execDriver) pushLaunch(f func(ex exec.Executor)) {
	e.launches++
	if e.c.cfg.Hooks.LaunchAfterMessage && e.launches > 1 {
		e.held = append(e.held, f)
		return
	}
	e.push(f)
}

// releaseLaunches queues the launches held.
func (e *execDriver) releaseLaunches() {
	held := e.held
	e.held = nil
	for _, f := range held {
		e.push(f)
	}
}

var _ exec.ExecutorDriver = (*execDriver)(nil)

// startExecLocked creates the executor's driver and queues NewExecutor and
// Registered on its goroutine.
func (c *Cluster) startExecLocked(ag *agent, info *mesos.ExecutorInfo, res scalars) *execDriver {
	e := &execDriver{
		c: c, agentID: ag.info.ID, execID: info.GetExecutorId().GetValue(), res: res,
		tasks: map[string]*task{}, status: mesos.Status_DRIVER_RUNNING, done: make(chan struct{}),
	}
	e.q = newSerialQueue(&c.wg)
	ag.executors[e.execID] = e
	c.stats.ExecutorsLaunched++
	ei := proto.Clone(info).(*mesos.ExecutorInfo)
	if ei.FrameworkId == nil {
		ei.FrameworkId = proto.Clone(c.fwID).(*mesos.FrameworkID)
	}
	fw := proto.Clone(c.fwInfo).(*mesos.FrameworkInfo)
	slave := &mesos.SlaveInfo{
		Hostname:  proto.String(ag.info.Hostname),
		Id:        util.NewSlaveID(ag.info.ID),
		Resources: scalars(ag.info.Resources).proto(),
	}
	e.q.push(func() {
		ex := c.cfg.NewExecutor(e.agentID, proto.Clone(ei).(*mesos.ExecutorInfo))
		if ex == nil {
			c.mu.Lock()
			c.terminateExecLocked(e, mesos.Status_DRIVER_ABORTED, 1)
			c.mu.Unlock()
			return
		}
		e.executor = ex
		ex.Registered(e, ei, fw, slave)
	})
	return e
}

// push queues a callback to the executor; false if it is gone.
func (e *execDriver) push(f func(ex exec.Executor)) bool {
	return e.q.push(func() {
		if e.executor != nil {
			f(e.executor)
		}
	})
}

// shutdownExecLocked queues Shutdown; the driver stops after it returns.
func (c *Cluster) shutdownExecLocked(e *execDriver) {
	if e.terminated || e.shuttingDown {
		return
	}
	e.shuttingDown = true
	e.releaseLaunches()
	e.q.push(func() {
		if e.executor != nil {
			e.executor.Shutdown(e)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.terminateExecLocked(e, mesos.Status_DRIVER_STOPPED, 0)
	})
}

// terminateExecLocked is the executor process exiting with exitStatus: the
// driver ends with status, unfinished tasks become TASK_LOST, resources are
// freed and the scheduler gets ExecutorLost (unless the agent is lost).
func (c *Cluster) terminateExecLocked(e *execDriver, status mesos.Status, exitStatus int) {
	if e.terminated {
		return
	}
	e.terminated = true
	if e.status == mesos.Status_DRIVER_RUNNING {
		e.status = status
	}
	close(e.done)
	e.q.stop()
	ag := c.agents[e.agentID]
	if ag.executors[e.execID] == e {
		delete(ag.executors, e.execID)
	}
	ag.free.add(e.res)
	for _, id := range c.taskOrder {
		t := e.tasks[id]
		if t == nil {
			continue
		}
		c.updateTaskLocked(t, c.internalStatus(t.id, t.agentID, t.execID, mesos.TaskState_TASK_LOST,
			mesos.TaskStatus_SOURCE_SLAVE, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
			fmt.Sprintf("executor %s terminated (status %d)", e.execID, exitStatus)))
	}
	if !ag.lost {
		eid, sid := util.NewExecutorID(e.execID), util.NewSlaveID(e.agentID)
		c.schedPushLocked(func(s sched.Scheduler, d *schedDriver) { s.ExecutorLost(d, eid, sid, exitStatus) })
	}
	c.allocateLocked()
}

func (e *execDriver) notRunning(op string) (mesos.Status, error) {
	return e.status, fmt.Errorf("mesostest: unable to %s, expecting status %s, but got %s",
		op, mesos.Status_DRIVER_RUNNING, e.status)
}

// Start is a no-op: the fake starts the driver before Registered.
func (e *execDriver) Start() (mesos.Status, error) {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	if e.status != mesos.Status_DRIVER_RUNNING {
		return e.notRunning("Start")
	}
	return e.status, nil
}

// Stop stops the driver; the executor counts as exited with status 0.
func (e *execDriver) Stop() (mesos.Status, error) {
	return e.end("Stop", mesos.Status_DRIVER_STOPPED, 0)
}

// Abort aborts the driver; the executor counts as exited with status 1.
func (e *execDriver) Abort() (mesos.Status, error) {
	return e.end("Abort", mesos.Status_DRIVER_ABORTED, 1)
}

func (e *execDriver) end(op string, status mesos.Status, exitStatus int) (mesos.Status, error) {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.status != mesos.Status_DRIVER_RUNNING {
		return e.notRunning(op)
	}
	c.terminateExecLocked(e, status, exitStatus)
	return e.status, nil
}

// Join waits until the driver is stopped or aborted.
func (e *execDriver) Join() (mesos.Status, error) {
	<-e.done
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	return e.status, nil
}

// Run is Join: the driver is already started.
func (e *execDriver) Run() (mesos.Status, error) {
	return e.Join()
}

// SendStatusUpdate records a task's new state and forwards it to the
// scheduler.
func (e *execDriver) SendStatusUpdate(st *mesos.TaskStatus) (mesos.Status, error) {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.status != mesos.Status_DRIVER_RUNNING {
		return e.notRunning("SendStatusUpdate")
	}
	if st.GetState() == mesos.TaskState_TASK_STAGING {
		c.terminateExecLocked(e, mesos.Status_DRIVER_ABORTED, 1)
		return e.status, errors.New("mesostest: executor is not allowed to send TASK_STAGING status update; aborting")
	}
	if c.agents[e.agentID].lost {
		return e.status, nil
	}
	t := c.tasks[st.GetTaskId().GetValue()]
	if t == nil || e.tasks[t.id] != t {
		return e.status, nil // unknown or terminal task: ignored, as by a Mesos agent
	}
	cp := proto.Clone(st).(*mesos.TaskStatus)
	cp.SlaveId = util.NewSlaveID(e.agentID)
	cp.ExecutorId = util.NewExecutorID(e.execID)
	cp.Source = mesos.TaskStatus_SOURCE_EXECUTOR.Enum()
	cp.Timestamp = proto.Float64(float64(time.Now().UnixNano()) / 1e9)
	c.updateTaskLocked(t, cp)
	return e.status, nil
}

// SendFrameworkMessage sends data to the scheduler through the hooks.
func (e *execDriver) SendFrameworkMessage(data string) (mesos.Status, error) {
	c := e.c
	c.mu.Lock()
	if e.status != mesos.Status_DRIVER_RUNNING {
		defer c.mu.Unlock()
		return e.notRunning("SendFrameworkMessage")
	}
	c.mu.Unlock()
	c.frameworkMessage(ToScheduler, e.execID, e.agentID, data, func(data string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		eid, sid := util.NewExecutorID(e.execID), util.NewSlaveID(e.agentID)
		if c.agents[e.agentID].lost || !c.schedPushLocked(func(s sched.Scheduler, d *schedDriver) { s.FrameworkMessage(d, eid, sid, data) }) {
			c.stats.ToScheduler.Undeliverable++
			return
		}
		c.stats.ToScheduler.Delivered++
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	e.releaseLaunches() // Hooks.LaunchAfterMessage: the executor has handled what it got
	return e.status, nil
}

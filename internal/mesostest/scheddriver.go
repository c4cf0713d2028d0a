package mesostest

import (
	"errors"
	"fmt"

	"github.com/gogo/protobuf/proto"
	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// schedDriver is the fake sched.SchedulerDriver. Its state is guarded by
// the cluster's mutex.
type schedDriver struct {
	c       *Cluster
	s       sched.Scheduler
	q       *serialQueue
	started bool
	status  mesos.Status
	done    chan struct{} // closed when stopped or aborted
}

var _ sched.SchedulerDriver = (*schedDriver)(nil)

func (d *schedDriver) notRunning(op string) (mesos.Status, error) {
	return d.status, fmt.Errorf("mesostest: unable to %s, expected driver status %s, but is %s",
		op, mesos.Status_DRIVER_RUNNING, d.status)
}

// Start registers the framework: Registered, then the offers.
func (d *schedDriver) Start() (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case d.started:
		return d.status, errors.New("mesostest: unable to Start: driver has already been started once")
	case c.closed:
		return d.status, errors.New("mesostest: unable to Start: cluster is closed")
	case c.sched != nil:
		return d.status, errors.New("mesostest: unable to Start: another scheduler driver of this cluster is running")
	}
	d.started = true
	d.status = mesos.Status_DRIVER_RUNNING
	d.q = newSerialQueue(&c.wg)
	c.sched = d
	fwID := proto.Clone(c.fwID).(*mesos.FrameworkID)
	master := proto.Clone(c.master).(*mesos.MasterInfo)
	c.schedPushLocked(func(s sched.Scheduler, d *schedDriver) { s.Registered(d, fwID, master) })
	c.allocateLocked()
	return d.status, nil
}

// stopSchedLocked ends d: no more callbacks, its offers are withdrawn,
// filters cleared, and with teardown every executor is shut down.
func (c *Cluster) stopSchedLocked(d *schedDriver, status mesos.Status, teardown bool) {
	d.status = status
	close(d.done)
	d.q.stop()
	if c.sched == d {
		c.sched = nil
	}
	for _, o := range c.offers {
		c.rescindLocked(o, false)
	}
	for _, id := range c.agentOrder {
		ag := c.agents[id]
		ag.filter = nil
		if teardown {
			for _, e := range ag.executors {
				c.shutdownExecLocked(e)
			}
		}
	}
}

// Stop stops the driver; without failover the framework is torn down
// (executors get Shutdown).
func (d *schedDriver) Stop(failover bool) (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("Stop")
	}
	c.stopSchedLocked(d, mesos.Status_DRIVER_STOPPED, !failover)
	return d.status, nil
}

// Abort stops the driver with DRIVER_ABORTED and leaves executors running.
func (d *schedDriver) Abort() (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("Abort")
	}
	c.stopSchedLocked(d, mesos.Status_DRIVER_ABORTED, false)
	return d.status, nil
}

// Join waits until the driver is stopped or aborted.
func (d *schedDriver) Join() (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	if !d.started {
		defer c.mu.Unlock()
		return d.status, errors.New("mesostest: unable to Join: driver not started")
	}
	c.mu.Unlock()
	<-d.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return d.status, nil
}

// Run is Start then Join.
func (d *schedDriver) Run() (mesos.Status, error) {
	if st, err := d.Start(); err != nil {
		return st, err
	}
	return d.Join()
}

// RequestResources is a no-op, as in Mesos's default allocator.
func (d *schedDriver) RequestResources([]*mesos.Request) (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("RequestResources")
	}
	return d.status, nil
}

// AcceptOffers supports LAUNCH operations and an empty list (a decline).
func (d *schedDriver) AcceptOffers(offerIDs []*mesos.OfferID, ops []*mesos.Offer_Operation, filters *mesos.Filters) (mesos.Status, error) {
	var tasks []*mesos.TaskInfo
	for _, op := range ops {
		if op.GetType() != mesos.Offer_Operation_LAUNCH {
			c := d.c
			c.mu.Lock()
			defer c.mu.Unlock()
			return d.status, fmt.Errorf("mesostest: AcceptOffers: operation %s is not supported (only LAUNCH)", op.GetType())
		}
		tasks = append(tasks, op.GetLaunch().GetTaskInfos()...)
	}
	return d.LaunchTasks(offerIDs, tasks, filters)
}

// LaunchTasks validates and launches tasks like a Mesos master.
func (d *schedDriver) LaunchTasks(offerIDs []*mesos.OfferID, tasks []*mesos.TaskInfo, filters *mesos.Filters) (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("LaunchTasks")
	}
	c.launchLocked(offerIDs, tasks, filters.GetRefuseSeconds())
	return d.status, nil
}

func (c *Cluster) launchLocked(offerIDs []*mesos.OfferID, tasks []*mesos.TaskInfo, refuse float64) {
	// Validate the offers, like Mesos's offer validation.
	var (
		ag       *agent
		used     []*offer
		pooled   = scalars{}
		offerErr string
		seen     = map[string]bool{}
	)
	if len(offerIDs) == 0 {
		offerErr = "no offers given"
	}
	for _, oid := range offerIDs {
		id := oid.GetValue()
		if seen[id] {
			offerErr = "offer " + id + " given twice"
			continue
		}
		seen[id] = true
		o := c.offers[id]
		if o == nil {
			offerErr = "offer " + id + " is no longer valid"
			continue
		}
		used = append(used, o)
		pooled.add(o.res)
		if ag == nil {
			ag = c.agents[o.agentID]
		} else if o.agentID != ag.info.ID {
			offerErr = "offers are of more than one agent"
		}
	}
	if offerErr != "" {
		for _, o := range used {
			c.removeOfferLocked(o, OfferAccepted)
		}
		for _, t := range tasks {
			if t == nil {
				continue
			}
			c.stats.TasksRejected++
			c.sendStatusLocked(c.internalStatus(t.GetTaskId().GetValue(), t.GetSlaveId().GetValue(), "",
				mesos.TaskState_TASK_LOST, mesos.TaskStatus_SOURCE_MASTER, mesos.TaskStatus_REASON_INVALID_OFFERS,
				"invalid offers: "+offerErr))
		}
		c.allocateLocked()
		return
	}
	state := OfferAccepted
	if len(tasks) == 0 {
		state = OfferDeclined
	}
	var launched []string
	avail := pooled.clone()
	batch := map[string]bool{}
	for _, t := range tasks {
		if t == nil {
			continue
		}
		id := t.GetTaskId().GetValue()
		reject := func(format string, args ...any) {
			c.stats.TasksRejected++
			c.sendStatusLocked(c.internalStatus(id, ag.info.ID, t.GetExecutor().GetExecutorId().GetValue(),
				mesos.TaskState_TASK_ERROR, mesos.TaskStatus_SOURCE_MASTER, mesos.TaskStatus_REASON_TASK_INVALID,
				fmt.Sprintf(format, args...)))
		}
		eid := t.GetExecutor().GetExecutorId().GetValue()
		if id == "" {
			reject("task has no TaskId")
			continue
		}
		if old := c.tasks[id]; batch[id] || (old != nil && !isTerminal(old.status.GetState())) {
			reject("task ID %s is already in use", id)
			continue
		}
		if sid := t.GetSlaveId().GetValue(); sid != ag.info.ID {
			reject("task's SlaveId %q does not match the offers' agent %q", sid, ag.info.ID)
			continue
		}
		if t.Executor == nil || eid == "" {
			reject("task has no ExecutorInfo with an ExecutorId (command tasks are not supported by mesostest)")
			continue
		}
		taskRes, err := scalarsOf(t.Resources)
		if err != nil {
			reject("task resources: %v", err)
			continue
		}
		need := taskRes.clone()
		e := ag.executors[eid]
		if e != nil && e.shuttingDown {
			reject("executor %s is shutting down", eid)
			continue
		}
		var execRes scalars
		if e == nil {
			if execRes, err = scalarsOf(t.Executor.Resources); err != nil {
				reject("executor resources: %v", err)
				continue
			}
			need.add(execRes)
		}
		if !avail.contains(need) {
			reject("task uses more resources (%s) than available (%s)", need, avail.positive())
			continue
		}
		avail.sub(need)
		ag.free.sub(need)
		batch[id] = true
		if e == nil {
			e = c.startExecLocked(ag, t.Executor, execRes)
		}
		rec := &task{
			id: id, agentID: ag.info.ID, execID: eid, res: taskRes,
			status: c.internalStatus(id, ag.info.ID, eid, mesos.TaskState_TASK_STAGING,
				mesos.TaskStatus_SOURCE_MASTER, mesos.TaskStatus_REASON_TASK_UNKNOWN, "launched"),
		}
		rec.status.Reason = nil
		if _, known := c.tasks[id]; !known {
			c.taskOrder = append(c.taskOrder, id)
		}
		c.tasks[id] = rec
		e.tasks[id] = rec
		c.stats.TasksLaunched++
		launched = append(launched, id)
		ti := proto.Clone(t).(*mesos.TaskInfo)
		if ti.Executor.FrameworkId == nil {
			ti.Executor.FrameworkId = proto.Clone(c.fwID).(*mesos.FrameworkID)
		}
		e.pushLaunch(func(ex exec.Executor) { ex.LaunchTask(e, ti) })
	}
	for _, o := range used {
		o.rec.RefuseSeconds = refuse
		o.rec.Tasks = launched
		c.removeOfferLocked(o, state)
	}
	c.setFilterLocked(ag, avail, refuse)
	c.allocateLocked()
}

// KillTask asks the task's executor to kill it; for a task that is unknown
// or already terminal the scheduler gets its reconciled state instead.
func (d *schedDriver) KillTask(taskID *mesos.TaskID) (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("KillTask")
	}
	t := c.tasks[taskID.GetValue()]
	if t != nil && !isTerminal(t.status.GetState()) {
		if e := c.agents[t.agentID].executors[t.execID]; e != nil {
			tid := util.NewTaskID(t.id)
			e.releaseLaunches()
			e.push(func(ex exec.Executor) { ex.KillTask(e, tid) })
			return d.status, nil
		}
	}
	c.reconcileLocked([]string{taskID.GetValue()})
	return d.status, nil
}

// DeclineOffer returns an offer's resources and refuses them for the
// filter's refuse_seconds. Unknown offers are ignored, as in Mesos.
func (d *schedDriver) DeclineOffer(offerID *mesos.OfferID, filters *mesos.Filters) (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("DeclineOffer")
	}
	o := c.offers[offerID.GetValue()]
	if o == nil {
		return d.status, nil
	}
	refuse := filters.GetRefuseSeconds()
	o.rec.RefuseSeconds = refuse
	c.removeOfferLocked(o, OfferDeclined)
	c.setFilterLocked(c.agents[o.agentID], o.res, refuse)
	c.allocateLocked()
	return d.status, nil
}

// ReviveOffers clears every filter and offers what is free.
func (d *schedDriver) ReviveOffers() (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("ReviveOffers")
	}
	for _, ag := range c.agents {
		ag.filter = nil
	}
	c.allocateLocked()
	return d.status, nil
}

// SendFrameworkMessage sends data to an executor through the hooks; a
// message to an executor that does not exist is dropped silently.
func (d *schedDriver) SendFrameworkMessage(executorID *mesos.ExecutorID, slaveID *mesos.SlaveID, data string) (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		defer c.mu.Unlock()
		return d.notRunning("SendFrameworkMessage")
	}
	c.mu.Unlock()
	eid, aid := executorID.GetValue(), slaveID.GetValue()
	c.frameworkMessage(ToExecutor, eid, aid, data, func(data string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		var e *execDriver
		if ag := c.agents[aid]; ag != nil && !ag.lost {
			e = ag.executors[eid]
		}
		if e == nil || !e.push(func(ex exec.Executor) { ex.FrameworkMessage(e, data) }) {
			c.stats.ToExecutor.Undeliverable++
			return
		}
		c.stats.ToExecutor.Delivered++
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return d.status, nil
}

// ReconcileTasks reports the latest state of the given tasks (unknown ones
// as TASK_LOST), or of every unfinished task for an empty list.
func (d *schedDriver) ReconcileTasks(statuses []*mesos.TaskStatus) (mesos.Status, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.status != mesos.Status_DRIVER_RUNNING {
		return d.notRunning("ReconcileTasks")
	}
	var ids []string
	if len(statuses) == 0 {
		for _, id := range c.taskOrder {
			if !isTerminal(c.tasks[id].status.GetState()) {
				ids = append(ids, id)
			}
		}
	} else {
		for _, st := range statuses {
			ids = append(ids, st.GetTaskId().GetValue())
		}
	}
	c.reconcileLocked(ids)
	return d.status, nil
}

func (c *Cluster) reconcileLocked(ids []string) {
	for _, id := range ids {
		t := c.tasks[id]
		var st *mesos.TaskStatus
		if t == nil {
			st = c.internalStatus(id, "", "", mesos.TaskState_TASK_LOST, mesos.TaskStatus_SOURCE_MASTER,
				mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: task is unknown")
		} else {
			st = proto.Clone(t.status).(*mesos.TaskStatus)
			st.Source = mesos.TaskStatus_SOURCE_MASTER.Enum()
			st.Reason = mesos.TaskStatus_REASON_RECONCILIATION.Enum()
			st.Message = proto.String("Reconciliation: latest task state")
		}
		c.sendStatusLocked(st)
	}
}

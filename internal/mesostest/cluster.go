package mesostest

import (
	"fmt"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// Agent describes one agent (slave) of the fake cluster.
type Agent struct {
	ID        string             // SlaveID value; required and unique
	Hostname  string             // offer and SlaveInfo hostname; defaults to ID
	Resources map[string]float64 // scalar resources, e.g. "cpus", "mem"
}

// Config configures a Cluster.
type Config struct {
	// Agents are the agents of the cluster, offered in this order.
	Agents []Agent
	// NewExecutor makes the executor for the first task of an ExecutorID on
	// an agent. It runs on that executor's callback goroutine, just before
	// Registered. Returning nil counts as the executor failing to start
	// (its tasks become TASK_LOST, ExecutorLost with status 1). Required.
	NewExecutor func(agentID string, info *mesos.ExecutorInfo) exec.Executor
	// Hooks inject faults into framework messages.
	Hooks Hooks
	// FrameworkID is the framework ID given at registration; defaults to
	// "mesostest-framework".
	FrameworkID string
	// Framework is the FrameworkInfo given to executors' Registered;
	// defaults to user "mesostest", name "mesostest". Its Id is set to
	// FrameworkID.
	Framework *mesos.FrameworkInfo
	// OfferDelay turns a filter's refuse_seconds into the real time after
	// which the refused resources are offered again. Defaults to refuse
	// seconds of wall time; tests typically scale it down, e.g.
	// func(s float64) time.Duration { return time.Duration(s * float64(time.Millisecond)) }.
	// A result <= 0 means no filter.
	OfferDelay func(refuseSeconds float64) time.Duration
}

// OfferState is what became of an offer.
type OfferState int

const (
	// OfferOutstanding is an offer the scheduler has not answered yet.
	OfferOutstanding OfferState = iota
	// OfferAccepted is an offer used by LaunchTasks with at least one task
	// (including launches whose tasks were all rejected).
	OfferAccepted
	// OfferDeclined is an offer declined with DeclineOffer or with a
	// LaunchTasks without tasks.
	OfferDeclined
	// OfferRescinded is an offer withdrawn by RescindOffer, LoseAgent, or
	// the scheduler driver stopping.
	OfferRescinded
)

// String returns the state's name.
func (s OfferState) String() string {
	switch s {
	case OfferOutstanding:
		return "Outstanding"
	case OfferAccepted:
		return "Accepted"
	case OfferDeclined:
		return "Declined"
	case OfferRescinded:
		return "Rescinded"
	}
	return "OfferState(?)"
}

// OfferRecord is the history of one offer, for tests to inspect.
type OfferRecord struct {
	ID        string             // the OfferID value
	AgentID   string             // the agent offered
	Resources map[string]float64 // the scalar resources offered
	State     OfferState         // what became of the offer
	// RefuseSeconds is the filter's refuse_seconds given when the offer was
	// declined or accepted (5 when no Filters were given), else 0.
	RefuseSeconds float64
	// Tasks are the IDs of the tasks launched with the offer.
	Tasks []string
}

// TaskRecord is the latest known state of a task launched on the cluster.
type TaskRecord struct {
	ID         string             // the TaskID value
	AgentID    string             // the agent it runs on
	ExecutorID string             // its executor
	State      mesos.TaskState    // the latest state
	Message    string             // the latest status's message
	Resources  map[string]float64 // the task's own scalar resources
}

// MessageStats counts framework messages in one direction.
type MessageStats struct {
	Sent          int // messages given to the driver
	Dropped       int // messages a hook turned into no delivery
	Duplicated    int // extra deliveries made by hooks (n deliveries = n-1)
	Delayed       int // deliveries with a Delay > 0
	Delivered     int // deliveries queued to a live receiver
	Undeliverable int // deliveries whose receiver did not exist or was gone
}

// Stats are the cluster's counters.
type Stats struct {
	ToExecutor        MessageStats // framework messages scheduler -> executors
	ToScheduler       MessageStats // framework messages executors -> scheduler
	OffersMade        int          // offers sent to the scheduler
	OffersAccepted    int          // offers used by LaunchTasks (see OfferAccepted)
	OffersDeclined    int          // offers declined (see OfferDeclined)
	OffersRescinded   int          // offers withdrawn (see OfferRescinded)
	TasksLaunched     int          // tasks that passed validation and went to an executor
	TasksRejected     int          // tasks answered TASK_LOST or TASK_ERROR by validation
	ExecutorsLaunched int          // executors created with Config.NewExecutor
}

// Cluster is an in-process fake Mesos master with its agents. All its
// methods are safe for concurrent use.
type Cluster struct {
	cfg    Config
	fwID   *mesos.FrameworkID
	fwInfo *mesos.FrameworkInfo
	master *mesos.MasterInfo
	wg     sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	sched      *schedDriver // the running scheduler driver, or nil
	agents     map[string]*agent
	agentOrder []string
	offers     map[string]*offer // outstanding offers
	offerLog   []*OfferRecord
	tasks      map[string]*task
	taskOrder  []string
	timers     map[*timerEntry]struct{}
	nextOffer  int
	stats      Stats
}

type agent struct {
	info      Agent
	lost      bool
	free      scalars // total minus what tasks and executors use
	offers    map[string]*offer
	filter    *filter
	executors map[string]*execDriver
}

type offer struct {
	id      string
	agentID string
	res     scalars
	rec     *OfferRecord
}

type filter struct {
	res   scalars
	until time.Time
}

type task struct {
	id, agentID, execID string
	res                 scalars
	status              *mesos.TaskStatus // latest
}

type timerEntry struct{ t *time.Timer }

// NewCluster returns a cluster of cfg.Agents. It panics on an invalid
// Config (no NewExecutor, an agent without ID, duplicate agent IDs).
func NewCluster(cfg Config) *Cluster {
	if cfg.NewExecutor == nil {
		panic("mesostest: Config.NewExecutor is required")
	}
	if cfg.FrameworkID == "" {
		cfg.FrameworkID = "mesostest-framework"
	}
	if cfg.OfferDelay == nil {
		cfg.OfferDelay = func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	}
	c := &Cluster{
		cfg:    cfg,
		fwID:   util.NewFrameworkID(cfg.FrameworkID),
		master: util.NewMasterInfo("mesostest-master", 0x7f000001, 5050),
		agents: map[string]*agent{},
		offers: map[string]*offer{},
		tasks:  map[string]*task{},
		timers: map[*timerEntry]struct{}{},
	}
	if cfg.Framework != nil {
		c.fwInfo = proto.Clone(cfg.Framework).(*mesos.FrameworkInfo)
	} else {
		c.fwInfo = util.NewFrameworkInfo("mesostest", "mesostest", nil)
	}
	c.fwInfo.Id = c.fwID
	for _, a := range cfg.Agents {
		if a.ID == "" {
			panic("mesostest: agent without ID")
		}
		if _, dup := c.agents[a.ID]; dup {
			panic("mesostest: duplicate agent ID " + a.ID)
		}
		if a.Hostname == "" {
			a.Hostname = a.ID
		}
		res := scalars(a.Resources).clone()
		a.Resources = res.clone()
		c.agents[a.ID] = &agent{
			info:      a,
			free:      res,
			offers:    map[string]*offer{},
			executors: map[string]*execDriver{},
		}
		c.agentOrder = append(c.agentOrder, a.ID)
	}
	return c
}

// SchedulerDriver returns a new, not yet started driver for s. Only one
// driver of a cluster runs at a time: Start fails while another runs. A new
// driver started after Stop(true) or Abort is a failover: it gets Registered
// with the same framework ID and talks to the executors still running.
func (c *Cluster) SchedulerDriver(s sched.Scheduler) sched.SchedulerDriver {
	return &schedDriver{c: c, s: s, status: mesos.Status_DRIVER_NOT_STARTED, done: make(chan struct{})}
}

// Close stops every driver (a running scheduler driver's Join returns
// DRIVER_ABORTED; executors get no more callbacks), cancels every timer and
// waits for every goroutine the cluster started. It must not be called from
// a callback. Close is idempotent.
func (c *Cluster) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if d := c.sched; d != nil {
			c.stopSchedLocked(d, mesos.Status_DRIVER_ABORTED, false)
		}
		for _, id := range c.agentOrder {
			for _, d := range c.agents[id].executors {
				c.terminateExecLocked(d, mesos.Status_DRIVER_ABORTED, 1)
			}
		}
		for te := range c.timers {
			if te.t.Stop() {
				c.wg.Done()
			}
			delete(c.timers, te)
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// RescindOffer withdraws an outstanding offer: the scheduler gets
// OfferRescinded and the resources are offered again at once. Unknown
// offers are ignored.
func (c *Cluster) RescindOffer(offerID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.offers[offerID]
	if o == nil {
		return
	}
	c.rescindLocked(o, true)
	c.allocateLocked()
}

// LoseAgent removes an agent as a Mesos master does when it loses one: its
// outstanding offers are rescinded, its unfinished tasks become TASK_LOST
// (REASON_SLAVE_REMOVED), the scheduler gets SlaveLost, and its executors
// get Shutdown (then their drivers stop; no ExecutorLost is sent). The agent
// is never offered again.
func (c *Cluster) LoseAgent(agentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ag := c.agents[agentID]
	if ag == nil || ag.lost {
		return
	}
	for _, o := range c.agentOffersLocked(ag) {
		c.rescindLocked(o, true)
	}
	ag.lost = true
	for _, id := range c.taskOrder {
		t := c.tasks[id]
		if t.agentID != agentID || isTerminal(t.status.GetState()) {
			continue
		}
		c.updateTaskLocked(t, c.internalStatus(t.id, agentID, t.execID, mesos.TaskState_TASK_LOST,
			mesos.TaskStatus_SOURCE_MASTER, mesos.TaskStatus_REASON_SLAVE_REMOVED, "agent "+agentID+" lost"))
	}
	slaveID := util.NewSlaveID(agentID)
	c.schedPushLocked(func(s sched.Scheduler, d *schedDriver) { s.SlaveLost(d, slaveID) })
	for _, d := range ag.executors {
		c.shutdownExecLocked(d)
	}
}

// KillExecutor makes an executor die abruptly with the given exit status: no
// more callbacks reach it and its driver is aborted, its unfinished tasks
// become TASK_LOST (REASON_EXECUTOR_TERMINATED), and the scheduler gets
// ExecutorLost(executorID, agentID, status). Unknown executors are ignored.
func (c *Cluster) KillExecutor(executorID, agentID string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ag := c.agents[agentID]
	if ag == nil {
		return
	}
	if d := ag.executors[executorID]; d != nil {
		c.terminateExecLocked(d, mesos.Status_DRIVER_ABORTED, status)
	}
}

// Stats returns a snapshot of the cluster's counters.
func (c *Cluster) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Offers returns the history of every offer made, in order.
func (c *Cluster) Offers() []OfferRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]OfferRecord, len(c.offerLog))
	for i, r := range c.offerLog {
		out[i] = *r
		out[i].Resources = scalars(r.Resources).clone()
		out[i].Tasks = append([]string(nil), r.Tasks...)
	}
	return out
}

// Tasks returns every task launched, in launch order, with its latest state
// (TASK_STAGING until its executor reports).
func (c *Cluster) Tasks() []TaskRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TaskRecord, 0, len(c.taskOrder))
	for _, id := range c.taskOrder {
		t := c.tasks[id]
		out = append(out, TaskRecord{
			ID: t.id, AgentID: t.agentID, ExecutorID: t.execID,
			State: t.status.GetState(), Message: t.status.GetMessage(),
			Resources: t.res.clone(),
		})
	}
	return out
}

// TaskState returns the latest state of a launched task, and whether the
// task is known.
func (c *Cluster) TaskState(taskID string) (mesos.TaskState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tasks[taskID]
	if t == nil {
		return 0, false
	}
	return t.status.GetState(), true
}

// FreeResources returns an agent's resources not used by tasks or executors
// (offered or not), or nil for an unknown agent.
func (c *Cluster) FreeResources(agentID string) map[string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ag := c.agents[agentID]
	if ag == nil {
		return nil
	}
	return ag.free.positive()
}

// ---- internals; every ...Locked method needs c.mu held ----

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR:
		return true
	}
	return false
}

func (c *Cluster) internalStatus(taskID, agentID, execID string, state mesos.TaskState,
	src mesos.TaskStatus_Source, reason mesos.TaskStatus_Reason, msg string) *mesos.TaskStatus {
	st := &mesos.TaskStatus{
		TaskId:    util.NewTaskID(taskID),
		State:     state.Enum(),
		Source:    src.Enum(),
		Reason:    reason.Enum(),
		Message:   proto.String(msg),
		Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
	}
	if agentID != "" {
		st.SlaveId = util.NewSlaveID(agentID)
	}
	if execID != "" {
		st.ExecutorId = util.NewExecutorID(execID)
	}
	return st
}

// schedPushLocked queues a callback to the running scheduler driver, if any.
func (c *Cluster) schedPushLocked(f func(s sched.Scheduler, d *schedDriver)) bool {
	d := c.sched
	if d == nil {
		return false
	}
	return d.q.push(func() { f(d.s, d) })
}

// sendStatusLocked queues a StatusUpdate with a private copy of st.
func (c *Cluster) sendStatusLocked(st *mesos.TaskStatus) {
	cp := proto.Clone(st).(*mesos.TaskStatus)
	c.schedPushLocked(func(s sched.Scheduler, d *schedDriver) { s.StatusUpdate(d, cp) })
}

// updateTaskLocked records st as t's latest status, releases t's resources
// if st is terminal, and reports st to the scheduler.
func (c *Cluster) updateTaskLocked(t *task, st *mesos.TaskStatus) {
	t.status = st
	if isTerminal(st.GetState()) {
		if ag := c.agents[t.agentID]; ag != nil {
			ag.free.add(t.res)
			if d := ag.executors[t.execID]; d != nil {
				delete(d.tasks, t.id)
			}
		}
	}
	c.sendStatusLocked(st)
	if isTerminal(st.GetState()) {
		c.allocateLocked()
	}
}

func (c *Cluster) agentOffersLocked(ag *agent) []*offer {
	var out []*offer
	for _, o := range c.offerLog {
		if o.AgentID == ag.info.ID && o.State == OfferOutstanding {
			out = append(out, ag.offers[o.ID])
		}
	}
	return out
}

// removeOfferLocked makes o no longer outstanding.
func (c *Cluster) removeOfferLocked(o *offer, state OfferState) {
	delete(c.offers, o.id)
	if ag := c.agents[o.agentID]; ag != nil {
		delete(ag.offers, o.id)
	}
	o.rec.State = state
	switch state {
	case OfferAccepted:
		c.stats.OffersAccepted++
	case OfferDeclined:
		c.stats.OffersDeclined++
	case OfferRescinded:
		c.stats.OffersRescinded++
	}
}

func (c *Cluster) rescindLocked(o *offer, notify bool) {
	c.removeOfferLocked(o, OfferRescinded)
	if notify {
		id := util.NewOfferID(o.id)
		c.schedPushLocked(func(s sched.Scheduler, d *schedDriver) { s.OfferRescinded(d, id) })
	}
}

// allocateLocked offers every agent's unoffered, unfiltered free resources
// to the running scheduler, in one ResourceOffers call.
func (c *Cluster) allocateLocked() {
	if c.sched == nil || c.closed {
		return
	}
	now := time.Now()
	var offers []*mesos.Offer
	for _, id := range c.agentOrder {
		ag := c.agents[id]
		if ag.lost {
			continue
		}
		un := ag.free.clone()
		for _, o := range ag.offers {
			un.sub(o.res)
		}
		un = un.positive()
		if len(un) == 0 {
			continue
		}
		if f := ag.filter; f != nil && now.Before(f.until) && f.res.contains(un) {
			continue
		}
		c.nextOffer++
		o := &offer{id: fmt.Sprintf("offer-%d", c.nextOffer), agentID: id, res: un}
		o.rec = &OfferRecord{ID: o.id, AgentID: id, Resources: un.clone(), State: OfferOutstanding}
		c.offers[o.id] = o
		ag.offers[o.id] = o
		c.offerLog = append(c.offerLog, o.rec)
		c.stats.OffersMade++
		offers = append(offers, &mesos.Offer{
			Id:          util.NewOfferID(o.id),
			FrameworkId: c.fwID,
			SlaveId:     util.NewSlaveID(id),
			Hostname:    proto.String(ag.info.Hostname),
			Resources:   un.proto(),
		})
	}
	if len(offers) > 0 {
		c.schedPushLocked(func(s sched.Scheduler, d *schedDriver) { s.ResourceOffers(d, offers) })
	}
}

// setFilterLocked refuses res on ag for refuseSeconds (scaled by
// Config.OfferDelay) and re-offers when the filter expires.
func (c *Cluster) setFilterLocked(ag *agent, res scalars, refuseSeconds float64) {
	res = res.positive()
	if refuseSeconds <= 0 || len(res) == 0 {
		return
	}
	delay := c.cfg.OfferDelay(refuseSeconds)
	if delay <= 0 {
		return
	}
	f := &filter{res: res, until: time.Now().Add(delay)}
	ag.filter = f
	c.afterLocked(delay, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if ag.filter == f {
			ag.filter = nil
			c.allocateLocked()
		}
	})
}

// afterLocked runs f after d on a timer goroutine that Close cancels or
// waits for.
func (c *Cluster) afterLocked(d time.Duration, f func()) {
	if c.closed {
		return
	}
	te := &timerEntry{}
	c.wg.Add(1)
	te.t = time.AfterFunc(d, func() {
		defer c.wg.Done()
		c.mu.Lock()
		_, live := c.timers[te]
		delete(c.timers, te)
		c.mu.Unlock()
		if live {
			f()
		}
	})
	c.timers[te] = struct{}{}
}

// frameworkMessage applies the hooks to one message and delivers the result
// with deliver, at once or from a timer. It must be called without c.mu.
func (c *Cluster) frameworkMessage(dir Direction, executorID, agentID, data string, deliver func(data string)) {
	var ds []Delivery
	if h := c.cfg.Hooks.FrameworkMessage; h != nil {
		ds = h(dir, executorID, agentID, data)
	} else {
		ds = []Delivery{{Data: data}}
	}
	c.mu.Lock()
	ms := &c.stats.ToExecutor
	if dir == ToScheduler {
		ms = &c.stats.ToScheduler
	}
	ms.Sent++
	if len(ds) == 0 {
		ms.Dropped++
	}
	if len(ds) > 1 {
		ms.Duplicated += len(ds) - 1
	}
	var now []string
	for _, dl := range ds {
		if dl.Delay > 0 {
			ms.Delayed++
			data := dl.Data
			c.afterLocked(dl.Delay, func() { deliver(data) })
		} else {
			now = append(now, dl.Data)
		}
	}
	c.mu.Unlock()
	for _, data := range now {
		deliver(data)
	}
}

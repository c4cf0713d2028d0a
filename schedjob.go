package mesosgot

import (
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"sort"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// jobTiming holds the job goroutine's clocks.
type jobTiming struct {
	Tick       time.Duration // link tick
	DrainGrace time.Duration // normal end: how long to wait for sent messages to be acknowledged
	StopGrace  time.Duration // how long to wait for killed tasks to report a terminal state
	FlushGrace time.Duration // at the end: how long to wait for the app to take queued messages and events
	AppGrace   time.Duration // at the end: how long to wait for the app scheduler to return
}

func defaultJobTiming() jobTiming {
	return jobTiming{
		Tick:       10 * time.Millisecond,
		DrainGrace: 60 * time.Second,
		StopGrace:  15 * time.Second,
		FlushGrace: 5 * time.Second,
		AppGrace:   10 * time.Second,
	}
}

// launchedRefuseSeconds is the filter of offers declined once the job runs:
// the job never needs more resources.
const launchedRefuseSeconds = 3600

// jobPhase is where a job is in its life.
type jobPhase int

const (
	phaseWaiting  jobPhase = iota // waiting for offers that hold the whole job
	phaseRunning                  // tasks launched
	phaseDraining                 // app returned: delivering what it sent
	phaseStopping                 // tasks asked to end; waiting for their terminal states
	phaseDone                     // driver stopped
)

// schedTask is one task of the job, as the job goroutine tracks it.
type schedTask struct {
	name     string
	info     *AppTaskResourceInfo
	res      map[string]float64 // resources to ask Mesos for (never empty)
	agentID  string
	execID   string
	state    mesos.TaskState
	launched bool
	terminal bool
	killAsk  bool        // we asked for the kill (not a failure)
	pending  []GoTaskMsg // app messages waiting for the link (before launch, or stream full)
}

// execConn is the link to one executor (one per agent).
type execConn struct {
	execID, agentID string
	execPB          *mesos.ExecutorID // the IDs as the driver takes them, built once
	agentPB         *mesos.SlaveID
	link            *link
	ready           bool // a task of it reported RUNNING: the executor is registered
	tasks           map[string]bool
	drops           dropCounter // frames refused by the link (linkwatch.go)
}

// inItem is a message waiting for the app's schedin, with the link to credit.
type inItem struct {
	msg  GoTaskMsg
	conn *execConn
}

// evItem is an event waiting for schedevent, after barrier messages.
type evItem struct {
	ev      SchedEvent
	barrier uint64
}

// schedJob is the state of one job. Every field is owned by the goroutine
// running loop; driver callbacks reach it only through the scheduler's inbox.
type schedJob struct {
	s      *GoTaskScheduler
	driver sched.SchedulerDriver
	epoch  uint64
	// linkKey authenticates the job's link frames (linkwatch.go).
	linkKey []byte

	phase       jobPhase
	frameworkID string
	tasks       map[string]*schedTask
	taskOrder   []string
	conns       map[string]*execConn // by executor ID
	backlog     map[string]*schedTask
	parked      *GoTaskMsg // a schedout message whose task has no room: schedout is not read meanwhile

	schedin    chan GoTaskMsg
	schedout   chan GoTaskMsg
	schedevent chan SchedEvent
	inQ        fifo[inItem]
	evQ        fifo[evItem]
	enqueued   uint64 // messages ever put on inQ
	delivered  uint64 // messages ever handed to schedin

	launched bool // the job's LaunchTasks calls were made
	appDone  chan struct{}
	appEnded bool
	appPanic string // the app scheduler's panic value, set before appDone closes
	jobErr   error
	deadline time.Time // of the current draining/stopping phase
	ha       haState   // the master's presence and reconciliation (masterwatch.go, reconcile.go)

	driverIsGone bool // the driver stopped without the job asking

	stopDroppedIn  int // task messages dropped while the failed job stopped (schedend.go)
	stopDroppedOut int // app messages dropped while the job stopped

	terminalCount int       // tasks in a terminal state
	schedinClosed bool      // no task can send any more: schedin was closed early
	silentSince   time.Time // when schedin was closed early
	silentHinted  bool      // the user was told the job waits for the app

	admit     admission // what the declined rounds of offers held
	waitSince time.Time // when the job began to wait for offers (registration)
}

func newSchedJob(s *GoTaskScheduler, driver sched.SchedulerDriver, epoch uint64) *schedJob {
	j := &schedJob{
		s:          s,
		driver:     driver,
		epoch:      epoch,
		tasks:      map[string]*schedTask{},
		conns:      map[string]*execConn{},
		backlog:    map[string]*schedTask{},
		schedin:    make(chan GoTaskMsg, DefTaskChanLen),
		schedout:   make(chan GoTaskMsg, DefTaskChanLen),
		schedevent: make(chan SchedEvent, DefTaskChanLen),
		appDone:    make(chan struct{}),
	}
	return j
}

// loop is the job goroutine: it runs the app scheduler, then serves
// callbacks, app messages and link ticks until the job has ended.
func (j *schedJob) loop() {
	defer close(j.s.done)
	if err := j.s.prepErr; err != nil {
		// the driver was built from a config whose preparation failed
		j.emit(Error, err)
		j.fail(&JobError{Cause: err.Error()})
	} else if err := j.setupTasks(); err != nil {
		j.emit(Error, err)
		j.fail(&JobError{Cause: err.Error()})
	}
	go func() {
		defer close(j.appDone)
		defer func() {
			if r := recover(); r != nil {
				log.Errorf("mesosgot: app scheduler panicked: %v\n%s", r, debug.Stack())
				j.appPanic = fmt.Sprint(r) // read by the loop after appDone closes
			}
		}()
		j.s.app.RunScheduler(j.schedin, j.schedout, j.schedevent)
	}()
	ticker := time.NewTicker(j.s.timing.Tick)
	defer ticker.Stop()
	j.startMasterProbe()
	for j.phase != phaseDone {
		inCh, inHead, evCh, evHead := j.appHeads()
		var outCh chan GoTaskMsg
		if j.parked == nil {
			outCh = j.schedout // while stopping, taken and dropped (stopDrop)
		}
		appDone := j.appDone
		if j.appEnded {
			appDone = nil
		}
		select {
		case <-j.s.inbox.notify:
			for _, f := range j.s.inbox.drain() {
				f()
			}
		case m := <-outCh:
			if j.phase >= phaseStopping {
				j.stopDrop(m)
				break
			}
			j.route(m)
			// take what else the app has sent, so that it goes out together
		more:
			for n := 1; n < j.s.linkCfg.MaxBatchMsgs && j.parked == nil; n++ {
				select {
				case m := <-j.schedout:
					j.route(m)
				default:
					break more
				}
			}
		case inCh <- inHead:
			j.consumed(j.popIn())
			j.pushIn()
		case evCh <- evHead:
			j.popEv()
		case <-appDone:
			j.appEnded = true
			if j.appPanic != "" {
				j.fail(&JobError{Cause: "app scheduler panicked: " + j.appPanic})
			}
			j.appReturned()
		case <-ticker.C:
			for _, c := range j.conns {
				if c.ready {
					c.link.Tick()
				}
			}
			j.checkDeadlines()
			j.haTick()
			j.checkLinks()
			j.s.mon.tick(j) // progress and status snapshot
		}
		j.flush()
		j.advance()
		j.closeSchedinWhenSilent()
	}
	j.stopMasterProbe()
	j.finish()
}

// appHeads returns the next message for schedin and the next event due
// for schedevent (an event is due once the messages queued before it were
// delivered), each with its channel, or a nil channel when there is none.
func (j *schedJob) appHeads() (inCh chan GoTaskMsg, in GoTaskMsg, evCh chan SchedEvent, ev SchedEvent) {
	if j.inQ.len() > 0 && !j.schedinClosed {
		inCh, in = j.schedin, j.inQ.front().msg
	}
	if j.evQ.len() > 0 && j.evQ.front().barrier <= j.delivered {
		evCh, ev = j.schedevent, j.evQ.front().ev
	}
	return inCh, in, evCh, ev
}

// closeSchedinWhenSilent closes schedin once no task can send any more:
// every task has reached a terminal state and everything the tasks sent
// has been handed to the app. schedevent stays open until the job ends.
func (j *schedJob) closeSchedinWhenSilent() {
	if j.schedinClosed || j.phase == phaseDone || j.inQ.len() > 0 || j.terminalCount < len(j.tasks) {
		return
	}
	j.schedinClosed = true
	j.silentSince = time.Now()
	close(j.schedin)
}

// popIn removes the message appHeads returned, now handed to the app.
func (j *schedJob) popIn() inItem {
	it := j.inQ.pop()
	j.delivered++
	return it
}

// pushIn hands the app further queued messages while schedin has room,
// without going round the loop for each.
func (j *schedJob) pushIn() {
	for j.inQ.len() > 0 {
		select {
		case j.schedin <- j.inQ.front().msg:
			j.consumed(j.popIn())
		default:
			return
		}
	}
}

// popEv removes the event appHeads returned, now handed to the app.
func (j *schedJob) popEv() {
	j.evQ.pop()
}

// setupTasks expands the app's task requests into named tasks.
func (j *schedJob) setupTasks() error {
	for _, info := range j.s.app.TasksResourceInfo() {
		if info == nil {
			continue
		}
		if err := validateTasks([]*AppTaskResourceInfo{info}); err != nil {
			return err
		}
		if err := validateTaskResources(info.Resources); err != nil {
			return fmt.Errorf("mesosgot: task %q: %w", info.Name, err)
		}
		res := info.Resources
		if len(toMesosResources(res)) == 0 {
			// Mesos refuses a task that uses no resources.
			res = DefaultTaskResources()
		}
		for i := 0; i < info.Count; i++ {
			name := fmt.Sprintf("%s-%d", info.Name, i)
			if _, dup := j.tasks[name]; dup {
				return fmt.Errorf("mesosgot: task name %q is asked for twice", name)
			}
			j.tasks[name] = &schedTask{name: name, info: info, res: res}
			j.taskOrder = append(j.taskOrder, name)
		}
	}
	return nil
}

// emit queues an event for the app, after every message queued so far.
func (j *schedJob) emit(t SchedEventType, data interface{}) {
	if j.phase == phaseDone {
		return
	}
	j.evQ.push(evItem{ev: SchedEvent{EventType: t, EventData: data}, barrier: j.enqueued})
}

func (j *schedJob) registered(frameworkID, masterID string) {
	j.masterBack(masterID)
	j.frameworkID = frameworkID
	if j.waitSince.IsZero() {
		j.waitSince = time.Now()
	}
	j.emit(Registered, frameworkID)
}

// route takes one message the app sent on schedout.
func (j *schedJob) route(m GoTaskMsg) {
	t, ok := j.tasks[m.TaskName]
	if !ok {
		err := fmt.Errorf("mesosgot: message to unknown task %q dropped (%d bytes)", m.TaskName, len(m.MessageData))
		log.Warning(err)
		j.emit(Error, err)
		return
	}
	if t.terminal {
		err := fmt.Errorf("mesosgot: message to task %q dropped: the task has ended (%s)", m.TaskName, t.state)
		log.Warning(err)
		j.emit(Error, err)
		return
	}
	if len(t.pending) > 0 || !t.launched {
		if len(t.pending) >= DefTaskChanLen {
			parked := m // a copy of its own, so that m does not escape on every call
			j.parked = &parked
			return
		}
		t.pending = append(t.pending, m)
		if t.launched {
			j.backlog[t.name] = t
		}
		return
	}
	j.sendToTask(t, m)
}

// sendToTask gives m to the task's link, or parks it when the stream is full.
// It reports whether the link took it.
func (j *schedJob) sendToTask(t *schedTask, m GoTaskMsg) bool {
	conn := j.conns[t.execID]
	err := conn.link.Send(m)
	switch {
	case err == nil:
		return true
	case errors.Is(err, errStreamFull):
		t.pending = append(t.pending, m)
		j.backlog[t.name] = t
		return false
	default:
		err = fmt.Errorf("mesosgot: message to task %q refused: %w", t.name, err)
		log.Warning(err)
		j.emit(Error, err)
		return true
	}
}

// pump moves backlogged messages into links with room, and retries the
// parked message.
func (j *schedJob) pump() {
	for name, t := range j.backlog {
		conn := j.conns[t.execID]
		for len(t.pending) > 0 && conn.link.CanSend(name) {
			m := t.pending[0]
			t.pending[0] = GoTaskMsg{}
			t.pending = t.pending[1:]
			if !j.sendToTask(t, m) {
				break
			}
		}
		if len(t.pending) == 0 {
			t.pending = nil
			delete(j.backlog, name)
		}
	}
	if j.parked != nil {
		m := *j.parked
		if t := j.tasks[m.TaskName]; t.terminal || len(t.pending) < DefTaskChanLen {
			j.parked = nil
			j.route(m)
		}
	}
}

// flush sends what the links have ready and queues what they delivered.
func (j *schedJob) flush() {
	j.pump()
	for _, c := range j.conns {
		if !c.ready {
			continue
		}
		frames, msgs := c.link.Ready()
		for _, f := range frames {
			if err := j.sendFrame(c, f); err != nil { // messenger_sched.go
				log.Warningf("mesosgot: sending to executor %s: %v", c.execID, err)
			}
		}
		for _, m := range msgs {
			if m.TaskName == ctlStream {
				err := fmt.Errorf("mesosgot: executor %s on agent %s: %s", c.execID, c.agentID, m.MessageData)
				log.Warning(err)
				j.emit(Error, err)
				c.link.Consumed(m.TaskName, 1)
				continue
			}
			if !c.tasks[m.TaskName] {
				err := fmt.Errorf("mesosgot: executor %s sent a message as task %q, which it does not run; dropped", c.execID, m.TaskName)
				log.Warning(err)
				j.emit(Error, err)
				c.link.Consumed(m.TaskName, 1)
				continue
			}
			if j.jobErr != nil && j.phase == phaseStopping {
				j.stopQueue(c, m)
				continue
			}
			if j.appEnded || j.phase == phaseDone || j.schedinClosed {
				if j.schedinClosed && !j.appEnded {
					log.Warningf("mesosgot: message from task %s after it ended dropped (schedin is closed)", m.TaskName)
				}
				c.link.Consumed(m.TaskName, 1)
				continue
			}
			j.inQ.push(inItem{msg: m, conn: c})
			j.enqueued++
		}
	}
}

// frameworkMessage takes a frame from an executor; owned means nothing
// else reads data's bytes (link.RecvOwned).
func (j *schedJob) frameworkMessage(execID, agentID, data string, owned bool) {
	c, ok := j.conns[execID]
	if !ok {
		err := fmt.Errorf("mesosgot: framework message from unknown executor %s on agent %s (%d bytes) dropped", execID, agentID, len(data))
		log.Warning(err)
		j.emit(Error, err)
		return
	}
	if err := c.link.recv(data, owned); err != nil {
		if isDropErr(err) {
			j.frameDropped(c, agentID, err)
			return
		}
		err = fmt.Errorf("mesosgot: framework message from executor %s on agent %s: %w", execID, agentID, err)
		log.Warning(err)
		j.emit(Error, err)
	}
}

// statusUpdate turns a task's status into events and, for a failure, ends the job.
func (j *schedJob) statusUpdate(st *mesos.TaskStatus) {
	name := st.GetTaskId().GetValue()
	t, ok := j.tasks[name]
	if !ok {
		log.Warningf("mesosgot: status %s for unknown task %s ignored", st.GetState(), name)
		return
	}
	j.reconciled(st)
	if t.terminal {
		return
	}
	prev := t.state
	t.state = st.GetState()
	ev := TaskEvent{TaskName: name, AgentID: st.GetSlaveId().GetValue(), State: st.GetState().String(), Message: st.GetMessage()}
	if ev.AgentID == "" {
		ev.AgentID = t.agentID
	}
	cause := st.GetState().String()
	if st.GetMessage() != "" {
		cause += ": " + st.GetMessage()
	}
	cause = reconcileCause(st, cause)
	switch st.GetState() {
	case mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING:
		return
	case mesos.TaskState_TASK_RUNNING:
		if c := j.conns[t.execID]; c != nil {
			c.ready = true
		}
		if prev == mesos.TaskState_TASK_RUNNING {
			// a reconciliation's answer or an update an agent resent
			// after its recovery: the app already knows
			log.V(1).Infof("mesosgot: %s still TASK_RUNNING (%s)", name, st.GetReason())
			return
		}
		j.emit(TaskRunning, ev)
		return
	}
	t.terminal = true
	j.terminalCount++
	t.pending = nil
	delete(j.backlog, name)
	switch st.GetState() {
	case mesos.TaskState_TASK_FINISHED:
		j.emit(TaskFinished, ev)
	case mesos.TaskState_TASK_KILLED:
		j.emit(TaskKilled, ev)
		if !t.killAsk {
			j.fail(&JobError{TaskName: name, Cause: cause})
		}
	case mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_ERROR:
		j.emit(TaskFailed, ev)
		j.fail(j.taskError(t, cause, st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR))
	default:
		j.emit(TaskLost, ev)
		j.fail(j.taskError(t, cause, st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR))
	}
}

// shellCouldNotRun matches the exit statuses of sh -c when the command
// could not be run (126: not executable, 127: not found), also as raw wait
// statuses.
var shellCouldNotRun = regexp.MustCompile(`status (126|127|32256|32512)\b`)

// taskError is the JobError of task t failing with cause; when the executor
// itself failed (not the task function) and the embedded cluster ran it,
// the end of the executor's stderr goes with it.
func (j *schedJob) taskError(t *schedTask, cause string, executorFailed bool) *JobError {
	je := &JobError{TaskName: t.name, Cause: cause}
	if executorFailed && shellCouldNotRun.MatchString(cause) {
		je.Cause += " (the shell could not run the executor: is -executor a program built for the agents' OS and architecture?)"
	}
	if executorFailed && t.execID != "" {
		je.ExecutorStderr = j.s.executorStderrTail(j.frameworkID, t.agentID, t.execID)
		if j.jobErr == nil {
			j.s.keepSandbox = j.s.localWorkDir != "" // its files are what is left to read
		}
	}
	return je
}

// scalarResources sums an offer's scalar resources by name.
func scalarResources(rs []*mesos.Resource) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			out[r.GetName()] += r.GetScalar().GetValue()
		}
	}
	return out
}

// toMesosResources turns a resource map into Mesos scalar resources, sorted by name.
func toMesosResources(res map[string]float64) []*mesos.Resource {
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*mesos.Resource, 0, len(names))
	for _, n := range names {
		if res[n] > 0 {
			out = append(out, util.NewScalarResource(n, res[n]))
		}
	}
	return out
}

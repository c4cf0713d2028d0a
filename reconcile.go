package mesosgot

import (
	"fmt"
	"sort"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
)

// After a re-registration (a master failover) the new master may not know
// every task, and status updates may have been lost meanwhile. As Mesos'
// reconciliation guide prescribes, the job asks explicitly for the state of
// each task it believes live, repeating with exponential backoff for the
// tasks not yet answered; answers arrive as ordinary status updates, so a
// task that turns out lost, failed or killed ends the job like any other
// failure. The links to executors are kept across the re-registration:
// frames lost meanwhile are retransmitted by the links.

// reconcileTiming is the backoff of explicit reconciliation.
type reconcileTiming struct {
	First time.Duration // wait for answers before the first repeat
	Max   time.Duration // longest wait between repeats
}

func defaultReconcileTiming() reconcileTiming {
	return reconcileTiming{First: 2 * time.Second, Max: 60 * time.Second}
}

// haState is the job's high-availability state: its view of the master and
// the reconciliation in progress.
type haState struct {
	master masterState
	recon  reconcileState
}

// reconcileState is one explicit reconciliation in progress.
type reconcileState struct {
	pending map[string]bool // tasks asked about and not answered
	next    time.Time       // when to ask again
	wait    time.Duration   // the current backoff
	rounds  int
	started time.Time
}

// masterReregistered takes the driver's Reregistered: the master is back,
// and the tasks are reconciled.
func (j *schedJob) masterReregistered(masterID string) {
	j.masterBack(masterID)
	j.emit(Reregistered, masterID)
	j.startReconcile()
	j.killAgain()
}

// startReconcile asks the master for the state of every live task.
func (j *schedJob) startReconcile() {
	r := &j.ha.recon
	r.pending = map[string]bool{}
	for _, name := range j.taskOrder {
		if t := j.tasks[name]; t.launched && !t.terminal {
			r.pending[name] = true
		}
	}
	if len(r.pending) == 0 {
		r.pending = nil
		return
	}
	r.wait, r.rounds, r.started = j.s.reconTiming.First, 0, time.Now()
	j.sendReconcile()
}

// sendReconcile sends one explicit reconciliation for the pending tasks and
// schedules the next with a doubled wait.
func (j *schedJob) sendReconcile() {
	r := &j.ha.recon
	names := make([]string, 0, len(r.pending))
	for name := range r.pending {
		names = append(names, name)
	}
	sort.Strings(names)
	sts := make([]*mesos.TaskStatus, 0, len(names))
	for _, name := range names {
		t := j.tasks[name]
		sts = append(sts, &mesos.TaskStatus{TaskId: util.NewTaskID(name), State: t.state.Enum(), SlaveId: util.NewSlaveID(t.agentID)})
	}
	r.rounds++
	log.Infof("mesosgot: reconciling %d tasks (round %d)", len(sts), r.rounds)
	if _, err := j.driver.ReconcileTasks(sts); err != nil {
		log.Warningf("mesosgot: reconciling tasks: %v (retrying in %v)", err, r.wait)
	}
	r.next = time.Now().Add(r.wait)
	r.wait *= 2
	if r.wait > j.s.reconTiming.Max {
		r.wait = j.s.reconTiming.Max
	}
}

// reconciled notes the answer for a task: any status update for it.
func (j *schedJob) reconciled(st *mesos.TaskStatus) {
	r := &j.ha.recon
	if r.pending == nil {
		return
	}
	if name := st.GetTaskId().GetValue(); r.pending[name] {
		delete(r.pending, name)
		j.s.reconciledTasks.Add(1)
	}
	if len(r.pending) == 0 {
		log.Infof("mesosgot: tasks reconciled in %v (%d rounds)", time.Since(r.started).Round(time.Millisecond), r.rounds)
		r.pending = nil
	}
}

// checkReconcile repeats an unanswered reconciliation when its wait is over;
// it stops when the job is ending or the master is gone again (the next
// re-registration starts over).
func (j *schedJob) checkReconcile() {
	r := &j.ha.recon
	if r.pending == nil || time.Now().Before(r.next) {
		return
	}
	if j.phase >= phaseStopping || !j.ha.master.lostAt.IsZero() {
		r.pending = nil
		return
	}
	if d := j.s.conf.MasterLostTimeout; d > 0 && time.Since(r.started) > d {
		j.unreconciled(d)
		return
	}
	for name := range r.pending {
		if t := j.tasks[name]; t.terminal {
			delete(r.pending, name)
		}
	}
	if len(r.pending) == 0 {
		r.pending = nil
		return
	}
	j.sendReconcile()
}

// unreconciled fails the job: the master has not answered for some tasks
// within d of the re-registration (their agents did not re-register).
func (j *schedJob) unreconciled(d time.Duration) {
	r := &j.ha.recon
	names := make([]string, 0, len(r.pending))
	for name := range r.pending {
		names = append(names, name)
	}
	sort.Strings(names)
	r.pending = nil
	err := &JobError{TaskName: names[0], Cause: fmt.Sprintf("the master did not report the state of tasks %v within %v of the framework's re-registration (their agents have not re-registered with it)", names, d)}
	j.emit(Error, err)
	j.fail(err)
}

// haTick runs the job's high-availability clocks.
func (j *schedJob) haTick() {
	j.checkMaster()
	j.checkReconcile()
}

// reconcileCause qualifies a failure cause found by reconciliation.
func reconcileCause(st *mesos.TaskStatus, cause string) string {
	if st.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION {
		return cause + " (found by reconciliation after re-registration)"
	}
	return cause
}

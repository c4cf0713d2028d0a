package mesosgot

import (
	"maps"
	"slices"
	"time"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// jobStatus is a consistent snapshot of a job, taken by the job goroutine.
// It is what the status page's /status serves as JSON and what the progress
// line prints.
type jobStatus struct {
	// Phase is registering, waiting (for offers that hold the whole job),
	// running, draining (the app scheduler returned; delivering what it
	// sent), stopping (tasks asked to end), finished or failed.
	Phase       string `json:"phase"`
	FrameworkID string `json:"framework_id"`
	Master      string `json:"master"`
	// Error is the job's failure, once it has one.
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	// ElapsedSeconds counts from the scheduler's start.
	ElapsedSeconds float64    `json:"elapsed_seconds"`
	Counts         taskCounts `json:"counts"`
	// MsgsIn counts messages received from tasks, MsgsOut messages sent to
	// tasks (taken by the links to the executors); the rates are over the
	// last second or so.
	MsgsIn        uint64  `json:"msgs_in"`
	MsgsOut       uint64  `json:"msgs_out"`
	MsgsInPerSec  float64 `json:"msgs_in_per_sec"`
	MsgsOutPerSec float64 `json:"msgs_out_per_sec"`
	// QueueToApp is the number of task messages waiting for the app
	// scheduler to read schedin; QueueToTasks the app's messages not yet
	// acknowledged by the executors; QueueEvents the events waiting for
	// schedevent.
	QueueToApp   int `json:"queue_to_app"`
	QueueToTasks int `json:"queue_to_tasks"`
	QueueEvents  int `json:"queue_events"`
	// Retransmits counts the records the scheduler's links retransmitted.
	Retransmits uint64       `json:"retransmits"`
	Tasks       []taskStatus `json:"tasks"`
	Links       []linkStatus `json:"links"`
}

// taskCounts counts the job's tasks by state.
type taskCounts struct {
	Total    int `json:"total"`
	Waiting  int `json:"waiting"` // not launched yet
	Staging  int `json:"staging"` // launched, not running yet
	Running  int `json:"running"`
	Finished int `json:"finished"`
	Stopped  int `json:"stopped"` // killed (their in closed) because the job ended
	Failed   int `json:"failed"`  // failed, lost, errored, or killed by someone else
}

// taskStatus is one task in a jobStatus.
type taskStatus struct {
	Name string `json:"name"`
	// State is WAITING before the task is launched, TASK_STAGING until
	// Mesos reports on it, then the Mesos task state.
	State   string `json:"state"`
	Agent   string `json:"agent"`
	MsgsIn  uint64 `json:"msgs_in"`
	MsgsOut uint64 `json:"msgs_out"`
	// Queued counts messages to the task not yet acknowledged by its
	// executor (waiting for launch, for room, or in flight).
	Queued int `json:"queued"`
}

// linkStatus is the reliable link to one executor.
type linkStatus struct {
	Executor    string `json:"executor"`
	Agent       string `json:"agent"`
	FramesSent  uint64 `json:"frames_sent"`
	FramesRecv  uint64 `json:"frames_recv"`
	Retransmits uint64 `json:"retransmits"`
	Timeouts    uint64 `json:"timeouts"`
	Inflight    int    `json:"inflight"`
}

// phaseName is the status name of the job's phase.
func (j *schedJob) phaseName() string {
	switch j.phase {
	case phaseWaiting:
		return "waiting"
	case phaseRunning:
		return "running"
	case phaseDraining:
		return "draining"
	case phaseStopping:
		return "stopping"
	}
	if j.jobErr != nil {
		return "failed"
	}
	return "finished"
}

// status takes the job's snapshot; it runs on the job goroutine. Without
// detail only the phase, counts and totals are filled in (all the progress
// line needs), not the Tasks and Links lists.
func (j *schedJob) status(master string, started time.Time, detail bool) *jobStatus {
	st := &jobStatus{
		Phase:          j.phaseName(),
		FrameworkID:    j.frameworkID,
		Master:         master,
		Started:        started,
		ElapsedSeconds: time.Since(started).Seconds(),
		QueueToApp:     j.inQ.len() + len(j.schedin),
		QueueEvents:    j.evQ.len() + len(j.schedevent),
	}
	if detail {
		st.Tasks = make([]taskStatus, 0, len(j.taskOrder))
		st.Links = make([]linkStatus, 0, len(j.conns))
	}
	if j.jobErr != nil {
		st.Error = j.jobErr.Error()
	}
	for _, name := range j.taskOrder {
		t := j.tasks[name]
		ts := taskStatus{Name: name, State: "WAITING", Agent: t.agentID, Queued: len(t.pending)}
		if conn := j.conns[t.execID]; detail && t.launched && conn != nil {
			if s := conn.link.sstreams[name]; s != nil {
				ts.MsgsOut = s.sent + uint64(s.queued())
			}
			if r := conn.link.rstreams[name]; r != nil {
				ts.MsgsIn = r.delivered
			}
			ts.Queued += conn.link.Unacked(name)
		}
		st.QueueToTasks += ts.Queued
		st.Counts.Total++
		switch {
		case !t.launched:
			st.Counts.Waiting++
		case t.terminal:
			ts.State = t.state.String()
			switch {
			case t.state == mesos.TaskState_TASK_FINISHED:
				st.Counts.Finished++
			case t.state == mesos.TaskState_TASK_KILLED && t.killAsk:
				st.Counts.Stopped++
			default:
				st.Counts.Failed++
			}
		case t.state == mesos.TaskState_TASK_RUNNING:
			ts.State = t.state.String()
			st.Counts.Running++
		default:
			// The zero state is TASK_STARTING; before Mesos says anything
			// the task is staging.
			ts.State = mesos.TaskState_TASK_STAGING.String()
			st.Counts.Staging++
		}
		if detail {
			st.Tasks = append(st.Tasks, ts)
		}
	}
	for _, id := range sortedKeys(j.conns) {
		c := j.conns[id]
		ls := c.link.Stats()
		st.MsgsIn += ls.MsgsDelivered
		st.MsgsOut += ls.MsgsSent
		st.Retransmits += ls.Retransmits
		if !detail {
			continue
		}
		st.Links = append(st.Links, linkStatus{
			Executor: c.execID, Agent: c.agentID,
			FramesSent: ls.FramesSent, FramesRecv: ls.FramesRecv,
			Retransmits: ls.Retransmits, Timeouts: ls.Timeouts,
			Inflight: len(c.link.unacked),
		})
	}
	return st
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

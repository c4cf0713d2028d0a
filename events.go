package mesosgot

import (
	"fmt"
	"os"
	"strings"
)

// SchedEvent is a scheduler event (a task's state change, a lost agent, a
// disconnect, the job's end, ...) delivered to the app scheduler on its
// schedevent channel. The dynamic type of EventData depends on EventType and
// is documented on each SchedEventType constant.
type SchedEvent struct {
	EventType SchedEventType
	EventData interface{} //the type of event data depend on event type
}

// SchedEventType is the kind of a SchedEvent.
type SchedEventType int

// The scheduler event types, in their original order (the values are part
// of the API; types added later follow NumSchedEventTypes). The comment of each says
// when it is emitted and the type of SchedEvent.EventData it carries.
const (
	// Registered: the framework registered with the master. EventData: string, the framework ID.
	Registered SchedEventType = iota
	// Reregistered: the framework re-registered with a (new) master. EventData: string, the master's ID.
	Reregistered
	// Disconnected: the master was lost (the driver disconnected, or a
	// host:port master stopped answering); see -master_lost_timeout. EventData: nil.
	Disconnected
	// TaskLaunched: a task was handed to Mesos in a LaunchTasks call. EventData: TaskEvent.
	TaskLaunched
	// TaskRunning: a task reported TASK_RUNNING, once per task (the same
	// state again, as reconciliation after a master failover or an agent's
	// recovery reports it, is not a new event). EventData: TaskEvent.
	TaskRunning
	// TaskFinished: a task returned nil (TASK_FINISHED). EventData: TaskEvent.
	TaskFinished
	// TaskFailed: a task returned an error, panicked, was unknown to the
	// executor, or Mesos reported TASK_FAILED/TASK_ERROR. The job ends. EventData: TaskEvent.
	TaskFailed
	// TaskKilled: a task reported TASK_KILLED. EventData: TaskEvent.
	TaskKilled
	// TaskLost: Mesos reported a task TASK_LOST (or another non-terminal loss state). The job ends. EventData: TaskEvent.
	TaskLost
	// OfferRescinded: Mesos rescinded an offer. EventData: string, the offer ID.
	OfferRescinded
	// SlaveLost: an agent running tasks of the job was lost. The job ends. EventData: string, the agent ID.
	SlaveLost
	// ExecutorLost: an executor of the job exited. The job ends. EventData: ExecutorLostEvent.
	ExecutorLost
	// Shutdown: the job is ending; it is the last event before schedevent
	// closes. EventData: error, nil for a normal end, else the cause (a *JobError).
	Shutdown
	// Error: an error was reported, by the driver (fatal, the job ends) or by
	// mesosgot (a malformed framework message, a message to an unknown task:
	// logged and dropped, the job goes on). EventData: error.
	Error
	// NumSchedEventTypes is the number of the event types above, not an
	// event. Event types added later follow it, so that every value above
	// keeps its meaning.
	NumSchedEventTypes

	// JobNotAdmitted: a round of offers could not hold the whole job (the
	// offers were declined); emitted on the first such round and then at
	// most every 10 s while the job waits. With a placement timeout the job
	// fails once it is reached. EventData: AdmissionEvent.
	JobNotAdmitted
)

var schedEventNames = [...]string{
	Registered:     "Registered",
	Reregistered:   "Reregistered",
	Disconnected:   "Disconnected",
	TaskLaunched:   "TaskLaunched",
	TaskRunning:    "TaskRunning",
	TaskFinished:   "TaskFinished",
	TaskFailed:     "TaskFailed",
	TaskKilled:     "TaskKilled",
	TaskLost:       "TaskLost",
	OfferRescinded: "OfferRescinded",
	SlaveLost:      "SlaveLost",
	ExecutorLost:   "ExecutorLost",
	Shutdown:       "Shutdown",
	Error:          "Error",
	JobNotAdmitted: "JobNotAdmitted",
}

// String returns the constant's name, e.g. "TaskFailed".
func (et SchedEventType) String() string {
	if et >= 0 && int(et) < len(schedEventNames) && schedEventNames[et] != "" {
		return schedEventNames[et]
	}
	return fmt.Sprintf("SchedEventType(%d)", int(et))
}

// TaskEvent is the EventData of the task events (TaskLaunched ... TaskLost).
type TaskEvent struct {
	// TaskName is the task's name, "<name>-<index>", also its Mesos task ID.
	TaskName string
	// AgentID is the Mesos agent (slave) the task runs on.
	AgentID string
	// State is the Mesos task state, e.g. "TASK_FAILED"; empty for TaskLaunched.
	State string
	// Message is the status message: for a failed task the error or panic text.
	Message string
}

// ExecutorLostEvent is the EventData of an ExecutorLost event.
type ExecutorLostEvent struct {
	ExecutorID string
	AgentID    string
	// Status is the executor's exit code: 128 plus the signal number for
	// an executor killed by a signal (Mesos' raw wait status, decoded).
	Status int
}

// JobError is the error a failed job ends with: the task (if one) and the cause.
type JobError struct {
	// TaskName names the task whose failure ended the job; empty when the
	// cause is not one task (an agent lost, a driver error).
	TaskName string
	// Cause says what happened, e.g. "TASK_FAILED: boom". For a task that
	// panicked it holds the panic value and the first frames of the stack.
	Cause string
	// ExecutorStderr is the end of the failed executor's stderr, when the
	// embedded cluster of Master "local" ran it; empty otherwise.
	ExecutorStderr string
	// Signal is the signal (SIGINT, SIGTERM) that interrupted the job, nil
	// if none did; see ExitCode.
	Signal os.Signal
}

// Error returns the reason naming the task and the cause, followed by the
// executor's stderr tail, if any, on lines of their own.
func (e *JobError) Error() string {
	s := "mesosgot: job failed: " + e.Cause
	if e.TaskName != "" {
		s = fmt.Sprintf("mesosgot: job failed: task %s: %s", e.TaskName, e.Cause)
	}
	if e.ExecutorStderr != "" {
		s += "\nexecutor stderr (last lines):\n\t" + strings.ReplaceAll(e.ExecutorStderr, "\n", "\n\t")
	}
	return s
}

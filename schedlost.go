package mesosgot

import (
	"fmt"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// slaveLost takes the loss of an agent: its tasks are gone (the job does
// not wait for states of theirs that no one can send any more), and the
// first of them fails the job.
func (j *schedJob) slaveLost(agentID string) {
	j.emit(SlaveLost, agentID)
	var first *schedTask
	for _, name := range j.taskOrder {
		t := j.tasks[name]
		if t.agentID != agentID || !t.launched || t.terminal {
			continue
		}
		if first == nil {
			first = t
		}
		j.taskGone(t, "agent "+agentID+" lost")
	}
	if first != nil {
		j.fail(&JobError{TaskName: first.name, Cause: "agent " + agentID + " lost"})
	}
}

func (j *schedJob) executorLost(execID, agentID string, status int) {
	j.emit(ExecutorLost, ExecutorLostEvent{ExecutorID: execID, AgentID: agentID, Status: status})
	for _, name := range j.taskOrder {
		if t := j.tasks[name]; t.execID == execID && t.launched && !t.terminal {
			j.fail(j.taskError(t, fmt.Sprintf("executor %s on agent %s exited with status %d", execID, agentID, status), true))
			return
		}
	}
}

// taskGone marks t ended without a state from Mesos (its agent is lost):
// the app gets TaskLost and the job waits no more for it.
func (j *schedJob) taskGone(t *schedTask, why string) {
	t.state = mesos.TaskState_TASK_LOST
	t.terminal = true
	j.terminalCount++
	t.pending = nil
	delete(j.backlog, t.name)
	j.emit(TaskLost, TaskEvent{TaskName: t.name, AgentID: t.agentID, State: t.state.String(), Message: why})
}

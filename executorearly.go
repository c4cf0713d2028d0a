package mesosgot

import (
	"fmt"

	log "github.com/golang/glog"
)

// mesos-go v0.0.11's executor driver runs every callback on a goroutine of
// its own (serialized by a mutex, not ordered), so a task's LaunchTask can
// run after the FrameworkMessage that carries the first messages for it,
// although the agent sent RunTaskMessage first. The scheduler only sends
// to tasks it launched on this executor, so such messages are held, in
// order and unacknowledged to the link's flow control, until the launch
// runs; dropping them would lose them for good (the link has acked them).
// Likewise a KillTask that comes before its task's LaunchTask is kept: the
// launch then reports TASK_KILLED instead of starting the task (the agent
// only sends an executor kills for tasks it gave it).

// holdEarly keeps m for a task this executor has not launched yet.
func (exec *GoTaskExecutor) holdEarly(m GoTaskMsg) {
	if len(exec.early[m.TaskName]) == 0 {
		log.V(1).Infof("mesosgot: message for task %s before its launch; held until it launches", m.TaskName)
	}
	exec.early[m.TaskName] = append(exec.early[m.TaskName], m)
}

// deliverEarly gives a task just launched the messages held for it.
func (exec *GoTaskExecutor) deliverEarly(t *execTask) {
	held := exec.early[t.name]
	delete(exec.early, t.name)
	for _, m := range held {
		exec.deliver(t, m)
	}
}

// dropEarly drops the messages held for a task that will not run.
func (exec *GoTaskExecutor) dropEarly(name, why string) {
	held := exec.early[name]
	if len(held) == 0 {
		return
	}
	delete(exec.early, name)
	err := fmt.Errorf("%d messages for task %q dropped: %s", len(held), name, why)
	log.Warningf("mesosgot: %v", err)
	exec.report(err)
	exec.link.Consumed(name, len(held))
}

// deliver puts m into t's mailbox; the link gets the credit back when the
// task has taken it (at once when it went straight to the task, or when
// the task has ended and will take nothing more).
func (exec *GoTaskExecutor) deliver(t *execTask, m GoTaskMsg) {
	if direct, ok := t.mailbox.put(m); direct || !ok {
		exec.link.Consumed(m.TaskName, 1)
	}
}

// killEarly keeps a kill for a task this executor has not launched yet.
func (exec *GoTaskExecutor) killEarly(name string) {
	log.Warningf("mesosgot: kill for task %s before its launch; it is killed when the launch comes", name)
	exec.killedEarly[name] = true
}

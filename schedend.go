package mesosgot

import (
	"fmt"
	"sort"
	"time"

	log "github.com/golang/glog"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
)

// fail ends the job with err (the first failure wins): the other tasks are
// asked to end and the driver stops once they have.
func (j *schedJob) fail(err error) {
	if j.jobErr != nil || j.phase == phaseDone {
		return
	}
	j.jobErr = err
	log.Errorf("%v", err)
	if j.phase < phaseStopping {
		j.stopTasks()
	}
	j.releaseHeld()
}

// stopQueueMax bounds the messages tasks send after the job failed that
// are kept for the app (it gets them if it reads schedin until the end).
const stopQueueMax = 1 << 16

// releaseHeld gives the links back the credit of every task message still
// waiting for the app. Once the job has failed the tasks are being killed:
// a task that still has input to go through, or output to send, must not
// wait for an app that may never read schedin again (it may be blocked
// sending, or waiting for an answer from a lost task), or it could not end
// and the job would wait out StopGrace for nothing.
func (j *schedJob) releaseHeld() {
	for i := j.inQ.head; i < len(j.inQ.buf); i++ {
		it := &j.inQ.buf[i]
		if it.conn != nil {
			it.conn.link.Consumed(it.msg.TaskName, 1)
			it.conn = nil
		}
	}
}

// consumed credits the link of a message handed to the app, unless its
// credit was given back already (releaseHeld, stopQueue).
func (j *schedJob) consumed(it inItem) {
	if it.conn != nil {
		it.conn.link.Consumed(it.msg.TaskName, 1)
	}
}

// stopQueue takes a message a task sent while the failed job stops: its
// credit goes back at once (so that the task is never blocked on out) and
// it is queued for the app, up to stopQueueMax.
func (j *schedJob) stopQueue(c *execConn, m GoTaskMsg) {
	c.link.Consumed(m.TaskName, 1)
	if j.appEnded || j.schedinClosed || j.inQ.len() >= stopQueueMax {
		j.stopDroppedIn++
		return
	}
	j.inQ.push(inItem{msg: m})
	j.enqueued++
}

// stopDrop drops a message the app sent once the job is stopping: its tasks
// are being killed. Taking it keeps the app from blocking on schedout, so
// that it can read schedin and its events until the end.
func (j *schedJob) stopDrop(m GoTaskMsg) {
	if j.stopDroppedOut == 0 {
		log.Warningf("mesosgot: the job is stopping: messages the app sends are dropped (first: to task %q, %d bytes)", m.TaskName, len(m.MessageData))
	}
	j.stopDroppedOut++
}

// appReturned starts the normal end: deliver what the app sent, then stop.
func (j *schedJob) appReturned() {
	if j.phase >= phaseDraining {
		return
	}
	j.phase = phaseDraining
	j.deadline = time.Now().Add(j.s.timing.DrainGrace)
}

// stopTasks asks every task still running to end (closing its in) and
// moves to phaseStopping.
func (j *schedJob) stopTasks() {
	j.phase = phaseStopping
	j.deadline = time.Now().Add(j.s.timing.StopGrace)
	j.parked = nil
	for _, name := range j.taskOrder {
		t := j.tasks[name]
		t.pending = nil
		if !t.launched || t.terminal {
			continue
		}
		t.killAsk = true
		if _, err := j.driver.KillTask(util.NewTaskID(name)); err != nil {
			log.Warningf("mesosgot: killing task %s: %v", name, err)
		}
	}
	j.backlog = map[string]*schedTask{}
}

// killAgain asks the (new) master again to kill the tasks being stopped:
// the kills sent before a re-registration may have gone to a master that
// died or that did not know the framework.
func (j *schedJob) killAgain() {
	if j.phase != phaseStopping {
		return
	}
	for _, name := range j.taskOrder {
		if t := j.tasks[name]; t.killAsk && !t.terminal {
			if _, err := j.driver.KillTask(util.NewTaskID(name)); err != nil {
				log.Warningf("mesosgot: killing task %s again: %v", name, err)
			}
		}
	}
}

// advance moves between phases when their condition holds.
func (j *schedJob) advance() {
	switch j.phase {
	case phaseWaiting, phaseRunning:
		if j.appEnded {
			j.appReturned()
		}
	case phaseDraining:
		if len(j.schedout) > 0 || j.parked != nil || j.hasPending() {
			return
		}
		for _, c := range j.conns {
			if !c.link.Idle() && j.connLive(c) {
				return
			}
		}
		j.stopTasks()
		j.advance()
	case phaseStopping:
		for _, t := range j.tasks {
			if t.launched && !t.terminal {
				return
			}
		}
		j.stopDriver()
	}
}

// connLive reports whether any task of c has not ended (an executor whose
// tasks all ended owes no acknowledgement).
func (j *schedJob) connLive(c *execConn) bool {
	for name := range c.tasks {
		if !j.tasks[name].terminal {
			return true
		}
	}
	return false
}

// checkDeadlines gives up waiting in draining or stopping phases.
func (j *schedJob) checkDeadlines() {
	j.checkPlacementTimeout(time.Now())
	if j.schedinClosed && !j.silentHinted && !j.appEnded && j.phase == phaseRunning && time.Since(j.silentSince) > admissionWarnEvery {
		j.silentHinted = true
		j.s.diagf("every task has ended %v ago; the job ends when the scheduler function returns", admissionWarnEvery)
	}
	if j.deadline.IsZero() || time.Now().Before(j.deadline) {
		return
	}
	switch j.phase {
	case phaseDraining:
		err := &JobError{Cause: fmt.Sprintf("messages still unacknowledged after %v at the job's end", j.s.timing.DrainGrace)}
		j.emit(Error, err)
		j.fail(err)
	case phaseStopping:
		var left []string
		for _, name := range j.taskOrder {
			if t := j.tasks[name]; t.launched && !t.terminal {
				left = append(left, name)
			}
		}
		sort.Strings(left)
		log.Warningf("mesosgot: tasks %v did not end within %v; stopping the driver", left, j.s.timing.StopGrace)
		j.stopDriver()
	}
}

// stopDriver ends the loop; finish then stops the driver.
func (j *schedJob) stopDriver() {
	j.emit(Shutdown, j.jobErr)
	j.phase = phaseDone
}

// endDriver stops the driver, unless it stopped on its own. With the job's
// messenger the framework is unregistered first (so Mesos shuts its
// executors down), then the driver is stopped (Stop(true): no 2 s sleep)
// or, for a failed job, aborted; the call runs beside the job goroutine,
// because the driver's stop waits for the teardown that follows. A driver
// not built from DriverConfig gets Stop(false).
func (j *schedJob) endDriver() {
	if j.driverIsGone {
		return
	}
	m := j.s.activeMessenger()
	if m == nil {
		if _, err := j.driver.Stop(false); err != nil {
			log.Warningf("mesosgot: stopping the driver: %v", err)
		}
		return
	}
	if j.frameworkID != "" {
		if err := m.unregister(j.frameworkID); err != nil {
			log.Warningf("mesosgot: unregistering framework %s: %v", j.frameworkID, err)
		}
	}
	j.s.selfStop.Store(true)
	ret := make(chan struct{})
	j.s.stopCall = ret
	failed, driver := j.jobErr != nil, j.driver
	go func() {
		defer close(ret)
		var err error
		if failed {
			_, err = driver.Abort()
		} else {
			_, err = driver.Stop(true)
		}
		if err != nil {
			log.V(1).Infof("mesosgot: stopping the driver: %v", err)
		}
	}()
	select {
	case <-ret:
	case <-j.s.msgrStopped:
	}
}

// finish hands the app what is queued (bounded by FlushGrace), closes the
// app's channels and waits (bounded by AppGrace) for the app to return,
// discarding what it still sends.
func (j *schedJob) finish() {
	flushEnd := time.NewTimer(j.s.timing.FlushGrace)
	defer flushEnd.Stop()
	for !j.appEnded && (j.inQ.len() > 0 || j.evQ.len() > 0) {
		inCh, inHead, evCh, evHead := j.appHeads()
		select {
		case inCh <- inHead:
			j.popIn()
		case evCh <- evHead:
			j.popEv()
		case <-j.schedout:
		case <-j.appDone:
			j.appEnded = true
		case <-flushEnd.C:
			log.Warningf("mesosgot: the app scheduler did not take %d messages and %d events at the job's end", j.inQ.len(), j.evQ.len())
			j.inQ.reset()
			j.evQ.reset()
		}
	}
	if !j.schedinClosed {
		close(j.schedin)
	}
	close(j.schedevent)
	appEnd := time.NewTimer(j.s.timing.AppGrace)
	defer appEnd.Stop()
	for !j.appEnded {
		select {
		case <-j.schedout:
		case <-j.appDone:
			j.appEnded = true
		case <-appEnd.C:
			log.Warningf("mesosgot: the app scheduler has not returned %v after the job ended", j.s.timing.AppGrace)
			j.appEnded = true
		}
	}
	if j.stopDroppedIn > 0 || j.stopDroppedOut > 0 {
		log.Warningf("mesosgot: while the job stopped, %d messages from tasks and %d from the app were dropped", j.stopDroppedIn, j.stopDroppedOut)
	}
	j.endDriver()
	j.s.result = j.jobErr
	j.s.mon.final(j) // progress and status: the last snapshot, before the cleanups
	j.s.runCleanups()
	j.reportEnd()
}

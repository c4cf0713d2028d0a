package mesosgot

import (
	"errors"
	"fmt"
	"strings"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// Run builds the mesos-go scheduler driver from DriverConfig, runs the job
// to its end and returns nil for a normal end, or an error naming the
// failed task and the cause (a *JobError), or the error that kept the job
// from starting.
//
// While it runs, SIGINT and SIGTERM end the job as a failure whose
// *JobError carries the signal (see ExitCode): the tasks are killed, the
// executors end and the embedded cluster of -master=local is removed.
func (sched *GoTaskScheduler) Run() error {
	defer sched.handleSignals()()
	cfg := sched.DriverConfig()
	if err := sched.Err(); err != nil {
		sched.runCleanups()
		return err
	}
	driver, err := newSchedulerDriver(cfg)
	if err != nil {
		sched.runCleanups()
		return fmt.Errorf("mesosgot: creating the scheduler driver: %w", err)
	}
	return sched.RunDriver(driver)
}

// RunDriver runs the job on a driver the caller made with this scheduler
// as its Scheduler (for example from DriverConfig, or a test double), and
// returns as Run does.
func (sched *GoTaskScheduler) RunDriver(driver sched.SchedulerDriver) error {
	sched.runDriverActive.Store(true)
	stopWatch := sched.watchStart(driver)
	status, err := driver.Run()
	abortReason := stopWatch()
	if sched.endIfNotStarted() || sched.notStarted {
		if err := sched.interruptedErr(); err != nil {
			return err
		}
		if abortReason != "" {
			return fmt.Errorf("mesosgot: the job did not start: %s", abortReason)
		}
		sched.msgrMu.Lock()
		masterErr := sched.masterErr
		sched.msgrMu.Unlock()
		if masterErr != "" {
			return fmt.Errorf("mesosgot: the job did not start: master error: %s", masterErr)
		}
		if err == nil {
			err = fmt.Errorf("status %s", status)
		}
		return fmt.Errorf("mesosgot: the scheduler driver stopped before the job started: %w", err)
	}
	sched.inbox.push(func() { sched.job.driverStopped(status, err) })
	<-sched.done
	if c := sched.stopCall; c != nil {
		<-c
	}
	return sched.result
}

// endIfNotStarted ends a job that never started (no driver callback came):
// nothing can start it now. It reports whether it did.
func (sched *GoTaskScheduler) endIfNotStarted() bool {
	never := false
	sched.startOnce.Do(func() {
		never = true
		sched.notStarted = true
		sched.result = errors.New("mesosgot: the scheduler driver stopped before the job started")
		select {
		case <-sched.startFail:
			sched.result = fmt.Errorf("mesosgot: the job did not start: %s", sched.startFailReason)
		default:
			sched.msgrMu.Lock()
			if sched.masterErr != "" {
				sched.result = fmt.Errorf("mesosgot: the job did not start: master error: %s", sched.masterErr)
			}
			sched.msgrMu.Unlock()
		}
		close(sched.done)
	})
	if never {
		sched.runCleanups()
	}
	return never
}

// driverStopping is called by the driver's messenger when the driver
// stops. Unless the job asked for the stop, it tells the job that the
// driver has gone; then it waits (bounded) for the job's teardown, so that
// the driver's Run returns only after it.
func (sched *GoTaskScheduler) driverStopping() {
	sched.msgrStoppedOnce.Do(func() { close(sched.msgrStopped) })
	if sched.endIfNotStarted() {
		return
	}
	if !sched.selfStop.Load() {
		sched.msgrMu.Lock()
		cause := sched.masterErr
		sched.msgrMu.Unlock()
		sched.inbox.push(func() { sched.job.driverGone(cause) })
	}
	hold := time.NewTimer(teardownHold)
	defer hold.Stop()
	select {
	case <-sched.done:
	case <-hold.C:
		log.Errorf("mesosgot: the job's teardown has not completed %v after the driver stopped", teardownHold)
	}
}

// activeMessenger returns the job messenger the running driver uses, or
// nil when the driver was not built from DriverConfig (a test double).
func (sched *GoTaskScheduler) activeMessenger() *jobMessenger {
	sched.msgrMu.Lock()
	m := sched.msgr
	sched.msgrMu.Unlock()
	if m == nil || !m.active() {
		return nil
	}
	return m
}

// driverStopped ends the job when the driver's Run returned on its own.
func (j *schedJob) driverStopped(status mesos.Status, err error) {
	j.driverIsGone = true
	if j.phase == phaseDone {
		return
	}
	cause := "scheduler driver stopped: " + status.String()
	if err != nil {
		cause += ": " + err.Error()
	}
	if j.jobErr == nil && !(j.phase == phaseStopping && status == mesos.Status_DRIVER_STOPPED) {
		j.jobErr = &JobError{Cause: cause}
		log.Errorf("%v", j.jobErr)
	}
	j.emit(Shutdown, j.jobErr)
	j.phase = phaseDone
}

// driverGone ends the job when the driver stopped without the job asking
// (aborted by a master's error, a lost transport): masterErr is the
// master's error message, if it sent one.
func (j *schedJob) driverGone(masterErr string) {
	j.driverIsGone = true
	if j.phase == phaseDone {
		return
	}
	if j.jobErr == nil {
		cause := "the scheduler driver stopped"
		if masterErr != "" {
			cause += ": master error: " + masterErr
		}
		j.jobErr = &JobError{Cause: cause}
		log.Errorf("%v", j.jobErr)
	}
	j.emit(Shutdown, j.jobErr)
	j.phase = phaseDone
}

// addCleanup registers f to run once when the job ends.
func (schd *GoTaskScheduler) addCleanup(f func()) {
	schd.cleanupMu.Lock()
	defer schd.cleanupMu.Unlock()
	schd.cleanups = append(schd.cleanups, f)
}

// runCleanups runs the registered cleanups, newest first, once each.
func (schd *GoTaskScheduler) runCleanups() {
	schd.cleanupMu.Lock()
	cs := schd.cleanups
	schd.cleanups = nil
	schd.cleanupMu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// isLocalMaster reports whether master asks for the embedded cluster.
func isLocalMaster(master string) bool {
	return master == "local" || strings.HasPrefix(master, "local:")
}

package mesosgot

import (
	"fmt"
	"strings"

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
	stopWatch := sched.watchStart(driver)
	status, err := driver.Run()
	abortReason := stopWatch()
	neverStarted := false
	sched.startOnce.Do(func() {
		// No callback ever came: nothing can start the job now.
		neverStarted = true
		close(sched.done)
	})
	if neverStarted {
		sched.runCleanups()
		if err := sched.interruptedErr(); err != nil {
			return err
		}
		if abortReason != "" {
			return fmt.Errorf("mesosgot: the job did not start: %s", abortReason)
		}
		if err == nil {
			err = fmt.Errorf("status %s", status)
		}
		return fmt.Errorf("mesosgot: the scheduler driver stopped before the job started: %w", err)
	}
	sched.inbox.push(func() { sched.job.driverStopped(status, err) })
	<-sched.done
	return sched.result
}

// driverStopped ends the job when the driver stopped on its own.
func (j *schedJob) driverStopped(status mesos.Status, err error) {
	if j.phase == phaseDone {
		return
	}
	cause := "scheduler driver stopped: " + status.String()
	if err != nil {
		cause += ": " + err.Error()
	}
	if j.jobErr == nil && !(j.phase == phaseStopping && status == mesos.Status_DRIVER_STOPPED) {
		j.jobErr = &JobError{Cause: cause}
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

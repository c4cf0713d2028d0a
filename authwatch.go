package mesosgot

import (
	"fmt"
	"time"

	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// The mesos-go v0 scheduler driver only logs a refused authentication and
// then waits forever; a wrong -master likewise waits forever. mesosgot
// turns both into errors: the driver's messenger (see jobMessenger) sees the
// driver's own authentication result, and a registration timeout bounds the
// wait.

// noteStartFailure records why the job cannot start; the first reason wins.
func (s *GoTaskScheduler) noteStartFailure(reason string) {
	s.startFailOnce.Do(func() {
		s.startFailReason = reason
		close(s.startFail)
	})
}

// waitStart waits until the job can no longer fail to start (the framework
// registered, or the driver stopped) and returns ok=false, or until its
// start failed or timed out and returns why and ok=true.
func (s *GoTaskScheduler) waitStart() (reason string, ok bool) {
	var timeout <-chan time.Time
	if d := s.conf.RegistrationTimeout; d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-s.startFail:
		return s.startFailReason, true
	case <-timeout:
		return fmt.Sprintf("not registered with master %s within %v", s.drvConf.Master, s.conf.RegistrationTimeout), true
	case <-s.registeredCh:
	case <-s.msgrStopped:
	}
	return "", false
}

// noteMasterError records the error message the master sent the framework.
func (s *GoTaskScheduler) noteMasterError(msg string) {
	s.msgrMu.Lock()
	defer s.msgrMu.Unlock()
	if s.masterErr == "" {
		s.masterErr = msg
	}
}

// watchStart aborts driver if the framework is not registered within the
// registration timeout, or its authentication is refused. It returns a
// function that stops the watch and returns why it aborted ("" if not).
func (s *GoTaskScheduler) watchStart(driver sched.SchedulerDriver) (stop func() string) {
	quit := make(chan struct{})
	done := make(chan struct{})
	var timeout <-chan time.Time
	var timer *time.Timer
	if d := s.conf.RegistrationTimeout; d > 0 {
		timer = time.NewTimer(d)
		timeout = timer.C
	}
	reason := ""
	go func() {
		defer close(done)
		if timer != nil {
			defer timer.Stop()
		}
		select {
		case <-s.startFail:
			reason = s.startFailReason
		case <-timeout:
			reason = fmt.Sprintf("not registered with master %s within %v", s.drvConf.Master, s.conf.RegistrationTimeout)
		case <-s.registeredCh:
			return
		case <-quit:
			return
		}
		_, _ = driver.Abort()
	}()
	return func() string {
		close(quit)
		<-done
		return reason
	}
}

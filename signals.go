package mesosgot

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	log "github.com/golang/glog"
)

// Signals: while Run runs, SIGINT and SIGTERM end the job as a failure
// ("interrupted"): its tasks are killed, the driver stops (so Mesos ends
// the executors) and the cleanups run (the embedded cluster of
// -master=local and its sandbox are removed). A second signal stops the
// driver without waiting for the tasks. The job's error then carries the
// signal, and ExitCode turns it into the conventional exit status.

// interruptSignals are the signals Run turns into an interrupted job.
var interruptSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM}

// ExitCode returns the exit status a program should end with after a job
// ended with err: 0 for nil, 128 plus the signal number for a job ended by
// a signal (130 for SIGINT, 143 for SIGTERM), 1 for any other error.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var je *JobError
	if errors.As(err, &je) {
		if s, ok := je.Signal.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 1
}

// signalName returns "SIGINT" for syscall.SIGINT and so on.
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// handleSignals turns SIGINT and SIGTERM into an interrupted job until the
// returned function is called (which restores the default handling).
func (s *GoTaskScheduler) handleSignals() (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, interruptSignals...)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; ; n++ {
			select {
			case sig := <-ch:
				s.interrupt(sig, n)
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(quit)
		<-done
	}
}

// interrupt ends the job for the n-th signal received.
func (s *GoTaskScheduler) interrupt(sig os.Signal, n int) {
	log.Warningf("mesosgot: %s received: ending the job", signalName(sig))
	s.sigMu.Lock()
	if s.signal == nil {
		s.signal = sig
	}
	s.sigMu.Unlock()
	// Before registration the driver is aborted (watchStart); after it
	// this is a no-op and the job goroutine ends the job.
	s.noteStartFailure("interrupted by " + signalName(sig))
	s.inbox.push(func() { s.job.interrupt(sig, n) })
}

// interruptedBy returns the first signal that interrupted the job, or nil.
func (s *GoTaskScheduler) interruptedBy() os.Signal {
	s.sigMu.Lock()
	defer s.sigMu.Unlock()
	return s.signal
}

// interruptedErr returns the error of a job interrupted before it started,
// or nil if no signal came.
func (s *GoTaskScheduler) interruptedErr() error {
	sig := s.interruptedBy()
	if sig == nil {
		return nil
	}
	return &JobError{Cause: fmt.Sprintf("interrupted by %s before the job started", signalName(sig)), Signal: sig}
}

// interrupt ends the job for the n-th signal: the first fails it (tasks
// are killed, the driver stops once they ended or StopGrace passed), a
// later one stops the driver at once.
func (j *schedJob) interrupt(sig os.Signal, n int) {
	if j.phase == phaseDone {
		return
	}
	err := &JobError{Cause: "interrupted by " + signalName(sig), Signal: sig}
	if n == 1 {
		j.emit(Error, err)
		j.fail(err)
		return
	}
	if j.jobErr == nil {
		j.jobErr = err
	}
	log.Warningf("mesosgot: %s received again: stopping the driver without waiting for the tasks", signalName(sig))
	j.stopDriver()
}

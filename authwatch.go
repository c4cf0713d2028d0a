package mesosgot

import (
	"context"
	"fmt"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// The mesos-go v0 scheduler driver only logs a refused authentication and
// then waits forever; a wrong -master likewise waits forever. mesosgot
// turns both into errors from Run: the driver's messenger is wrapped (through
// the documented DriverConfig.NewMessenger hook) to see the driver's own
// authentication result, and a registration timeout bounds the wait.

// authWatchMessenger is the driver's usual messenger, watching the driver's
// internal authentication result on its way back to the driver.
type authWatchMessenger struct {
	messenger.Messenger
	refused func()
}

// Route passes msg on, noting a completed but unsuccessful authentication.
func (m authWatchMessenger) Route(ctx context.Context, from *upid.UPID, msg proto.Message) error {
	if r, ok := msg.(*mesos.InternalAuthenticationResult); ok && r.GetCompleted() && !r.GetSuccess() {
		m.refused()
	}
	return m.Messenger.Route(ctx, from, msg)
}

// watchAuthentication makes cfg's driver report refused authentication to s.
func (s *GoTaskScheduler) watchAuthentication(cfg *sched.DriverConfig) {
	hostname := util.GetHostname(cfg.HostnameOverride)
	bind, port, published := cfg.BindingAddress, cfg.BindingPort, cfg.PublishedAddress
	cfg.NewMessenger = func() (messenger.Messenger, error) {
		m, err := messenger.ForHostname(process.New("scheduler"), hostname, bind, port, published)
		if err != nil {
			return nil, err
		}
		return authWatchMessenger{Messenger: m, refused: func() { s.noteStartFailure("authentication refused by the master (wrong principal or secret?)") }}, nil
	}
}

// noteStartFailure records why the job cannot start; the first reason wins.
func (s *GoTaskScheduler) noteStartFailure(reason string) {
	s.startFailOnce.Do(func() {
		s.startFailReason = reason
		close(s.startFail)
	})
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

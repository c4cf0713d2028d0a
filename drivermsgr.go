package mesosgot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/detector"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// The mesos-go v0 scheduler driver gives a framework no say in how it
// stops: Stop(false) unregisters, sleeps 2 s and returns; Run returns as
// soon as the driver's queue drains, with a nil error whatever happened to
// the job. mesosgot installs its own messenger through the documented
// DriverConfig.NewMessenger hook. Through it the job
//   - refuses to start a driver whose setup failed (Start returns the error,
//     so driver.Run returns it),
//   - sees the driver stop, and holds that stop until the job's teardown
//     (last events to the app, embedded cluster, sandbox) has completed, so
//     that driver.Run returns only after it,
//   - unregisters the framework itself and knows when the master accepted
//     the message (its 202 answer),
//     so that it can stop the driver without the 2 s sleep (Stop(true) for a
//     normal end, Abort for a failed job: driver.Run then returns
//     DRIVER_ABORTED),
//   - sees the driver's authentication result and the master's error
//     message, and aborts a driver that does not register in time.

// teardownHold bounds how long the driver's stop waits for the job's
// teardown; it is only reached when something is badly stuck.
const teardownHold = 2 * time.Minute

// unregisterWait bounds the wait for the master to accept the unregistration.
const unregisterWait = 5 * time.Second

// jobMessenger is the driver's messenger as mesosgot builds it: the job's
// view (start, stop, unregistration, authentication) around mesosgot's
// messenger (driverMessenger with the scheduler's policy, which checks
// senders and carries large framework messages past the driver).
type jobMessenger struct {
	messenger.Messenger
	s      *GoTaskScheduler
	dm     *driverMessenger
	policy *schedPolicy

	mu      sync.Mutex
	master  *upid.UPID // where the driver last sent its registration
	started bool
}

// installMessenger makes cfg's driver use a jobMessenger of s.
func (s *GoTaskScheduler) installMessenger(cfg *sched.DriverConfig) {
	hostname := util.GetHostname(cfg.HostnameOverride)
	bind, port, published := cfg.BindingAddress, cfg.BindingPort, cfg.PublishedAddress
	if s.prepErr != nil {
		// no master to look for: the driver will not start
		cfg.NewDetector = func() (detector.Master, error) { return nil, nil }
	}
	s.keepDetector(cfg)
	cfg.NewMessenger = func() (messenger.Messenger, error) {
		if err := s.prepErr; err != nil {
			return refusingMessenger{err: err}, nil
		}
		pid, err := messengerUPID(hostname, bind, port, published)
		if err != nil {
			return nil, err
		}
		p := newSchedPolicy(s.noteMasterError)
		dm := newDriverMessenger("scheduler", pid.ID, bind, port, pid.Host, p) // messenger.go
		m := &jobMessenger{Messenger: dm, s: s, dm: dm, policy: p}
		s.msgrMu.Lock()
		s.msgr = m
		s.msgrMu.Unlock()
		return m, nil
	}
}

// messengerUPID is the scheduler's libprocess pid, as mesos-go's
// messenger.ForHostname computes it.
func messengerUPID(hostname string, bind net.IP, port uint16, published net.IP) (upid.UPID, error) {
	pid := upid.UPID{ID: process.New("scheduler").Label(), Port: strconv.Itoa(int(port))}
	host, err := messenger.UPIDBindingAddress(hostname, bind)
	if err != nil {
		return upid.UPID{}, err
	}
	pid.Host = host
	if published != nil {
		if pid.Host, err = messenger.UPIDBindingAddress(hostname, published); err != nil {
			return upid.UPID{}, err
		}
	}
	return pid, nil
}

// Send passes msg on, noting the master the driver registers with.
func (m *jobMessenger) Send(ctx context.Context, to *upid.UPID, msg proto.Message) error {
	switch msg.(type) {
	case *mesos.RegisterFrameworkMessage, *mesos.ReregisterFrameworkMessage:
		m.mu.Lock()
		m.master = to
		m.mu.Unlock()
	}
	return m.Messenger.Send(ctx, to, msg)
}

// Route passes msg on, noting a completed but unsuccessful authentication.
func (m *jobMessenger) Route(ctx context.Context, from *upid.UPID, msg proto.Message) error {
	if r, ok := msg.(*mesos.InternalAuthenticationResult); ok && r.GetCompleted() && !r.GetSuccess() && m.s.drvConf.Credential != nil {
		m.s.noteStartFailure("authentication refused by the master (wrong principal or secret?)")
	}
	return m.Messenger.Route(ctx, from, msg)
}

// Start starts the messenger and, when the driver is run directly (not by
// RunDriver), the watch that aborts a driver that does not register.
func (m *jobMessenger) Start() error {
	if err := m.Messenger.Start(); err != nil {
		return err
	}
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
	if !m.s.runDriverActive.Load() {
		go m.watchRegistration()
	}
	return nil
}

// watchRegistration aborts the driver (by handing it a framework error, as
// the master would) when the start fails or times out.
func (m *jobMessenger) watchRegistration() {
	reason, ok := m.s.waitStart()
	if !ok {
		return
	}
	m.s.noteStartFailure(reason) // for Result; the first reason wins
	self := m.Messenger.UPID()
	log.Errorf("mesosgot: the job did not start: %s", reason)
	if err := m.Messenger.Route(context.Background(), &self, &mesos.FrameworkErrorMessage{Message: proto.String("mesosgot: the job did not start: " + reason)}); err != nil {
		log.Warningf("mesosgot: aborting the driver: %v", err)
	}
}

// Stop stops the messenger and the driver's master detector, tells the
// job the driver is stopping and waits, bounded by teardownHold, for the
// job's teardown to complete.
func (m *jobMessenger) Stop() error {
	err := m.Messenger.Stop()
	m.s.cancelDetector()
	m.s.driverStopping()
	return err
}

// active reports whether the driver runs on this messenger.
func (m *jobMessenger) active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.started
}

// unregister sends UnregisterFrameworkMessage for frameworkID to the master
// and waits (bounded) until the master accepted it.
func (m *jobMessenger) unregister(frameworkID string) error {
	m.mu.Lock()
	master := m.master
	m.mu.Unlock()
	if master == nil {
		return errors.New("no master known")
	}
	done, err := m.dm.sendWait(master, &mesos.UnregisterFrameworkMessage{FrameworkId: util.NewFrameworkID(frameworkID)})
	if err != nil {
		return err
	}
	t := time.NewTimer(unregisterWait)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("master %s: %w", master, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("master %s did not accept it within %v", master, unregisterWait)
	}
}

// refusingMessenger is the messenger of a driver whose scheduler could not
// be prepared: Start returns the preparation's error, so the driver never
// runs and driver.Run returns at once with an error.
type refusingMessenger struct{ err error }

func (r refusingMessenger) Install(messenger.MessageHandler, proto.Message) error  { return nil }
func (r refusingMessenger) Send(context.Context, *upid.UPID, proto.Message) error  { return r.err }
func (r refusingMessenger) Route(context.Context, *upid.UPID, proto.Message) error { return r.err }
func (r refusingMessenger) Start() error                                           { return r.err }
func (r refusingMessenger) Stop() error                                            { return nil }
func (r refusingMessenger) UPID() upid.UPID                                        { return upid.UPID{} }

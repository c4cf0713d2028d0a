package mesosgot

import (
	"errors"
	"fmt"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// unregisterWait bounds how long the end of a job waits for the master to
// accept the framework's unregistration.
const unregisterWait = 5 * time.Second

// endDriver stops driver at the end of the job (a normal end or a failure),
// unregistering the framework so that Mesos shuts its executors down.
//
// mesos-go's Stop(false) sends UnregisterFrameworkMessage and then sleeps
// a fixed 2 s, hoping the message left before its messenger stops. When the
// driver runs on mesosgot's messenger, endDriver instead sends the
// unregistration itself, waits (at most unregisterWait) until the master
// has accepted it, and then stops the driver with Stop(true): "failover"
// there only means that the driver does not unregister (it is done
// already), so it stops at once, and driver.Run returns DRIVER_STOPPED as
// after Stop(false). (Abort would also skip the sleep, but makes Run
// return DRIVER_ABORTED, which callers of driver.Run take for a failure.)
// Any other driver (a test double, or one built without mesosgot's
// messenger), or a failed unregistration, gets Stop(false).
func (s *GoTaskScheduler) endDriver(driver sched.SchedulerDriver, frameworkID string) {
	if err := s.unregister(frameworkID); err != nil {
		log.V(1).Infof("mesosgot: %v; stopping the driver with mesos-go's Stop", err)
		if _, err := driver.Stop(false); err != nil {
			log.Warningf("mesosgot: stopping the driver: %v", err)
		}
		return
	}
	if _, err := driver.Stop(true); err != nil {
		log.Warningf("mesosgot: stopping the driver after unregistering: %v", err)
	}
}

// unregister sends UnregisterFrameworkMessage to the master through the
// driver's messenger and waits until the master accepted it.
func (s *GoTaskScheduler) unregister(frameworkID string) error {
	m, p := s.driverMessenger()
	if m == nil {
		return errors.New("the driver does not run on mesosgot's messenger")
	}
	master := p.masterPID()
	if master == nil || frameworkID == "" || m.UPID().Port == "" {
		return errors.New("no registered framework to unregister")
	}
	done, err := m.sendWait(master, &mesos.UnregisterFrameworkMessage{FrameworkId: util.NewFrameworkID(frameworkID)})
	if err != nil {
		return fmt.Errorf("unregistering framework %s: %w", frameworkID, err)
	}
	t := time.NewTimer(unregisterWait)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("unregistering framework %s with master %s: %w", frameworkID, master, err)
		}
		log.Infof("mesosgot: framework %s unregistered with master %s", frameworkID, master)
		return nil
	case <-t.C:
		return fmt.Errorf("unregistering framework %s: master %s did not accept it within %v", frameworkID, master, unregisterWait)
	}
}

package localmesos

import (
	"fmt"
	"strings"

	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/detector"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/zkgroup"
)

// An agent given -master=zk://... follows the leading master as a Mesos
// agent does (Slave::detected): when the leader changes it forgets the
// old one, and re-registers with the new one (ReregisterSlaveMessage with
// its executors and tasks, or RegisterSlaveMessage if it never
// registered); while no master leads it waits. Status updates not yet
// acknowledged are sent again once it has re-registered.

// isZK reports whether master names a ZooKeeper group.
func isZK(master string) bool { return strings.HasPrefix(master, "zk://") }

// followLeader starts mesos-go's ZooKeeper detector for a and returns a
// function that stops it.
func (a *agent) followLeader(zkURL string) (stop func(), err error) {
	d, err := zkgroup.NewDetector(zkURL)
	if err != nil {
		return nil, fmt.Errorf("localmesos: agent %s: %w", a.pid, err)
	}
	if err := d.Detect(detector.OnMasterChanged(a.masterDetected)); err != nil {
		d.Cancel()
		return nil, fmt.Errorf("localmesos: agent %s: detecting the leading master at %s: %w", a.pid, zkURL, err)
	}
	return func() {
		d.Cancel()
		<-d.Done()
	}, nil
}

// masterDetected takes a leader change: nil while no master leads.
func (a *agent) masterDetected(info *mesos.MasterInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost || a.c.isClosing() {
		return
	}
	if info == nil {
		if a.registered {
			a.c.logf("agent %s: lost the leading master %s; waiting for a new one", a.pid, a.opts.master)
		}
		a.registered = false
		a.stopTimersLocked()
		return
	}
	pid, err := upid.Parse(info.GetPid())
	if err != nil {
		log.Errorf("localmesos: agent %s: the leading master's pid %q: %v", a.pid, info.GetPid(), err)
		return
	}
	if pid.Equal(&a.opts.master) && a.registered {
		return
	}
	a.c.logf("agent %s: new leading master %s detected; (re-)registering", a.pid, pid)
	a.opts.master = *pid
	a.registered = false
	a.stopTimersLocked()
	a.registerLocked(a.c.cfg.RegistrationBackoffFactor)
}

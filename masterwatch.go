package mesosgot

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// A running job must not hang when its master goes away. With
// -master=zk://... the driver follows the elected leader and re-registers;
// with a single host:port master mesos-go's standalone detector never sees
// a restarted or replaced master (mesos-go #231), so the driver would wait
// forever. The job therefore watches the master: the driver's network
// errors toward it (seen by wrapping its messenger), the driver's
// Disconnected, and, for a host:port master, a periodic connection probe.
// Once the master has been gone for MasterLostTimeout without the driver
// re-registering, the job fails with an error naming the master.

// masterWatchMessenger is the driver's messenger, noting network errors
// toward the master on their way back to the driver.
type masterWatchMessenger struct {
	messenger.Messenger
	poke func()
}

// Route passes msg on, noting a network error toward a master.
func (m masterWatchMessenger) Route(ctx context.Context, from *upid.UPID, msg proto.Message) error {
	if e, ok := msg.(*mesos.InternalNetworkError); ok && strings.HasPrefix(e.GetPid(), "master@") {
		m.poke()
	}
	return m.Messenger.Route(ctx, from, msg)
}

// watchMaster wraps cfg's messenger (the driver's default one, or the one
// set before) to poke the master probe on network errors toward the master.
func (s *GoTaskScheduler) watchMaster(cfg *sched.DriverConfig) {
	s.masterPoke = make(chan struct{}, 1)
	prev := cfg.NewMessenger
	if prev == nil {
		hostname := util.GetHostname(cfg.HostnameOverride)
		bind, port, published := cfg.BindingAddress, cfg.BindingPort, cfg.PublishedAddress
		prev = func() (messenger.Messenger, error) {
			return messenger.ForHostname(process.New("scheduler"), hostname, bind, port, published)
		}
	}
	poke := s.masterPoke
	cfg.NewMessenger = func() (messenger.Messenger, error) {
		m, err := prev()
		if err != nil {
			return nil, err
		}
		s.probeMaster.Store(true)
		s.watchedMsgr.Store(m)
		return masterWatchMessenger{Messenger: m, poke: func() {
			select {
			case poke <- struct{}{}:
			default:
			}
		}}, nil
	}
}

// probeAddr returns the host:port to probe for a plain master, or "" when
// the master is elected through ZooKeeper or runs in-process.
func probeAddr(master string) string {
	if strings.HasPrefix(master, "zk://") || isLocalMaster(master) || master == "" {
		return ""
	}
	addr := strings.TrimPrefix(master, "master@")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "5050")
	}
	return addr
}

// probeInterval is how often a plain master is probed.
func probeInterval(timeout time.Duration) time.Duration {
	d := timeout / 10
	if d < 100*time.Millisecond || timeout <= 0 {
		d = 100 * time.Millisecond
	}
	if d > 5*time.Second {
		d = 5 * time.Second
	}
	return d
}

// startMasterProbe starts the goroutine that probes a plain master and
// tells the job when reachability changes. It runs until stopMasterProbe.
func (j *schedJob) startMasterProbe() {
	addr := probeAddr(j.s.conf.Master)
	if addr == "" || !j.s.probeMaster.Load() {
		return
	}
	quit := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	poke := j.s.masterPoke
	every := probeInterval(j.s.conf.MasterLostTimeout)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		up := true
		var held *heldConn
		defer func() { held.close() }()
		var gone <-chan struct{}
		var checked, heldAt time.Time
		for first := true; ; first = false {
			if !first { // the first probe goes at once
				var recheck <-chan time.Time
				if !up || j.s.masterRecheck.Load() {
					recheck = time.After(recheckEvery) // to see it back soon
				}
				select {
				case <-quit:
					return
				case <-t.C:
				case <-poke:
				case <-recheck:
				case <-gone: // the master closed the held connection: it may have died
					held.close()
					held, gone = nil, nil
					if time.Since(heldAt) < recheckEvery {
						continue // a master that closes connections at once: no faster than a probe interval
					}
				}
			}
			c, err := net.DialTimeout("tcp", addr, every)
			now := err == nil
			if now != up {
				up = now
				j.s.inbox.push(func() { j.masterReachable(now, err) })
				if now && held != nil {
					// back after a time unreachable: the held connection may be a dead one
					held.close()
					held, gone = nil, nil
				}
			}
			if c == nil {
				continue
			}
			if held == nil {
				// a new connection, maybe to a new master: hold it, and ask who it is
				held = holdConn(c)
				gone = held.gone
				checked, heldAt = time.Now(), time.Now()
				j.checkIdentity(ctx, addr, max(every, time.Second))
				continue
			}
			c.Close()
			if j.s.masterRecheck.Load() || time.Since(checked) >= stateCheckEvery {
				checked = time.Now()
				j.checkIdentity(ctx, addr, max(every, time.Second))
			}
		}
	}()
	j.ha.master.stopProbe = func() {
		close(quit)
		cancel()
		wg.Wait()
	}
}

// stopMasterProbe stops the probe goroutine, if any.
func (j *schedJob) stopMasterProbe() {
	if f := j.ha.master.stopProbe; f != nil {
		j.ha.master.stopProbe = nil
		f()
	}
}

// masterReachable takes a probe result.
func (j *schedJob) masterReachable(up bool, err error) {
	m := &j.ha.master
	m.unreachable = !up
	if up {
		if !m.disconnected {
			log.Infof("mesosgot: master %s reachable again", j.s.conf.Master)
			m.lostAt = time.Time{}
		}
		return
	}
	j.masterGone(fmt.Sprintf("cannot connect: %v", err))
}

// masterDisconnected takes the driver's Disconnected.
func (j *schedJob) masterDisconnected() {
	j.ha.master.disconnected = true
	j.masterGone("the scheduler driver disconnected")
}

// masterGone notes that the master is gone; the first sign emits
// Disconnected to the app and starts the MasterLostTimeout clock.
func (j *schedJob) masterGone(why string) {
	m := &j.ha.master
	if !m.lostAt.IsZero() {
		return
	}
	m.lostAt, m.why = time.Now(), why
	log.Warningf("mesosgot: master %s gone (%s); the job fails if it is not back within %v", j.s.conf.Master, why, j.s.conf.MasterLostTimeout)
	if !m.announced {
		m.announced = true
		j.emit(Disconnected, nil)
	}
}

// masterBack takes a (re-)registration with master masterID: the master
// is there again.
func (j *schedJob) masterBack(masterID string) {
	m := &j.ha.master
	if masterID != "" {
		if m.id == "" {
			// a first id to compare: ask the master's /state soon (masterIdentified)
			j.s.masterRecheck.Store(true)
			select {
			case j.s.masterPoke <- struct{}{}:
			default:
			}
		}
		m.id = masterID
	}
	if !m.lostAt.IsZero() {
		log.Infof("mesosgot: master back after %v", time.Since(m.lostAt).Round(time.Millisecond))
	}
	m.lostAt, m.disconnected, m.why, m.announced = time.Time{}, false, "", false
}

// checkMaster fails the job once the master has been gone for longer
// than MasterLostTimeout.
func (j *schedJob) checkMaster() {
	m := &j.ha.master
	d := j.s.conf.MasterLostTimeout
	if m.lostAt.IsZero() || d <= 0 || time.Since(m.lostAt) < d || j.phase == phaseDone {
		return
	}
	hint := "a master given as host:port cannot be followed to another one; use -master=zk://host:port/mesos with several masters for failover"
	if strings.HasPrefix(j.s.conf.Master, "zk://") {
		hint = "no master was elected and re-registered the framework in time"
	}
	err := &JobError{Cause: fmt.Sprintf("master %s lost for %v (%s): %s", j.s.conf.Master, d, m.why, hint)}
	j.emit(Error, err)
	j.fail(err)
	// Kills cannot reach the tasks without a master: stop now.
	if j.phase != phaseDone {
		j.stopDriver()
	}
}

package localmesos

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/zkgroup"
)

// A master given a ZooKeeper URL contends for leadership as a Mesos master
// does (Master::contended, Master::detected): it joins the group; until it
// is elected it drops every message it receives ("not elected yet"), so
// frameworks and agents register only with the leader; a standby whose
// candidacy is lost contends again; a leader that loses its candidacy
// (session expired, znode gone) stops acting as a master, where Mesos
// commits suicide.

// election is one master's candidacy.
type election struct {
	zkURL   string
	timeout time.Duration
	info    *mesos.MasterInfo
	logf    func(format string, args ...any)

	leading atomic.Bool
	since   atomic.Int64  // when it became leader, UnixNano; 0 before
	lost    chan struct{} // closed when leadership, once held, is lost
	lostErr error         // why, set before lost closes
	quit    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	member *zkgroup.Member
}

// zkMasterInfo is the MasterInfo a master at pid publishes in the group:
// ip as a uint32 in network byte order (Mesos' layout), and address.
func zkMasterInfo(id string, pid upid.UPID, hostname string) (*mesos.MasterInfo, error) {
	ip := net.ParseIP(pid.Host).To4()
	if ip == nil {
		return nil, fmt.Errorf("localmesos: master pid %s: not an IPv4 address", pid)
	}
	port, err := strconv.Atoi(pid.Port)
	if err != nil {
		return nil, fmt.Errorf("localmesos: master pid %s: bad port: %w", pid, err)
	}
	return &mesos.MasterInfo{
		Id:       proto.String(id),
		Ip:       proto.Uint32(binary.LittleEndian.Uint32(ip)),
		Port:     proto.Uint32(uint32(port)),
		Pid:      proto.String(pid.String()),
		Hostname: proto.String(hostname),
		Version:  proto.String(Version),
		Address:  &mesos.Address{Hostname: proto.String(hostname), Ip: proto.String(pid.Host), Port: proto.Int32(int32(port))},
	}, nil
}

// startElection joins the group at zkURL and contends until stop. The first
// join must succeed (a master that cannot reach ZooKeeper does not start).
func startElection(zkURL string, timeout time.Duration, info *mesos.MasterInfo, logf func(string, ...any)) (*election, error) {
	if timeout <= 0 {
		timeout = zkgroup.DefaultSessionTimeout
	}
	e := &election{zkURL: zkURL, timeout: timeout, info: info, logf: logf, lost: make(chan struct{}), quit: make(chan struct{})}
	m, err := zkgroup.Join(zkURL, info, timeout)
	if err != nil {
		return nil, fmt.Errorf("localmesos: master %s contending at %s: %w", info.GetPid(), zkURL, err)
	}
	e.member = m
	e.wg.Add(1)
	go e.contend(m)
	return e, nil
}

// contend follows one membership after another: leading when elected;
// after losing a standby membership it joins again.
func (e *election) contend(m *zkgroup.Member) {
	defer e.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-e.quit:
			return
		case <-m.Leading():
			e.since.Store(time.Now().UnixNano())
			e.leading.Store(true)
			e.logf("master %s elected as the leading master (%s)", e.info.GetPid(), m.Node())
			select {
			case <-e.quit:
				return
			case <-m.Lost():
				e.leading.Store(false)
				e.lostErr = fmt.Errorf("localmesos: master %s lost leadership: %w", e.info.GetPid(), m.Err())
				log.Errorf("%v", e.lostErr)
				close(e.lost)
				return
			}
		case <-m.Lost():
			e.logf("master %s lost candidacy as a standby (%v): contending again", e.info.GetPid(), m.Err())
			m.Close()
			for {
				nm, err := zkgroup.Join(e.zkURL, e.info, e.timeout)
				if err == nil {
					e.mu.Lock()
					e.member, m = nm, nm
					e.mu.Unlock()
					backoff = 100 * time.Millisecond
					break
				}
				log.Warningf("localmesos: master %s contending again: %v (retrying in %v)", e.info.GetPid(), err, backoff)
				select {
				case <-e.quit:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 10*time.Second)
			}
		}
	}
}

// elected reports whether this master leads.
func (e *election) elected() bool { return e == nil || e.leading.Load() }

// stop leaves the group and waits for the contending goroutine.
func (e *election) stop() {
	if e == nil {
		return
	}
	close(e.quit)
	e.wg.Wait()
	e.mu.Lock()
	m := e.member
	e.mu.Unlock()
	m.Close()
}

// leader returns the leading master's pid as this member last read it.
func (e *election) leader() string {
	e.mu.Lock()
	m := e.member
	e.mu.Unlock()
	return m.Leader().GetPid()
}

// masterHA is a master's high-availability state: whether it contends
// through ZooKeeper, and its election once started.
type masterHA struct {
	zk      bool          // contends: until elected it drops every message
	stopped atomic.Bool   // StopMaster: it drops every message
	ready   chan struct{} // closed once newMaster has set the master up
	elect   atomic.Pointer[election]
	dropped atomic.Int64 // messages dropped while not elected
}

// elected reports whether m acts as the master: always without ZooKeeper,
// else once elected and until leadership is lost.
func (m *master) elected() bool {
	if m.ha.stopped.Load() {
		return false
	}
	if !m.ha.zk {
		return true
	}
	e := m.ha.elect.Load()
	return e != nil && e.leading.Load()
}

// gate puts m's message handlers behind the election check.
func (m *master) gate(ms messenger.Messenger) messenger.Messenger {
	return electedMessenger{Messenger: ms, m: m}
}

// contend starts m's candidacy in the group at zkURL (m's pid must be
// known: call it once the master listens).
func (m *master) contend(zkURL string, timeout time.Duration, hostname string) error {
	info, err := zkMasterInfo(m.info.GetId(), m.pid, hostname)
	if err != nil {
		return err
	}
	e, err := startElection(zkURL, timeout, info, m.c.logf)
	if err != nil {
		return err
	}
	m.ha.elect.Store(e)
	return nil
}

// stopContending leaves the group, if m contends.
func (m *master) stopContending() {
	if e := m.ha.elect.Swap(nil); e != nil {
		e.stop()
	}
}

// electedMessenger drops every message while its master is not elected,
// as a Mesos master filters all messages when it does not lead.
type electedMessenger struct {
	messenger.Messenger
	m *master
}

// Install installs h behind the election check.
func (em electedMessenger) Install(h messenger.MessageHandler, msg proto.Message) error {
	return em.Messenger.Install(func(from *upid.UPID, pb proto.Message) {
		// A message can arrive before newMaster has stored the master's
		// process and info (an agent already retrying): wait for them.
		<-em.m.ha.ready
		if !em.m.elected() {
			em.m.ha.dropped.Add(1)
			leader := ""
			if e := em.m.ha.elect.Load(); e != nil {
				leader = e.leader()
			}
			log.V(1).Infof("localmesos: dropping %T from %v: not elected (the leader is %q)", pb, from, leader)
			return
		}
		h(from, pb)
	}, msg)
}

// startContending starts the master's candidacy when the cluster has a
// ZooKeeper URL.
func (c *Cluster) startContending() error {
	if c.cfg.ZK == "" {
		return nil
	}
	return c.master.contend(c.cfg.ZK, c.cfg.ZKSessionTimeout, c.cfg.IP)
}

// followLeader makes agent a of c follow the group's leader until c closes.
func (c *Cluster) followLeader(a *agent) error {
	stop, err := a.followLeader(c.cfg.ZK)
	if err != nil {
		return err
	}
	if !c.goTracked(func() {
		<-c.closing
		stop()
	}) {
		stop()
	}
	return nil
}

// StopMaster stops the cluster's master alone, as if its process had
// died: it leaves the ZooKeeper group (so that a standby takes over) and
// stops listening, while the agents and their executors go on. Close
// still stops the rest.
func (c *Cluster) StopMaster() {
	m := c.master
	m.ha.stopped.Store(true)
	m.stopContending()
	m.proc.Stop()
	c.logf("master %s stopped", m.pid)
}

// Elected reports whether the cluster's master acts as the master: always
// without ZooKeeper, else while it is the group's elected leader.
func (c *Cluster) Elected() bool { return c.master.elected() }

// zkOf returns master if it is a ZooKeeper URL, else "".
func zkOf(master string) string {
	if isZK(master) {
		return master
	}
	return ""
}

// Elected reports whether the master acts as the master: always without
// ZooKeeper, else while it is the group's elected leader.
func (m *Master) Elected() bool { return m.c.master.elected() }

// LeadershipLost is closed when a master that was elected has lost its
// leadership (its ZooKeeper session expired or its znode went away); it
// then no longer acts as the master, and the mesos-master command exits as
// a Mesos master does. It is nil (never closed) without ZooKeeper.
func (m *Master) LeadershipLost() <-chan struct{} {
	if e := m.c.master.ha.elect.Load(); e != nil {
		return e.lost
	}
	return nil
}

// LeadershipErr says why leadership was lost, once LeadershipLost is
// closed; nil before.
func (m *Master) LeadershipErr() error {
	e := m.c.master.ha.elect.Load()
	if e == nil {
		return nil
	}
	select {
	case <-e.lost:
		return e.lostErr
	default:
		return nil
	}
}

// agentReregisterTimeout is Mesos' --agent_reregister_timeout default: how
// long a newly elected master waits for the agents of its predecessor.
const agentReregisterTimeout = 10 * time.Minute

// recoveringAgent reports whether agentID, which m does not know, may be
// an agent of the previous leader that has not re-registered yet. A Mesos
// master knows those agents from its registry ("recovered" agents) and does
// not answer reconciliation for their tasks until they re-register or the
// re-registration timeout passes (Master::reconcile, case 2); m has no
// registry, so within agentReregisterTimeout of its election it treats any
// agent ID it has not seen that way. m.mu must be held.
func (m *master) recoveringAgent(agentID string) bool {
	if agentID == "" || !m.ha.zk {
		return false
	}
	if _, known := m.agents[agentID]; known {
		return false
	}
	e := m.ha.elect.Load()
	if e == nil {
		return false
	}
	at := e.since.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < agentReregisterTimeout
}

package localmesos

import (
	"encoding/binary"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// master is the Mesos master process ("master@ip:port"): framework
// registry, allocator, launch validation and status update routing.
type master struct {
	c    *Cluster
	proc *libprocess.Process
	pid  upid.UPID
	info *mesos.MasterInfo

	mu         sync.Mutex
	frameworks map[string]*framework // by framework ID, removed ones included
	agents     map[string]*agentRec
	agentOrder []string
	offers     map[string]*offer
	nextFW     int
	nextAgent  int
	nextOffer  int
	rr         int  // round-robin start among frameworks
	allocSoon  bool // an allocation after terminal updates is pending (allocator_used.go)

	authn    map[string]string       // authenticated scheduler pid -> principal
	sessions map[string]*authSession // by authenticatee pid

	ha masterHA // leader election (election.go)
}

type framework struct {
	id        string
	info      *mesos.FrameworkInfo
	pid       *upid.UPID
	principal string
	active    bool // receives offers
	connected bool
	removed   bool

	tasks       map[string]*task
	completed   []*task                                   // terminal tasks the scheduler acknowledged, oldest first
	unreachable map[string]*task                          // tasks lost with their agent, by ID (bounded)
	lostOrder   []string                                  // unreachable's IDs, oldest first
	executors   map[string]map[string]*mesos.ExecutorInfo // agent ID -> executor ID -> info
	filters     []*filter
	failover    func() // stops the pending failover timeout
}

type task struct {
	info    *mesos.TaskInfo
	agentID string
	execID  string
	res     resSet
	state   mesos.TaskState
	status  *mesos.TaskStatus
}

type filter struct {
	agentID string
	res     resSet
	until   time.Time
}

type offer struct {
	id      string
	fwID    string
	agentID string
	res     resSet
}

// agentRec is the master's record of an agent.
type agentRec struct {
	id    string
	pid   upid.UPID
	info  *mesos.SlaveInfo
	total resSet
	lost  bool // removed (unreachable or unregistered); it may re-register

	pinged   bool // a ping is unanswered
	timeouts int  // pings in a row left unanswered
}

func newMaster(c *Cluster) (*master, error) {
	m := &master{
		c:          c,
		frameworks: map[string]*framework{},
		agents:     map[string]*agentRec{},
		offers:     map[string]*offer{},
		authn:      map[string]string{},
		sessions:   map[string]*authSession{},
	}
	m.ha.zk = c.cfg.ZK != ""
	m.ha.ready = make(chan struct{})
	// Handlers run as soon as the process listens (an agent may be
	// retrying its registration already): they wait for the fields below.
	m.mu.Lock()
	defer m.mu.Unlock()
	routes := map[string]http.HandlerFunc{}
	for _, p := range []string{"/state", "/state.json", "/master/state", "/master/state.json"} {
		routes[p] = c.serveState
	}
	for _, p := range []string{"/api/v1/scheduler", "/master/api/v1/scheduler"} {
		routes[p] = refuseV1
	}
	proc, err := libprocess.New("master", c.ip, c.cfg.Port, routes, func(ms messenger.Messenger) error {
		ms = m.gate(ms)
		for _, err := range []error{
			handle(ms, m.registerFramework),
			handle(ms, m.reregisterFramework),
			handle(ms, m.unregisterFramework),
			handle(ms, m.deactivateFramework),
			handle(ms, m.launchTasks),
			handle(ms, m.reviveOffers),
			handle(ms, m.killTask),
			handle(ms, m.reconcileTasks),
			handle(ms, m.resourceRequest),
			handle(ms, m.frameworkToExecutor),
			handle(ms, m.statusUpdateAck),
			handle(ms, m.statusUpdate),
			handle(ms, m.exitedExecutor),
			handle(ms, m.executorToFramework),
			handle(ms, m.authenticate),
			handle(ms, m.authenticationStart),
			handle(ms, m.authenticationStep),
			handle(ms, m.registerSlave),
			handle(ms, m.reregisterSlave),
			handle(ms, m.unregisterSlave),
			handle(ms, m.pong),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}, masterSecret(c.cfg.ClusterSecret), libprocess.WithCheckFrom(!c.cfg.NoSenderCheck))
	if err != nil {
		return nil, err
	}
	m.proc = proc
	m.pid = proc.PID()
	port, _ := strconv.Atoi(m.pid.Port)
	m.info = &mesos.MasterInfo{
		Id:       proto.String(c.runID),
		Ip:       proto.Uint32(binary.BigEndian.Uint32(c.ip)),
		Port:     proto.Uint32(uint32(port)),
		Pid:      proto.String(m.pid.String()),
		Hostname: proto.String(c.cfg.IP),
		Version:  proto.String(Version),
	}
	close(m.ha.ready) // handlers may run now (election.go)
	return m, nil
}

func (m *master) send(to *upid.UPID, msg proto.Message) {
	if !m.c.isClosing() {
		m.proc.Send(to, msg)
	}
}

// loop runs the periodic allocation, the scheduler link checks and the
// agent health checks.
func (m *master) loop() {
	alloc := time.NewTicker(m.c.cfg.AllocationInterval)
	defer alloc.Stop()
	link := time.NewTicker(m.c.cfg.LinkCheckInterval)
	defer link.Stop()
	ping := time.NewTicker(m.c.cfg.AgentPingTimeout)
	defer ping.Stop()
	for {
		select {
		case <-m.c.closing:
			return
		case <-ping.C:
			m.pingAgents()
		case <-alloc.C:
			m.mu.Lock()
			m.allocate()
			m.mu.Unlock()
		case <-link.C:
			m.checkLinks()
		}
	}
}

// checkLinks emulates libprocess links: a connected scheduler whose pid no
// longer accepts connections is disconnected.
func (m *master) checkLinks() {
	m.mu.Lock()
	pids := map[string]string{}
	for id, fw := range m.frameworks {
		if fw.connected && !fw.removed {
			pids[id] = fw.pid.String()
		}
	}
	m.mu.Unlock()
	for id, p := range pids {
		pid, err := upid.Parse(p)
		if err != nil {
			continue
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(pid.Host, pid.Port), time.Second)
		if err == nil {
			_ = conn.Close()
			continue
		}
		m.mu.Lock()
		if fw := m.frameworks[id]; fw != nil && fw.connected && fw.pid.String() == p {
			m.disconnect(fw, "scheduler "+p+" is unreachable")
		}
		m.mu.Unlock()
	}
}

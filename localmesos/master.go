package localmesos

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// master is the Mesos master process ("master@ip:port"): framework
// registry, allocator, launch validation and status update routing.
type master struct {
	c    *Cluster
	proc *libprocess
	pid  upid.UPID
	info *mesos.MasterInfo

	mu         sync.Mutex
	frameworks map[string]*framework // by framework ID, removed ones included
	agents     map[string]*agentRec
	agentOrder []string
	offers     map[string]*offer
	nextFW     int
	nextOffer  int
	rr         int // round-robin start among frameworks

	authn    map[string]string       // authenticated scheduler pid -> principal
	sessions map[string]*authSession // by authenticatee pid
}

type framework struct {
	id        string
	info      *mesos.FrameworkInfo
	pid       *upid.UPID
	principal string
	active    bool // receives offers
	connected bool
	removed   bool

	tasks     map[string]*task
	executors map[string]map[string]*mesos.ExecutorInfo // agent ID -> executor ID -> info
	filters   []*filter
	failover  func() // stops the pending failover timeout
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

type agentRec struct {
	id    string
	pid   upid.UPID
	info  *mesos.SlaveInfo
	total resSet
	lost  bool
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
	routes := map[string]http.HandlerFunc{}
	for _, p := range []string{"/state", "/state.json", "/master/state", "/master/state.json"} {
		routes[p] = c.serveState
	}
	proc, err := newLibprocess("master", c.ip, c.cfg.Port, routes, func(ms messenger.Messenger) error {
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
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.proc = proc
	m.pid = proc.pid
	port, _ := strconv.Atoi(m.pid.Port)
	m.info = &mesos.MasterInfo{
		Id:       proto.String(c.runID),
		Ip:       proto.Uint32(binary.BigEndian.Uint32(c.ip)),
		Port:     proto.Uint32(uint32(port)),
		Pid:      proto.String(m.pid.String()),
		Hostname: proto.String(c.cfg.IP),
		Version:  proto.String(Version),
	}
	return m, nil
}

func (m *master) send(to *upid.UPID, msg proto.Message) {
	if !m.c.isClosing() {
		m.proc.send(to, msg)
	}
}

// loop runs the periodic allocation and the scheduler link checks.
func (m *master) loop() {
	alloc := time.NewTicker(m.c.cfg.AllocationInterval)
	defer alloc.Stop()
	link := time.NewTicker(m.c.cfg.LinkCheckInterval)
	defer link.Stop()
	for {
		select {
		case <-m.c.closing:
			return
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

func (m *master) addAgent(id string, pid upid.UPID, info *mesos.SlaveInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.agents[id] = &agentRec{id: id, pid: pid, info: info, total: fromProto(info.GetResources())}
	m.agentOrder = append(m.agentOrder, id)
	m.allocate()
}

// ---------------------------------------------------------------------------
// Framework lifecycle

func (m *master) checkAuth(from *upid.UPID, info *mesos.FrameworkInfo) (string, error) {
	if len(m.c.cfg.Credentials) == 0 {
		return info.GetPrincipal(), nil
	}
	principal, ok := m.authn[from.String()]
	if !ok {
		return "", fmt.Errorf("framework at %s is not authenticated", from)
	}
	if p := info.GetPrincipal(); p != "" && p != principal {
		return "", fmt.Errorf("framework principal %q does not match authenticated principal %q", p, principal)
	}
	return principal, nil
}

func (m *master) frameworkError(to *upid.UPID, why string) {
	log.Warningf("localmesos: refusing framework at %s: %s", to, why)
	m.send(to, &mesos.FrameworkErrorMessage{Message: proto.String(why)})
}

func (m *master) registerFramework(from *upid.UPID, msg *mesos.RegisterFrameworkMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info := msg.GetFramework()
	principal, err := m.checkAuth(from, info)
	if err != nil {
		m.frameworkError(from, err.Error())
		return
	}
	if info.GetId().GetValue() != "" {
		m.frameworkError(from, "registering with an ID requires ReregisterFrameworkMessage")
		return
	}
	// A driver retries registration until it hears back: answer again.
	for _, fw := range m.frameworks {
		if !fw.removed && fw.pid.Equal(from) {
			m.send(from, &mesos.FrameworkRegisteredMessage{FrameworkId: fw.info.Id, MasterInfo: m.info})
			return
		}
	}
	id := fmt.Sprintf("%s-%04d", m.c.runID, m.nextFW)
	m.nextFW++
	fw := m.newFramework(id, info, from, principal)
	m.c.stats.frameworksRegistered.Add(1)
	m.c.logf("framework %s (%s) registered from %s", id, info.GetName(), from)
	m.send(from, &mesos.FrameworkRegisteredMessage{FrameworkId: fw.info.Id, MasterInfo: m.info})
	m.allocate()
}

func (m *master) newFramework(id string, info *mesos.FrameworkInfo, pid *upid.UPID, principal string) *framework {
	info = proto.Clone(info).(*mesos.FrameworkInfo)
	info.Id = &mesos.FrameworkID{Value: proto.String(id)}
	p := *pid
	fw := &framework{
		id:        id,
		info:      info,
		pid:       &p,
		principal: principal,
		active:    true,
		connected: true,
		tasks:     map[string]*task{},
		executors: map[string]map[string]*mesos.ExecutorInfo{},
	}
	m.frameworks[id] = fw
	return fw
}

func (m *master) reregisterFramework(from *upid.UPID, msg *mesos.ReregisterFrameworkMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info := msg.GetFramework()
	principal, err := m.checkAuth(from, info)
	if err != nil {
		m.frameworkError(from, err.Error())
		return
	}
	id := info.GetId().GetValue()
	if id == "" {
		m.frameworkError(from, "re-registering without a framework ID")
		return
	}
	fw := m.frameworks[id]
	switch {
	case fw != nil && fw.removed:
		m.frameworkError(from, "framework "+id+" has been removed")
		return
	case fw == nil:
		// Unknown to this master (e.g. registered with an earlier one):
		// accept it, as a failed-over Mesos master does.
		fw = m.newFramework(id, info, from, principal)
		m.c.stats.frameworksRegistered.Add(1)
		m.c.logf("framework %s (%s) re-registered from %s", id, info.GetName(), from)
	default:
		pidChanged := !fw.pid.Equal(from)
		p := *from
		fw.pid = &p
		fw.info = proto.Clone(info).(*mesos.FrameworkInfo)
		fw.principal = principal
		fw.connected, fw.active = true, true
		if fw.failover != nil {
			fw.failover()
			fw.failover = nil
		}
		if pidChanged {
			for agentID := range m.agentsOf(fw) {
				if a := m.agents[agentID]; a != nil && !a.lost {
					m.send(&a.pid, &mesos.UpdateFrameworkMessage{FrameworkId: fw.info.Id, Pid: proto.String(from.String())})
				}
			}
		}
		m.c.logf("framework %s (%s) re-registered from %s", id, info.GetName(), from)
	}
	m.send(from, &mesos.FrameworkReregisteredMessage{FrameworkId: fw.info.Id, MasterInfo: m.info})
	m.allocate()
}

// lookup returns the live framework id if from is its scheduler.
func (m *master) lookup(id *mesos.FrameworkID, from *upid.UPID) *framework {
	fw := m.frameworks[id.GetValue()]
	if fw == nil || fw.removed {
		log.Warningf("localmesos: message from %s for unknown framework %q", from, id.GetValue())
		return nil
	}
	if !fw.pid.Equal(from) {
		log.Warningf("localmesos: ignoring message for framework %s from %s (scheduler is %s)", fw.id, from, fw.pid)
		return nil
	}
	return fw
}

func (m *master) unregisterFramework(from *upid.UPID, msg *mesos.UnregisterFrameworkMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fw := m.lookup(msg.GetFrameworkId(), from); fw != nil {
		m.removeFramework(fw, "unregistered")
	}
}

func (m *master) deactivateFramework(from *upid.UPID, msg *mesos.DeactivateFrameworkMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fw := m.lookup(msg.GetFrameworkId(), from); fw != nil {
		fw.active = false
		m.rescindOffers(fw, func(*offer) bool { return true })
		m.allocate()
	}
}

// disconnect handles a scheduler that went away without unregistering: its
// offers are rescinded and it is removed after its failover_timeout.
func (m *master) disconnect(fw *framework, why string) {
	if !fw.connected || fw.removed {
		return
	}
	fw.connected, fw.active = false, false
	m.dropOffers(fw)
	timeout := time.Duration(fw.info.GetFailoverTimeout() * float64(time.Second))
	m.c.logf("framework %s disconnected (%s); failover timeout %v", fw.id, why, timeout)
	if timeout <= 0 {
		m.removeFramework(fw, "disconnected")
		return
	}
	pid := fw.pid.String()
	fw.failover = m.c.after(timeout, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !fw.connected && !fw.removed && fw.pid.String() == pid {
			m.removeFramework(fw, "failover timeout elapsed")
		}
	})
	m.allocate()
}

// agentsOf returns the agents fw has tasks or executors on.
func (m *master) agentsOf(fw *framework) map[string]bool {
	out := map[string]bool{}
	for agentID, execs := range fw.executors {
		if len(execs) > 0 {
			out[agentID] = true
		}
	}
	for _, t := range fw.tasks {
		if !isTerminal(t.state) {
			out[t.agentID] = true
		}
	}
	return out
}

// removeFramework shuts down fw's executors on every agent and forgets its
// offers; its unfinished tasks become TASK_KILLED.
func (m *master) removeFramework(fw *framework, why string) {
	if fw.removed {
		return
	}
	for agentID := range m.agentsOf(fw) {
		if a := m.agents[agentID]; a != nil && !a.lost {
			m.send(&a.pid, &mesos.ShutdownFrameworkMessage{FrameworkId: fw.info.Id})
		}
	}
	m.dropOffers(fw)
	for _, t := range fw.tasks {
		if !isTerminal(t.state) {
			m.setTaskState(fw, t, &mesos.TaskStatus{
				TaskId:  t.info.TaskId,
				State:   mesos.TaskState_TASK_KILLED.Enum(),
				Message: proto.String("framework removed"),
				Source:  mesos.TaskStatus_SOURCE_MASTER.Enum(),
				Reason:  mesos.TaskStatus_REASON_FRAMEWORK_REMOVED.Enum(),
				SlaveId: t.info.SlaveId,
			})
		}
	}
	fw.executors = map[string]map[string]*mesos.ExecutorInfo{}
	fw.removed, fw.connected, fw.active = true, false, false
	fw.filters = nil
	if fw.failover != nil {
		fw.failover()
		fw.failover = nil
	}
	m.c.stats.frameworksRemoved.Add(1)
	m.c.logf("framework %s removed (%s)", fw.id, why)
	m.allocate()
}

// ---------------------------------------------------------------------------
// Allocation

// usedOn returns the resources of agentID held by offers, live tasks and
// live executors.
func (m *master) usedOn(agentID string) resSet {
	used := newResSet()
	for _, o := range m.offers {
		if o.agentID == agentID {
			used = used.plus(o.res)
		}
	}
	for _, fw := range m.frameworks {
		for _, t := range fw.tasks {
			if t.agentID == agentID && !isTerminal(t.state) {
				used = used.plus(t.res)
			}
		}
		for _, e := range fw.executors[agentID] {
			used = used.plus(fromProto(e.GetResources()))
		}
	}
	return used
}

func (fw *framework) filtered(agentID string, res resSet, now time.Time) bool {
	kept := fw.filters[:0]
	hit := false
	for _, f := range fw.filters {
		if now.After(f.until) {
			continue
		}
		kept = append(kept, f)
		if f.agentID == agentID && f.res.contains(res) {
			hit = true
		}
	}
	fw.filters = kept
	return hit
}

// allocate offers every agent's free resources to one active framework
// each, round-robin. Called with m.mu held.
func (m *master) allocate() {
	if m.c.isClosing() {
		return
	}
	var fws []*framework
	for _, fw := range m.frameworks {
		if fw.active && fw.connected && !fw.removed {
			fws = append(fws, fw)
		}
	}
	if len(fws) == 0 {
		return
	}
	sort.Slice(fws, func(i, j int) bool { return fws[i].id < fws[j].id })
	now := time.Now()
	batch := map[*framework]*mesos.ResourceOffersMessage{}
	for _, agentID := range m.agentOrder {
		a := m.agents[agentID]
		if a.lost {
			continue
		}
		free := a.total.minus(m.usedOn(agentID))
		if free.empty() {
			continue
		}
		for i := range fws {
			fw := fws[(m.rr+i)%len(fws)]
			if fw.filtered(agentID, free, now) {
				continue
			}
			m.rr++
			o := &offer{id: fmt.Sprintf("%s-O%d", m.c.runID, m.nextOffer), fwID: fw.id, agentID: agentID, res: free}
			m.nextOffer++
			m.offers[o.id] = o
			var execIDs []*mesos.ExecutorID
			for _, e := range fw.executors[agentID] {
				execIDs = append(execIDs, e.ExecutorId)
			}
			sort.Slice(execIDs, func(i, j int) bool { return execIDs[i].GetValue() < execIDs[j].GetValue() })
			pb := &mesos.Offer{
				Id:          &mesos.OfferID{Value: proto.String(o.id)},
				FrameworkId: fw.info.Id,
				SlaveId:     &mesos.SlaveID{Value: proto.String(agentID)},
				Hostname:    proto.String(a.info.GetHostname()),
				Resources:   free.proto(),
				ExecutorIds: execIDs,
			}
			msg := batch[fw]
			if msg == nil {
				msg = &mesos.ResourceOffersMessage{}
				batch[fw] = msg
			}
			msg.Offers = append(msg.Offers, pb)
			msg.Pids = append(msg.Pids, a.pid.String())
			break
		}
	}
	for fw, msg := range batch {
		m.c.stats.offersSent.Add(int64(len(msg.Offers)))
		m.send(fw.pid, msg)
	}
}

// rescindOffers withdraws fw's offers matching pred, telling the scheduler.
func (m *master) rescindOffers(fw *framework, pred func(*offer) bool) {
	for id, o := range m.offers {
		if o.fwID == fw.id && pred(o) {
			delete(m.offers, id)
			m.c.stats.offersRescinded.Add(1)
			if fw.connected {
				m.send(fw.pid, &mesos.RescindResourceOfferMessage{OfferId: &mesos.OfferID{Value: proto.String(id)}})
			}
		}
	}
}

// dropOffers forgets fw's offers without telling it.
func (m *master) dropOffers(fw *framework) {
	for id, o := range m.offers {
		if o.fwID == fw.id {
			delete(m.offers, id)
		}
	}
}

func (m *master) refuse(filters *mesos.Filters) time.Duration {
	if filters == nil || filters.RefuseSeconds == nil {
		return m.c.cfg.OfferRefuseDefault
	}
	return time.Duration(filters.GetRefuseSeconds() * float64(time.Second))
}

func (m *master) addFilter(fw *framework, agentID string, res resSet, d time.Duration) {
	if d <= 0 || res.empty() {
		return
	}
	fw.filters = append(fw.filters, &filter{agentID: agentID, res: res, until: time.Now().Add(d)})
	m.c.after(d+time.Millisecond, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.allocate()
	})
}

func (m *master) reviveOffers(from *upid.UPID, msg *mesos.ReviveOffersMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fw := m.lookup(msg.GetFrameworkId(), from); fw != nil {
		fw.filters = nil
		fw.active = true
		m.allocate()
	}
}

func (m *master) resourceRequest(from *upid.UPID, msg *mesos.ResourceRequestMessage) {
	log.V(1).Infof("localmesos: ignoring resource request from %s", from)
}

// ---------------------------------------------------------------------------
// Launching

// masterUpdate sends fw a status update generated by the master (no uuid,
// so the driver does not acknowledge it).
func (m *master) masterUpdate(fw *framework, ti *mesos.TaskInfo, state mesos.TaskState, reason mesos.TaskStatus_Reason, why string) {
	now := float64(time.Now().UnixNano()) / 1e9
	st := &mesos.TaskStatus{
		TaskId:    ti.GetTaskId(),
		State:     state.Enum(),
		Message:   proto.String(why),
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    reason.Enum(),
		SlaveId:   ti.GetSlaveId(),
		Timestamp: proto.Float64(now),
	}
	if st.TaskId == nil {
		st.TaskId = &mesos.TaskID{Value: proto.String("")}
	}
	u := &mesos.StatusUpdate{
		FrameworkId: fw.info.Id,
		SlaveId:     ti.GetSlaveId(),
		Status:      st,
		Timestamp:   proto.Float64(now),
	}
	if ti.GetExecutor() != nil {
		u.ExecutorId = ti.GetExecutor().GetExecutorId()
	}
	m.c.logf("task %s of framework %s is %s: %s", st.GetTaskId().GetValue(), fw.id, state, why)
	if fw.connected {
		m.c.stats.statusUpdates.Add(1)
		m.send(fw.pid, &mesos.StatusUpdateMessage{Update: u})
	}
}

func (m *master) launchTasks(from *upid.UPID, msg *mesos.LaunchTasksMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.lookup(msg.GetFrameworkId(), from)
	if fw == nil {
		return
	}
	tasks := msg.GetTasks()

	// The named offers are used up whatever happens next.
	var offs []*offer
	var offerErr string
	seen := map[string]bool{}
	for _, oid := range msg.GetOfferIds() {
		id := oid.GetValue()
		o := m.offers[id]
		switch {
		case seen[id]:
			offerErr = "offer " + id + " appears more than once"
		case o == nil:
			offerErr = "offer " + id + " is no longer valid"
		case o.fwID != fw.id:
			offerErr = "offer " + id + " belongs to another framework"
		default:
			offs = append(offs, o)
			delete(m.offers, id)
		}
		seen[id] = true
	}
	if offerErr == "" && len(offs) == 0 && len(tasks) > 0 {
		offerErr = "no offers specified"
	}
	for _, o := range offs[min(1, len(offs)):] {
		if o.agentID != offs[0].agentID {
			offerErr = "offers " + offs[0].id + " and " + o.id + " are on different agents"
		}
	}
	if offerErr != "" {
		// Recover the valid offers; the scheduler learns about its tasks.
		for _, t := range tasks {
			m.c.stats.tasksInvalid.Add(1)
			m.masterUpdate(fw, t, mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_INVALID_OFFERS, "Task launched with invalid offers: "+offerErr)
		}
		m.allocate()
		return
	}
	if len(offs) == 0 {
		return
	}
	agentID := offs[0].agentID
	a := m.agents[agentID]
	total := newResSet()
	for _, o := range offs {
		total = total.plus(o.res)
	}
	if len(tasks) == 0 {
		m.c.stats.offersDeclined.Add(int64(len(offs)))
	}

	remaining := total
	batch := map[string]bool{}
	for _, ti := range tasks {
		if a == nil || a.lost {
			m.c.stats.tasksInvalid.Add(1)
			m.masterUpdate(fw, ti, mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_SLAVE_REMOVED, "agent "+agentID+" is gone")
			continue
		}
		need, err := m.validateTask(fw, agentID, ti, remaining, batch)
		if err != nil {
			m.c.stats.tasksInvalid.Add(1)
			m.masterUpdate(fw, ti, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_INVALID, err.Error())
			continue
		}
		remaining = remaining.minus(need)
		ti = proto.Clone(ti).(*mesos.TaskInfo)
		execID := ti.GetTaskId().GetValue() // command tasks: the command executor
		if e := ti.GetExecutor(); e != nil {
			e.FrameworkId = fw.info.Id
			execID = e.GetExecutorId().GetValue()
			if fw.executors[agentID] == nil {
				fw.executors[agentID] = map[string]*mesos.ExecutorInfo{}
			}
			if fw.executors[agentID][execID] == nil {
				fw.executors[agentID][execID] = e
			}
		}
		t := &task{info: ti, agentID: agentID, execID: execID, res: fromProto(ti.GetResources()), state: mesos.TaskState_TASK_STAGING}
		batch[ti.GetTaskId().GetValue()] = true
		fw.tasks[ti.GetTaskId().GetValue()] = t
		m.c.stats.tasksLaunched.Add(1)
		m.c.logf("task %s of framework %s is %s on agent %s", ti.GetTaskId().GetValue(), fw.id, t.state, agentID)
		m.send(&a.pid, &mesos.RunTaskMessage{
			FrameworkId: fw.info.Id,
			Framework:   fw.info,
			Pid:         proto.String(fw.pid.String()),
			Task:        ti,
		})
	}
	m.addFilter(fw, agentID, remaining, m.refuse(msg.GetFilters()))
	m.allocate()
}

// validateTask checks ti against the remaining offered resources and
// returns the resources it consumes (its own plus a new executor's).
func (m *master) validateTask(fw *framework, agentID string, ti *mesos.TaskInfo, remaining resSet, batch map[string]bool) (resSet, error) {
	id := ti.GetTaskId().GetValue()
	if id == "" {
		return resSet{}, fmt.Errorf("task has an empty ID")
	}
	if old := fw.tasks[id]; batch[id] || (old != nil && !isTerminal(old.state)) {
		return resSet{}, fmt.Errorf("task has duplicate ID: %s", id)
	}
	if ti.GetSlaveId().GetValue() != agentID {
		return resSet{}, fmt.Errorf("task uses agent %q but the offer is for agent %q", ti.GetSlaveId().GetValue(), agentID)
	}
	e, cmd := ti.GetExecutor(), ti.GetCommand()
	if (e == nil) == (cmd == nil) {
		return resSet{}, fmt.Errorf("task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	for _, r := range ti.GetResources() {
		if r.GetName() == "" || r.GetScalar().GetValue() < 0 {
			return resSet{}, fmt.Errorf("task uses invalid resource %v", r)
		}
	}
	need := fromProto(ti.GetResources())
	if e != nil {
		eid := e.GetExecutorId().GetValue()
		if eid == "" {
			return resSet{}, fmt.Errorf("executor has an empty ID")
		}
		if e.GetCommand() == nil {
			return resSet{}, fmt.Errorf("executor %s has no CommandInfo", eid)
		}
		if fid := e.GetFrameworkId().GetValue(); fid != "" && fid != fw.id {
			return resSet{}, fmt.Errorf("executor %s has framework ID %s, not %s", eid, fid, fw.id)
		}
		if old := fw.executors[agentID][eid]; old != nil {
			cmp := proto.Clone(e).(*mesos.ExecutorInfo)
			cmp.FrameworkId = old.FrameworkId
			if !proto.Equal(cmp, old) {
				return resSet{}, fmt.Errorf("ExecutorInfo for executor %s is not compatible with the running executor's", eid)
			}
		} else {
			need = need.plus(fromProto(e.GetResources()))
		}
	} else if cmd.GetValue() == "" && !(cmd.Shell != nil && !cmd.GetShell()) {
		return resSet{}, fmt.Errorf("task command has no value")
	}
	if need.empty() {
		return resSet{}, fmt.Errorf("task uses no resources")
	}
	if !remaining.contains(need) {
		return resSet{}, fmt.Errorf("task uses more resources %s than available %s", need, remaining)
	}
	return need, nil
}

// ---------------------------------------------------------------------------
// Tasks, status updates and messages

func (m *master) setTaskState(fw *framework, t *task, st *mesos.TaskStatus) {
	changed := t.state != st.GetState()
	t.state = st.GetState()
	t.status = st
	if changed {
		if msg := st.GetMessage(); msg != "" {
			m.c.logf("task %s of framework %s is %s: %s", t.info.GetTaskId().GetValue(), fw.id, t.state, msg)
		} else {
			m.c.logf("task %s of framework %s is %s", t.info.GetTaskId().GetValue(), fw.id, t.state)
		}
	}
}

func (m *master) agentFrom(from *upid.UPID) *agentRec {
	for _, a := range m.agents {
		if a.pid.Equal(from) && !a.lost {
			return a
		}
	}
	return nil
}

// statusUpdate routes an agent's status update to the scheduler.
func (m *master) statusUpdate(from *upid.UPID, msg *mesos.StatusUpdateMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.agentFrom(from) == nil {
		log.Warningf("localmesos: ignoring status update from %s, not an agent", from)
		return
	}
	u := msg.GetUpdate()
	fw := m.frameworks[u.GetFrameworkId().GetValue()]
	if fw == nil || fw.removed {
		return
	}
	if t := fw.tasks[u.GetStatus().GetTaskId().GetValue()]; t != nil {
		m.setTaskState(fw, t, u.GetStatus())
		if isTerminal(t.state) {
			m.allocate()
		}
	}
	if fw.connected {
		m.c.stats.statusUpdates.Add(1)
		m.send(fw.pid, msg)
	}
}

func (m *master) statusUpdateAck(from *upid.UPID, msg *mesos.StatusUpdateAcknowledgementMessage) {
	m.forwardToAgent(from, msg.GetFrameworkId(), msg.GetSlaveId(), msg)
}

// forwardToAgent passes msg from a framework's scheduler on to an agent
// that is not lost; messages from a pid that is not the framework's are
// dropped.
func (m *master) forwardToAgent(from *upid.UPID, fwID *mesos.FrameworkID, agentID *mesos.SlaveID, msg proto.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lookup(fwID, from) == nil {
		return
	}
	if a := m.agents[agentID.GetValue()]; a != nil && !a.lost {
		m.send(&a.pid, msg)
	}
}

func (m *master) exitedExecutor(from *upid.UPID, msg *mesos.ExitedExecutorMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agentFrom(from)
	if a == nil {
		return
	}
	fw := m.frameworks[msg.GetFrameworkId().GetValue()]
	if fw == nil || fw.removed {
		return
	}
	delete(fw.executors[a.id], msg.GetExecutorId().GetValue())
	if fw.connected {
		m.send(fw.pid, msg)
	}
	m.allocate()
}

func (m *master) executorToFramework(from *upid.UPID, msg *mesos.ExecutorToFrameworkMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.agentFrom(from) == nil {
		return
	}
	fw := m.frameworks[msg.GetFrameworkId().GetValue()]
	if fw != nil && fw.connected {
		m.send(fw.pid, msg)
	}
}

func (m *master) frameworkToExecutor(from *upid.UPID, msg *mesos.FrameworkToExecutorMessage) {
	m.forwardToAgent(from, msg.GetFrameworkId(), msg.GetSlaveId(), msg)
}

func (m *master) killTask(from *upid.UPID, msg *mesos.KillTaskMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.lookup(msg.GetFrameworkId(), from)
	if fw == nil {
		return
	}
	t := fw.tasks[msg.GetTaskId().GetValue()]
	if t == nil {
		m.masterUpdate(fw, &mesos.TaskInfo{TaskId: msg.GetTaskId()}, mesos.TaskState_TASK_LOST,
			mesos.TaskStatus_REASON_TASK_UNKNOWN, "Attempted to kill an unknown task")
		return
	}
	if isTerminal(t.state) {
		return
	}
	if a := m.agents[t.agentID]; a != nil && !a.lost {
		m.send(&a.pid, &mesos.KillTaskMessage{FrameworkId: fw.info.Id, TaskId: msg.GetTaskId()})
	}
}

func (m *master) reconcileTasks(from *upid.UPID, msg *mesos.ReconcileTasksMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.lookup(msg.GetFrameworkId(), from)
	if fw == nil {
		return
	}
	reply := func(t *task) {
		st := proto.Clone(t.status).(*mesos.TaskStatus)
		st.Reason = mesos.TaskStatus_REASON_RECONCILIATION.Enum()
		st.Source = mesos.TaskStatus_SOURCE_MASTER.Enum()
		st.Uuid = nil
		now := float64(time.Now().UnixNano()) / 1e9
		st.Timestamp = proto.Float64(now)
		m.send(fw.pid, &mesos.StatusUpdateMessage{Update: &mesos.StatusUpdate{
			FrameworkId: fw.info.Id,
			SlaveId:     t.info.SlaveId,
			Status:      st,
			Timestamp:   proto.Float64(now),
		}})
	}
	statusOf := func(t *task) {
		if t.status == nil {
			t.status = &mesos.TaskStatus{TaskId: t.info.TaskId, State: t.state.Enum(), SlaveId: t.info.SlaveId}
		}
	}
	if len(msg.GetStatuses()) == 0 {
		ids := make([]string, 0, len(fw.tasks))
		for id, t := range fw.tasks {
			if !isTerminal(t.state) {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			statusOf(fw.tasks[id])
			reply(fw.tasks[id])
		}
		return
	}
	for _, s := range msg.GetStatuses() {
		t := fw.tasks[s.GetTaskId().GetValue()]
		if t == nil {
			m.masterUpdate(fw, &mesos.TaskInfo{TaskId: s.GetTaskId(), SlaveId: s.GetSlaveId()}, mesos.TaskState_TASK_LOST,
				mesos.TaskStatus_REASON_RECONCILIATION, "Reconciliation: task is unknown")
			continue
		}
		statusOf(t)
		reply(t)
	}
}

// removeAgent handles a lost agent: its offers are rescinded, its tasks
// become TASK_LOST and every framework gets LostSlaveMessage.
func (m *master) removeAgent(agentID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agents[agentID]
	if a == nil || a.lost {
		return
	}
	a.lost = true
	for _, fw := range m.frameworks {
		if fw.removed {
			continue
		}
		m.rescindOffers(fw, func(o *offer) bool { return o.agentID == agentID })
		for _, t := range fw.tasks {
			if t.agentID == agentID && !isTerminal(t.state) {
				t.state = mesos.TaskState_TASK_LOST
				t.status = &mesos.TaskStatus{TaskId: t.info.TaskId, State: t.state.Enum(), SlaveId: t.info.SlaveId,
					Message: proto.String("agent " + agentID + " removed"), Reason: mesos.TaskStatus_REASON_SLAVE_REMOVED.Enum()}
				m.masterUpdate(fw, t.info, mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_SLAVE_REMOVED, "agent "+agentID+" removed")
			}
		}
		delete(fw.executors, agentID)
		if fw.connected {
			m.send(fw.pid, &mesos.LostSlaveMessage{SlaveId: &mesos.SlaveID{Value: proto.String(agentID)}})
		}
	}
	m.c.logf("agent %s lost", agentID)
	m.allocate()
}

// ---------------------------------------------------------------------------
// Introspection

func (m *master) tasks() []TaskState {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []TaskState
	for _, fw := range m.frameworks {
		for _, t := range fw.tasks {
			out = append(out, TaskState{
				FrameworkID: fw.id,
				TaskID:      t.info.GetTaskId().GetValue(),
				AgentID:     t.agentID,
				ExecutorID:  t.execID,
				State:       t.state,
				Message:     t.status.GetMessage(),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].FrameworkID != out[j].FrameworkID {
			return out[i].FrameworkID < out[j].FrameworkID
		}
		return out[i].TaskID < out[j].TaskID
	})
	return out
}

func (m *master) frameworkStates() []FrameworkState {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []FrameworkState
	for _, fw := range m.frameworks {
		out = append(out, FrameworkState{
			ID:        fw.id,
			Name:      fw.info.GetName(),
			Principal: fw.principal,
			PID:       fw.pid.String(),
			Active:    fw.active,
			Connected: fw.connected,
			Removed:   fw.removed,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

package localmesos

import (
	"fmt"
	"sort"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

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
		m.frameworkError(from, "Registering with 'id' already set")
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
		id:          id,
		info:        info,
		pid:         &p,
		principal:   principal,
		active:      true,
		connected:   true,
		tasks:       map[string]*task{},
		unreachable: map[string]*task{},
		executors:   map[string]map[string]*mesos.ExecutorInfo{},
	}
	m.frameworks[id] = fw
	return fw
}

// reregisterFramework follows Mesos' Master::_subscribe for a framework
// with an ID. A scheduler failing over (failover set, as mesos-go sets it
// when started with a framework ID) replaces the old one: the old scheduler,
// if connected from another pid, gets FrameworkErrorMessage "Framework failed
// over", the offers are discarded and the new scheduler gets
// FrameworkRegisteredMessage. A scheduler re-registering without failover
// (after a disconnection) keeps its pid: its offers are rescinded and it gets
// FrameworkReregisteredMessage. A framework this master does not know is
// recovered and gets FrameworkRegisteredMessage. Every agent then learns the
// scheduler's pid (UpdateFrameworkMessage).
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
		m.frameworkError(from, "Re-registering without an 'id'")
		return
	}
	fw := m.frameworks[id]
	if fw != nil && fw.removed {
		m.frameworkError(from, "Framework has been removed")
		return
	}
	for _, other := range m.frameworks {
		if other.id != id && !other.removed && other.connected && other.pid.Equal(from) {
			log.Errorf("localmesos: dropping re-registration of framework %s: framework %s is already connected at %s", id, other.id, from)
			return
		}
	}
	if fw == nil || fw.pid == nil || fw.pid.Host == "" {
		// Unknown to this master (registered with an earlier one) or only
		// known from a re-registering agent's report: recovered, as after a
		// Mesos master failover (Master::connectAndActivateRecoveredFramework).
		if fw == nil {
			fw = m.newFramework(id, info, from, principal)
			m.c.stats.frameworksRegistered.Add(1)
		} else {
			p := *from
			fw.pid, fw.principal = &p, principal
			fw.info = proto.Clone(info).(*mesos.FrameworkInfo)
			fw.connected, fw.active = true, true
			if fw.failover != nil {
				fw.failover()
				fw.failover = nil
			}
		}
		m.c.logf("framework %s (%s) re-registered from %s", id, info.GetName(), from)
		m.send(from, &mesos.FrameworkRegisteredMessage{FrameworkId: fw.info.Id, MasterInfo: m.info})
		m.updateAgentsOf(fw)
		m.allocate()
		return
	}
	samePid := fw.pid.Equal(from)
	if !samePid && !msg.GetFailover() {
		log.Errorf("localmesos: disallowing re-registration of framework %s from %s: its scheduler is %s", id, from, fw.pid)
		m.send(from, &mesos.FrameworkErrorMessage{Message: proto.String("Framework failed over")})
		return
	}
	if msg.GetFailover() {
		if !samePid && fw.connected {
			m.send(fw.pid, &mesos.FrameworkErrorMessage{Message: proto.String("Framework failed over")})
		}
		m.dropOffers(fw)
	} else {
		// The scheduler may have answered offers its driver dropped while
		// disconnected.
		m.rescindOffers(fw, func(*offer) bool { return true })
	}
	p := *from
	fw.pid = &p
	fw.info = proto.Clone(info).(*mesos.FrameworkInfo)
	fw.principal = principal
	fw.connected, fw.active = true, true
	if fw.failover != nil {
		fw.failover()
		fw.failover = nil
	}
	if msg.GetFailover() {
		m.c.logf("framework %s (%s) failed over to %s", id, info.GetName(), from)
		m.send(from, &mesos.FrameworkRegisteredMessage{FrameworkId: fw.info.Id, MasterInfo: m.info})
	} else {
		m.c.logf("framework %s (%s) re-registered from %s", id, info.GetName(), from)
		m.send(from, &mesos.FrameworkReregisteredMessage{FrameworkId: fw.info.Id, MasterInfo: m.info})
	}
	m.updateAgentsOf(fw)
	m.allocate()
}

// updateAgentsOf tells every agent the framework's scheduler pid, as Mesos'
// Master::sendFrameworkUpdates does after a (re-)registration.
func (m *master) updateAgentsOf(fw *framework) {
	for _, agentID := range m.agentOrder {
		if a := m.agents[agentID]; a != nil && !a.lost {
			m.send(&a.pid, &mesos.UpdateFrameworkMessage{FrameworkId: fw.info.Id, Pid: proto.String(fw.pid.String())})
		}
	}
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

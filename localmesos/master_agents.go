package localmesos

import (
	"fmt"
	"sort"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// Agent registration and health checking on the master, after Mesos'
// Master::registerSlave, Master::reregisterSlave (reconcileKnownSlave for a
// known agent, re-admission for an unreachable or unknown one), the
// SlaveObserver's ping/pong and Master::markUnreachable / __removeSlave.

// Mesos values this package sends that mesos-go v0.0.11's protobufs predate.
const (
	capabilityPartitionAware = mesos.FrameworkInfo_Capability_Type(5) // FrameworkInfo.Capability.PARTITION_AWARE
	taskUnreachable          = mesos.TaskState(10)                    // TASK_UNREACHABLE
	reasonSlaveReregistered  = mesos.TaskStatus_Reason(32)            // REASON_SLAVE_REREGISTERED
	defaultAgentPingTimeout  = 15 * time.Second                       // --agent_ping_timeout
	defaultMaxPingTimeouts   = 5                                      // --max_agent_ping_timeouts
	defaultRegistrationBack  = time.Second                            // --registration_backoff_factor
	registerRetryIntervalMax = time.Minute                            // REGISTER_RETRY_INTERVAL_MAX
)

// partitionAware reports whether fw opted in to PARTITION_AWARE: such
// frameworks see TASK_UNREACHABLE where the others see TASK_LOST.
func partitionAware(fw *framework) bool {
	for _, c := range fw.info.GetCapabilities() {
		if c.GetType() == capabilityPartitionAware {
			return true
		}
	}
	return false
}

// connection is what the master tells a (re-)registered agent about its
// health checks: after this long without a ping the agent re-registers.
func (m *master) connection() *mesos.MasterSlaveConnection {
	total := m.c.cfg.AgentPingTimeout * time.Duration(m.c.cfg.MaxAgentPingTimeouts)
	return &mesos.MasterSlaveConnection{TotalPingTimeoutSeconds: proto.Float64(total.Seconds())}
}

// admit records a registered agent and starts health-checking it.
func (m *master) admit(id string, from *upid.UPID, info *mesos.SlaveInfo) *agentRec {
	info = proto.Clone(info).(*mesos.SlaveInfo)
	info.Id = &mesos.SlaveID{Value: proto.String(id)}
	a := m.agents[id]
	if a == nil {
		a = &agentRec{id: id}
		m.agents[id] = a
		m.agentOrder = append(m.agentOrder, id)
	}
	a.pid, a.info, a.total = *from, info, fromProto(info.GetResources())
	a.lost, a.pinged, a.timeouts = false, false, 0
	return a
}

func (m *master) registerSlave(from *upid.UPID, msg *mesos.RegisterSlaveMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info := msg.GetSlave()
	if info.GetHostname() == "" {
		log.Warningf("localmesos: refusing registration of agent at %s: no hostname", from)
		return
	}
	if a := m.agentFrom(from); a != nil {
		// The agent retries until it hears back: answer again.
		m.send(from, &mesos.SlaveRegisteredMessage{SlaveId: a.info.Id, Connection: m.connection()})
		return
	}
	id := fmt.Sprintf("%s-S%d", m.c.runID, m.nextAgent)
	m.nextAgent++
	a := m.admit(id, from, info)
	m.send(from, &mesos.SlaveRegisteredMessage{SlaveId: a.info.Id, Connection: m.connection()})
	m.c.logf("agent %s at %s (%s) registered with %s", id, from, info.GetHostname(), FormatResources(info.GetResources()))
	m.allocate()
}

func (m *master) reregisterSlave(from *upid.UPID, msg *mesos.ReregisterSlaveMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info := msg.GetSlave()
	id := info.GetId().GetValue()
	if id == "" || info.GetHostname() == "" {
		log.Warningf("localmesos: refusing re-registration of agent at %s: no agent ID or hostname", from)
		return
	}
	reply := &mesos.SlaveReregisteredMessage{SlaveId: info.Id, Connection: m.connection()}
	// The agent may have restarted on the same address: the connection to
	// its previous run is dead, and may not know it yet
	// (Master::_reregisterSlave relinks with RemoteConnection::RECONNECT).
	m.proc.Relink(from)
	known := m.agents[id]
	switch {
	case known != nil && !known.lost:
		// A registered agent (for instance one that missed pings, or that
		// restarted): reconcile through it the tasks it does not report.
		reply.Reconciliations = m.unknownToAgent(id, msg.GetTasks())
		m.forgetExecutors(id, msg.GetExecutorInfos())
		m.admit(id, from, info)
		m.c.logf("agent %s re-registered from %s", id, from)
	default:
		why := "Unknown agent reregistered"
		if known != nil {
			why = "Unreachable agent re-reregistered"
		}
		m.admit(id, from, info)
		m.readmit(id, msg, why)
		m.c.logf("agent %s re-registered from %s (%s)", id, from, why)
	}
	m.send(from, reply)
	m.updateAgentFrameworks(id, msg)
	m.allocate()
}

// unknownToAgent returns reconciliation requests for the tasks the master
// has on agentID that the agent did not report (Master::reconcileKnownSlave).
func (m *master) unknownToAgent(agentID string, reported []*mesos.Task) []*mesos.ReconcileTasksMessage {
	has := map[string]bool{}
	for _, t := range reported {
		has[t.GetFrameworkId().GetValue()+"/"+t.GetTaskId().GetValue()] = true
	}
	var out []*mesos.ReconcileTasksMessage
	for _, fw := range m.sortedFrameworks() {
		rec := &mesos.ReconcileTasksMessage{FrameworkId: fw.info.Id}
		for _, tid := range sortedTaskIDs(fw) {
			t := fw.tasks[tid]
			if t.agentID != agentID || isTerminal(t.state) || has[fw.id+"/"+tid] {
				continue
			}
			rec.Statuses = append(rec.Statuses, &mesos.TaskStatus{
				TaskId:    t.info.TaskId,
				SlaveId:   &mesos.SlaveID{Value: proto.String(agentID)},
				State:     t.state.Enum(),
				Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
				Message:   proto.String("Reconciliation request"),
				Reason:    mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
				Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
			})
		}
		if len(rec.Statuses) > 0 {
			out = append(out, rec)
		}
	}
	return out
}

// forgetExecutors drops the master's executors on agentID that the agent no
// longer reports, so that their resources are offered again.
func (m *master) forgetExecutors(agentID string, reported []*mesos.ExecutorInfo) {
	has := map[string]bool{}
	for _, e := range reported {
		has[e.GetFrameworkId().GetValue()+"/"+e.GetExecutorId().GetValue()] = true
	}
	for _, fw := range m.frameworks {
		for eid := range fw.executors[agentID] {
			if !has[fw.id+"/"+eid] {
				log.Warningf("localmesos: executor %s of framework %s possibly unknown to agent %s", eid, fw.id, agentID)
				delete(fw.executors[agentID], eid)
			}
		}
	}
}

// readmit re-adds the tasks and executors of an agent the master had
// removed or never knew (after a master restart), telling each connected
// framework the tasks' state with REASON_SLAVE_REREGISTERED.
func (m *master) readmit(agentID string, msg *mesos.ReregisterSlaveMessage, why string) {
	execs := map[string]*mesos.ExecutorInfo{}
	for _, e := range msg.GetExecutorInfos() {
		fw := m.recoveredFramework(e.GetFrameworkId())
		if fw == nil || fw.removed {
			continue
		}
		if fw.executors[agentID] == nil {
			fw.executors[agentID] = map[string]*mesos.ExecutorInfo{}
		}
		e = proto.Clone(e).(*mesos.ExecutorInfo)
		fw.executors[agentID][e.GetExecutorId().GetValue()] = e
		execs[fw.id+"/"+e.GetExecutorId().GetValue()] = e
	}
	for _, pt := range msg.GetTasks() {
		fw := m.recoveredFramework(pt.GetFrameworkId())
		if fw == nil || fw.removed {
			continue // shut down on the agent by updateAgentFrameworks
		}
		ti := &mesos.TaskInfo{Name: pt.Name, TaskId: pt.TaskId, SlaveId: &mesos.SlaveID{Value: proto.String(agentID)}, Resources: pt.Resources}
		execID := pt.GetTaskId().GetValue()
		if eid := pt.GetExecutorId().GetValue(); eid != "" {
			execID = eid
			ti.Executor = execs[fw.id+"/"+eid]
			if ti.Executor == nil {
				ti.Executor = &mesos.ExecutorInfo{ExecutorId: pt.ExecutorId, FrameworkId: fw.info.Id, Command: &mesos.CommandInfo{}}
			}
		}
		t := &task{info: ti, agentID: agentID, execID: execID, res: fromProto(pt.GetResources()), state: pt.GetState()}
		t.status = &mesos.TaskStatus{TaskId: pt.TaskId, State: pt.State, SlaveId: ti.SlaveId}
		m.reachableAgain(fw, pt.GetTaskId().GetValue())
		fw.tasks[pt.GetTaskId().GetValue()] = t
		m.masterUpdate(fw, ti, pt.GetState(), reasonSlaveReregistered, why)
	}
}

// reachableAgain forgets that task id was lost with its agent (or
// completed) now that the agent reports it again.
func (m *master) reachableAgain(fw *framework, id string) {
	if fw.unreachable[id] != nil {
		delete(fw.unreachable, id)
		kept := fw.lostOrder[:0]
		for _, x := range fw.lostOrder {
			if x != id {
				kept = append(kept, x)
			}
		}
		fw.lostOrder = kept
	}
	kept := fw.completed[:0]
	for _, t := range fw.completed {
		if t.info.GetTaskId().GetValue() != id {
			kept = append(kept, t)
		}
	}
	fw.completed = kept
}

// recoveredFramework returns the framework id, creating a disconnected
// placeholder for one this master has not seen (it learns the framework's
// info and pid when its scheduler re-registers).
func (m *master) recoveredFramework(id *mesos.FrameworkID) *framework {
	if id.GetValue() == "" {
		return nil
	}
	if fw := m.frameworks[id.GetValue()]; fw != nil {
		return fw
	}
	fw := m.newFramework(id.GetValue(), &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String("")}, &upid.UPID{}, "")
	fw.connected, fw.active = false, false
	m.c.logf("framework %s recovered from a re-registering agent; waiting for its scheduler", id.GetValue())
	return fw
}

// updateAgentFrameworks tells a re-registered agent the current pid of each
// of its frameworks and shuts down those the master has removed
// (Master::updateSlaveFrameworks).
func (m *master) updateAgentFrameworks(agentID string, msg *mesos.ReregisterSlaveMessage) {
	a := m.agents[agentID]
	seen := map[string]bool{}
	var ids []*mesos.FrameworkID
	for _, t := range msg.GetTasks() {
		ids = append(ids, t.FrameworkId)
	}
	for _, e := range msg.GetExecutorInfos() {
		ids = append(ids, e.FrameworkId)
	}
	for _, id := range ids {
		if seen[id.GetValue()] {
			continue
		}
		seen[id.GetValue()] = true
		fw := m.frameworks[id.GetValue()]
		switch {
		case fw == nil || fw.removed:
			m.send(&a.pid, &mesos.ShutdownFrameworkMessage{FrameworkId: id})
		case fw.connected:
			m.send(&a.pid, &mesos.UpdateFrameworkMessage{FrameworkId: fw.info.Id, Pid: proto.String(fw.pid.String())})
		}
	}
}

func (m *master) unregisterSlave(from *upid.UPID, msg *mesos.UnregisterSlaveMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agents[msg.GetSlaveId().GetValue()]
	if a == nil || a.lost || !a.pid.Equal(from) {
		log.Warningf("localmesos: ignoring unregistration of agent %q from %s", msg.GetSlaveId().GetValue(), from)
		return
	}
	m.removeAgentLocked(a, "the agent unregistered", false)
}

func (m *master) pong(from *upid.UPID, _ *mesos.PongSlaveMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.agentFrom(from); a != nil {
		a.pinged, a.timeouts = false, 0
	}
}

// pingAgents is one round of the SlaveObserver: an agent that has not
// answered the previous ping counts a timeout, and after
// MaxAgentPingTimeouts in a row it is marked unreachable.
func (m *master) pingAgents() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range m.agentOrder {
		a := m.agents[id]
		if a.lost {
			continue
		}
		if a.pinged {
			a.timeouts++
			if a.timeouts >= m.c.cfg.MaxAgentPingTimeouts {
				m.removeAgentLocked(a, "health check timed out", true)
				continue
			}
		}
		m.send(&a.pid, &mesos.PingSlaveMessage{Connected: proto.Bool(true)})
		a.pinged = true
	}
}

// removeAgent removes agentID at once, as if its health checks had timed
// out.
func (m *master) removeAgent(agentID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.agents[agentID]; a != nil && !a.lost {
		m.removeAgentLocked(a, "health check timed out", true)
	}
}

// removeAgentLocked removes agent a as Mesos' __removeSlave does: its tasks
// become TASK_LOST (TASK_UNREACHABLE for partition-aware frameworks, when
// unreachable) with REASON_SLAVE_REMOVED, its executors are forgotten, its
// offers rescinded and every connected framework gets LostSlaveMessage.
func (m *master) removeAgentLocked(a *agentRec, why string, unreachable bool) {
	a.lost = true
	for _, fw := range m.sortedFrameworks() {
		if fw.removed {
			continue
		}
		m.rescindOffers(fw, func(o *offer) bool { return o.agentID == a.id })
		state := mesos.TaskState_TASK_LOST
		if unreachable && partitionAware(fw) {
			state = taskUnreachable
		}
		for _, tid := range sortedTaskIDs(fw) {
			t := fw.tasks[tid]
			if t.agentID != a.id || isTerminal(t.state) || t.state == taskUnreachable {
				continue
			}
			t.state = state
			t.status = &mesos.TaskStatus{TaskId: t.info.TaskId, State: state.Enum(), SlaveId: t.info.SlaveId,
				Message: proto.String(why), Reason: mesos.TaskStatus_REASON_SLAVE_REMOVED.Enum(), Source: mesos.TaskStatus_SOURCE_MASTER.Enum()}
			m.masterUpdate(fw, t.info, state, mesos.TaskStatus_REASON_SLAVE_REMOVED, why)
		}
		delete(fw.executors, a.id)
	}
	for _, fw := range m.sortedFrameworks() {
		if !fw.removed && fw.connected {
			m.send(fw.pid, &mesos.LostSlaveMessage{SlaveId: &mesos.SlaveID{Value: proto.String(a.id)}})
		}
	}
	m.c.logf("agent %s at %s removed: %s", a.id, a.pid, why)
	m.allocate()
}

func (m *master) sortedFrameworks() []*framework {
	out := make([]*framework, 0, len(m.frameworks))
	for _, fw := range m.frameworks {
		out = append(out, fw)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func sortedTaskIDs(fw *framework) []string {
	ids := make([]string, 0, len(fw.tasks))
	for id := range fw.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// agentStates is the master's view of its agents, in registration order.
func (m *master) agentStates() []AgentState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]AgentState, 0, len(m.agentOrder))
	for _, id := range m.agentOrder {
		a := m.agents[id]
		out = append(out, AgentState{ID: a.id, PID: a.pid.String(), Hostname: a.info.GetHostname(),
			Resources: FormatResources(a.info.GetResources()), Lost: a.lost})
	}
	return out
}

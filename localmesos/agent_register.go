package localmesos

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// Agent registration and the master's health checks seen from the agent,
// after Mesos' Slave::doReliableRegistration, Slave::registered,
// Slave::reregistered, Slave::ping and Slave::pingTimeout.

// startRegistration begins registering with the master: the first attempt
// at once, then retries with randomized, doubling back-off (from
// RegistrationBackoffFactor up to one minute) until the master answers.
func (a *agent) startRegistration() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.registerLocked(a.c.cfg.RegistrationBackoffFactor)
}

// registerLocked sends one RegisterSlaveMessage (no agent ID yet) or
// ReregisterSlaveMessage and schedules the next attempt.
func (a *agent) registerLocked(backoff time.Duration) {
	if a.registered || a.lost || a.recovering || a.c.isClosing() {
		return
	}
	if a.id == "" {
		a.toMaster(&mesos.RegisterSlaveMessage{Slave: a.info, Version: proto.String(Version)})
	} else {
		a.toMaster(a.reregistration())
	}
	backoff = min(2*backoff, registerRetryIntervalMax)
	delay := time.Duration(rand.Int64N(int64(backoff) + 1))
	if a.stopReg != nil {
		a.stopReg()
	}
	a.stopReg = a.c.after(delay, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.registerLocked(backoff)
	})
}

// reregistration describes what the agent runs: every task it knows of
// (queued ones as TASK_STAGING) and its live executors.
func (a *agent) reregistration() *mesos.ReregisterSlaveMessage {
	msg := &mesos.ReregisterSlaveMessage{Slave: a.info, Version: proto.String(Version)}
	for _, fid := range sortedKeysOf(a.frameworks) {
		fw := a.frameworks[fid]
		for _, eid := range sortedKeysOf(fw.executors) {
			ex := fw.executors[eid]
			for _, tid := range sortedKeysOf(ex.tasks) {
				t := ex.tasks[tid]
				pt := &mesos.Task{
					Name:        proto.String(t.info.GetName()),
					TaskId:      t.info.TaskId,
					FrameworkId: &mesos.FrameworkID{Value: proto.String(fid)},
					SlaveId:     a.slaveID(),
					State:       t.state.Enum(),
					Resources:   t.info.Resources,
				}
				if !ex.command {
					pt.ExecutorId = ex.info.ExecutorId
				}
				msg.Tasks = append(msg.Tasks, pt)
			}
			if !ex.command && ex.state != execTerminated {
				e := proto.Clone(ex.info).(*mesos.ExecutorInfo)
				e.FrameworkId = &mesos.FrameworkID{Value: proto.String(fid)}
				msg.ExecutorInfos = append(msg.ExecutorInfos, e)
			}
		}
	}
	return msg
}

func (a *agent) slaveRegistered(from *upid.UPID, msg *mesos.SlaveRegisteredMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.fromMaster(from) {
		log.Warningf("localmesos: agent %s: ignoring registration from %s: not the master %s", a.pid, from, a.opts.master)
		return
	}
	if a.registered {
		if id := msg.GetSlaveId().GetValue(); id != a.id {
			log.Errorf("localmesos: agent %s: registered again with ID %s, already %s; ignoring", a.pid, id, a.id)
		}
		return
	}
	if a.id == "" {
		a.id = msg.GetSlaveId().GetValue()
		a.info.Id = a.slaveID()
		writeAgentID(a.opts.idFile, a.id)
		a.checkpointAgent()
	}
	a.connected(msg.GetConnection())
	a.c.logf("agent %s registered with master %s as %s", a.pid, from, a.id)
}

func (a *agent) slaveReregistered(from *upid.UPID, msg *mesos.SlaveReregisteredMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.fromMaster(from) || msg.GetSlaveId().GetValue() != a.id {
		log.Warningf("localmesos: agent %s: ignoring re-registration as %q from %s", a.pid, msg.GetSlaveId().GetValue(), from)
		return
	}
	if a.registered {
		return
	}
	a.connected(msg.GetConnection())
	// Tasks the master knows and this agent does not are lost.
	for _, rec := range msg.GetReconciliations() {
		fid := rec.GetFrameworkId().GetValue()
		for _, st := range rec.GetStatuses() {
			if !a.hasTaskLocked(fid, st.GetTaskId().GetValue()) {
				a.update(fid, "", st.GetTaskId(), mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_RECONCILIATION,
					"Reconciliation: task unknown to the agent")
			}
		}
	}
	a.c.logf("agent %s re-registered with master %s", a.id, from)
}

// connected marks the agent registered: registration retries stop, the
// ping timeout starts and held status updates are sent again.
func (a *agent) connected(conn *mesos.MasterSlaveConnection) {
	a.registered = true
	if a.stopReg != nil {
		a.stopReg()
		a.stopReg = nil
	}
	select {
	case <-a.everReg:
	default:
		close(a.everReg)
	}
	a.masterPingTimeout = time.Duration(conn.GetTotalPingTimeoutSeconds() * float64(time.Second))
	if a.masterPingTimeout <= 0 {
		a.masterPingTimeout = defaultAgentPingTimeout * defaultMaxPingTimeouts
	}
	a.resetPingTimer()
	for _, key := range sortedKeysOf(a.streams) {
		s := a.streams[key]
		if len(s.pending) == 0 {
			continue
		}
		if s.stopRetry != nil {
			s.stopRetry()
		}
		s.backoff = a.c.cfg.StatusUpdateRetry
		a.forward(key, s)
	}
}

func (a *agent) hasTaskLocked(fid, tid string) bool {
	if fw := a.frameworks[fid]; fw != nil {
		for _, ex := range fw.executors {
			if ex.tasks[tid] != nil {
				return true
			}
		}
	}
	return false
}

// ping answers the master's health check. A master that thinks the agent
// disconnected makes it re-register.
func (a *agent) ping(from *upid.UPID, msg *mesos.PingSlaveMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost || !a.fromMaster(from) {
		return
	}
	if !msg.GetConnected() && a.registered {
		log.Infof("localmesos: agent %s: the master marked it disconnected: re-registering", a.id)
		a.registered = false
		a.registerLocked(a.c.cfg.RegistrationBackoffFactor)
	}
	if a.registered {
		a.resetPingTimer()
	}
	a.send(from, &mesos.PongSlaveMessage{})
}

// resetPingTimer (re)starts the wait for the next ping: without one within
// the master's total ping timeout the agent considers the master lost and
// registers again.
func (a *agent) resetPingTimer() {
	if a.stopPing != nil {
		a.stopPing()
	}
	timeout := a.masterPingTimeout
	a.pingGen++
	gen := a.pingGen
	a.stopPing = a.c.after(timeout, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.lost || !a.registered || a.pingGen != gen {
			return
		}
		a.c.logf("agent %s: no pings from master %s within %v: re-registering", a.id, a.opts.master, timeout)
		a.registered = false
		a.registerLocked(a.c.cfg.RegistrationBackoffFactor)
	})
}

// shutdownAgent obeys the master's ShutdownMessage: the agent shuts its
// frameworks down and stops registering.
func (a *agent) shutdownAgent(from *upid.UPID, msg *mesos.ShutdownMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost || !a.fromMaster(from) {
		return
	}
	log.Warningf("localmesos: agent %s: asked to shut down by the master: %s", a.id, msg.GetMessage())
	for fid := range a.frameworks {
		a.shutdownFrameworkLocked(fid)
	}
	a.registered = false
	a.stopTimersLocked()
}

func (a *agent) stopTimersLocked() {
	for _, stop := range []func(){a.stopPing, a.stopReg} {
		if stop != nil {
			stop()
		}
	}
	a.stopPing, a.stopReg = nil, nil
	a.pingGen++
}

// agentIDFile is where an agent with a work directory of its own keeps its
// ID, so that after a restart it re-registers as the same agent.
func agentIDFile(workDir string) string {
	return filepath.Join(workDir, "meta", "slaves", "latest", "slave.id")
}

func readAgentID(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !os.IsNotExist(err) {
			log.Warningf("localmesos: reading the agent ID: %v; registering as a new agent", err)
		}
		return ""
	}
	return string(bytes.TrimSpace(b))
}

func writeAgentID(path, id string) {
	if path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		err = os.WriteFile(path, []byte(id+"\n"), 0o644)
		if err == nil {
			return
		}
		log.Warningf("localmesos: keeping the agent ID in %s: %v", path, err)
	} else {
		log.Warningf("localmesos: keeping the agent ID: %v", err)
	}
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package localmesos

import (
	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// frameworkToExecutor delivers a scheduler's message (sent here directly or
// through the master) to the executor.
//
// Executor messages go the other way straight to the scheduler, as Mesos'
// Slave::executorMessage sends them, not through the master; status updates
// do go through the master.
//
// Both directions relay the message as Mesos' agent does, a message of the
// same IDs and data, without decoding its data or copying it: the handler
// gets a libprocess.FrameworkToExecutorMessage whose data is a slice of the
// request body, and the relayed message is written from it.
func (a *agent) frameworkToExecutor(from *upid.UPID, msg *libprocess.FrameworkToExecutorMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
	fm := FrameworkMessage{
		FrameworkID: msg.FrameworkID,
		ExecutorID:  msg.ExecutorID,
		AgentID:     a.id,
		ToExecutor:  true,
		Data:        msg.Data,
	}
	var ex *executor
	if fw := a.frameworks[fm.FrameworkID]; fw != nil {
		ex = fw.executors[fm.ExecutorID]
	}
	if ex == nil || ex.state != execRegistered || ex.command {
		log.Warningf("localmesos: agent %s: dropping framework message for executor %q of framework %q: not registered",
			a.id, fm.ExecutorID, fm.FrameworkID)
		a.c.stats.fwMsgsDropped.Add(1)
		return
	}
	a.carry(fm, ex.pid, msg)
}

// carry delivers a framework message through the fault hooks.
func (a *agent) carry(fm FrameworkMessage, to *upid.UPID, msg proto.Message) {
	copies, delay := a.c.cfg.Faults.decide(fm)
	st := &a.c.stats
	if copies == 0 {
		st.fwMsgsDropped.Add(1)
		return
	}
	st.fwMsgs.Add(1)
	if copies > 1 {
		st.fwMsgsDuped.Add(1)
	}
	deliver := func() {
		for i := 0; i < copies; i++ {
			a.send(to, msg)
		}
	}
	if delay > 0 {
		if d, ok := msg.(interface{ Detach() }); ok {
			d.Detach() // the received body's buffer is reused once the handler returns
		}
		st.fwMsgsDelayed.Add(1)
		a.c.after(delay, func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			deliver()
		})
		return
	}
	deliver()
}

func (a *agent) executorToFramework(from *upid.UPID, msg *libprocess.ExecutorToFrameworkMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lost {
		return
	}
	fm := FrameworkMessage{
		FrameworkID: msg.FrameworkID,
		ExecutorID:  msg.ExecutorID,
		AgentID:     a.id,
		Data:        msg.Data,
	}
	fw, ex := a.lookupExecutor(fm.FrameworkID, fm.ExecutorID)
	if ex == nil || fw.shuttingDown || !ex.pid.Equal(from) {
		a.c.stats.fwMsgsDropped.Add(1)
		return
	}
	if !a.registered {
		// As Mesos' Slave::executorMessage: only a running agent relays.
		log.Warningf("localmesos: agent %s: dropping framework message from executor %q of framework %q: not registered with a master",
			a.id, fm.ExecutorID, fm.FrameworkID)
		a.c.stats.fwMsgsDropped.Add(1)
		return
	}
	// As Mesos' agent: a new message of the same IDs and data (the data
	// not copied), naming this agent.
	out := &libprocess.ExecutorToFrameworkMessage{FrameworkFields: msg.FrameworkFields}
	out.SlaveID = a.id
	a.carry(fm, a.schedulerPID(fw), out)
}

// schedulerPID is where executor messages for fw go: straight to its
// scheduler (the pid from RunTaskMessage or UpdateFrameworkMessage), or
// through the master while the agent does not know it.
func (a *agent) schedulerPID(fw *agentFramework) *upid.UPID {
	if fw.pid == "" {
		master := a.opts.master
		return &master
	}
	if fw.parsedFrom != fw.pid {
		p, err := upid.Parse(fw.pid)
		if err != nil {
			log.Warningf("localmesos: agent %s: framework %s has a bad scheduler pid %q: %v; sending through the master", a.id, fw.id, fw.pid, err)
			master := a.opts.master
			return &master
		}
		fw.parsed, fw.parsedFrom = p, fw.pid
	}
	return fw.parsed
}

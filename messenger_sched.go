package mesosgot

import (
	"strings"
	"sync"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// The scheduler's messenger policy (see driverMessenger):
//   - control messages are accepted only from the master the driver
//     follows (the pid of its last master detection), framework messages
//     (ExecutorToFrameworkMessage) also from the agents the job launched
//     tasks on (their pids come from the master's offers), and only naming
//     the agent they come from; the driver's internal messages never from
//     the network;
//   - the master's error message is reported to the job (noteMasterError);
//   - large framework messages reach the driver with a short token in
//     place of their data, and GoTaskScheduler.FrameworkMessage takes the
//     data back from the token table. mesos-go's scheduler driver formats
//     every received framework message, data bytes included, for a log
//     line it builds even when that log level is off; with the token it
//     formats a few bytes. The driver hands messages to the scheduler in
//     the order it received them, so order is kept; a token the driver
//     drops (it is stopping) is freed when the messenger stops.

// frameworkToken starts the data of a framework message that stands for
// its real data in the token table. Link frames never start with 0xff; a
// received message that does is always replaced by a token, so a sender
// cannot forge one.
const frameworkToken = "\xffmesosgot-token:"

// tokenMinBytes is the smallest framework message data worth a token.
const tokenMinBytes = 256

// schedPolicy is the scheduler's messenger policy.
type schedPolicy struct {
	onMasterError func(string) // the master's FrameworkErrorMessage

	mu        sync.Mutex
	master    string            // pid of the master the driver follows ("" none)
	agentPids map[string]string // agent ID → pid, from the master's offers
	launched  map[string]bool   // pids of agents the job launched tasks on
	tokens    *tokenTable       // framework message data by token
}

func newSchedPolicy(onMasterError func(string)) *schedPolicy {
	return &schedPolicy{
		onMasterError: onMasterError,
		agentPids:     map[string]string{},
		launched:      map[string]bool{},
		tokens:        newAdoptedTokenTable(),
	}
}

// driverMessenger returns the messenger of the scheduler's driver and its
// policy, nil when the driver does not run on mesosgot's messenger.
func (s *GoTaskScheduler) driverMessenger() (*driverMessenger, *schedPolicy) {
	s.msgrMu.Lock()
	defer s.msgrMu.Unlock()
	if s.msgr == nil {
		return nil, nil
	}
	return s.msgr.dm, s.msgr.policy
}

// frameworkData returns the data a framework message stands for: data
// itself, or for a token the data it replaced (false if unknown).
func (s *GoTaskScheduler) frameworkData(data string) (string, bool) {
	if !strings.HasPrefix(data, frameworkToken) {
		return data, true
	}
	_, p := s.driverMessenger()
	if p == nil {
		return "", false
	}
	return p.tokens.take(data)
}

func (p *schedPolicy) accept(from *upid.UPID, name string) (bool, string) {
	if strings.HasPrefix(name, "mesos.internal.Internal") {
		return false, "a driver-internal message from the network"
	}
	pid := from.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if pid == p.master && pid != "" {
		return true, ""
	}
	if name == "mesos.internal.ExecutorToFrameworkMessage" {
		if p.launched[pid] {
			return true, ""
		}
		return false, "not from the master " + p.masterName() + " nor from an agent the job launched tasks on"
	}
	return false, "not from the master " + p.masterName()
}

func (p *schedPolicy) masterName() string {
	if p.master == "" {
		return "(none detected yet)"
	}
	return p.master
}

func (p *schedPolicy) received(from *upid.UPID, msg proto.Message) string {
	switch msg := msg.(type) {
	case *mesos.FrameworkErrorMessage:
		if p.onMasterError != nil {
			p.onMasterError(msg.GetMessage())
		}
	case *mesos.ResourceOffersMessage:
		p.mu.Lock()
		for i, o := range msg.GetOffers() {
			if i < len(msg.GetPids()) {
				p.agentPids[o.GetSlaveId().GetValue()] = msg.GetPids()[i]
			}
		}
		p.mu.Unlock()
	case *mesos.ExecutorToFrameworkMessage:
		pid := from.String()
		p.mu.Lock()
		defer p.mu.Unlock()
		if pid != p.master {
			if agent := msg.GetSlaveId().GetValue(); p.agentPids[agent] != pid {
				return "a framework message naming agent " + agent + " from another agent"
			}
		}
		p.tokens.swap(&msg.Data)
	}
	return ""
}

func (p *schedPolicy) routed(msg proto.Message) {
	switch msg := msg.(type) {
	case *mesos.InternalMasterChangeDetected:
		p.mu.Lock()
		p.master = msg.GetMaster().GetPid()
		p.mu.Unlock()
	}
}

func (p *schedPolicy) sending(to *upid.UPID, msg proto.Message) func() {
	if m, ok := msg.(*mesos.FrameworkToExecutorMessage); ok {
		return p.tokens.takeOut(&m.Data)
	}
	if l, ok := msg.(*mesos.LaunchTasksMessage); ok {
		p.mu.Lock()
		for _, t := range l.GetTasks() {
			if pid := p.agentPids[t.GetSlaveId().GetValue()]; pid != "" {
				p.launched[pid] = true
			}
		}
		p.mu.Unlock()
	}
	return nil
}

func (p *schedPolicy) stopped() { p.tokens.close() }

// sendFrame sends a link frame to c's executor through the driver. On
// mesosgot's messenger a large frame goes to the driver as a token
// (tokenTable.put), which the messenger exchanges back for the frame: the
// driver copies 20 bytes into its message instead of the frame.
func (j *schedJob) sendFrame(c *execConn, f string) error {
	send := func(data string) error {
		_, err := j.driver.SendFrameworkMessage(c.execPB, c.agentPB, data)
		return err
	}
	release := c.link.auth.framePool(f) // called once the messenger wrote f
	if _, p := j.s.driverMessenger(); p != nil {
		return p.tokens.sendFrame(f, release, send)
	}
	return send(f)
}

package mesosgot

import (
	"errors"
	"os"
	"strings"

	"github.com/gogo/protobuf/proto"
	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// execPolicy is the executor's messenger policy: it accepts messages only
// from its agent (the pid the agent gave it in MESOS_SLAVE_PID), and none
// of the driver's internal messages from the network. Large framework
// messages reach the driver as tokens (as on the scheduler's side, see
// messenger_sched.go): the executor driver copies every message's data
// into a string, a token's only.
type execPolicy struct {
	agent  string           // the agent's pid
	tokens *tokenTable      // nil: no tokens (a test)
	relink func(pid string) // drops the connection to pid; nil in some tests
}

// useExecutorMessenger makes cfg's driver run on mesosgot's messenger,
// with tokens for large framework messages from the table tokens.
func useExecutorMessenger(cfg *exec.DriverConfig, tokens *tokenTable) {
	hostname := util.GetHostname(cfg.HostnameOverride)
	bind, port, published := executorBindIP(cfg.BindingAddress), cfg.BindingPort, cfg.PublishedAddress
	cfg.NewMessenger = func() (messenger.Messenger, error) {
		agent, err := upid.Parse(os.Getenv("MESOS_SLAVE_PID"))
		if err != nil {
			return nil, errors.New("mesosgot: MESOS_SLAVE_PID is not an agent pid (is the executor run by a Mesos agent?)")
		}
		host, err := pidHost(hostname, bind, published)
		if err != nil {
			return nil, err
		}
		if tokens != nil {
			tokens.adopt() // this messenger exchanges the tokens of frames sent
		}
		p := &execPolicy{agent: agent.String(), tokens: tokens}
		m := newDriverMessenger("executor", process.New("executor").Label(), bind, port, host, p)
		p.relink = m.relink
		return m, nil
	}
}

func (p *execPolicy) accept(from *upid.UPID, name string) (bool, string) {
	if strings.HasPrefix(name, "mesos.internal.Internal") {
		return false, "a driver-internal message from the network"
	}
	if from.String() != p.agent {
		return false, "not from the executor's agent " + p.agent
	}
	return true, ""
}

func (p *execPolicy) received(from *upid.UPID, msg proto.Message) string {
	switch m := msg.(type) {
	case *mesos.FrameworkToExecutorMessage:
		if p.tokens != nil {
			p.tokens.swap(&m.Data)
		}
	case *mesos.ReconnectExecutorMessage:
		// A restarted agent: the connection to its previous run is dead
		// (and may not know it yet), so the driver's ReregisterExecutorMessage
		// must go on a new one, as Mesos' own executor library (since 1.1.2,
		// MESOS-7057) re-links on a reconnect request.
		if p.relink != nil {
			p.relink(from.String())
		}
	}
	return ""
}

func (p *execPolicy) routed(proto.Message) {}

func (p *execPolicy) sending(_ *upid.UPID, msg proto.Message) func() {
	if m, ok := msg.(*mesos.ExecutorToFrameworkMessage); ok && p.tokens != nil {
		return p.tokens.takeOut(&m.Data)
	}
	return nil
}

// sendFrame sends a link frame to the scheduler through the driver, a
// large one as a token when the driver runs on mesosgot's messenger (see
// schedJob.sendFrame).
func (exec *GoTaskExecutor) sendFrame(f string) error {
	return exec.tokens.sendFrame(f, exec.link.auth.framePool(f), func(data string) error {
		_, err := exec.driver.SendFrameworkMessage(data)
		return err
	})
}

func (p *execPolicy) stopped() {
	if p.tokens != nil {
		p.tokens.close()
	}
}

package localmesos

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/zkgroup"
)

// MasterConfig configures a master run on its own (StartMaster), to which
// agents started elsewhere with StartAgent, or the mesos-agent command,
// register.
type MasterConfig struct {
	// IP is the IPv4 address the master listens on and advertises; default
	// 127.0.0.1.
	IP string
	// Port is the master's port; 0 picks a free one (the mesos-master
	// command defaults to 5050).
	Port int
	// Credentials maps principal to secret. When non-empty, frameworks must
	// authenticate with SASL CRAM-MD5 before they may register.
	Credentials map[string]string
	// AgentPingTimeout and MaxAgentPingTimeouts: an agent that leaves
	// MaxAgentPingTimeouts pings in a row unanswered, each within
	// AgentPingTimeout, is removed; defaults 15s and 5, as in Mesos.
	AgentPingTimeout     time.Duration
	MaxAgentPingTimeouts int
	// OfferRefuseDefault, AllocationInterval and LinkCheckInterval are as in
	// Config.
	OfferRefuseDefault time.Duration
	AllocationInterval time.Duration
	LinkCheckInterval  time.Duration
	// ZK and ZKSessionTimeout are as in Config: with ZK the master contends
	// for leadership and acts only while elected (see Master.LeadershipLost).
	ZK               string
	ZKSessionTimeout time.Duration
	// ClusterSecret, when set, must be given to every agent (see
	// Config.ClusterSecret).
	ClusterSecret string
	// NoSenderCheck is as in Config.
	NoSenderCheck bool
	// Logf, when set, receives one line per agent or framework registered or
	// removed and per task state change.
	Logf func(format string, args ...any)
}

// Master is a Mesos master running on its own, without agents of its own.
type Master struct {
	c *Cluster
}

// StartMaster starts a master alone and returns once it listens. Agents
// join it over the network (StartAgent, the mesos-agent command).
func StartMaster(cfg MasterConfig) (*Master, error) {
	c, err := newCluster(Config{
		IP:                   cfg.IP,
		Port:                 cfg.Port,
		Credentials:          cfg.Credentials,
		AgentPingTimeout:     cfg.AgentPingTimeout,
		MaxAgentPingTimeouts: cfg.MaxAgentPingTimeouts,
		OfferRefuseDefault:   cfg.OfferRefuseDefault,
		AllocationInterval:   cfg.AllocationInterval,
		LinkCheckInterval:    cfg.LinkCheckInterval,
		ZK:                   cfg.ZK,
		ZKSessionTimeout:     cfg.ZKSessionTimeout,
		ClusterSecret:        cfg.ClusterSecret,
		NoSenderCheck:        cfg.NoSenderCheck,
		Logf:                 cfg.Logf,
	})
	if err != nil {
		return nil, err
	}
	c.master, err = newMaster(c)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	if err := c.startContending(); err != nil {
		_ = c.Close()
		return nil, err
	}
	c.goTracked(c.master.loop)
	close(c.started)
	c.logf("master %s listening on %s", c.master.pid, c.MasterAddr())
	return &Master{c: c}, nil
}

// Addr returns the master's "host:port", to give schedulers and agents.
func (m *Master) Addr() string { return m.c.MasterAddr() }

// PID returns the master's libprocess pid ("master@ip:port").
func (m *Master) PID() string { return m.c.MasterPID() }

// Agents returns the agents that have registered, in registration order.
func (m *Master) Agents() []AgentState { return m.c.Agents() }

// Tasks returns the master's view of every task it accepted.
func (m *Master) Tasks() []TaskState { return m.c.Tasks() }

// Frameworks returns every framework the master has known.
func (m *Master) Frameworks() []FrameworkState { return m.c.Frameworks() }

// Stats returns a snapshot of the master's counters.
func (m *Master) Stats() Stats { return m.c.Stats() }

// Close stops the master. Its agents keep running their executors and
// re-register when a master comes back at the same address.
func (m *Master) Close() error { return m.c.Close() }

// AgentConfig configures an agent run on its own (StartAgent), registering
// with a master elsewhere.
type AgentConfig struct {
	// Master is the master's "host:port", or zk://host:port[,...]/path to
	// follow the leading master of a ZooKeeper group (required).
	Master string
	// IP is the IPv4 address the agent listens on and advertises; default
	// 127.0.0.1.
	IP string
	// Port is the agent's port; 0 picks a free one (the mesos-agent command
	// defaults to 5051).
	Port int
	// Hostname is the agent's SlaveInfo.hostname, the host offers name;
	// default IP.
	Hostname string
	// Resources are the agent's resources in Mesos text form; default
	// DefaultResources.
	Resources string
	// Attributes are the agent's attributes in Mesos text form
	// ("rack:r1;level:2"); optional.
	Attributes string
	// WorkDir is the root of the executors' sandboxes; the agent also keeps
	// its ID there, so that after a restart it re-registers as the same
	// agent. The default is a temporary directory removed by Close.
	WorkDir string
	// Faults, when set, injects faults into the framework messages this
	// agent carries.
	Faults *Faults
	// ExecutorShutdownGrace, ExecutorRegistrationTimeout,
	// StatusUpdateRetry and RegistrationBackoffFactor are as in Config.
	ExecutorShutdownGrace       time.Duration
	ExecutorRegistrationTimeout time.Duration
	StatusUpdateRetry           time.Duration
	RegistrationBackoffFactor   time.Duration
	// ClusterSecret is the master's cluster secret, if it has one (see
	// Config.ClusterSecret).
	ClusterSecret string
	// NoSenderCheck is as in Config.
	NoSenderCheck bool
	// Recover says what an agent restarted on a WorkDir of its own does
	// with the executors its previous run left, as Mesos' --recover:
	// RecoverReconnect (the default) reconnects to those of frameworks that
	// set FrameworkInfo.checkpoint (the agent checkpoints their state under
	// WorkDir/meta, and their executors outlive the agent), waiting up to
	// ExecutorReregistrationTimeout for each to re-register, and then
	// re-registers with the master, resending the status updates not yet
	// acknowledged; RecoverCleanup shuts them down and StartAgent returns
	// once they have exited, without registering. Executors of frameworks
	// that do not checkpoint die with the agent, and the master reports
	// their tasks TASK_LOST when the agent re-registers without them.
	Recover string
	// RecoveryTimeout is given to executors of checkpointing frameworks as
	// MESOS_RECOVERY_TIMEOUT: how long they wait for a restarted agent
	// before shutting down (Mesos' --recovery_timeout); default 15 minutes.
	RecoveryTimeout time.Duration
	// ExecutorReregistrationTimeout is how long a recovered executor has to
	// re-register after ReconnectExecutorMessage before the agent kills it
	// and reports its tasks TASK_LOST with
	// REASON_EXECUTOR_REREGISTRATION_TIMEOUT (Mesos'
	// --executor_reregistration_timeout); default 2s, at most 15 minutes.
	ExecutorReregistrationTimeout time.Duration
	// NonStrictRecovery recovers what it can from a damaged checkpoint,
	// logging the rest, instead of failing StartAgent (Mesos'
	// --strict=false).
	NonStrictRecovery bool
	// Logf, when set, receives one line per registration, task state change
	// and executor exit.
	Logf func(format string, args ...any)
}

// Agent is a Mesos agent running on its own.
type Agent struct {
	c *Cluster
	a *agent
}

// StartAgent starts an agent and returns once it listens; it registers
// with cfg.Master in the background, retrying with back-off until the
// master answers (WaitRegistered waits for that).
func StartAgent(cfg AgentConfig) (*Agent, error) {
	var masterPID upid.UPID
	if !isZK(cfg.Master) { // with zk://... the agent follows the group's leader
		var err error
		if masterPID, err = resolveMaster(cfg.Master); err != nil {
			return nil, err
		}
	} else if _, _, err := zkgroup.ParseURL(cfg.Master); err != nil {
		return nil, fmt.Errorf("localmesos: -master: %w", err)
	}
	attrs, err := ParseAttributes(cfg.Attributes)
	if err != nil {
		return nil, fmt.Errorf("localmesos: attributes: %w", err)
	}
	rec, err := recoveryOptsOf(cfg)
	if err != nil {
		return nil, err
	}
	c, err := newCluster(Config{
		IP:                          cfg.IP,
		Resources:                   cfg.Resources,
		WorkDir:                     cfg.WorkDir,
		Faults:                      cfg.Faults,
		ExecutorShutdownGrace:       cfg.ExecutorShutdownGrace,
		ExecutorRegistrationTimeout: cfg.ExecutorRegistrationTimeout,
		StatusUpdateRetry:           cfg.StatusUpdateRetry,
		RegistrationBackoffFactor:   cfg.RegistrationBackoffFactor,
		ZK:                          zkOf(cfg.Master),
		ClusterSecret:               cfg.ClusterSecret,
		NoSenderCheck:               cfg.NoSenderCheck,
		Logf:                        cfg.Logf,
	})
	if err != nil {
		return nil, err
	}
	opts := agentOpts{master: masterPID, port: cfg.Port, hostname: cfg.Hostname, attributes: attrs, recovery: rec}
	if !c.ownWorkDir {
		opts.idFile = agentIDFile(c.workDir)
	}
	a, err := newAgent(c, 1, opts)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	c.agents = []*agent{a}
	close(c.started)
	exited, err := a.recover() // agent_recover.go
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	if rec.mode == RecoverCleanup {
		waitExited(exited, c.cfg.ExecutorShutdownGrace+10*time.Second)
		c.logf("agent %s: cleanup done: %d executor(s) of the previous run shut down", a.pid, len(exited))
		return &Agent{c: c, a: a}, nil
	}
	if isZK(cfg.Master) {
		if err := c.followLeader(a); err != nil {
			_ = c.Close()
			return nil, err
		}
		c.logf("agent %s listening, following the leading master at %s; work dir %s", a.pid, cfg.Master, c.workDir)
		return &Agent{c: c, a: a}, nil
	}
	c.logf("agent %s listening, registering with master %s; work dir %s", a.pid, masterPID, c.workDir)
	a.startRegistration()
	return &Agent{c: c, a: a}, nil
}

// resolveMaster turns "host:port" into the master's pid, master@ip:port,
// which is who the agent accepts master messages from.
func resolveMaster(addr string) (upid.UPID, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return upid.UPID{}, fmt.Errorf("localmesos: master %q: want host:port: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return upid.UPID{}, fmt.Errorf("localmesos: master %q: bad port", addr)
	}
	ip := net.ParseIP(host).To4()
	if ip == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", host)
		if err != nil || len(ips) == 0 {
			return upid.UPID{}, fmt.Errorf("localmesos: master %q: no IPv4 address: %v", addr, err)
		}
		ip = ips[0].To4()
	}
	return upid.UPID{ID: "master", Host: ip.String(), Port: port}, nil
}

// PID returns the agent's libprocess pid ("slave(1)@ip:port").
func (a *Agent) PID() string { return a.a.pid.String() }

// ID returns the agent ID the master gave it; "" before it first
// registered.
func (a *Agent) ID() string {
	a.a.mu.Lock()
	defer a.a.mu.Unlock()
	return a.a.id
}

// Registered reports whether the agent is registered with the master now.
func (a *Agent) Registered() bool {
	a.a.mu.Lock()
	defer a.a.mu.Unlock()
	return a.a.registered
}

// WaitRegistered waits until the agent has registered for the first time.
func (a *Agent) WaitRegistered(ctx context.Context) error {
	select {
	case <-a.a.everReg:
		return nil
	case <-ctx.Done():
		a.a.mu.Lock()
		master := a.a.opts.master
		a.a.mu.Unlock()
		return fmt.Errorf("localmesos: agent %s not registered with master %s: %w", a.a.pid, master, ctx.Err())
	}
}

// SetMaster points the agent at the master at addr ("host:port"), as a
// Mesos agent does when its master detector names a new leader: it stops
// listening to the old master and registers with the new one (re-registers,
// with the tasks and executors it runs, if it already has an ID).
func (a *Agent) SetMaster(addr string) error {
	pid, err := resolveMaster(addr)
	if err != nil {
		return err
	}
	a.a.mu.Lock()
	defer a.a.mu.Unlock()
	if a.a.lost {
		return fmt.Errorf("localmesos: agent %s is lost", a.a.pid)
	}
	a.a.opts.master = pid
	a.a.registered = false
	if a.a.stopPing != nil {
		a.a.stopPing()
	}
	a.a.pingGen++
	a.c.logf("agent %s: new master %s", a.a.pid, pid)
	a.a.registerLocked(a.c.cfg.RegistrationBackoffFactor)
	return nil
}

// Executors returns the executors the agent runs or starts.
func (a *Agent) Executors() []ExecutorState { return a.a.executorStates() }

// WorkDir returns the root directory of the agent's sandboxes.
func (a *Agent) WorkDir() string { return a.c.workDir }

// Stats returns a snapshot of the agent's counters.
func (a *Agent) Stats() Stats { return a.c.Stats() }

// Close unregisters the agent from the master (whose frameworks then see
// its tasks TASK_LOST at once rather than after the health checks time
// out), shuts its executors down (ShutdownExecutorMessage, then SIGKILL
// after ExecutorShutdownGrace) and stops it. It removes only a work
// directory it created itself.
func (a *Agent) Close() error {
	a.a.mu.Lock()
	id, lost, master := a.a.id, a.a.lost, a.a.opts.master
	a.a.mu.Unlock()
	if id != "" && !lost { // as Mesos' Slave::shutdown: whenever it has an ID
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := a.a.proc.SendNow(ctx, &master, &mesos.UnregisterSlaveMessage{SlaveId: &mesos.SlaveID{Value: proto.String(id)}})
		cancel()
		if err != nil {
			a.c.logf("agent %s: could not unregister from the master: %v", id, err)
		}
	}
	return a.c.Close()
}

// ParseAttributes parses agent attributes in the Mesos text form of the
// agent's --attributes flag: "name:value" items separated by ';', where a
// value is a scalar ("level:2"), ranges ("ports:[1-5]"), a set
// ("zones:{a,b}") or text ("rack:r1").
func ParseAttributes(text string) ([]*mesos.Attribute, error) {
	var out []*mesos.Attribute
	for _, item := range strings.Split(text, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("attribute %q: want name:value", item)
		}
		attr := &mesos.Attribute{Name: proto.String(name)}
		if strings.HasPrefix(value, "[") || strings.HasPrefix(value, "{") {
			res, err := ParseResources(name + ":" + value)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", item, err)
			}
			r := res[0]
			attr.Type, attr.Ranges, attr.Set = r.Type, r.Ranges, r.Set
		} else if f, err := strconv.ParseFloat(value, 64); err == nil {
			attr.Type = mesos.Value_SCALAR.Enum()
			attr.Scalar = &mesos.Value_Scalar{Value: proto.Float64(f)}
		} else {
			attr.Type = mesos.Value_TEXT.Enum()
			attr.Text = &mesos.Value_Text{Value: proto.String(value)}
		}
		out = append(out, attr)
	}
	return out, nil
}

package localmesos

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// Version is the Mesos version the cluster reports in MasterInfo and /state.
const Version = "1.0.0"

// Config configures a local cluster. The zero value is a usable
// one-agent cluster on 127.0.0.1 with a free port.
type Config struct {
	// Agents is the number of agents; default 1.
	Agents int
	// Resources are every agent's resources in Mesos text form; default
	// DefaultResources.
	Resources string
	// WorkDir is the root of the executors' sandboxes. The default is a
	// temporary directory removed by Close; a directory given here is kept.
	WorkDir string
	// FetcherCacheDir is the agents' fetcher cache directory (Mesos'
	// --fetcher_cache_dir), cleared at Start; default WorkDir/fetch. URIs
	// with cache=true are downloaded there once per user and copied into
	// each sandbox. The agents of one Cluster, all on this host, share it
	// (each Mesos agent has its own).
	FetcherCacheDir string
	// FetcherCacheSize is the fetcher cache's capacity in bytes (Mesos'
	// --fetcher_cache_size); default DefaultFetcherCacheSize.
	FetcherCacheSize int64
	// IP is the address every process listens on; default 127.0.0.1. It
	// must be an IPv4 address (libprocess speaks IPv4).
	IP string
	// Port is the master's port (the address given to schedulers as
	// -master); 0 picks a free port.
	Port int
	// Credentials maps principal to secret. When non-empty, frameworks must
	// authenticate with SASL CRAM-MD5 before they may register.
	Credentials map[string]string
	// Faults, when set, injects faults into framework messages.
	Faults *Faults
	// ExecutorShutdownGrace is how long an executor may take to exit after
	// ShutdownExecutorMessage before its process group is killed, unless
	// its ExecutorInfo.shutdown_grace_period says otherwise (see
	// SetShutdownGracePeriod); default 5s (Mesos'
	// --executor_shutdown_grace_period).
	ExecutorShutdownGrace time.Duration
	// ExecutorRegistrationTimeout is how long a started executor has to
	// register before it is killed; default 1 minute (as in Mesos).
	ExecutorRegistrationTimeout time.Duration
	// OfferRefuseDefault is the refuse_seconds applied when a scheduler
	// declines or leaves resources unused without setting
	// Filters.refuse_seconds; default 5s (as in Mesos).
	OfferRefuseDefault time.Duration
	// AllocationInterval is the period of the master's allocation pass
	// (offers are also made at once on every event that frees resources);
	// default 1s.
	AllocationInterval time.Duration
	// StatusUpdateRetry is the first retry interval of unacknowledged status
	// updates, doubling up to 10 minutes; default 10s (as in Mesos).
	StatusUpdateRetry time.Duration
	// ExecutorEnvironment, when set, is the environment executors start
	// with instead of only PATH (Mesos' --executor_environment_variables);
	// the MESOS_* variables and CommandInfo.environment are added to it.
	ExecutorEnvironment map[string]string
	// NoSwitchUser runs executors as the agent's own user (Mesos'
	// --switch_user=false). By default an agent running as root runs each
	// executor as CommandInfo.user or else FrameworkInfo.user, and fails
	// the tasks of a user the machine does not have.
	NoSwitchUser bool
	// LinkCheckInterval is how often the master checks that connected
	// schedulers still listen; a scheduler that does not is disconnected and
	// removed after its failover_timeout; default 1s.
	LinkCheckInterval time.Duration
	// AgentPingTimeout is how long the master waits for an agent's answer
	// to each health-check ping (Mesos' --agent_ping_timeout); default 15s.
	AgentPingTimeout time.Duration
	// MaxAgentPingTimeouts is how many pings in a row an agent may leave
	// unanswered before the master removes it, reporting its tasks
	// TASK_LOST with REASON_SLAVE_REMOVED (Mesos'
	// --max_agent_ping_timeouts); default 5. An agent that hears no ping for
	// AgentPingTimeout × MaxAgentPingTimeouts registers again.
	MaxAgentPingTimeouts int
	// NoSenderCheck accepts messages whose sender pid names another host
	// than the one the connection comes from (peers behind NAT that
	// advertise an address of their own). By default they are refused,
	// with a log line, so that no host can send in another's name.
	NoSenderCheck bool
	// ClusterSecret is shared by the master and its agents: the messages
	// only the master may send an agent (registration replies, pings, task
	// launches and kills, framework shutdowns, acknowledgements) and those
	// only an agent may send the master (registration, pongs, status
	// updates, executor exits) carry it and are refused without it, so that
	// no other process can pose as either. Start picks a random one when
	// empty; StartMaster and StartAgent use none unless given one.
	ClusterSecret string
	// RegistrationBackoffFactor is the first back-off between an agent's
	// registration attempts; it doubles up to one minute, each wait drawn
	// at random below it (Mesos' --registration_backoff_factor); default
	// 1s. The first attempt is made at once.
	RegistrationBackoffFactor time.Duration
	// ZK, when set (zk://host:port[,host:port]/path), makes the master
	// contend for leadership in that ZooKeeper group as Mesos' --zk does:
	// until elected it drops every message, and the agents register with
	// whichever master of the group leads (Start does not wait for them).
	ZK string
	// ZKSessionTimeout is the ZooKeeper session timeout (Mesos'
	// --zk_session_timeout); default 10s.
	ZKSessionTimeout time.Duration
	// Logf, when set, receives one line per framework registered or removed,
	// task state change and executor exit.
	Logf func(format string, args ...any)
}

// Cluster is a running local Mesos: a master and its agents, each a
// libprocess process served by mesos-go's HTTP messenger on IP.
type Cluster struct {
	cfg        Config
	runID      string
	workDir    string
	ownWorkDir bool
	resources  []*mesos.Resource
	ip         net.IP

	master *master
	agents []*agent

	started chan struct{} // closed when Start has finished

	stats counters

	fetcher *fetcher // fetcher.go

	ctx    context.Context // cancelled by Close (fetches)
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
}

// Start starts a master and cfg.Agents agents in this process and returns
// once every agent has registered with the master. The agents register,
// are health-checked and report over the wire (loopback by default) exactly
// as separate mesos-agent processes would.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Agents <= 0 {
		cfg.Agents = 1
	}
	if cfg.ClusterSecret == "" {
		cfg.ClusterSecret = NewClusterSecret()
	}
	c, err := newCluster(cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Cluster, error) {
		_ = c.Close()
		return nil, err
	}
	c.master, err = newMaster(c)
	if err != nil {
		return fail(err)
	}
	if err := c.startContending(); err != nil {
		return fail(err)
	}
	c.goTracked(c.master.loop)
	close(c.started)
	for i := 1; i <= c.cfg.Agents; i++ {
		a, err := newAgent(c, i, agentOpts{master: c.master.pid})
		if err != nil {
			return fail(err)
		}
		c.agents = append(c.agents, a)
		// One at a time, so that agent IDs follow start order.
		if c.cfg.ZK != "" {
			// the agents follow whichever master leads the group
			if err := c.followLeader(a); err != nil {
				return fail(err)
			}
			continue
		}
		a.startRegistration()
		select {
		case <-a.everReg:
		case <-time.After(agentStartTimeout):
			return fail(fmt.Errorf("localmesos: agent %d did not register with the master within %v", i, agentStartTimeout))
		}
	}
	c.logf("master %s listening on %s, %d agent(s), work dir %s", c.master.pid, c.MasterAddr(), len(c.agents), c.workDir)
	return c, nil
}

// agentStartTimeout bounds how long Start waits for each agent to register.
const agentStartTimeout = 10 * time.Second

// newCluster applies cfg's defaults and prepares what the master and agents
// share: configuration, counters, work directory and shutdown signal.
func newCluster(cfg Config) (*Cluster, error) {
	if cfg.Resources == "" {
		cfg.Resources = DefaultResources
	}
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.ExecutorShutdownGrace <= 0 {
		cfg.ExecutorShutdownGrace = 5 * time.Second
	}
	if cfg.ExecutorRegistrationTimeout <= 0 {
		cfg.ExecutorRegistrationTimeout = time.Minute
	}
	if cfg.OfferRefuseDefault <= 0 {
		cfg.OfferRefuseDefault = 5 * time.Second
	}
	if cfg.AllocationInterval <= 0 {
		cfg.AllocationInterval = time.Second
	}
	if cfg.StatusUpdateRetry <= 0 {
		cfg.StatusUpdateRetry = 10 * time.Second
	}
	if cfg.LinkCheckInterval <= 0 {
		cfg.LinkCheckInterval = time.Second
	}
	if cfg.AgentPingTimeout <= 0 {
		cfg.AgentPingTimeout = defaultAgentPingTimeout
	}
	if cfg.MaxAgentPingTimeouts <= 0 {
		cfg.MaxAgentPingTimeouts = defaultMaxPingTimeouts
	}
	if cfg.RegistrationBackoffFactor <= 0 {
		cfg.RegistrationBackoffFactor = defaultRegistrationBack
	}
	ip := net.ParseIP(cfg.IP).To4()
	if ip == nil {
		return nil, fmt.Errorf("localmesos: IP %q is not an IPv4 address", cfg.IP)
	}
	if ip.IsUnspecified() {
		return nil, fmt.Errorf("localmesos: IP %s cannot be advertised to peers: give the address other hosts reach this one at", cfg.IP)
	}
	cfg.IP = ip.String()
	res, err := ParseResources(cfg.Resources)
	if err != nil {
		return nil, fmt.Errorf("localmesos: resources: %w", err)
	}

	c := &Cluster{
		cfg:       cfg,
		runID:     newRunID(),
		resources: res,
		ip:        ip,
		closing:   make(chan struct{}),
		started:   make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if cfg.WorkDir == "" {
		dir, err := TempWorkDir() // stale.go
		if err == nil {
			// Executors run as other users must reach their sandboxes.
			err = os.Chmod(dir, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("localmesos: work dir: %w", err)
		}
		c.workDir, c.ownWorkDir = dir, true
	} else {
		if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
			return nil, fmt.Errorf("localmesos: work dir: %w", err)
		}
		c.workDir = cfg.WorkDir
	}
	cacheDir := cfg.FetcherCacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(c.workDir, "fetch")
	}
	f, err := newFetcher(cacheDir, cfg.FetcherCacheSize)
	if err != nil {
		if c.ownWorkDir {
			_ = os.RemoveAll(c.workDir)
		}
		return nil, err
	}
	c.fetcher = f
	return c, nil
}

// MasterAddr returns the master's "host:port", to give schedulers as their
// master (mesos-go's DriverConfig.Master). Besides libprocess messages it
// serves GET /state, whose "leader" field mesos-go's standalone master
// detector reads.
func (c *Cluster) MasterAddr() string {
	return net.JoinHostPort(c.master.pid.Host, c.master.pid.Port)
}

// MasterPID returns the master's libprocess pid ("master@ip:port").
func (c *Cluster) MasterPID() string {
	return c.master.pid.String()
}

// WorkDir returns the root directory of the executors' sandboxes.
func (c *Cluster) WorkDir() string { return c.workDir }

// Close shuts every framework's executors down (ShutdownExecutorMessage,
// then SIGKILL of the process group after ExecutorShutdownGrace), stops the
// master and agents, waits for the cluster's goroutines and removes the work
// directory if Start created it. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closing)
	c.mu.Unlock()
	c.cancel()

	var exited []<-chan struct{}
	for _, a := range c.agents {
		exited = append(exited, a.shutdownAll()...)
	}
	grace := time.NewTimer(c.cfg.ExecutorShutdownGrace)
	for _, ch := range exited {
		select {
		case <-ch:
		case <-grace.C:
		}
	}
	grace.Stop()
	for _, a := range c.agents {
		a.killAll()
	}
	for _, ch := range exited {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			log.Errorf("localmesos: an executor did not exit after SIGKILL")
		}
	}

	var errs []error
	if c.master != nil {
		c.master.stopContending()
		c.master.proc.Stop()
	}
	for _, a := range c.agents {
		a.proc.Stop()
	}
	c.wg.Wait()
	if c.ownWorkDir {
		if err := os.RemoveAll(c.workDir); err != nil {
			errs = append(errs, fmt.Errorf("localmesos: remove work dir: %w", err))
		}
	}
	return errors.Join(errs...)
}

// KillExecutor sends SIGKILL to the process group of the executor
// executorID of framework frameworkID (a test fault: the agent then reports
// its tasks failed and the executor exited).
func (c *Cluster) KillExecutor(frameworkID, executorID string) error {
	for _, a := range c.agents {
		if a.killExecutor(frameworkID, executorID) {
			return nil
		}
	}
	return fmt.Errorf("localmesos: no running executor %q of framework %q", executorID, frameworkID)
}

// LoseAgent makes agent agentID crash: its executors are killed without
// reports and it stops answering. The master notices as Mesos' does, when
// MaxAgentPingTimeouts pings in a row have gone unanswered (by default
// 5 × 15 s), and then reports the agent's tasks TASK_LOST with
// REASON_SLAVE_REMOVED, rescinds its offers and sends LostSlaveMessage to
// every framework. RemoveAgentNow skips the wait.
func (c *Cluster) LoseAgent(agentID string) error {
	a := c.agent(agentID)
	if a == nil {
		return fmt.Errorf("localmesos: no agent %q", agentID)
	}
	if !a.lose() {
		return fmt.Errorf("localmesos: agent %q already lost", agentID)
	}
	return nil
}

// RemoveAgentNow is LoseAgent followed at once by the master's removal of
// the agent, without waiting for the health checks to time out.
func (c *Cluster) RemoveAgentNow(agentID string) error {
	if err := c.LoseAgent(agentID); err != nil {
		return err
	}
	c.master.removeAgent(agentID)
	return nil
}

// PartitionAgent cuts agent agentID off the network: every message between
// it and the master or schedulers is dropped, while its executors keep
// running and talking to it. Unless HealAgent is called first, the master
// removes it after MaxAgentPingTimeouts unanswered pings.
func (c *Cluster) PartitionAgent(agentID string) error {
	a := c.agent(agentID)
	if a == nil {
		return fmt.Errorf("localmesos: no agent %q", agentID)
	}
	a.cut.Store(true)
	c.logf("agent %s partitioned", agentID)
	return nil
}

// HealAgent ends PartitionAgent: the agent answers pings again and, if the
// master removed it meanwhile or it stopped hearing pings, re-registers
// with the tasks and executors it still runs.
func (c *Cluster) HealAgent(agentID string) error {
	a := c.agent(agentID)
	if a == nil {
		return fmt.Errorf("localmesos: no agent %q", agentID)
	}
	a.cut.Store(false)
	c.logf("agent %s healed", agentID)
	return nil
}

func (c *Cluster) agent(agentID string) *agent {
	for _, a := range c.agents {
		a.mu.Lock()
		id := a.id
		a.mu.Unlock()
		if id == agentID {
			return a
		}
	}
	return nil
}

// goTracked runs f in a goroutine Close waits for; it does nothing once
// Close has begun.
func (c *Cluster) goTracked(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// after runs f after d unless Close begins first or the returned stop is
// called.
func (c *Cluster) after(d time.Duration, f func()) (stop func()) {
	stopCh := make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { close(stopCh) }) }
	c.goTracked(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			f()
		case <-stopCh:
		case <-c.closing:
		}
	})
	return stop
}

func (c *Cluster) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

func (c *Cluster) logf(format string, args ...any) {
	log.InfoDepth(1, fmt.Sprintf(format, args...))
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// newRunID returns a random UUID-shaped identifier, like a Mesos master ID.
func newRunID() string {
	b := newUUID()
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newUUID returns 16 random bytes (a version 4 UUID).
func newUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// handle installs a typed handler for message type PT on m.
func handle[T any, PT interface {
	*T
	proto.Message
}](m messenger.Messenger, h func(*upid.UPID, PT)) error {
	return m.Install(func(from *upid.UPID, pb proto.Message) {
		if msg, ok := pb.(PT); ok && from != nil {
			h(from, msg)
		}
	}, PT(new(T)))
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR:
		return true
	}
	return false
}

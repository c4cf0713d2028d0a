package localmesos

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// agent is a Mesos agent process ("slave(N)@ip:port"): it registers with
// the master over the wire, answers its pings, runs executors as child
// processes and relays status updates and framework messages.
//
// Its mutable state is guarded by mu; send and toMaster are called with mu
// held.
type agent struct {
	c    *Cluster
	n    int // the N of slave(N)
	proc *libprocess.Process
	pid  upid.UPID
	opts agentOpts

	mu                sync.Mutex
	id                string           // given by the master at registration; "" before
	info              *mesos.SlaveInfo // Id set once registered
	lost              bool             // crashed (LoseAgent): every message in and out is dropped
	registered        bool             // (re-)registered with the master and not since disconnected
	everReg           chan struct{}    // closed at the first registration
	stopPing          func()           // stops the pending ping timeout
	pingGen           int              // which ping timeout is current
	masterPingTimeout time.Duration    // re-register after this long without a ping
	stopReg           func()           // stops the pending registration retry
	frameworks        map[string]*agentFramework
	streams           map[string]*updateStream // by framework ID + "/" + task ID
	runs              int
	recovering        bool   // recovering after a restart: registration waits
	stopRecovery      func() // stops the executor re-registration timeout

	cut atomic.Bool // partitioned (PartitionAgent): only executor traffic passes
}

// agentOpts is what an agent is told besides the cluster configuration.
type agentOpts struct {
	master     upid.UPID // the master's pid
	port       int       // 0 = any free port
	hostname   string    // SlaveInfo.hostname; default the IP
	attributes []*mesos.Attribute
	idFile     string // where the agent ID is kept across restarts; "" = nowhere (and nothing is checkpointed)
	recovery   recoveryOpts
}

type agentFramework struct {
	id           string
	info         *mesos.FrameworkInfo
	pid          string // the scheduler's pid, from RunTaskMessage and UpdateFrameworkMessage
	executors    map[string]*executor
	shuttingDown bool

	parsedFrom string // pid that parsed was parsed from
	parsed     *upid.UPID
}

type execState int

const (
	execLaunching   execState = iota // sandbox, fetch, start
	execStarted                      // process running, not registered
	execRegistered                   // registered (command executors: running)
	execTerminating                  // shutdown or kill requested
	execTerminated
)

type executor struct {
	fwID    string
	id      string
	info    *mesos.ExecutorInfo
	command bool // a command task the agent runs itself (no executor driver)
	dir     string
	state   execState
	pid     *upid.UPID // the executor driver, once registered
	queued  []*mesos.RunTaskMessage
	tasks   map[string]*agentTask
	osPid   int // also the process group ID
	exited  chan struct{}
	killed  bool         // shutdown/kill requested: tasks end TASK_KILLED
	pending *termination // how its tasks end when the agent ends it (Mesos' pendingTermination)
	stopReg func()

	recovered bool            // recovered after an agent restart (agent_recover.go)
	seen      map[string]bool // recovered: UUIDs of the updates checkpointed before the restart
}

type agentTask struct {
	info  *mesos.TaskInfo
	state mesos.TaskState
}

// updateStream holds a task's unacknowledged status updates; only the head
// is in flight, retried with back-off until the scheduler acknowledges it.
type updateStream struct {
	pending   []*mesos.StatusUpdate
	backoff   time.Duration
	stopRetry func()
	ckptPath  string // the checkpointed stream (task.updates), if any
}

// newAgent starts agent process slave(n); it registers once
// startRegistration is called.
func newAgent(c *Cluster, n int, opts agentOpts) (*agent, error) {
	a := &agent{
		c:          c,
		n:          n,
		opts:       opts,
		everReg:    make(chan struct{}),
		frameworks: map[string]*agentFramework{},
		streams:    map[string]*updateStream{},
	}
	// Handlers run as soon as the process listens: they wait for the
	// fields below.
	a.mu.Lock()
	defer a.mu.Unlock()
	proc, err := libprocess.New(fmt.Sprintf("slave(%d)", n), c.ip, opts.port, nil, func(ms messenger.Messenger) error {
		for _, err := range []error{
			handle(ms, guard(a, a.runTask)),
			handle(ms, guard(a, a.killTask)),
			handle(ms, guard(a, a.shutdownFramework)),
			handle(ms, guard(a, a.updateFramework)),
			handle(ms, guard(a, a.statusUpdateAck)),
			handle(ms, guard(a, a.frameworkToExecutor)),
			handle(ms, guard(a, a.registerExecutor)),
			handle(ms, guard(a, a.reregisterExecutor)),
			handle(ms, guard(a, a.statusUpdate)),
			handle(ms, guard(a, a.executorToFramework)),
			handle(ms, guard(a, a.slaveRegistered)),
			handle(ms, guard(a, a.slaveReregistered)),
			handle(ms, guard(a, a.ping)),
			handle(ms, guard(a, a.shutdownAgent)),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}, agentSecret(c.cfg.ClusterSecret), libprocess.WithCheckFrom(!c.cfg.NoSenderCheck))
	if err != nil {
		return nil, err
	}
	a.proc = proc
	a.pid = proc.PID()
	port, _ := strconv.Atoi(a.pid.Port)
	host := opts.hostname
	if host == "" {
		host = c.cfg.IP
	}
	a.info = &mesos.SlaveInfo{
		Hostname:   proto.String(host),
		Port:       proto.Int32(int32(port)),
		Resources:  c.resources,
		Attributes: opts.attributes,
	}
	a.id = readAgentID(opts.idFile)
	if a.id != "" {
		a.info.Id = a.slaveID()
	}
	return a, nil
}

func (a *agent) slaveID() *mesos.SlaveID { return &mesos.SlaveID{Value: proto.String(a.id)} }

// send sends msg unless the agent is lost, or partitioned and to is not
// one of its executors. Called with a.mu held.
func (a *agent) send(to *upid.UPID, msg proto.Message) {
	if a.lost || (a.cut.Load() && !a.isExecutorLocked(to)) {
		return
	}
	a.proc.Send(to, msg)
}

func (a *agent) toMaster(msg proto.Message) {
	if !a.c.isClosing() {
		a.send(&a.opts.master, msg)
	}
}

func (a *agent) fromMaster(from *upid.UPID) bool { return from.Equal(&a.opts.master) }

// guard wraps a message handler: a partitioned agent only hears its
// executors.
func guard[M any](a *agent, h func(*upid.UPID, M)) func(*upid.UPID, M) {
	return func(from *upid.UPID, msg M) {
		if a.cut.Load() {
			a.mu.Lock()
			ok := a.isExecutorLocked(from)
			a.mu.Unlock()
			if !ok {
				return
			}
		}
		h(from, msg)
	}
}

// isExecutorLocked reports whether pid is one of the agent's registered
// executors.
func (a *agent) isExecutorLocked(pid *upid.UPID) bool {
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.pid != nil && ex.pid.Equal(pid) {
				return true
			}
		}
	}
	return false
}

// shutdownAll shuts every framework down (Close) and returns channels
// closed as each executor exits.
func (a *agent) shutdownAll() []<-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	var exited []<-chan struct{}
	for fid := range a.frameworks {
		exited = append(exited, a.shutdownFrameworkLocked(fid)...)
	}
	return exited
}

// killAll SIGKILLs every executor's process group.
func (a *agent) killAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			ex.killed = true
			if ex.state == execLaunching {
				ex.state = execTerminating
			}
			signalGroup(ex.osPid, syscall.SIGKILL)
		}
	}
}

// lose makes the agent vanish: executors are killed without reports and
// the messenger stops.
func (a *agent) lose() bool {
	a.mu.Lock()
	if a.lost {
		a.mu.Unlock()
		return false
	}
	a.lost = true
	a.stopTimersLocked()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.state == execLaunching {
				ex.state = execTerminating
			}
			signalGroup(ex.osPid, syscall.SIGKILL)
		}
	}
	for _, s := range a.streams {
		if s.stopRetry != nil {
			s.stopRetry()
		}
	}
	a.streams = map[string]*updateStream{}
	a.mu.Unlock()
	a.proc.Stop()
	return true
}

func (a *agent) executorStates() []ExecutorState {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []ExecutorState
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			out = append(out, ExecutorState{
				FrameworkID: ex.fwID,
				ExecutorID:  ex.id,
				AgentID:     a.id,
				Directory:   ex.dir,
				Pid:         ex.osPid,
				Registered:  ex.state == execRegistered,
			})
		}
	}
	return out
}

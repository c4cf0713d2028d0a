package localmesos

import (
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// agent is a Mesos agent process ("slave(N)@ip:port"): it runs executors as
// child processes and relays status updates and framework messages.
type agent struct {
	c    *Cluster
	id   string
	proc *libprocess.Process
	pid  upid.UPID
	info *mesos.SlaveInfo

	mu         sync.Mutex
	lost       bool
	frameworks map[string]*agentFramework
	streams    map[string]*updateStream // by framework ID + "/" + task ID
	runs       int
}

type agentFramework struct {
	id           string
	info         *mesos.FrameworkInfo
	pid          string
	executors    map[string]*executor
	shuttingDown bool
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
	killed  bool   // shutdown/kill requested: tasks end TASK_KILLED
	failure string // why the agent killed it
	stopReg func()
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
}

func newAgent(c *Cluster, n int) (*agent, error) {
	a := &agent{
		c:          c,
		id:         fmt.Sprintf("%s-S%d", c.runID, n-1),
		frameworks: map[string]*agentFramework{},
		streams:    map[string]*updateStream{},
	}
	proc, err := libprocess.New(fmt.Sprintf("slave(%d)", n), c.ip, 0, nil, func(ms messenger.Messenger) error {
		for _, err := range []error{
			handle(ms, a.runTask),
			handle(ms, a.killTask),
			handle(ms, a.shutdownFramework),
			handle(ms, a.updateFramework),
			handle(ms, a.statusUpdateAck),
			handle(ms, a.frameworkToExecutor),
			handle(ms, a.registerExecutor),
			handle(ms, a.reregisterExecutor),
			handle(ms, a.statusUpdate),
			handle(ms, a.executorToFramework),
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
	a.proc = proc
	a.pid = proc.PID()
	port, _ := strconv.Atoi(a.pid.Port)
	a.info = &mesos.SlaveInfo{
		Hostname:  proto.String(c.cfg.IP),
		Port:      proto.Int32(int32(port)),
		Resources: c.resources,
		Id:        a.slaveID(),
	}
	return a, nil
}

func (a *agent) slaveID() *mesos.SlaveID { return &mesos.SlaveID{Value: proto.String(a.id)} }

func (a *agent) send(to *upid.UPID, msg proto.Message) {
	if !a.lost {
		a.proc.Send(to, msg)
	}
}

func (a *agent) toMaster(msg proto.Message) {
	if !a.c.isClosing() {
		a.send(&a.c.master.pid, msg)
	}
}

func (a *agent) fromMaster(from *upid.UPID) bool { return from.Equal(&a.c.master.pid) }

// ---------------------------------------------------------------------------
// From the master

// ---------------------------------------------------------------------------
// From executors

// ---------------------------------------------------------------------------
// Status update streams

// ---------------------------------------------------------------------------
// Executor processes

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

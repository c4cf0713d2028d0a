package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/libprocess"
	"github.com/mesosgot/mesosgot/internal/proctest"
)

const wait = 30 * time.Second

// recorder is a mesos-go scheduler that hands its callbacks to the test.
type recorder struct {
	offers   chan *mesos.Offer
	statuses chan *mesos.TaskStatus
	lost     chan string
}

func (r *recorder) Registered(sched.SchedulerDriver, *mesos.FrameworkID, *mesos.MasterInfo) {}
func (r *recorder) Reregistered(sched.SchedulerDriver, *mesos.MasterInfo)                   {}
func (r *recorder) Disconnected(sched.SchedulerDriver)                                      {}
func (r *recorder) ResourceOffers(_ sched.SchedulerDriver, os []*mesos.Offer) {
	for _, o := range os {
		r.offers <- o
	}
}
func (r *recorder) OfferRescinded(sched.SchedulerDriver, *mesos.OfferID)      {}
func (r *recorder) StatusUpdate(_ sched.SchedulerDriver, s *mesos.TaskStatus) { r.statuses <- s }
func (r *recorder) FrameworkMessage(sched.SchedulerDriver, *mesos.ExecutorID, *mesos.SlaveID, string) {
}
func (r *recorder) SlaveLost(_ sched.SchedulerDriver, id *mesos.SlaveID)                       { r.lost <- id.GetValue() }
func (r *recorder) ExecutorLost(sched.SchedulerDriver, *mesos.ExecutorID, *mesos.SlaveID, int) {}
func (r *recorder) Error(sched.SchedulerDriver, string)                                        {}

func recv[T any](t *testing.T, ch <-chan T, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return v
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// The commands run as separate processes: agents register with the master
// over the wire, run tasks, are removed when they stop answering pings,
// re-register when they answer again and unregister on SIGTERM; both exit
// cleanly on SIGTERM.
func TestMasterAndAgentProcesses(t *testing.T) {
	dir := t.TempDir()
	masterBin := proctest.Build(t, dir, "mesos-master", ".")
	agentBin := proctest.Build(t, dir, "mesos-agent", "../mesos-agent")

	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cret\n"), 0o600))
	m := proctest.Start(t, masterBin, "-port=0", "-agent_ping_timeout=200ms", "-max_agent_ping_timeouts=5", "-allocation_interval=100ms",
		"-cluster_secret_file="+secret)
	addr := m.WaitLine(`listening on (\S+) \(pid`, wait)[1]

	agentDir := filepath.Join(dir, "agent")
	a1 := proctest.Start(t, agentBin, "-master="+addr, "-port=0", "-resources=cpus:1;mem:256", "-attributes=rack:r1",
		"-registration_backoff_factor=10ms", "-executor_shutdown_grace_period=1secs", "-work_dir="+agentDir, "-cluster_secret_file="+secret)
	id1 := a1.WaitLine(`registered with master \S+ as (\S+)`, wait)[1]
	a2 := proctest.Start(t, agentBin, "-master="+addr, "-port=0", "-resources=cpus:1;mem:256", "-registration_backoff_factor=10ms",
		"-cluster_secret_file="+secret)
	id2 := a2.WaitLine(`registered with master \S+ as (\S+)`, wait)[1]
	m.WaitLine(`agent `+id1+` at \S+ \(127.0.0.1\) registered with cpus:1;mem:256`, wait)
	require.NotEqual(t, id1, id2)

	r := &recorder{offers: make(chan *mesos.Offer, 100), statuses: make(chan *mesos.TaskStatus, 100), lost: make(chan string, 10)}
	ip := net.ParseIP("127.0.0.1").To4()
	d, err := sched.NewMesosSchedulerDriver(sched.DriverConfig{
		Scheduler:      r,
		Framework:      &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String("processes")},
		Master:         addr,
		BindingAddress: ip,
		NewMessenger: func() (messenger.Messenger, error) {
			return messenger.New(libprocess.NewTransport(upid.UPID{ID: process.New("scheduler").Label(), Host: ip.String(), Port: "0"}, ip)), nil
		},
	})
	require.NoError(t, err)
	_, err = d.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = d.Abort() })

	offerOn := func(id string) *mesos.Offer {
		return recv(t, r.offers, "offer on "+id, func(o *mesos.Offer) bool { return o.GetSlaveId().GetValue() == id })
	}
	launch := func(o *mesos.Offer, id, cmd string) {
		_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{{
			Name: proto.String(id), TaskId: util.NewTaskID(id), SlaveId: o.SlaveId,
			Command:   &mesos.CommandInfo{Value: proto.String(cmd)},
			Resources: []*mesos.Resource{util.NewScalarResource("cpus", 0.5), util.NewScalarResource("mem", 32)},
		}}, &mesos.Filters{RefuseSeconds: proto.Float64(0)})
		require.NoError(t, err)
	}
	state := func(id string, s mesos.TaskState) *mesos.TaskStatus {
		return recv(t, r.statuses, "task "+id+" "+s.String(), func(st *mesos.TaskStatus) bool {
			return st.GetTaskId().GetValue() == id && st.GetState() == s
		})
	}

	o := offerOn(id1)
	require.Len(t, o.GetAttributes(), 1)
	assert.Equal(t, "r1", o.GetAttributes()[0].GetText().GetValue())
	launch(o, "hello", "echo hello")
	state("hello", mesos.TaskState_TASK_FINISHED)

	// A hung agent (SIGSTOP) is removed after 3 unanswered pings; its task
	// is lost. Resumed, it re-registers with its task.
	pidFile := filepath.Join(dir, "sleeper.pid")
	launch(offerOn(id2), "sleeper", "echo $$ > "+pidFile+"; exec sleep 1000")
	state("sleeper", mesos.TaskState_TASK_RUNNING)
	stopped := time.Now()
	a2.Signal(syscall.SIGSTOP)
	st := state("sleeper", mesos.TaskState_TASK_LOST)
	t.Logf("hung agent's task reported lost %v after SIGSTOP (5 pings x 200ms)", time.Since(stopped).Round(time.Millisecond))
	assert.Equal(t, mesos.TaskStatus_REASON_SLAVE_REMOVED, st.GetReason())
	assert.Equal(t, "health check timed out", st.GetMessage())
	assert.Equal(t, id2, recv(t, r.lost, "agent lost", func(string) bool { return true }))
	resumed := time.Now()
	a2.Signal(syscall.SIGCONT)
	st = state("sleeper", mesos.TaskState_TASK_RUNNING)
	t.Logf("resumed agent's task reported running again %v after SIGCONT", time.Since(resumed).Round(time.Millisecond))
	assert.Equal(t, "Unreachable agent re-reregistered", st.GetMessage())

	// SIGTERM: the agent kills its executors, unregisters and exits 0.
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	sleeper, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	a2.Signal(syscall.SIGTERM)
	require.NoError(t, a2.Wait(wait), a2.Output())
	st = state("sleeper", mesos.TaskState_TASK_LOST)
	assert.Equal(t, "the agent unregistered", st.GetMessage(), m.Output()+"\n---\n"+a2.Output())
	require.Eventually(t, func() bool { return syscall.Kill(sleeper, 0) != nil }, wait, 10*time.Millisecond, "the task's process outlived its agent")

	a1.Signal(syscall.SIGINT)
	require.NoError(t, a1.Wait(wait), a1.Output())
	_, err = os.Stat(agentDir)
	assert.NoError(t, err, "a -work_dir given by the user is kept")
	_, _ = d.Stop(false)
	m.Signal(syscall.SIGTERM)
	require.NoError(t, m.Wait(wait), m.Output())
	m.WaitLine(`mesos-master: done: 1 framework\(s\), 2 task\(s\) launched, 2 agent\(s\) known`, wait)
}

func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

package localmesos

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/libprocess"
	"github.com/stretchr/testify/require"
)

// testExecPath is the plain mesos-go executor built by TestMain.
var testExecPath string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "localmesos-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = flag.Set("log_dir", dir) // glog writes its files here, not in /tmp
	testExecPath = filepath.Join(dir, "testexec")
	out, err := exec.Command("go", "build", "-o", testExecPath, "./internal/testexec").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build testexec: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const waitTimeout = 20 * time.Second

// startCluster starts a cluster closed at the end of the test.
func startCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	var mu sync.Mutex
	done := false
	cfg.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
	c, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, c.Close())
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return c
}

type lostExecutor struct {
	executorID, agentID string
	status              int
}

// testSched is a plain mesos-go v0 scheduler recording every callback.
type testSched struct {
	registered chan *mesos.FrameworkID
	offers     chan *mesos.Offer
	rescinded  chan string
	statuses   chan *mesos.TaskStatus
	messages   chan string
	execLost   chan lostExecutor
	agentLost  chan string
	errors     chan string

	stash []*mesos.TaskStatus // updates received but not yet waited for
}

func newTestSched() *testSched {
	return &testSched{
		registered: make(chan *mesos.FrameworkID, 16),
		offers:     make(chan *mesos.Offer, 1024),
		rescinded:  make(chan string, 1024),
		statuses:   make(chan *mesos.TaskStatus, 1024),
		messages:   make(chan string, 1024),
		execLost:   make(chan lostExecutor, 64),
		agentLost:  make(chan string, 64),
		errors:     make(chan string, 64),
	}
}

func (s *testSched) Registered(_ sched.SchedulerDriver, id *mesos.FrameworkID, _ *mesos.MasterInfo) {
	s.registered <- id
}
func (s *testSched) Reregistered(sched.SchedulerDriver, *mesos.MasterInfo) {}
func (s *testSched) Disconnected(sched.SchedulerDriver)                    {}
func (s *testSched) ResourceOffers(_ sched.SchedulerDriver, offers []*mesos.Offer) {
	for _, o := range offers {
		s.offers <- o
	}
}
func (s *testSched) OfferRescinded(_ sched.SchedulerDriver, id *mesos.OfferID) {
	s.rescinded <- id.GetValue()
}
func (s *testSched) StatusUpdate(_ sched.SchedulerDriver, st *mesos.TaskStatus) { s.statuses <- st }
func (s *testSched) FrameworkMessage(_ sched.SchedulerDriver, _ *mesos.ExecutorID, _ *mesos.SlaveID, msg string) {
	s.messages <- msg
}
func (s *testSched) SlaveLost(_ sched.SchedulerDriver, id *mesos.SlaveID) {
	s.agentLost <- id.GetValue()
}
func (s *testSched) ExecutorLost(_ sched.SchedulerDriver, e *mesos.ExecutorID, a *mesos.SlaveID, status int) {
	s.execLost <- lostExecutor{e.GetValue(), a.GetValue(), status}
}
func (s *testSched) Error(_ sched.SchedulerDriver, msg string) { s.errors <- msg }

// startDriver starts a real mesos-go scheduler driver against c; it is
// aborted (no unregistration) at the end of the test unless stopped first.
func startDriver(t *testing.T, c *Cluster, s *testSched, cred *mesos.Credential) *sched.MesosSchedulerDriver {
	t.Helper()
	cfg := sched.DriverConfig{
		Scheduler:      s,
		Framework:      &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String(t.Name())},
		Master:         c.MasterAddr(),
		BindingAddress: net.ParseIP("127.0.0.1"),
		NewMessenger: func() (messenger.Messenger, error) {
			ip := net.ParseIP("127.0.0.1").To4()
			return messenger.New(libprocess.NewTransport(upid.UPID{ID: process.New("scheduler").Label(), Host: ip.String(), Port: "0"}, ip)), nil
		},
	}
	if cred != nil {
		cfg.Credential = cred
		cfg.Framework.Principal = cred.Principal
		cfg.WithAuthContext = withSASL
	}
	d, err := sched.NewMesosSchedulerDriver(cfg)
	require.NoError(t, err)
	st, err := d.Start()
	require.NoError(t, err)
	require.Equal(t, mesos.Status_DRIVER_RUNNING, st)
	t.Cleanup(func() {
		if d.Running() {
			_, _ = d.Abort()
		}
	})
	return d
}

// recv waits for the next value on ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// recvUntil waits for a value on ch satisfying ok, discarding the others.
func recvUntil[T any](t *testing.T, ch <-chan T, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(waitTimeout)
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

// none asserts that nothing arrives on ch for d.
func none[T any](t *testing.T, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	case <-time.After(d):
	}
}

// testExecutorInfo runs the test executor, fetched from a local path.
func testExecutorInfo(id string) *mesos.ExecutorInfo {
	return &mesos.ExecutorInfo{
		ExecutorId: util.NewExecutorID(id),
		Name:       proto.String("test executor"),
		Command: &mesos.CommandInfo{
			Value: proto.String("./testexec -logtostderr=true"),
			Uris:  []*mesos.CommandInfo_URI{{Value: proto.String(testExecPath), Executable: proto.Bool(true)}},
		},
		Resources: []*mesos.Resource{util.NewScalarResource("cpus", 0.1), util.NewScalarResource("mem", 32)},
	}
}

func newTask(id string, o *mesos.Offer, e *mesos.ExecutorInfo, data string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    util.NewTaskID(id),
		SlaveId:   o.SlaveId,
		Executor:  e,
		Data:      []byte(data),
		Resources: []*mesos.Resource{util.NewScalarResource("cpus", 0.5), util.NewScalarResource("mem", 64)},
	}
}

func noRefuse() *mesos.Filters { return &mesos.Filters{RefuseSeconds: proto.Float64(0)} }

// waitState waits for task id to reach state, failing on any other
// terminal state. Updates of other tasks are kept for later waits.
func waitState(t *testing.T, s *testSched, id string, state mesos.TaskState) *mesos.TaskStatus {
	t.Helper()
	check := func(st *mesos.TaskStatus) bool {
		if st.GetState() != state && isTerminal(st.GetState()) {
			t.Fatalf("task %s is %s (%s), want %s", id, st.GetState(), st.GetMessage(), state)
		}
		return st.GetState() == state
	}
	for i, st := range s.stash {
		if st.GetTaskId().GetValue() == id {
			s.stash = append(s.stash[:i:i], s.stash[i+1:]...)
			if check(st) {
				return st
			}
			return waitState(t, s, id, state)
		}
	}
	return recvUntil(t, s.statuses, fmt.Sprintf("task %s %s", id, state), func(st *mesos.TaskStatus) bool {
		if st.GetTaskId().GetValue() != id {
			s.stash = append(s.stash, st)
			return false
		}
		return check(st)
	})
}

// processGroupGone reports whether no live (non-zombie) process of group
// pgid is left; orphaned zombies are init's to reap.
func processGroupGone(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	if killGroup0(pgid) != nil {
		return true
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) >= 3 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" && fields[0] != "X" {
			return false
		}
	}
	return true
}

// eventuallyGone waits until process group pgid has no live process.
func eventuallyGone(t *testing.T, pgid int, msgAndArgs ...any) {
	t.Helper()
	require.Eventually(t, func() bool { return processGroupGone(pgid) }, waitTimeout, 10*time.Millisecond, msgAndArgs...)
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

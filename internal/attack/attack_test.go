package attack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/proctest"
)

const (
	workers  = 2
	messages = 250000 // per worker: the job must outlast the attacks
	// memBound is how much a 100 MB POST may raise its target's
	// resident high-water mark.
	memBound = 64 << 20
	hugeBody = 100 << 20
	wait     = 2 * time.Minute
	// progressLine is what pingpong prints every 10% of its exchange.
	progressLine = `pingpong: \d+/\d+ pongs`
	// failedLine is what it prints when the job fails or loses a task.
	failedLine = `job failed|pingpong: (Shutdown|TaskFailed|TaskLost|TaskKilled) `
)

// syncBuffer collects a process's output for a test to read meanwhile.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a command run in its own process group with its own TMPDIR.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
	err  error
}

// start starts bin; at the end of the test it is asked to stop (SIGTERM,
// so that mesos-local takes its executors with it) and killed with its
// process group if still there after 30 s.
func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: filepath.Base(bin), cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30 s of SIGTERM; killed", p.name)
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

// running reports whether the process has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitLine waits (bounded) for an output line matching re.
func (p *proc) waitLine(re string, within time.Duration) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for {
		if m := rx.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		if !p.running() {
			require.FailNow(p.t, p.name+" exited before printing "+re, "%v\n%s", p.err, p.out.String())
		}
		if time.Now().After(deadline) {
			require.FailNow(p.t, p.name+" printed no "+re+" within "+within.String(), p.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the output
	}
}

// count returns how many lines of output so far match re.
func (p *proc) count(re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(p.out.String(), -1))
}

// waitProgress waits (bounded) until the job prints one more progress line
// than seen, and checks that it has not failed meanwhile: the attack just
// made did not stop or break the exchange.
func (p *proc) waitProgress(t *testing.T, seen int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for p.count(progressLine) <= seen {
		if !p.running() || p.count(failedLine) > 0 {
			require.FailNow(t, "the job failed after the attack", tail(p.out.String(), 12))
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "the exchange made no progress after the attack within "+wait.String(), tail(p.out.String(), 12))
		}
		time.Sleep(20 * time.Millisecond) // polling the output
	}
	assert.Zero(t, p.count(failedLine), "the job failed after the attack:\n%s", tail(p.out.String(), 12))
}

// exitCode waits (bounded) for the process to exit.
func (p *proc) exitCode(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		require.FailNow(p.t, p.name+" did not exit within "+within.String(), p.out.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(p.t, p.err)
	return 0
}

// target is what the attacker found out about the running job.
type target struct {
	master       string // host:port
	masterPid    string
	masterProc   int // OS pid of mesos-local (master and agents)
	frameworkID  string
	schedPid     string
	schedProc    int
	agentIDs     []string
	agentPids    []string
	task         string   // a running task's ID ...
	taskAgent    string   // ... its agent's ID ...
	taskAgentPid string   // ... and pid ...
	executorID   string   // ... and executor's ID
	execPids     []string // executors' libprocess pids, found from /proc
	execProcs    []int
	proof        string // the file a forged command would write
	job          *proc  // the pingpong scheduler
}

// TestAttacksOnARunningJob runs a pingpong job on mesos-local (with
// -credentials, the job authenticating) and, while it runs, sends the
// forged messages a process on the same host could send to the ports it
// finds. Each attack is a subtest; at the end the job must have completed
// with every pong once and in order, and no forged command may have run.
func TestAttacksOnARunningJob(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs Linux /proc to find ports and measure memory")
	}
	dir := t.TempDir()
	local := proctest.Build(t, dir, "mesos-local", "github.com/mesosgot/mesosgot/cmd/mesos-local")
	sched := proctest.Build(t, dir, "attack-pingpong-scheduler", "github.com/mesosgot/mesosgot/examples/pingpong/scheduler")
	execName := fmt.Sprintf("attack-pingpong-executor-%d", time.Now().UnixNano())
	executor := proctest.Build(t, dir, execName, "github.com/mesosgot/mesosgot/examples/pingpong/executor")
	t.Cleanup(func() { // whatever happened, no executor outlives the test
		for _, pid := range processesOf(execName) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	creds, secret := filepath.Join(dir, "credentials"), filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(creds, []byte("attacktest sekrit-4711\n"), 0o600))
	require.NoError(t, os.WriteFile(secret, []byte("sekrit-4711\n"), 0o600))
	proof := filepath.Join(dir, "forged-command-ran")

	ml := start(t, local, "-port=0", "-num_slaves=2", "-credentials="+creds, "-work_dir="+t.TempDir())
	m := ml.waitLine(`mesos-local: master (\S+) \(pid (\S+)\)`, wait)
	tg := target{master: m[1], masterPid: m[2], masterProc: ml.cmd.Process.Pid, proof: proof}

	job := start(t, sched, "-master="+tg.master, "-executor="+executor,
		"-workers", strconv.Itoa(workers), "-messages", strconv.Itoa(messages),
		"-mesos_authentication_principal=attacktest", "-mesos_authentication_secret_file="+secret,
		"-log_dir="+t.TempDir())
	job.waitLine(progressLine, wait) // every worker runs and the exchange is under way
	tg.schedProc, tg.job = job.cmd.Process.Pid, job
	discover(t, &tg, execName)
	t.Logf("target: %+v", tg)

	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			if a.skip != "" {
				t.Skip("defence not merged: " + a.skip)
			}
			if job.count(failedLine) > 0 {
				require.FailNow(t, "the job had already failed before this attack (see the first failing one)", tail(job.out.String(), 6))
			}
			require.True(t, job.running() && !strings.Contains(job.out.String(), "pongs received in order"),
				"the job is still running at this attack (raise messages):\n%s", tail(job.out.String(), 10))
			seen := job.count(progressLine)
			a.run(t, &tg)
			if a.disturbs {
				job.waitProgress(t, seen)
			}
		})
	}

	fws := readState(t, tg.master).Frameworks
	if assert.Len(t, fws, 1) {
		assert.Equal(t, tg.schedPid, fws[0].PID, "the framework still belongs to the real scheduler")
	}
	code := job.exitCode(wait)
	out := job.out.String()
	t.Logf("pingpong:\n%s", tail(out, 6))
	assert.Equal(t, 0, code, "pingpong's own check passed")
	assert.Contains(t, out, fmt.Sprintf("%d pongs received in order, 0 errors", workers*messages), "every pong once and in order")
	assert.NotContains(t, out, "SPOOFED")
	assert.NoFileExists(t, proof, "no forged command ran")
	assert.NotContains(t, ml.out.String(), "failed over", "mesos-local handed the framework to no one")
}

// discover finds the job's processes as anyone on the host can: the
// master's /state for the framework, its scheduler and the agents, the
// process table and socket tables for the executors.
func discover(t *testing.T, tg *target, execName string) {
	t.Helper()
	st := readState(t, tg.master)
	require.Len(t, st.Frameworks, 1)
	fw := st.Frameworks[0]
	tg.frameworkID, tg.schedPid = fw.ID, fw.PID
	agentPid := map[string]string{}
	for _, s := range st.Slaves {
		tg.agentIDs = append(tg.agentIDs, s.ID)
		tg.agentPids = append(tg.agentPids, s.PID)
		agentPid[s.ID] = s.PID
	}
	require.NotEmpty(t, fw.Tasks)
	tk := fw.Tasks[0]
	tg.task, tg.taskAgent, tg.taskAgentPid, tg.executorID = tk.TaskID, tk.AgentID, agentPid[tk.AgentID], tk.ExecutorID
	tg.execProcs = processesOf(execName)
	require.NotEmpty(t, tg.execProcs, "executor processes run")
	for _, p := range tg.execProcs {
		for _, port := range listenPorts(t, p) {
			tg.execPids = append(tg.execPids, fmt.Sprintf("executor(1)@127.0.0.1:%d", port))
		}
	}
	require.NotEmpty(t, tg.execPids, "executors listen")
}

// attack is one forged message (or a few) and what must follow.
type attack struct {
	name string
	skip string // the defence this attack needs, while not merged here
	// disturbs: an attack whose harm would show in the job (rather than
	// in the answer to the POST): the subtest waits for the exchange to
	// go on and checks the job did not fail.
	disturbs bool
	run      func(t *testing.T, tg *target)
}

var attacks = []attack{
	{name: "RunTaskMessage to each agent as the master", run: forgeRunTask},
	{name: "ReregisterFrameworkMessage taking over the job's framework", disturbs: true, run: forgeReregister},
	{name: "100 MB POST to the master", run: func(t *testing.T, tg *target) {
		hugeTo(t, tg.masterProc, tg.masterPid, "mesos.internal.ReregisterFrameworkMessage", true)
	}},
	{name: "100 MB chunked POST to the master", run: func(t *testing.T, tg *target) {
		hugeTo(t, tg.masterProc, tg.masterPid, "mesos.internal.ReregisterFrameworkMessage", false)
	}},
	{name: "100 MB POST to an agent", run: func(t *testing.T, tg *target) {
		hugeTo(t, tg.masterProc, tg.agentPids[0], "mesos.internal.FrameworkToExecutorMessage", true)
	}},
	{name: "FrameworkToExecutorMessage to an agent as the scheduler", disturbs: true, run: forgeToExecutor},
	{name: "ExecutorToFrameworkMessage to the scheduler claiming a new link epoch", disturbs: true, run: forgeToScheduler},
	{name: "FrameworkErrorMessage to the scheduler", disturbs: true, run: forgeFrameworkError},
	{name: "two InternalNetworkErrors to each executor", disturbs: true, run: forgeNetworkError},
	{name: "100 MB POST to the scheduler", disturbs: true, run: func(t *testing.T, tg *target) {
		hugeTo(t, tg.schedProc, tg.schedPid, "mesos.internal.ExecutorToFrameworkMessage", true)
	}},
	{name: "100 MB POST to an executor", disturbs: true, run: func(t *testing.T, tg *target) {
		hugeTo(t, tg.execProcs[0], tg.execPids[0], "mesos.internal.FrameworkToExecutorMessage", true)
	}},
}

// forgeRunTask asks each agent, in the master's name, to run a command
// that would leave a file behind; the agents demand the cluster secret.
func forgeRunTask(t *testing.T, tg *target) {
	for i, agent := range tg.agentPids {
		msg := &mesos.RunTaskMessage{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(tg.frameworkID)},
			Framework: &mesos.FrameworkInfo{
				Id: &mesos.FrameworkID{Value: proto.String(tg.frameworkID)}, User: proto.String(""), Name: proto.String("pingpong"),
			},
			Pid: proto.String(tg.schedPid),
			Task: &mesos.TaskInfo{
				Name:    proto.String("forged"),
				TaskId:  &mesos.TaskID{Value: proto.String(fmt.Sprintf("forged-%d", i))},
				SlaveId: &mesos.SlaveID{Value: proto.String(tg.agentIDs[i])},
				Resources: []*mesos.Resource{
					{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.1)}},
					{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(16)}},
				},
				Command: &mesos.CommandInfo{Shell: proto.Bool(true), Value: proto.String("id > " + tg.proof)},
			},
		}
		code := postMsg(t, agent, tg.masterPid, msg)
		assert.Equal(t, 401, code, "refused without the cluster secret")
		// The same from an address that is not the claimed master's.
		code = postMsg(t, agent, strings.Replace(tg.masterPid, "@127.0.0.1:", "@127.0.0.2:", 1), msg)
		assert.Equal(t, 403, code, "refused: the sender's host is not the connection's source")
	}
}

// forgeReregister tries to take the job's framework over (failover) from
// the attacker's own port: the master, requiring authentication, refuses
// and tells the attacker so; the framework stays the real scheduler's.
func forgeReregister(t *testing.T, tg *target) {
	l := listen(t)
	msg := &mesos.ReregisterFrameworkMessage{
		Framework: &mesos.FrameworkInfo{
			Id: &mesos.FrameworkID{Value: proto.String(tg.frameworkID)}, User: proto.String(""),
			Name: proto.String("pingpong"), Principal: proto.String("attacktest"),
		},
		Failover: proto.Bool(true),
	}
	code := postMsg(t, tg.masterPid, l.pid, msg)
	assert.Equal(t, 202, code, "a framework call is taken for a decision by the master")
	assert.True(t, l.waitFor("mesos.internal.FrameworkErrorMessage", 30*time.Second), "the master refused the forger")
	fws := readState(t, tg.master).Frameworks
	require.Len(t, fws, 1)
	assert.Equal(t, tg.schedPid, fws[0].PID, "the framework is still the real scheduler's")
}

// hugeTo POSTs 100 MB to pid, whose OS process is proc, and checks that it
// is refused and that the process's memory stays bounded.
func hugeTo(t *testing.T, proc int, pid, name string, sized bool) {
	before := readMemory(t, proc)
	code := postHuge(t, pid, "attacker(1)@127.0.0.1:1", name, hugeBody, sized)
	after := readMemory(t, proc)
	t.Logf("target memory before %v, after %v", before, after)
	assert.Contains(t, []int{0, 413}, code, "refused with 413, or the connection cut")
	assert.Less(t, after.HWM-before.HWM, int64(memBound), "the peak grew by less than %d MiB", memBound>>20)
	assert.Less(t, after.RSS-before.RSS, int64(memBound), "the resident set grew by less than %d MiB", memBound>>20)
}

// forgeToExecutor sends a framework message in the scheduler's name to the
// agent of a task, which relays it to the executor: a link frame claiming
// a new scheduler session with a ping the worker would choke on.
func forgeToExecutor(t *testing.T, tg *target) {
	msg := &mesos.FrameworkToExecutorMessage{
		SlaveId:     &mesos.SlaveID{Value: proto.String(tg.taskAgent)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(tg.frameworkID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(tg.executorID)},
		Data:        linkFrame(0x5eed, tg.task, "SPOOFED"),
	}
	code := postMsg(t, tg.taskAgentPid, tg.schedPid, msg)
	assert.Contains(t, []int{202, 403}, code)
}

// forgeToScheduler sends the scheduler, in the name of the agent of a
// task, an executor message claiming a new link epoch with a pong.
func forgeToScheduler(t *testing.T, tg *target) {
	msg := &mesos.ExecutorToFrameworkMessage{
		SlaveId:     &mesos.SlaveID{Value: proto.String(tg.taskAgent)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(tg.frameworkID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(tg.executorID)},
		Data:        linkFrame(0x5eed, tg.task, "SPOOFED"),
	}
	code := postMsg(t, tg.schedPid, tg.taskAgentPid, msg)
	assert.Contains(t, []int{202, 403}, code)
	if code == 202 { // taken: the job must report the frame it dropped
		tg.job.waitLine(`pingpong: Error +mesosgot: dropped \d+ frames .*claiming to come from executor `+regexp.QuoteMeta(tg.executorID), wait)
	}
}

// forgeFrameworkError tells the scheduler, from the attacker's port, that
// its framework failed.
func forgeFrameworkError(t *testing.T, tg *target) {
	code := postMsg(t, tg.schedPid, "master@127.0.0.1:1", &mesos.FrameworkErrorMessage{Message: proto.String("Framework failed over")})
	assert.Contains(t, []int{202, 403, 404}, code)
}

// forgeNetworkError sends each executor, in its agent's name, the message
// mesos-go's executor driver posts to itself when its agent's connection
// breaks, twice.
func forgeNetworkError(t *testing.T, tg *target) {
	for _, pid := range tg.execPids {
		for range 2 {
			code := postMsg(t, pid, tg.taskAgentPid, &mesos.InternalNetworkError{Pid: proto.String(tg.taskAgentPid)})
			assert.Contains(t, []int{202, 403, 404}, code)
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

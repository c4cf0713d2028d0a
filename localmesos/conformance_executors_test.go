package localmesos

import (
	"net/http"
	"os"
	"os/user"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/testenv"
)

// executorEnvOf launches the test executor e in "env" mode and returns the
// environment it saw, without the variables /bin/sh itself adds.
func executorEnvOf(t *testing.T, cfg Config, fi *mesos.FrameworkInfo, e *mesos.ExecutorInfo) (map[string]string, *mesos.Offer, *mesos.FrameworkID) {
	t.Helper()
	c := startCluster(t, cfg)
	s := newTestSched()
	d := startDriverWith(t, c, s, fi)
	fid := recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, e, "env")}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "t", mesos.TaskState_TASK_RUNNING)
	env := map[string]string{}
	for _, kv := range strings.Split(string(st.GetData()), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "PWD", "OLDPWD", "SHLVL", "_": // the shell's own
		default:
			env[k] = v
		}
	}
	return env, o, fid
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Follows Mesos' src/slave/slave.cpp, executorEnvironment, and the Mesos
// containerizer (src/slave/containerizer/mesos/containerizer.cpp adds
// MESOS_SANDBOX, then CommandInfo.environment; launch.cpp defaults PATH to
// os::host_default_path): exactly these variables, durations in stout's
// format, LIBPROCESS_PORT=0, nothing inherited from the agent.
func TestConformanceExecutorEnvironment(t *testing.T) {
	t.Parallel()
	e := testExecutorInfo("exec")
	e.Command.Environment = &mesos.Environment{Variables: []*mesos.Environment_Variable{
		{Name: proto.String("FOO"), Value: proto.String("bar")},
	}}
	env, o, fid := executorEnvOf(t, Config{}, &mesos.FrameworkInfo{}, e)
	assert.Equal(t, []string{
		"FOO", "LIBPROCESS_IP", "LIBPROCESS_PORT", "MESOS_AGENT_ENDPOINT", "MESOS_CHECKPOINT", "MESOS_DIRECTORY",
		"MESOS_EXECUTOR_ID", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "MESOS_FRAMEWORK_ID", "MESOS_HTTP_COMMAND_EXECUTOR",
		"MESOS_SANDBOX", "MESOS_SLAVE_ID", "MESOS_SLAVE_PID", "PATH",
	}, keys(env))
	assert.Equal(t, "bar", env["FOO"])
	assert.Equal(t, "127.0.0.1", env["LIBPROCESS_IP"])
	assert.Equal(t, "0", env["LIBPROCESS_PORT"])
	assert.Equal(t, "5secs", env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"])
	assert.Equal(t, "0", env["MESOS_CHECKPOINT"])
	assert.Equal(t, "0", env["MESOS_HTTP_COMMAND_EXECUTOR"])
	assert.Equal(t, "exec", env["MESOS_EXECUTOR_ID"])
	assert.Equal(t, fid.GetValue(), env["MESOS_FRAMEWORK_ID"])
	assert.Equal(t, o.GetSlaveId().GetValue(), env["MESOS_SLAVE_ID"])
	assert.True(t, strings.HasPrefix(env["MESOS_SLAVE_PID"], "slave(1)@127.0.0.1:"), env["MESOS_SLAVE_PID"])
	assert.Equal(t, strings.TrimPrefix(env["MESOS_SLAVE_PID"], "slave(1)@"), env["MESOS_AGENT_ENDPOINT"])
	assert.Equal(t, env["MESOS_DIRECTORY"], env["MESOS_SANDBOX"])
	assert.Equal(t, hostDefaultPath, env["PATH"])
}

// Follows Mesos' src/slave/slave.cpp, executorEnvironment:
// --executor_environment_variables (Config.ExecutorEnvironment) is the
// base, LIBPROCESS_PORT and the MESOS_* variables override it,
// ExecutorInfo.shutdown_grace_period is what the executor is told, and a
// checkpointing framework's executors get the recovery variables.
func TestConformanceExecutorEnvironmentFlag(t *testing.T) {
	t.Parallel()
	e := testExecutorInfo("exec")
	SetShutdownGracePeriod(e, 1500*time.Millisecond)
	env, _, _ := executorEnvOf(t, Config{ExecutorEnvironment: map[string]string{
		"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "/opt/lib", "LIBPROCESS_PORT": "5051",
	}}, &mesos.FrameworkInfo{Checkpoint: proto.Bool(true)}, e)
	assert.Equal(t, "/usr/bin:/bin", env["PATH"])
	assert.Equal(t, "/opt/lib", env["LD_LIBRARY_PATH"])
	assert.Equal(t, "0", env["LIBPROCESS_PORT"])
	assert.Equal(t, "1500ms", env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"])
	// A checkpointing framework's executors also get these.
	assert.Equal(t, "1", env["MESOS_CHECKPOINT"])
	assert.Equal(t, "15mins", env["MESOS_RECOVERY_TIMEOUT"])
	assert.Equal(t, "2secs", env["MESOS_SUBSCRIPTION_BACKOFF_MAX"])
}

// stout's Duration output operator (3rdparty/stout/include/stout/duration.hpp).
func TestStoutDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second:         "5secs",
		time.Minute:             "1mins",
		15 * time.Minute:        "15mins",
		90 * time.Second:        "90secs",
		1500 * time.Millisecond: "1500ms",
		2500 * time.Millisecond: "2500ms",
		100 * time.Millisecond:  "100ms",
		time.Millisecond / 2:    "500us",
		3 * time.Hour:           "3hrs",
		36 * time.Hour:          "36hrs",
		7 * 24 * time.Hour:      "1weeks",
		10 * 24 * time.Hour:     "10days",
		0:                       "0ns",
		-2 * time.Second:        "-2secs",
	} {
		assert.Equal(t, want, stoutDuration(d), "%v", d)
	}
}

// Follows Mesos' src/launcher/executor.cpp (the command executor): a
// command task's updates come from SOURCE_EXECUTOR, carry the command
// executor's ID (the task's), and word the exit as WSTRINGIFY does.
func TestConformanceCommandTaskUpdates(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{
		commandTask("ok", "true", o), commandTask("bad", "exit 3", o), commandTask("long", "exec sleep 600", o),
	}, noRefuse())
	require.NoError(t, err)
	for _, id := range []string{"ok", "bad", "long"} {
		st := waitState(t, s, id, mesos.TaskState_TASK_RUNNING)
		assert.Equal(t, mesos.TaskStatus_SOURCE_EXECUTOR, st.GetSource(), id)
		assert.Equal(t, id, st.GetExecutorId().GetValue(), id)
	}
	st := waitState(t, s, "ok", mesos.TaskState_TASK_FINISHED)
	assert.Equal(t, mesos.TaskStatus_SOURCE_EXECUTOR, st.GetSource())
	assert.Equal(t, "Command exited with status 0", st.GetMessage())
	st = waitState(t, s, "bad", mesos.TaskState_TASK_FAILED)
	assert.Equal(t, mesos.TaskStatus_SOURCE_EXECUTOR, st.GetSource())
	assert.Equal(t, "Command exited with status 3", st.GetMessage())
	_, err = d.KillTask(util.NewTaskID("long"))
	require.NoError(t, err)
	st = waitState(t, s, "long", mesos.TaskState_TASK_KILLED)
	assert.Equal(t, mesos.TaskStatus_SOURCE_EXECUTOR, st.GetSource())
	assert.Equal(t, "Command terminated with signal Terminated", st.GetMessage())
}

// requireRootAndNobody skips (or, in CI, fails) unless the test can switch
// to the unprivileged user nobody, and returns a work directory nobody can
// traverse (whatever TMPDIR is), removed after the cluster closes.
func requireRootAndNobody(t *testing.T) string {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Missing(t, "root", "switching executors to another user needs root; run the tests as root (CI does)")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		testenv.Missing(t, "user nobody", "create it: useradd -r nobody")
	}
	dir, err := os.MkdirTemp("/tmp", "localmesos-runas-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

// Follows Mesos' src/slave/slave.cpp, Framework::addExecutor (--switch_user:
// CommandInfo.user, else FrameworkInfo.user) and src/slave/paths.cpp,
// createSandboxDirectory (the sandbox is chowned to that user): with the
// agent running as root, a command task and a custom executor run as
// nobody and can use their sandbox.
func TestConformanceRunAsFrameworkUser(t *testing.T) {
	t.Parallel()
	dir := requireRootAndNobody(t)
	c := startCluster(t, Config{WorkDir: dir})
	s := newTestSched()
	d := startDriverWith(t, c, s, &mesos.FrameworkInfo{User: proto.String("nobody")})
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := testExecutorInfo("exec")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{
		commandTask("cmd", `test "$(id -un)" = nobody && echo hi > "$MESOS_SANDBOX/out" && test -s out`, o),
		newTask("custom", o, e, "finish"),
	}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "cmd", mesos.TaskState_TASK_FINISHED)
	waitState(t, s, "custom", mesos.TaskState_TASK_FINISHED)
}

// Follows Mesos' src/slave/slave.cpp (Slave::_run: a failed
// Framework::addExecutor drops the tasks: TASK_LOST with
// REASON_EXECUTOR_TERMINATED for a framework that is not partition-aware)
// and stout's os::chown ("No such user"): CommandInfo.user wins over
// FrameworkInfo.user, and a user the agent does not have fails the task.
func TestConformanceRunAsMissingUser(t *testing.T) {
	t.Parallel()
	dir := requireRootAndNobody(t)
	c := startCluster(t, Config{WorkDir: dir})
	s := newTestSched()
	d := startDriverWith(t, c, s, &mesos.FrameworkInfo{User: proto.String("nobody")})
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	ti := commandTask("who", "true", o)
	ti.Command.User = proto.String("no-such-user-here")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{ti}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "who", mesos.TaskState_TASK_LOST)
	assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, st.GetReason())
	assert.Equal(t, mesos.TaskStatus_SOURCE_SLAVE, st.GetSource())
	assert.Contains(t, st.GetMessage(), "Failed to create executor directory '")
	assert.Contains(t, st.GetMessage(), "Failed to chown directory to 'no-such-user-here': No such user 'no-such-user-here'")
}

// Follows Mesos' --switch_user=false (src/slave/flags.cpp): executors run
// as the agent's user whatever FrameworkInfo.user says.
func TestConformanceNoSwitchUser(t *testing.T) {
	t.Parallel()
	dir := requireRootAndNobody(t)
	c := startCluster(t, Config{WorkDir: dir, NoSwitchUser: true})
	s := newTestSched()
	d := startDriverWith(t, c, s, &mesos.FrameworkInfo{User: proto.String("nobody")})
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{commandTask("root", `test "$(id -u)" = 0`, o)}, noRefuse())
	require.NoError(t, err)
	waitState(t, s, "root", mesos.TaskState_TASK_FINISHED)
}

// Mesos 1.x serves the v1 scheduler API at /api/v1/scheduler; localmesos
// does not, and says so (501 and a reason) instead of a silent 404.
func TestConformanceV1SchedulerAPIRefused(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	for _, path := range []string{"/api/v1/scheduler", "/master/api/v1/scheduler"} {
		resp, err := http.Post("http://"+c.MasterAddr()+path, "application/json", strings.NewReader(`{"type":"SUBSCRIBE"}`))
		require.NoError(t, err)
		body := make([]byte, 512)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotImplemented, resp.StatusCode, path)
		assert.Contains(t, string(body[:n]), "/api/v1/scheduler is not served", path)
	}
}

// A work directory the executor's user cannot traverse fails the launch
// with a message saying so (Mesos leaves this to the operator too).
func TestRunAsUnreachableSandbox(t *testing.T) {
	t.Parallel()
	dir := requireRootAndNobody(t)
	require.NoError(t, os.Chmod(dir, 0o700))
	c := startCluster(t, Config{WorkDir: dir})
	s := newTestSched()
	d := startDriverWith(t, c, s, &mesos.FrameworkInfo{User: proto.String("nobody")})
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{commandTask("cmd", "true", o)}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "cmd", mesos.TaskState_TASK_FAILED)
	assert.Equal(t, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, st.GetReason())
	assert.Contains(t, st.GetMessage(), "user 'nobody' must be able to reach its sandbox")
}

package mesosgot

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schedulerFlagNames are the flags of mesos-go's example scheduler plus
// mesosgot's own.
var schedulerFlagNames = []string{
	"master",
	"address",
	"artifactPort",
	"executor",
	"mesos_authentication_provider",
	"mesos_authentication_principal",
	"mesos_authentication_secret_file",
	"task_refuse_seconds",
	"advertise_ip",
	"driver_port",
	"user",
	"registration_timeout",
	"placement_timeout",
	"local_capacity_factor",
}

func newTestFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func TestRegisterSchedulerFlagsDefaults(t *testing.T) {
	fs := newTestFlagSet()
	c := RegisterSchedulerFlags(fs)
	require.NoError(t, fs.Parse(nil))
	assert.Equal(t, DefaultSchedulerConfig(), c)
	assert.Equal(t, "127.0.0.1:5050", c.Master)
	assert.Equal(t, "", c.Address, "automatic: the interface that routes to the master")
	assert.Equal(t, "", c.AdvertiseIP)
	assert.Equal(t, 0, c.DriverPort)
	assert.Equal(t, "", c.User, "the driver fills in the OS user")
	assert.Equal(t, 0, c.ArtifactPort)
	assert.Equal(t, "SASL", c.AuthProvider)
	assert.Equal(t, "./executor", c.ExecutorPath)
	assert.Empty(t, c.MesosAuthPrincipal)
	assert.Empty(t, c.MesosAuthSecretFile)
	assert.Equal(t, 1.0, c.TaskRefuseSeconds)
	assert.Equal(t, "mesosgot", c.FrameworkName)
	assert.Equal(t, map[string]float64{"cpus": 0.1, "mem": 32}, c.ExecutorResources)

	for _, name := range schedulerFlagNames {
		f := fs.Lookup(name)
		require.NotNil(t, f, "flag -%s", name)
		assert.NotEmpty(t, f.Usage, "flag -%s has usage text", name)
	}
}

func TestRegisterSchedulerFlagsParse(t *testing.T) {
	tests := []struct {
		arg   string
		check func(t *testing.T, c *GoTaskSchedConfig)
	}{
		{"-master=zk://zk1:2181,zk2:2181/mesos", func(t *testing.T, c *GoTaskSchedConfig) {
			assert.Equal(t, "zk://zk1:2181,zk2:2181/mesos", c.Master)
		}},
		{"-address=10.0.0.7", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, "10.0.0.7", c.Address) }},
		{"-artifactPort=12345", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, 12345, c.ArtifactPort) }},
		{"-executor=/opt/app/executor", func(t *testing.T, c *GoTaskSchedConfig) {
			assert.Equal(t, "/opt/app/executor", c.ExecutorPath)
		}},
		{"-mesos_authentication_provider=CUSTOM", func(t *testing.T, c *GoTaskSchedConfig) {
			assert.Equal(t, "CUSTOM", c.AuthProvider)
		}},
		{"-mesos_authentication_principal=alice", func(t *testing.T, c *GoTaskSchedConfig) {
			assert.Equal(t, "alice", c.MesosAuthPrincipal)
		}},
		{"-mesos_authentication_secret_file=/etc/secret", func(t *testing.T, c *GoTaskSchedConfig) {
			assert.Equal(t, "/etc/secret", c.MesosAuthSecretFile)
		}},
		{"-task_refuse_seconds=2.5", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, 2.5, c.TaskRefuseSeconds) }},
		{"-advertise_ip=203.0.113.9", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, "203.0.113.9", c.AdvertiseIP) }},
		{"-driver_port=40123", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, 40123, c.DriverPort) }},
		{"-user=nobody", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, "nobody", c.User) }},
		{"-placement_timeout=5s", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, 5*time.Second, c.PlacementTimeout) }},
		{"-local_capacity_factor=1.5", func(t *testing.T, c *GoTaskSchedConfig) { assert.Equal(t, 1.5, c.LocalCapacityFactor) }},
	}
	for _, tc := range tests {
		t.Run(tc.arg, func(t *testing.T) {
			fs := newTestFlagSet()
			c := RegisterSchedulerFlags(fs)
			require.NoError(t, fs.Parse([]string{tc.arg}))
			tc.check(t, c)
		})
	}

	t.Run("all at once", func(t *testing.T) {
		fs := newTestFlagSet()
		c := RegisterSchedulerFlags(fs)
		require.NoError(t, fs.Parse([]string{
			"-master", "m:5050", "-address", "0.0.0.0", "-artifactPort", "8080",
			"-executor", "x", "-mesos_authentication_provider", "P",
			"-mesos_authentication_principal", "p", "-mesos_authentication_secret_file", "f",
			"-task_refuse_seconds", "7", "rest",
		}))
		want := DefaultSchedulerConfig()
		want.Master, want.Address, want.ArtifactPort = "m:5050", "0.0.0.0", 8080
		want.ExecutorPath, want.AuthProvider = "x", "P"
		want.MesosAuthPrincipal, want.MesosAuthSecretFile = "p", "f"
		want.TaskRefuseSeconds = 7
		assert.Equal(t, want, c)
		assert.Equal(t, []string{"rest"}, fs.Args())
	})
}

func TestRegisterSchedulerFlagsBadValues(t *testing.T) {
	for _, arg := range []string{"-artifactPort=x", "-driver_port=x", "-task_refuse_seconds=soon", "-no_such_flag"} {
		t.Run(arg, func(t *testing.T) {
			fs := newTestFlagSet()
			RegisterSchedulerFlags(fs)
			assert.Error(t, fs.Parse([]string{arg}))
		})
	}
}

func TestRegisterSchedulerFlagsIndependentSets(t *testing.T) {
	fs1, fs2 := newTestFlagSet(), newTestFlagSet()
	c1, c2 := RegisterSchedulerFlags(fs1), RegisterSchedulerFlags(fs2)
	require.NoError(t, fs1.Parse([]string{"-master=one:5050"}))
	require.NoError(t, fs2.Parse(nil))
	assert.Equal(t, "one:5050", c1.Master)
	assert.Equal(t, "127.0.0.1:5050", c2.Master)
	c1.ExecutorResources["cpus"] = 9
	assert.Equal(t, 0.1, c2.ExecutorResources["cpus"], "the sets do not share the resources map")
}

// TestCommandLineFlagsDefined checks the flags are on flag.CommandLine once
// the package is loaded. (Under go test flag.Parsed() is true because the
// test binary parses its own flags; the package's init never parses.)
func TestCommandLineFlagsDefined(t *testing.T) {
	for _, name := range schedulerFlagNames {
		assert.NotNil(t, flag.Lookup(name), "flag -%s on flag.CommandLine", name)
	}
	assert.Equal(t, "127.0.0.1:5050", flag.Lookup("master").DefValue)
	// Defining them again is a no-op, not a redefinition panic.
	assert.NotPanics(t, func() { defineCommandLineFlags() })
	assert.Same(t, defineCommandLineFlags(), defineCommandLineFlags())
}

func TestLoadSchedulerConfigReturnsCopy(t *testing.T) {
	first := LoadSchedulerConfig()
	require.NotNil(t, first)
	want := *first
	want.ExecutorResources = map[string]float64{}
	for k, v := range first.ExecutorResources {
		want.ExecutorResources[k] = v
	}
	want.ExecutorArgs = append([]string(nil), first.ExecutorArgs...)

	first.Master = "mutated:1"
	first.ArtifactPort = 4242
	first.ExecutorResources["cpus"] = 99
	first.ExecutorResources["gpus"] = 1
	first.ExecutorArgs = append(first.ExecutorArgs, "-v=9")

	second := LoadSchedulerConfig()
	assert.NotSame(t, first, second)
	assert.Equal(t, &want, second)
	assert.Equal(t, flag.Lookup("master").Value.String(), second.Master, "the config reflects the flag")
}

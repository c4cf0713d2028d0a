package mesosgot

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mesos/mesos-go/api/v0/auth"
	"github.com/mesos/mesos-go/api/v0/auth/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSchedConfig is a config whose executor is a temp file served on a
// free loopback port.
func testSchedConfig(t *testing.T) *GoTaskSchedConfig {
	t.Helper()
	c := DefaultSchedulerConfig()
	c.ExecutorPath = writeTempFile(t, "app-executor", "#!/bin/sh\n")
	c.ArtifactPort = 0
	c.Address = "127.0.0.1"
	c.Master = "10.1.2.3:5050"
	return c
}

// newTestScheduler makes a scheduler and stops its artifact server when
// the test ends.
func newTestScheduler(t *testing.T, user string, c *GoTaskSchedConfig) *GoTaskScheduler {
	t.Helper()
	s := NewGoTaskScheduler(user, c, nil)
	t.Cleanup(s.runCleanups)
	return s
}

func TestDriverConfigBasics(t *testing.T) {
	checkNoLeak(t)
	c := testSchedConfig(t)
	c.FrameworkName = "my-job"
	s := newTestScheduler(t, "alice", c)

	cfg := s.DriverConfig()
	require.NoError(t, s.Err())
	assert.Same(t, s, cfg.Scheduler)
	require.NotNil(t, cfg.Framework)
	assert.Equal(t, "my-job", cfg.Framework.GetName())
	assert.Equal(t, "alice", cfg.Framework.GetUser())
	assert.Nil(t, cfg.Framework.Principal)
	assert.Nil(t, cfg.Framework.FailoverTimeout)
	assert.Equal(t, "10.1.2.3:5050", cfg.Master)
	assert.True(t, cfg.BindingAddress.Equal(net.IPv4(127, 0, 0, 1)), "binding address %v", cfg.BindingAddress)
	assert.Nil(t, cfg.Credential, "no credential without a principal")
	assert.Nil(t, cfg.WithAuthContext)

	assert.True(t, strings.HasPrefix(s.executorURI, "http://127.0.0.1:"), s.executorURI)
	assert.True(t, strings.HasSuffix(s.executorURI, "/app-executor"), s.executorURI)

	// DriverConfig is prepared once.
	again := s.DriverConfig()
	assert.Same(t, cfg.Framework, again.Framework)
	require.NoError(t, s.Err())
}

func TestDriverConfigDefaultUserAndName(t *testing.T) {
	checkNoLeak(t)
	s := newTestScheduler(t, "", testSchedConfig(t))
	cfg := s.DriverConfig()
	require.NoError(t, s.Err())
	assert.Equal(t, "mesosgot", cfg.Framework.GetName())
	assert.Equal(t, "", cfg.Framework.GetUser(), "empty user lets Mesos pick")
}

func TestDriverConfigAuthentication(t *testing.T) {
	tests := []struct {
		name   string
		secret string
	}{
		{"trailing newline", "s3cret\n"},
		{"trailing CRLF", "s3cret\r\n"},
		{"no newline", "s3cret"},
		{"trailing spaces", "s3cret  \t\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkNoLeak(t)
			c := testSchedConfig(t)
			c.MesosAuthPrincipal = "fw-principal"
			c.MesosAuthSecretFile = writeTempFile(t, "secret", tc.secret)
			s := newTestScheduler(t, "alice", c)

			cfg := s.DriverConfig()
			require.NoError(t, s.Err())
			require.NotNil(t, cfg.Credential)
			assert.Equal(t, "fw-principal", cfg.Credential.GetPrincipal())
			assert.Equal(t, "s3cret", cfg.Credential.GetSecret())
			assert.Equal(t, "fw-principal", cfg.Framework.GetPrincipal())
			require.NotNil(t, cfg.WithAuthContext, "mesos-go requires it with a credential")

			ctx := cfg.WithAuthContext(context.Background())
			provider, ok := auth.LoginProviderFrom(ctx)
			assert.True(t, ok)
			assert.Equal(t, "SASL", provider)
			assert.True(t, sasl.BindingAddressFrom(ctx).Equal(net.IPv4(127, 0, 0, 1)))
		})
	}
}

func TestDriverConfigPrincipalWithoutSecretFile(t *testing.T) {
	checkNoLeak(t)
	c := testSchedConfig(t)
	c.MesosAuthPrincipal = "p"
	c.AuthProvider = "CUSTOM"
	s := newTestScheduler(t, "", c)
	cfg := s.DriverConfig()
	require.NoError(t, s.Err())
	require.NotNil(t, cfg.Credential)
	assert.Equal(t, "p", cfg.Credential.GetPrincipal())
	assert.Nil(t, cfg.Credential.Secret)
	require.NotNil(t, cfg.WithAuthContext)
	assert.Equal(t, "CUSTOM", auth.LoginProvider(cfg.WithAuthContext(context.Background())))
}

func TestDriverConfigErrors(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	tests := []struct {
		name    string
		mutate  func(c *GoTaskSchedConfig)
		mention string
	}{
		{"missing secret file", func(c *GoTaskSchedConfig) {
			c.MesosAuthPrincipal = "p"
			c.MesosAuthSecretFile = filepath.Join(dir, "no-such-secret")
		}, "secret file"},
		{"secret file is a directory", func(c *GoTaskSchedConfig) {
			c.MesosAuthPrincipal = "p"
			c.MesosAuthSecretFile = dir
		}, "secret file"},
		{"unresolvable address", func(c *GoTaskSchedConfig) { c.Address = "bad address!" }, "-address"},
		{"address not on this host", func(c *GoTaskSchedConfig) { c.Address = "192.0.2.1" }, "artifact server"},
		{"busy artifact port", func(c *GoTaskSchedConfig) {
			c.ArtifactPort = busy.Addr().(*net.TCPAddr).Port
		}, "artifact server"},
		{"missing executor", func(c *GoTaskSchedConfig) { c.ExecutorPath = filepath.Join(dir, "no-such-exe") }, "executor binary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkNoLeak(t)
			c := testSchedConfig(t)
			tc.mutate(c)
			s := newTestScheduler(t, "", c)
			assert.NoError(t, s.Err(), "no error before DriverConfig")
			s.DriverConfig()
			err := s.Err()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.mention)
			// The error sticks.
			s.DriverConfig()
			assert.Same(t, err, s.Err())
		})
	}
}

func TestExecutorInfo(t *testing.T) {
	checkNoLeak(t)
	c := testSchedConfig(t)
	c.ExecutorArgs = []string{"-v=2", "a b", "it's", "$HOME", ""}
	c.ExecutorResources = map[string]float64{"mem": 64, "cpus": 0.25, "disk": 0}
	s := newTestScheduler(t, "", c)
	s.DriverConfig()
	require.NoError(t, s.Err())

	info := s.executorInfo("exec-agent-1")
	assert.Equal(t, "exec-agent-1", info.GetExecutorId().GetValue())
	require.NotNil(t, info.Command)
	require.Len(t, info.Command.Uris, 1)
	uri := info.Command.Uris[0]
	assert.Equal(t, s.executorURI, uri.GetValue())
	assert.True(t, uri.GetExecutable())
	assert.True(t, uri.GetCache(), "the served URL names the binary's version: agents may cache it")
	assert.Equal(t, executorTmpDir+`exec ./app-executor -v=2 'a b' 'it'\''s' '$HOME' ''`, info.Command.GetValue())

	require.Len(t, info.Resources, 2, "zero resources are left out")
	assert.Equal(t, "cpus", info.Resources[0].GetName(), "sorted by name")
	assert.Equal(t, "mem", info.Resources[1].GetName())
	assert.Equal(t, map[string]float64{"cpus": 0.25, "mem": 64}, scalarResources(info.Resources))

	// The URI really serves the executor binary.
	code, body := doRequest(t, noKeepAliveClient(), "GET", uri.GetValue())
	assert.Equal(t, 200, code)
	assert.Equal(t, "#!/bin/sh\n", body)
}

func TestExecutorInfoURLExecutor(t *testing.T) {
	checkNoLeak(t)
	c := testSchedConfig(t)
	c.ExecutorPath = "https://repo.example.com/bin/my-exe?v=3"
	s := newTestScheduler(t, "", c)
	s.DriverConfig()
	require.NoError(t, s.Err())
	assert.Equal(t, c.ExecutorPath, s.executorURI, "a URL is used as it is, nothing served")

	info := s.executorInfo("e")
	require.Len(t, info.Command.Uris, 1)
	assert.Equal(t, c.ExecutorPath, info.Command.Uris[0].GetValue())
	assert.False(t, info.Command.Uris[0].GetCache(), "the user's URL may change content: not cached")
	assert.Equal(t, executorTmpDir+"exec ./my-exe", info.Command.GetValue())
	assert.Equal(t, map[string]float64{"cpus": 0.1, "mem": 32}, scalarResources(info.Resources))
}

func TestRunCleanupsStopsArtifactServer(t *testing.T) {
	checkNoLeak(t)
	s := NewGoTaskScheduler("", testSchedConfig(t), nil)
	s.DriverConfig()
	require.NoError(t, s.Err())
	c := noKeepAliveClient()
	code, _ := doRequest(t, c, "GET", s.executorURI)
	require.Equal(t, 200, code)

	s.runCleanups()
	_, err := c.Get(s.executorURI)
	assert.Error(t, err)
	assert.NotPanics(t, s.runCleanups, "a second call is a no-op")
}

// TestDriverConfigAddresses checks that the chosen addresses reach the
// driver config and the artifact URL (the choice itself is table-tested in
// TestChooseAddresses).
func TestDriverConfigAddresses(t *testing.T) {
	t.Run("defaults toward a master on this host", func(t *testing.T) {
		checkNoLeak(t)
		c := testSchedConfig(t)
		c.Address, c.Master = "", "127.0.0.1:5050"
		s := newTestScheduler(t, "", c)
		cfg := s.DriverConfig()
		require.NoError(t, s.Err())
		assert.Equal(t, "127.0.0.1", cfg.BindingAddress.String())
		assert.Equal(t, "127.0.0.1", cfg.PublishedAddress.String())
		assert.Zero(t, cfg.BindingPort)
		assert.Empty(t, cfg.HostnameOverride)
		assert.True(t, strings.HasPrefix(s.executorURI, "http://127.0.0.1:"), s.executorURI)
	})
	t.Run("bind all, advertise one, fixed ports", func(t *testing.T) {
		checkNoLeak(t)
		free, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		artPort := free.Addr().(*net.TCPAddr).Port
		require.NoError(t, free.Close())
		c := testSchedConfig(t)
		c.Address, c.AdvertiseIP, c.DriverPort, c.ArtifactPort = "0.0.0.0", "127.0.0.1", 40123, artPort
		s := newTestScheduler(t, "", c)
		cfg := s.DriverConfig()
		require.NoError(t, s.Err())
		assert.True(t, cfg.BindingAddress.IsUnspecified(), "%v", cfg.BindingAddress)
		assert.Equal(t, "127.0.0.1", cfg.PublishedAddress.String())
		assert.Equal(t, uint16(40123), cfg.BindingPort)
		assert.Equal(t, "127.0.0.1", cfg.HostnameOverride, "mesos-go does not resolve the host name for its UPID")
		assert.Regexp(t, fmt.Sprintf(`^http://127\.0\.0\.1:%d/v[0-9a-f]+-[0-9a-f]+/app-executor$`, artPort), s.executorURI)
	})
	t.Run("LIBPROCESS_IP and LIBPROCESS_PORT", func(t *testing.T) {
		checkNoLeak(t)
		t.Setenv("LIBPROCESS_IP", "127.0.0.1")
		t.Setenv("LIBPROCESS_PORT", "40124")
		c := testSchedConfig(t)
		c.Address = ""
		s := newTestScheduler(t, "", c)
		cfg := s.DriverConfig()
		require.NoError(t, s.Err())
		assert.Equal(t, "127.0.0.1", cfg.BindingAddress.String())
		assert.Equal(t, "127.0.0.1", cfg.PublishedAddress.String())
		assert.Equal(t, uint16(40124), cfg.BindingPort)
	})
	t.Run("LIBPROCESS_ADVERTISE_PORT it cannot honour", func(t *testing.T) {
		checkNoLeak(t)
		t.Setenv("LIBPROCESS_ADVERTISE_PORT", "40125")
		s := newTestScheduler(t, "", testSchedConfig(t))
		s.DriverConfig()
		assert.ErrorContains(t, s.Err(), "LIBPROCESS_ADVERTISE_PORT=40125")
	})
}

// TestDriverConfigUser: -user (GoTaskSchedConfig.User) overrides the
// userName argument; with neither, the driver fills in the OS user.
func TestDriverConfigUser(t *testing.T) {
	for _, tc := range []struct{ arg, flag, want string }{
		{"", "", ""},
		{"alice", "", "alice"},
		{"", "bob", "bob"},
		{"alice", "bob", "bob"},
	} {
		t.Run(tc.arg+"/"+tc.flag, func(t *testing.T) {
			checkNoLeak(t)
			c := testSchedConfig(t)
			c.User = tc.flag
			s := newTestScheduler(t, tc.arg, c)
			cfg := s.DriverConfig()
			require.NoError(t, s.Err())
			assert.Equal(t, tc.want, cfg.Framework.GetUser())
		})
	}
}

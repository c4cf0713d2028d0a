package mesosgot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/localmesos"
)

// authJob runs a one-task job against a cluster that requires principal
// "ops" with secret "right", authenticating with the given secret.
func authJob(t *testing.T, secret string) (*events, error) {
	c, err := localmesos.Start(localmesos.Config{Credentials: map[string]string{"ops": "right"}})
	require.NoError(t, err)
	defer c.Close()
	conf := localConf(t, c.MasterAddr())
	conf.MesosAuthPrincipal = "ops"
	conf.MesosAuthSecretFile = filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(conf.MesosAuthSecretFile, []byte(secret+"\n"), 0o600))
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("wait", 1, nil)
	evs := &events{}
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		untilRunning(1, evs, schedevent)
	})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case err := <-done:
		return evs, err
	case <-time.After(60 * time.Second):
		t.Fatal("job did not end")
		return nil, nil
	}
}

func TestLocalAuthenticationSucceeds(t *testing.T) {
	evs, err := authJob(t, "right")
	require.NoError(t, err)
	assert.Equal(t, 1, evs.count(Registered))
	assert.Equal(t, 1, evs.count(TaskRunning))
}

func TestLocalAuthenticationWrongSecretIsAnError(t *testing.T) {
	evs, err := authJob(t, "wrong")
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Contains(t, err.Error(), "uthentication")
	assert.Zero(t, evs.count(Registered))
}

func TestUnreachableMasterTimesOut(t *testing.T) {
	// No goroutine leak check here: mesos-go's standalone master detector
	// polls an unreachable master with a 30 s sleep that ignores the
	// driver's abort (detector/standalone.go _poller), so its goroutine
	// outlives the job by up to 30 s. It is not ours to stop.
	conf := localConf(t, "127.0.0.1:1") // nothing listens there
	conf.RegistrationTimeout = time.Second
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("wait", 1, nil)
	err := s.Run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not registered with master 127.0.0.1:1 within 1s")
}

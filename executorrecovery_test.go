package mesosgot

import (
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stopRecorder is an executor driver that records Stop and, if statuses
// is not nil, the status updates.
type stopRecorder struct {
	stopped  chan struct{}
	statuses chan *mesos.TaskStatus
}

func (d *stopRecorder) Start() (mesos.Status, error) { return mesos.Status_DRIVER_RUNNING, nil }
func (d *stopRecorder) Stop() (mesos.Status, error) {
	close(d.stopped)
	return mesos.Status_DRIVER_STOPPED, nil
}
func (d *stopRecorder) Abort() (mesos.Status, error) { return mesos.Status_DRIVER_ABORTED, nil }
func (d *stopRecorder) Join() (mesos.Status, error)  { return mesos.Status_DRIVER_STOPPED, nil }
func (d *stopRecorder) Run() (mesos.Status, error)   { return mesos.Status_DRIVER_STOPPED, nil }
func (d *stopRecorder) SendStatusUpdate(st *mesos.TaskStatus) (mesos.Status, error) {
	if d.statuses != nil {
		d.statuses <- st
	}
	return mesos.Status_DRIVER_RUNNING, nil
}
func (d *stopRecorder) SendFrameworkMessage(string) (mesos.Status, error) {
	return mesos.Status_DRIVER_RUNNING, nil
}

func TestRecoveryTimeoutFromTheAgent(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "MESOS_RECOVERY_TIMEOUT" {
				return v
			}
			return ""
		}
	}
	for v, want := range map[string]time.Duration{"": 15 * time.Minute, "30secs": 30 * time.Second, "2mins": 2 * time.Minute, "bogus": 15 * time.Minute, "0secs": 15 * time.Minute} {
		assert.Equal(t, want, recoveryTimeout(env(v)), "MESOS_RECOVERY_TIMEOUT=%q", v)
	}
}

// An executor whose checkpointing agent went away and did not come back
// within MESOS_RECOVERY_TIMEOUT shuts down and stops its driver, as a Mesos
// executor does (mesos-go v0.0.11's driver would wait a fixed 15 minutes).
func TestExecutorShutsDownAfterTheRecoveryTimeout(t *testing.T) {
	checkNoLeak(t)
	t.Setenv("MESOS_RECOVERY_TIMEOUT", "200ms")
	e := NewGoTaskExecutor(nil)
	d := &stopRecorder{stopped: make(chan struct{})}
	e.Disconnected(d)
	select {
	case <-d.stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the executor did not stop its driver after the recovery timeout")
	}
}

// An agent that comes back in time (the executor re-registers) disarms it.
func TestExecutorReregisteredBeforeTheRecoveryTimeoutStays(t *testing.T) {
	checkNoLeak(t)
	t.Setenv("MESOS_RECOVERY_TIMEOUT", "1hrs")
	e := NewGoTaskExecutor(nil)
	d := &stopRecorder{stopped: make(chan struct{})}
	e.Disconnected(d)
	require.True(t, e.recovery.armed())
	e.Reregistered(d, &mesos.SlaveInfo{Id: &mesos.SlaveID{Value: proto.String("agent-1")}})
	assert.False(t, e.recovery.armed(), "re-registration stops the recovery timer")
	e.shutdown()
}

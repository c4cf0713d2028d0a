package mesosgot

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLocalForgedMessagesToSchedulerRefused posts, during a job over real
// drivers, a framework error and a framework message from a process that
// is neither the master nor an agent: both are refused (the error would
// have ended the job), and the job completes with every message.
func TestLocalForgedMessagesToSchedulerRefused(t *testing.T) {
	const workers, msgs = 2, 300
	s := NewGoTaskScheduler("", localConf(t, "local:1"), nil)
	s.SpawnTask("seq", workers, map[string]float64{"cpus": 0.5, "mem": 32})
	var problem atomic.Value
	var refused atomic.Uint64
	inner := exchange(workers, msgs, &problem, &events{})
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		dm, _ := s.driverMessenger()
		if dm == nil {
			problem.Store("the driver does not run on mesosgot's messenger")
			return
		}
		forger := newDriverMessenger("test", "slave(1)", nil, 0, "127.0.0.1", openPolicy{})
		if err := forger.Start(); err != nil {
			problem.Store(err.Error())
			return
		}
		defer forger.Stop()
		to := dm.UPID()
		before := dm.refusedCount()
		for _, m := range []proto.Message{
			&mesos.FrameworkErrorMessage{Message: proto.String("forged: give up")},
			&mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
				ExecutorId: util.NewExecutorID("e"), Data: []byte("SPOOFED")},
		} {
			done, err := forger.sendWait(&to, m)
			if err == nil {
				err = <-done
			}
			if err != nil {
				problem.Store(err.Error())
				return
			}
		}
		// accepted by the transport is not yet refused: poll
		for deadline := time.Now().Add(10 * time.Second); dm.refusedCount()-before < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		refused.Store(dm.refusedCount() - before)
		inner(schedin, schedout, schedevent)
	})
	require.NoError(t, s.Run())
	require.Nil(t, problem.Load())
	assert.Equal(t, uint64(2), refused.Load(), "both forged messages refused")
}

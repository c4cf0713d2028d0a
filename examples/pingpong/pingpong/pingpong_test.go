package pingpong_test

import (
	"fmt"
	"testing"

	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/pingpong/pingpong"
	"github.com/mesosgot/mesosgot/internal/mesostest"
)

// TestPingPongOverFakeCluster runs the example job in-process.
func TestPingPongOverFakeCluster(t *testing.T) {
	const workers, messages = 8, 5000
	var agents []mesostest.Agent
	for i := 0; i < 3; i++ {
		agents = append(agents, mesostest.Agent{ID: fmt.Sprintf("a%d", i), Resources: map[string]float64{"cpus": 2, "mem": 1024}})
	}
	cluster := mesostest.NewCluster(mesostest.Config{
		Agents: agents,
		NewExecutor: func(agentID string, info *mesos.ExecutorInfo) exec.Executor {
			e := mesosgot.NewGoTaskExecutor(nil)
			e.RegisterTaskFunc(pingpong.TaskName, pingpong.Worker)
			return e
		},
	})
	defer cluster.Close()
	s := mesosgot.NewGoTaskScheduler("", nil, nil)
	s.SpawnTask(pingpong.TaskName, workers, map[string]float64{"cpus": 0.25, "mem": 16})
	fn, res := pingpong.Scheduler(workers, messages, nil, nil)
	s.RegisterSchedFunc(fn)
	require.NoError(t, s.RunDriver(cluster.SchedulerDriver(s)))
	require.NoError(t, res.Err())
	t.Log(res.Summary())
}

// After a master failover, reconciliation reports the running workers as
// running again; the exchange goes on (it once stopped sending, counting
// more running workers than there are).
func TestSchedulerKeepsPingingAfterRepeatedTaskRunning(t *testing.T) {
	fn, res := pingpong.Scheduler(1, 2, nil, nil)
	schedin, schedout, schedevent := make(chan mesosgot.GoTaskMsg), make(chan mesosgot.GoTaskMsg), make(chan mesosgot.SchedEvent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(schedin, schedout, schedevent)
	}()
	running := mesosgot.SchedEvent{EventType: mesosgot.TaskRunning, EventData: mesosgot.TaskEvent{TaskName: pingpong.TaskName + "-0"}}
	schedevent <- running
	ping := <-schedout
	require.Equal(t, "0", ping.MessageData)
	schedevent <- running // as reconciliation reports it
	schedin <- mesosgot.GoTaskMsg{TaskName: ping.TaskName, MessageData: ping.MessageData}
	ping = <-schedout
	require.Equal(t, "1", ping.MessageData)
	schedin <- mesosgot.GoTaskMsg{TaskName: ping.TaskName, MessageData: ping.MessageData}
	<-done
	require.NoError(t, res.Err())
}

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

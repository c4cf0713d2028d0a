package montecarlo_test

import (
	"fmt"
	"math"
	"testing"

	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/montecarlo/montecarlo"
	"github.com/mesosgot/mesosgot/internal/mesostest"
)

// run runs the job over the in-process fake cluster.
func run(t *testing.T, cfg montecarlo.Config, args []string) (*montecarlo.Result, error) {
	t.Helper()
	var agents []mesostest.Agent
	for i := 0; i < 2; i++ {
		agents = append(agents, mesostest.Agent{ID: fmt.Sprintf("a%d", i), Resources: map[string]float64{"cpus": 4, "mem": 1024}})
	}
	cluster := mesostest.NewCluster(mesostest.Config{
		Agents: agents,
		NewExecutor: func(agentID string, info *mesos.ExecutorInfo) exec.Executor {
			e := mesosgot.NewGoTaskExecutor(nil)
			e.RegisterTaskFunc(montecarlo.TaskName, montecarlo.Sampler)
			return e
		},
	})
	defer cluster.Close()
	conf := mesosgot.DefaultSchedulerConfig()
	conf.Progress = false
	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTasks([]*mesosgot.AppTaskResourceInfo{{Name: montecarlo.TaskName, Count: cfg.Workers,
		Resources: map[string]float64{"cpus": 0.5, "mem": 16}, Args: args}})
	fn, res := montecarlo.Scheduler(cfg)
	s.RegisterSchedFunc(fn)
	return res, s.RunDriver(cluster.SchedulerDriver(s))
}

func TestEstimateMatchesALocalRun(t *testing.T) {
	cfg := montecarlo.Config{Workers: 5, Batches: 60, Samples: 20000, Depth: 2}
	res, err := run(t, cfg, nil)
	require.NoError(t, err)
	require.NoError(t, res.Err())
	var want uint64
	for b := uint64(0); b < cfg.Batches; b++ {
		want += montecarlo.Sample(b, cfg.Samples)
	}
	assert.Equal(t, want, res.Hits, "the distributed sum equals the local one")
	var total uint64
	for _, n := range res.PerTask {
		total += n
	}
	assert.Equal(t, cfg.Batches, total)
	assert.Len(t, res.PerTask, cfg.Workers, "every task did work")
	pi := montecarlo.Estimate(res.Hits, cfg.Batches*cfg.Samples)
	assert.InDelta(t, math.Pi, pi, 0.01)
	t.Log(res.Summary())
}

func TestFailingBatchFailsTheJob(t *testing.T) {
	cfg := montecarlo.Config{Workers: 3, Batches: 30, Samples: 1000, Depth: 1}
	res, err := run(t, cfg, []string{montecarlo.FailArg + "7"})
	var je *mesosgot.JobError
	require.ErrorAs(t, err, &je)
	assert.Regexp(t, `^sampler-\d$`, je.TaskName)
	assert.Contains(t, err.Error(), "failing at batch 7 as asked")
	assert.Error(t, res.Err(), "the run is incomplete")
	assert.Less(t, res.Done, cfg.Batches)
}

func TestSampleIsDeterministic(t *testing.T) {
	assert.Equal(t, montecarlo.Sample(3, 5000), montecarlo.Sample(3, 5000))
	assert.NotEqual(t, montecarlo.Sample(3, 5000), montecarlo.Sample(4, 5000))
	assert.InDelta(t, math.Pi, montecarlo.Estimate(montecarlo.Sample(1, 1000000), 1000000), 0.01)
}

// Command scheduler is the Monte Carlo example's app_scheduler: it hands
// out batches of random points to sampler tasks, sums the hits they send
// back, prints the estimate of pi and which task did how many batches, and
// exits non-zero if the job failed or a batch went missing.
//
//	make montecarlo
//	bin/montecarlo-scheduler -master=local -executor=bin/montecarlo-executor -workers 4 -batches 400 -samples 1000000
//
// -fail_batch N makes the task that gets batch N fail, to show how a job
// ends when one of its tasks fails.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/montecarlo/montecarlo"
)

func main() {
	var cfg montecarlo.Config
	flag.IntVar(&cfg.Workers, "workers", 4, "number of sampler tasks")
	flag.Uint64Var(&cfg.Batches, "batches", 400, "work items (batches of random points)")
	flag.Uint64Var(&cfg.Samples, "samples", 1000000, "random points per batch")
	flag.IntVar(&cfg.Depth, "depth", 2, "batches in flight per task")
	failBatch := flag.Int64("fail_batch", -1, "make the task that gets this batch fail (-1: none)")
	cpus := flag.Float64("task_cpus", 0.5, "cpus per sampler task")
	mem := flag.Float64("task_mem", 32, "mem (MB) per sampler task")
	flag.Parse()
	if err := cfg.Check(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	conf := mesosgot.LoadSchedulerConfig()

	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	var args []string
	if *failBatch >= 0 {
		args = append(args, fmt.Sprintf("%s%d", montecarlo.FailArg, *failBatch))
	}
	s.SpawnTasks([]*mesosgot.AppTaskResourceInfo{{
		Name:      montecarlo.TaskName,
		Count:     cfg.Workers,
		Resources: map[string]float64{"cpus": *cpus, "mem": *mem},
		Args:      args,
	}})
	fn, res := montecarlo.Scheduler(cfg)
	s.RegisterSchedFunc(fn)
	fmt.Printf("montecarlo: %d tasks, %d batches of %d points, on master %s\n", cfg.Workers, cfg.Batches, cfg.Samples, conf.Master)
	err := s.Run()
	fmt.Println(res.Summary())
	if err != nil {
		fmt.Fprintln(os.Stderr, "montecarlo: job failed:", err)
		os.Exit(1)
	}
	if err := res.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

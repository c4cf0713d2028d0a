// Command scheduler is the elevator example's app_scheduler: a dispatcher
// that sends a seeded stream of passenger requests to elevator tasks
// "elevator-0" .. "elevator-<n-1>", clocks their simulation step by step,
// checks that every request is delivered exactly once at its destination,
// prints a one-line summary and exits non-zero if not.
//
//	make elevator
//	bin/elevator-scheduler -master=local -executor=bin/elevator-executor -elevators 4 -floors 8 -requests 200 -seed 1
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/elevator/elevator"
)

func main() {
	elevators := flag.Int("elevators", 4, "number of elevator tasks")
	floors := flag.Int("floors", 8, "floors of the building")
	requests := flag.Int("requests", 200, "passenger requests to serve")
	seed := flag.Uint64("seed", 1, "seed of the request stream")
	step := flag.Duration("step", 0, "wall-clock pause per logical step, for watching (e.g. 200ms); 0 runs flat out")
	cpus := flag.Float64("task_cpus", 0.1, "cpus per elevator")
	mem := flag.Float64("task_mem", 16, "mem (MB) per elevator")
	flag.Parse()
	conf := mesosgot.LoadSchedulerConfig()
	if *elevators < 1 || *floors < 2 || *requests < 0 {
		fmt.Fprintln(os.Stderr, "elevator: need -elevators >= 1, -floors >= 2, -requests >= 0")
		os.Exit(2)
	}

	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTasks([]*mesosgot.AppTaskResourceInfo{{
		Name:      elevator.TaskName,
		Count:     *elevators,
		Resources: map[string]float64{"cpus": *cpus, "mem": *mem},
		Args:      elevator.TaskArgs(*elevators, *floors),
	}})
	opts := elevator.Options{
		Elevators: *elevators, Floors: *floors, Requests: *requests, Seed: *seed,
		StepDelay: *step,
		Progress:  func(line string) { fmt.Println(line) },
	}
	if *step > 0 {
		opts.OnStep = func(t int, picture string) { fmt.Printf("elevator: step %4d %s\n", t, picture) }
	}
	fn, res := elevator.Scheduler(opts)
	s.RegisterSchedFunc(fn)
	fmt.Printf("elevator: %d elevators x %d floors, %d requests (seed %d) on master %s\n", *elevators, *floors, *requests, *seed, conf.Master)
	err := s.Run()
	fmt.Println(res.Summary())
	if err != nil {
		fmt.Fprintln(os.Stderr, "elevator:", err) // err says "mesosgot: job failed: ..."
		os.Exit(mesosgot.ExitCode(err))           // 130 / 143 when interrupted by SIGINT / SIGTERM
	}
	if err := res.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

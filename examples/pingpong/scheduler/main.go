// Command scheduler is the pingpong example's app_scheduler: N workers each
// exchange M numbered messages with it; it checks that every one arrived
// once and in order, prints a one-line summary and exits non-zero if not.
//
//	go run ./examples/pingpong/scheduler -master=local -executor=bin/pingpong-executor -workers 4 -messages 1000
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/pingpong/pingpong"
)

func main() {
	workers := flag.Int("workers", 4, "number of worker tasks")
	messages := flag.Int("messages", 1000, "messages each worker exchanges with the scheduler")
	cpus := flag.Float64("task_cpus", 0.1, "cpus per worker")
	mem := flag.Float64("task_mem", 16, "mem (MB) per worker")
	hold := flag.Duration("hold", 0, "after the exchange, keep the idle workers running this long before ending the job")
	flag.Parse()
	conf := mesosgot.LoadSchedulerConfig()

	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTask(pingpong.TaskName, *workers, map[string]float64{"cpus": *cpus, "mem": *mem})
	fn, res := pingpong.Scheduler(*workers, *messages, func(done, total int) {
		fmt.Printf("pingpong: %d/%d pongs\n", done, total)
	}, func(ev mesosgot.SchedEvent) {
		switch d := ev.EventData.(type) {
		case mesosgot.TaskEvent:
			fmt.Printf("pingpong: %-12s %s on agent %s %s\n", ev.EventType, d.TaskName, d.AgentID, d.Message)
		default:
			fmt.Printf("pingpong: %-12s %v\n", ev.EventType, d)
		}
	})
	if *hold > 0 {
		fn = holdAfter(fn, *hold)
	}
	s.RegisterSchedFunc(fn)
	fmt.Printf("pingpong: %d workers x %d messages on master %s\n", *workers, *messages, conf.Master)
	err := s.Run()
	fmt.Println(res.Summary())
	if err != nil {
		fmt.Fprintln(os.Stderr, "pingpong:", err) // err says "mesosgot: job failed: ..."
		os.Exit(mesosgot.ExitCode(err))           // 130 / 143 when interrupted by SIGINT / SIGTERM
	}
	if err := res.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// holdAfter returns an app scheduler that runs fn, then keeps the job (and
// its idle workers) alive for d, or until the job ends (schedevent closes).
func holdAfter(fn mesosgot.AppSchedulerFunc, d time.Duration) mesosgot.AppSchedulerFunc {
	return func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		fn(schedin, schedout, schedevent)
		fmt.Printf("pingpong: holding the idle workers for %v\n", d)
		end := time.NewTimer(d)
		defer end.Stop()
		for {
			select {
			case _, ok := <-schedevent:
				if !ok {
					return
				}
			case <-end.C:
				return
			}
		}
	}
}

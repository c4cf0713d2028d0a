// Command scheduler is the seedstyle example's app_scheduler, wired the way
// the original mesosgot documentation shows: GoTaskScheduler's DriverConfig
// into mesos-go's own NewMesosSchedulerDriver, then driver.Run() in main.
//
// The workers report, get the go-ahead, send their steps and end; the app
// scheduler reads schedin with a plain range loop, which ends by itself once
// every task has ended. With -fail one task fails: the job fails, the driver
// is aborted and main exits non-zero; the reason (naming the task) is
// logged at ERROR on stderr.
//
//	go run ./examples/seedstyle/scheduler -master=local -executor=bin/seedstyle-executor [-fail]
package main

import (
	"flag"
	"fmt"
	"os"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"

	"github.com/mesosgot/mesosgot"
)

func main() {
	workers := flag.Int("workers", 3, "number of worker tasks")
	fail := flag.Bool("fail", false, "add a task that fails")
	schedConfig := mesosgot.LoadSchedulerConfig()

	schd := mesosgot.NewGoTaskScheduler("", schedConfig, nil)
	res := map[string]float64{"cpus": 0.1, "mem": 32}
	schd.SpawnTask("worker", *workers, res)
	count := *workers
	if *fail {
		schd.SpawnTasks([]*mesosgot.AppTaskResourceInfo{{Name: "faulty", Count: 1, Resources: res, Args: []string{"fail"}}})
		count++
	}
	schd.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		go func() { // the events, printed as they come
			for ev := range schedevent {
				fmt.Printf("seedstyle: event %s %v\n", ev.EventType, ev.EventData)
			}
		}()
		ready := 0
		for m := range schedin {
			fmt.Printf("seedstyle: %s: %s\n", m.TaskName, m.MessageData)
			if m.MessageData == "ready" {
				if ready++; ready == count {
					for i := 0; i < *workers; i++ {
						schedout <- mesosgot.GoTaskMsg{TaskName: fmt.Sprintf("worker-%d", i), MessageData: "go"}
					}
					if *fail {
						schedout <- mesosgot.GoTaskMsg{TaskName: "faulty-0", MessageData: "go"}
					}
				}
			}
		}
		// Returning ends the job (a failed task has ended it already).
		fmt.Println("seedstyle: every task has ended")
	})

	driver, err := sched.NewMesosSchedulerDriver(schd.DriverConfig())
	if err != nil {
		log.Errorf("Unable to create a SchedulerDriver: %v", err)
		log.Flush()
		os.Exit(1)
	}
	stat, err := driver.Run()
	if err != nil {
		log.Errorf("Framework stopped with status %s and error: %v", stat, err)
		log.Flush()
		os.Exit(1)
	}
	if stat != mesos.Status_DRIVER_STOPPED {
		log.Errorf("Framework stopped with status %s", stat)
		log.Flush()
		os.Exit(1)
	}
	fmt.Println("seedstyle: framework terminating")
}

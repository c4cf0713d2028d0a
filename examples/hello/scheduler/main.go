// Command scheduler is the hello job's app_scheduler: it asks for four echo
// tasks, says hello to each and prints their answers.
package main

import (
	"fmt"
	"log"

	"github.com/mesosgot/mesosgot"
)

func main() {
	conf := mesosgot.LoadSchedulerConfig() // -master, -executor, ... (see -h)
	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("echo", 4, map[string]float64{"cpus": 0.5, "mem": 64}) // echo-0 .. echo-3
	s.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		for i := 0; i < 4; i++ {
			schedout <- mesosgot.GoTaskMsg{TaskName: fmt.Sprintf("echo-%d", i), MessageData: "hello"}
		}
		for i := 0; i < 4; i++ {
			m := <-schedin // m.TaskName is the sender
			fmt.Println(m.TaskName, "says", m.MessageData)
		}
	}) // returning ends the job: the tasks' in channels close, the driver stops
	if err := s.Run(); err != nil {
		log.Fatal(err) // a *mesosgot.JobError naming the failed task and the cause
	}
}

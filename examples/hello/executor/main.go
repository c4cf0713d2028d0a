// Command executor is the hello job's app_executor: it runs under a Mesos
// agent and starts the task functions registered here by name.
package main

import (
	"log"

	"github.com/mesosgot/mesosgot"
)

func main() {
	exec := mesosgot.NewGoTaskExecutor(nil)
	exec.RegisterTaskFunc("echo", func(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
		for m := range in { // in closes when the job ends; args[0] is this task's name
			out <- mesosgot.GoTaskMsg{MessageData: m.MessageData + " from " + args[0]}
		}
		return nil // a returned error (or a panic) fails the whole job
	})
	if err := exec.Run(); err != nil {
		log.Fatal(err)
	}
}

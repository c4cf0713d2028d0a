// Command executor is the elevator example's app_executor: it registers the
// elevator task and runs under the Mesos agent.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/elevator/elevator"
)

func main() {
	flag.Parse()
	exec := mesosgot.NewGoTaskExecutor(nil)
	exec.RegisterTaskFunc(elevator.TaskName, elevator.Task)
	if err := exec.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "elevator executor:", err)
		os.Exit(1)
	}
}

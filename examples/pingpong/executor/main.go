// Command executor is the pingpong example's app_executor: it registers the
// pingpong worker task and runs under the Mesos agent.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/pingpong/pingpong"
)

func main() {
	flag.Parse()
	exec := mesosgot.NewGoTaskExecutor(nil)
	exec.RegisterTaskFunc(pingpong.TaskName, pingpong.Worker)
	if err := exec.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "pingpong executor:", err)
		os.Exit(1)
	}
}

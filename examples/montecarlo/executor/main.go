// Command executor is the Monte Carlo example's app_executor: it registers
// the sampler task and runs under the Mesos agent.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/examples/montecarlo/montecarlo"
)

func main() {
	flag.Parse()
	exec := mesosgot.NewGoTaskExecutor(nil)
	exec.RegisterTaskFunc(montecarlo.TaskName, montecarlo.Sampler)
	if err := exec.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "montecarlo executor:", err)
		os.Exit(1)
	}
}

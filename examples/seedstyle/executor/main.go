// Command executor is the seedstyle example's app_executor, wired the way
// the original mesosgot documentation shows: a GoTaskExecutor plugged into
// mesos-go's own MesosExecutorDriver by hand, then Start and Join.
package main

import (
	"fmt"
	"os"

	exec "github.com/mesos/mesos-go/api/v0/executor"

	"github.com/mesosgot/mesosgot"
)

// workerTask reports itself, waits for the scheduler's go-ahead, sends three
// steps and says it is done. A task spawned with the arg "fail" fails
// instead of sending its last step (the job then fails).
func workerTask(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
	myName := args[0] // the task's own name, as os.Args[0] is a program's
	out <- mesosgot.GoTaskMsg{TaskName: myName, MessageData: "ready"}
	if _, ok := <-in; !ok {
		return nil // the job ends before it began
	}
	for i := 0; i < 3; i++ {
		if i == 2 && len(args) > 1 && args[1] == "fail" {
			return fmt.Errorf("%s: asked to fail at step %d", myName, i)
		}
		out <- mesosgot.GoTaskMsg{TaskName: myName, MessageData: fmt.Sprintf("step %d", i)}
	}
	out <- mesosgot.GoTaskMsg{TaskName: myName, MessageData: "done"}
	return nil
}

func main() {
	fmt.Println("Starting seedstyle executor")

	exc := mesosgot.NewGoTaskExecutor(nil)
	exc.RegisterTaskFunc("worker", workerTask)
	exc.RegisterTaskFunc("faulty", workerTask)

	driver, err := exec.NewMesosExecutorDriver(exc.DriverConfig())
	if err != nil {
		fmt.Println("Unable to create an ExecutorDriver:", err)
		os.Exit(1)
	}
	if _, err := driver.Start(); err != nil {
		fmt.Println("Got error:", err)
		os.Exit(1)
	}
	fmt.Println("Executor process has started and running.")
	driver.Join()
}

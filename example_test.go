package mesosgot_test

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mesosgot/mesosgot"
)

func ExampleEncodeMsg() {
	wire, err := mesosgot.EncodeMsg(mesosgot.GoTaskMsg{TaskName: "worker-3", MessageData: "ping^1"})
	if err != nil {
		fmt.Println("encode:", err)
		return
	}
	m, err := mesosgot.DecodeMsg(wire)
	if err != nil {
		fmt.Println("decode:", err)
		return
	}
	fmt.Printf("task %q data %q\n", m.TaskName, m.MessageData)

	_, err = mesosgot.DecodeMsg("garbage")
	fmt.Println(err != nil)
	// Output:
	// task "worker-3" data "ping^1"
	// true
}

func ExampleSchedEventType_String() {
	ev := mesosgot.SchedEvent{EventType: mesosgot.TaskFailed, EventData: mesosgot.TaskEvent{TaskName: "worker-0"}}
	fmt.Println(ev.EventType)
	fmt.Println(mesosgot.Registered, mesosgot.Shutdown)
	// Output:
	// TaskFailed
	// Registered Shutdown
}

func ExampleNewDefAppTaskExecutor() {
	exec := mesosgot.NewDefAppTaskExecutor()
	exec.RegisterTaskFunc("echo", func(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
		for m := range in { // in is closed to tell the task to exit
			// args[0] is the task's own name, then the spawned Args
			out <- mesosgot.GoTaskMsg{TaskName: args[0], MessageData: args[1] + m.MessageData}
		}
		return nil
	})

	// GoTaskExecutor does this on an agent; here the task runs directly.
	in := make(chan mesosgot.GoTaskMsg, 2)
	out := make(chan mesosgot.GoTaskMsg, 2)
	in <- mesosgot.GoTaskMsg{TaskName: "echo-0", MessageData: "hello"}
	in <- mesosgot.GoTaskMsg{TaskName: "echo-0", MessageData: "world"}
	close(in)
	err := exec.RunTaskWithArgs("echo", in, out, []string{"echo-0", "echo: "}, nil)
	close(out)
	for m := range out {
		fmt.Println(m.MessageData)
	}
	fmt.Println("err:", err)
	// Output:
	// echo: hello
	// echo: world
	// err: <nil>
}

// The app_scheduler's main: ask for tasks, register the scheduler function
// and run the job. Run with -master=host:5050 -executor=./app_executor.
func ExampleNewGoTaskScheduler() {
	conf := mesosgot.LoadSchedulerConfig()
	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("worker", 4, map[string]float64{"cpus": 0.5, "mem": 64})
	s.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		for i := 0; i < 4; i++ {
			schedout <- mesosgot.GoTaskMsg{TaskName: fmt.Sprintf("worker-%d", i), MessageData: "ping"}
		}
		for got := 0; got < 4; {
			select {
			case m, ok := <-schedin:
				if !ok {
					return // the job ended (a task failed)
				}
				fmt.Println(m.TaskName, "says", m.MessageData)
				got++
			case ev, ok := <-schedevent:
				if !ok {
					return
				}
				fmt.Println("event:", ev.EventType)
			}
		}
		// Returning ends the job normally.
	})
	if err := s.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "job failed:", err)
		os.Exit(1)
	}
}

// The app_executor's main: register every task function by name and run
// under the Mesos agent, which starts this binary.
func ExampleNewGoTaskExecutor() {
	flag.Parse()
	exec := mesosgot.NewGoTaskExecutor(nil)
	exec.RegisterTaskFunc("worker", func(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
		for m := range in {
			out <- mesosgot.GoTaskMsg{TaskName: m.TaskName, MessageData: strings.Replace(m.MessageData, "ping", "pong", 1)}
		}
		return nil
	})
	if err := exec.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		os.Exit(1)
	}
}

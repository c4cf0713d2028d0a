// Command benchexec is the executor binary of the mesosgot benchmarks
// (go run ./bench). Built by the bench program into a temporary directory
// and run by localmesos agents as a real child process, it has two modes:
//
//	benchexec        a mesosgot GoTaskExecutor with the tasks "echo" (every
//	                 message is sent back unchanged) and "slow" (a consumer
//	                 that sleeps 1 ms every SLOW_EVERY messages (args[1]) and
//	                 reports the count when in closes or when it reaches
//	                 args[2] messages; args[0] is the task's name)
//	                 and "source" (on every message "<size> <count>" it
//	                 receives, sends count messages of size bytes)
//	benchexec -raw   a plain mesos-go v0 executor (no mesosgot) that answers
//	                 every framework message with the same bytes
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/mesosgot/mesosgot"
)

func main() {
	raw := flag.Bool("raw", false, "run the plain mesos-go echo executor instead of mesosgot")
	flag.Parse()
	if wd, err := os.Getwd(); err == nil {
		_ = flag.Set("log_dir", wd) // glog files go to the sandbox
	}
	if *raw {
		runRaw()
		return
	}
	if dir := os.Getenv("MESOSGOT_BENCH_EXEC_CPUPROFILE"); dir != "" {
		// One CPU profile per executor process (merge them with
		// go tool pprof -top benchexec DIR/*.prof).
		if f, err := os.Create(fmt.Sprintf("%s/exec-%d.prof", dir, os.Getpid())); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	e := mesosgot.NewGoTaskExecutor(nil)
	e.RegisterTaskFunc("echo", echoTask)
	e.RegisterTaskFunc("slow", slowTask)
	e.RegisterTaskFunc("source", sourceTask)
	if err := e.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchexec:", err)
		os.Exit(1)
	}
}

// echoTask sends every message back unchanged.
func echoTask(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, _ []string, _ map[string]string) error {
	for m := range in {
		out <- m
	}
	return nil
}

// slowTask consumes messages slowly (1 ms sleep every args[1] messages) and
// answers "done <count>" once it has taken args[2] messages (args[0] is the
// task's name).
func slowTask(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, _ map[string]string) error {
	every, want := 100, -1
	if len(args) > 1 {
		every, _ = strconv.Atoi(args[1])
	}
	if len(args) > 2 {
		want, _ = strconv.Atoi(args[2])
	}
	n := 0
	for range in {
		n++
		if every > 0 && n%every == 0 {
			time.Sleep(time.Millisecond)
		}
		if n == want {
			out <- mesosgot.GoTaskMsg{MessageData: "done " + strconv.Itoa(n)}
		}
	}
	return nil
}

// rawExecutor is a minimal mesos-go v0 executor: TASK_RUNNING on launch,
// TASK_KILLED on kill, and every framework message echoed back.
type rawExecutor struct{}

func (rawExecutor) Registered(executor.ExecutorDriver, *mesos.ExecutorInfo, *mesos.FrameworkInfo, *mesos.SlaveInfo) {
}
func (rawExecutor) Reregistered(executor.ExecutorDriver, *mesos.SlaveInfo) {}
func (rawExecutor) Disconnected(executor.ExecutorDriver)                   {}
func (rawExecutor) LaunchTask(d executor.ExecutorDriver, t *mesos.TaskInfo) {
	status(d, t.GetTaskId(), mesos.TaskState_TASK_RUNNING)
}
func (rawExecutor) KillTask(d executor.ExecutorDriver, id *mesos.TaskID) {
	status(d, id, mesos.TaskState_TASK_KILLED)
}
func (rawExecutor) FrameworkMessage(d executor.ExecutorDriver, msg string) {
	if _, err := d.SendFrameworkMessage(msg); err != nil {
		fmt.Fprintln(os.Stderr, "benchexec: framework message:", err)
	}
}
func (rawExecutor) Shutdown(executor.ExecutorDriver) {}
func (rawExecutor) Error(_ executor.ExecutorDriver, s string) {
	fmt.Fprintln(os.Stderr, "benchexec:", s)
}

func status(d executor.ExecutorDriver, id *mesos.TaskID, s mesos.TaskState) {
	if _, err := d.SendStatusUpdate(&mesos.TaskStatus{TaskId: id, State: s.Enum(), Message: proto.String("")}); err != nil {
		fmt.Fprintln(os.Stderr, "benchexec: status update:", err)
	}
}

func runRaw() {
	cfg := executor.DriverConfig{Executor: rawExecutor{}}
	if ip := net.ParseIP(os.Getenv("LIBPROCESS_IP")); ip != nil {
		cfg.BindingAddress = ip
	}
	d, err := executor.NewMesosExecutorDriver(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchexec: driver:", err)
		os.Exit(2)
	}
	if _, err := d.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchexec: run:", err)
	}
}

// sourceTask sends, for every message "<size> <count>" it receives, count
// messages of size bytes to the scheduler.
func sourceTask(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, _ []string, _ map[string]string) error {
	for m := range in {
		var size, count int
		if _, err := fmt.Sscan(m.MessageData, &size, &count); err != nil {
			return fmt.Errorf("source: bad request %q: %w", m.MessageData, err)
		}
		data := string(make([]byte, size))
		for i := 0; i < count; i++ {
			out <- mesosgot.GoTaskMsg{MessageData: data}
		}
	}
	return nil
}

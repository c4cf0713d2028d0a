// Command testexec is a plain mesos-go v0 executor used by localmesos's
// tests. A task's data selects its behaviour:
//
//	finish  TASK_RUNNING, then TASK_FINISHED
//	fail    TASK_RUNNING, then TASK_FAILED
//	run     TASK_RUNNING until killed (TASK_KILLED) or shut down
//	data    like run, its TASK_RUNNING carrying a message and data
//	env     like run, its TASK_RUNNING carrying the environment as data
//
// Every framework message is answered with "echo:" + the message.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

type testExecutor struct{}

func status(d executor.ExecutorDriver, id *mesos.TaskID, s mesos.TaskState, msg string) {
	send(d, &mesos.TaskStatus{TaskId: id, State: s.Enum(), Message: proto.String(msg)})
}

func send(d executor.ExecutorDriver, st *mesos.TaskStatus) {
	if _, err := d.SendStatusUpdate(st); err != nil {
		fmt.Fprintln(os.Stderr, "status update:", err)
	}
}

func (testExecutor) Registered(d executor.ExecutorDriver, e *mesos.ExecutorInfo, f *mesos.FrameworkInfo, s *mesos.SlaveInfo) {
	fmt.Println("registered", e.GetExecutorId().GetValue(), "framework", f.GetId().GetValue(), "agent", s.GetId().GetValue())
}
func (testExecutor) Reregistered(executor.ExecutorDriver, *mesos.SlaveInfo) {}
func (testExecutor) Disconnected(executor.ExecutorDriver)                   {}
func (testExecutor) LaunchTask(d executor.ExecutorDriver, t *mesos.TaskInfo) {
	fmt.Println("launch", t.GetTaskId().GetValue(), string(t.GetData()))
	switch string(t.GetData()) {
	case "data":
		send(d, &mesos.TaskStatus{TaskId: t.TaskId, State: mesos.TaskState_TASK_RUNNING.Enum(), Message: proto.String("running with data"), Data: []byte("payload")})
		return
	case "env":
		send(d, &mesos.TaskStatus{TaskId: t.TaskId, State: mesos.TaskState_TASK_RUNNING.Enum(), Data: []byte(strings.Join(os.Environ(), "\n"))})
		return
	}
	status(d, t.TaskId, mesos.TaskState_TASK_RUNNING, "")
	switch string(t.GetData()) {
	case "finish":
		status(d, t.TaskId, mesos.TaskState_TASK_FINISHED, "done")
	case "fail":
		status(d, t.TaskId, mesos.TaskState_TASK_FAILED, "asked to fail")
	}
}
func (testExecutor) KillTask(d executor.ExecutorDriver, id *mesos.TaskID) {
	status(d, id, mesos.TaskState_TASK_KILLED, "killed")
}
func (testExecutor) FrameworkMessage(d executor.ExecutorDriver, msg string) {
	if _, err := d.SendFrameworkMessage("echo:" + msg); err != nil {
		fmt.Fprintln(os.Stderr, "framework message:", err)
	}
}

// shutdownDone closes when Shutdown has run: mesos-go's driver runs the
// callback on a goroutine of its own and stops at once, so Run can return
// before it ran.
var (
	shutdownDone = make(chan struct{})
	shutdownOnce sync.Once
)

func (testExecutor) Shutdown(executor.ExecutorDriver) {
	fmt.Println("shutdown")
	shutdownOnce.Do(func() { close(shutdownDone) })
}
func (testExecutor) Error(_ executor.ExecutorDriver, s string) { fmt.Println("error", s) }

func main() {
	flag.Parse()
	cfg := executor.DriverConfig{Executor: testExecutor{}}
	if ip := net.ParseIP(os.Getenv("LIBPROCESS_IP")); ip != nil {
		cfg.BindingAddress = ip
	}
	d, err := executor.NewMesosExecutorDriver(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(2)
	}
	st, err := d.Run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
	}
	if st == mesos.Status_DRIVER_STOPPED { // nothing here stops the driver but a shutdown
		select {
		case <-shutdownDone:
		case <-time.After(5 * time.Second):
			fmt.Println("the driver stopped without calling Shutdown")
		}
	}
	fmt.Println("executor exiting")
}

package mesosgot

import (
	"errors"
	"fmt"
	"sync"
)

// AppTask is the type of tasks. App tasks use channel "in" to receive
// messages from the scheduler and send messages to the scheduler on channel
// "out". Channel "in" is closed to tell the task to exit. args[0] is the
// task's own name ("<name>-<index>"), followed by AppTaskResourceInfo.Args. Returning nil
// reports TASK_FINISHED, returning an error reports TASK_FAILED with the
// error's text; a panic is TASK_FAILED with the panic value.
type AppTask interface {
	Run(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error
}

// AppTaskFunc is the type of task functions, with the same contract as
// AppTask.Run. On an agent, args[0] is the task's own name
// ("<name>-<index>", as os.Args[0] is a program's), followed by the
// AppTaskResourceInfo.Args the scheduler spawned it with; env holds
// AppTaskResourceInfo.Env plus MESOSGOT_TASK_NAME and MESOSGOT_TASK_INDEX.
type AppTaskFunc func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error

// Run calls the function itself, so an AppTaskFunc is an AppTask.
func (f AppTaskFunc) Run(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
	return f(in, out, args, env)
}

// AppTaskExecutor is the common interface of app task executors: it
// dispatches a task by its registered name. GoTaskExecutor calls RunTask with
// the registered name (the "<name>" of "<name>-<index>"), in the task's own
// goroutine.
//
// An AppTaskExecutor that also implements AppTaskArgsRunner receives the
// task's Args and Env through RunTaskWithArgs instead; one that does not
// gets RunTask, and the args and env are dropped.
type AppTaskExecutor interface {
	//Start/dispatch app tasks based on task name.
	//App tasks will use channel "in" to receive messages from schedulers.
	//App tasks will send messages to scheduler via channel "out".
	RunTask(taskName string, in <-chan GoTaskMsg, out chan<- GoTaskMsg) error
	//register a task to a task name
	RegisterTask(name string, task AppTask)
	//register a task function to a task name
	RegisterTaskFunc(name string, task AppTaskFunc)
}

// AppTaskArgsRunner is the optional interface of an AppTaskExecutor that
// takes each task's args and env: args is the task's name followed by
// AppTaskResourceInfo.Args, env is AppTaskResourceInfo.Env plus the
// MESOSGOT_TASK_NAME and MESOSGOT_TASK_INDEX entries GoTaskExecutor adds to
// env). GoTaskExecutor prefers it to RunTask when the app executor has it.
// DefAppTaskExecutor implements it.
type AppTaskArgsRunner interface {
	RunTaskWithArgs(taskName string, in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error
}

// ErrUnknownTask is wrapped by the error of running a task name that no
// task is registered under.
var ErrUnknownTask = errors.New("mesosgot: no task registered under this name")

// DefAppTaskExecutor is the default app task executor, used if no external
// AppTaskExecutor is given to NewGoTaskExecutor. It is safe for concurrent use.
type DefAppTaskExecutor struct {
	mu    sync.RWMutex
	tasks map[string]AppTask
}

// NewDefAppTaskExecutor creates an empty default app task executor.
func NewDefAppTaskExecutor() *DefAppTaskExecutor {
	return &DefAppTaskExecutor{tasks: make(map[string]AppTask)}
}

// RegisterTask registers a task to a task name in the default app task
// executor; a later registration of the same name replaces the earlier.
func (exec *DefAppTaskExecutor) RegisterTask(name string, task AppTask) {
	exec.mu.Lock()
	defer exec.mu.Unlock()
	exec.tasks[name] = task
}

// RegisterTaskFunc registers a task func to a task name in the default app
// task executor.
func (exec *DefAppTaskExecutor) RegisterTaskFunc(name string, taskFunc AppTaskFunc) {
	exec.RegisterTask(name, taskFunc)
}

// RunTask runs the task registered under taskName with no args or env.
func (exec *DefAppTaskExecutor) RunTask(taskName string, in <-chan GoTaskMsg, out chan<- GoTaskMsg) error {
	return exec.RunTaskWithArgs(taskName, in, out, nil, nil)
}

// RunTaskWithArgs runs the task registered under taskName with its args and
// env. An unregistered name returns an error wrapping ErrUnknownTask.
func (exec *DefAppTaskExecutor) RunTaskWithArgs(taskName string, in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
	exec.mu.RLock()
	task, ok := exec.tasks[taskName]
	exec.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTask, taskName)
	}
	return task.Run(in, out, args, env)
}

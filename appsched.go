package mesosgot

import "sync"

// AppSchedulerFunc is a scheduler function: the scheduling logic that runs
// in the scheduler process. It receives messages from tasks on "schedin",
// sends messages to tasks on "schedout" and receives scheduling events on
// "schedevent". Returning from it ends the job normally.
//
// schedin is closed once no task can send any more: every task has reached
// a terminal state and everything the tasks sent has been received on
// schedin (or, at the latest, when the job ends). So `for m := range
// schedin` ends by itself when the tasks are done; a select should check
// the second value (`m, ok := <-schedin`). schedevent stays open until the
// job ends, which for a normal end is after this function returns: do not
// wait for it to close after the tasks have ended.
type AppSchedulerFunc func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent)

// Run calls the function itself, so an AppSchedulerFunc is an AppSchedulerTask.
func (asf AppSchedulerFunc) Run(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
	asf(schedin, schedout, schedevent)
}

// AppSchedulerTask is the scheduling logic as an interface, with the
// contract of AppSchedulerFunc.
type AppSchedulerTask interface {
	//App scheduler will use channel "schedin" to receive messages from tasks.
	//App scheduler will send messages to tasks via "schedout" channel.
	//App scheduler will receive scheduling events from "schedevent" channel.
	Run(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent)
}

// AppTaskResourceInfo lets the app scheduler give the resource requirements
// of Count tasks named Name-0 .. Name-(Count-1). Each task function gets
// args = [its own name ("Name-<index>"), Args...], as a program gets
// os.Args = [its name, arguments...], and env = Env plus MESOSGOT_TASK_NAME
// and MESOSGOT_TASK_INDEX. Mesos refuses tasks that use no resources,
// so a task whose Resources are empty (or all zero) gets
// DefaultTaskResources.
type AppTaskResourceInfo struct {
	Name      string
	Count     int
	Resources map[string]float64 //map keys = Mesos resource names: "cpus", "mem"...
	Args      []string
	Env       map[string]string
}

// DefaultTaskResources returns the resources of a task that asks for none:
// cpus 0.1, mem 32 (MB).
func DefaultTaskResources() map[string]float64 {
	return map[string]float64{"cpus": 0.1, "mem": 32}
}

// AppTaskScheduler is the common interface implemented by all app/framework
// schedulers: GoTaskScheduler asks it for the tasks to launch and runs it.
type AppTaskScheduler interface {
	//-- internal interface to mesos --
	//return resource requirements of all tasks
	TasksResourceInfo() []*AppTaskResourceInfo
	//start running app scheduler in a separate goroutine.
	//App scheduler will use channel "schedin" to receive messages from tasks.
	//App scheduler will send messages to tasks via "schedout" channel.
	//App scheduler will receive scheduling events from "schedevent" channel.
	RunScheduler(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent)
	//-- external interface to user code --
	//add one app task resource info
	SpawnTask(name string, count int, res map[string]float64)
	//add a set of app tasks
	SpawnTasks(tasks []*AppTaskResourceInfo)
	//register scheduler task
	RegisterSchedTask(sched AppSchedulerTask)
	//register scheduler func
	RegisterSchedFunc(sched AppSchedulerFunc)
}

// DefAppTaskScheduler is the AppTaskScheduler used when none is given to
// NewGoTaskScheduler. It is safe for concurrent use.
type DefAppTaskScheduler struct {
	mu    sync.Mutex
	tasks []*AppTaskResourceInfo
	sched AppSchedulerTask
}

// NewDefAppTaskScheduler creates a default AppTaskScheduler.
func NewDefAppTaskScheduler() *DefAppTaskScheduler {
	return &DefAppTaskScheduler{}
}

// RegisterSchedFunc registers the app scheduler func to run in a goroutine.
func (ats *DefAppTaskScheduler) RegisterSchedFunc(sched AppSchedulerFunc) {
	ats.RegisterSchedTask(sched)
}

// RegisterSchedTask registers the app scheduler task to run in a goroutine.
func (ats *DefAppTaskScheduler) RegisterSchedTask(sched AppSchedulerTask) {
	ats.mu.Lock()
	defer ats.mu.Unlock()
	ats.sched = sched
}

// RunScheduler runs the registered app scheduler and returns when it
// returns (GoTaskScheduler calls it in its own goroutine). With nothing
// registered it returns at once, which ends the job.
func (ats *DefAppTaskScheduler) RunScheduler(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
	ats.mu.Lock()
	s := ats.sched
	ats.mu.Unlock()
	if s != nil {
		s.Run(schedin, schedout, schedevent)
	}
}

// SpawnTask asks for count tasks named name-0 .. name-(count-1), each with
// the resources res (Mesos resource names such as "cpus", "mem").
func (ats *DefAppTaskScheduler) SpawnTask(name string, count int, res map[string]float64) {
	ats.SpawnTasks([]*AppTaskResourceInfo{{Name: name, Count: count, Resources: res}})
}

// SpawnTasks asks for a set of tasks.
func (ats *DefAppTaskScheduler) SpawnTasks(tasks []*AppTaskResourceInfo) {
	ats.mu.Lock()
	defer ats.mu.Unlock()
	ats.tasks = append(ats.tasks, tasks...)
}

// TasksResourceInfo returns the tasks asked for so far.
func (ats *DefAppTaskScheduler) TasksResourceInfo() []*AppTaskResourceInfo {
	ats.mu.Lock()
	defer ats.mu.Unlock()
	return append([]*AppTaskResourceInfo(nil), ats.tasks...)
}

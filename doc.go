// Package mesosgot is a simple Go task scheduler on Apache Mesos: a very thin
// layer over the mesos-go v0 driver API for running a cluster of relatively
// long-running tasks, each in its own goroutine on an agent machine.
//
// Each task is a Go function that runs in a goroutine:
//
//	func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error
//
// A task receives messages from the scheduler on "in" and sends to it on
// "out"; "in" is closed to tell the task to exit (killed, or the job ends).
// args[0] is the task's own name ("<name>-<index>"), as os.Args[0] is a
// program's, followed by the Args of its AppTaskResourceInfo; env is its Env
// plus MESOSGOT_TASK_NAME and MESOSGOT_TASK_INDEX. Returning nil reports
// the task finished; an error or a panic fails it, and with it the job.
//
// The application scheduler is also a Go function, run in a goroutine:
//
//	func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent)
//
// It receives messages from tasks on schedin, sends to tasks on schedout and
// receives scheduling events on schedevent; returning from it ends the job.
// The channels overlay Mesos framework messages: every message arrives once
// and in order, also when Mesos drops or duplicates framework messages.
//
// Resource allocation is simple and static: offers are accepted only when
// one round of offers can hold every task (all or nothing), and whenever any
// task fails the whole job shuts down.
//
// Programming: build two executables.
//
//   - app_scheduler: create a GoTaskScheduler (LoadSchedulerConfig reads
//     its flags: -master, -executor, ...), call SpawnTask to ask for named
//     tasks and RegisterSchedFunc to register the scheduler function, then
//     Run it (or plug DriverConfig into a MesosSchedulerDriver). Run returns
//     nil when the job ended normally, else a *JobError naming the failed
//     task and the cause.
//   - app_executor: create a GoTaskExecutor, call RegisterTaskFunc (or
//     RegisterTask) for every task name, then Run it (or plug DriverConfig
//     into a MesosExecutorDriver). The scheduler ships this binary to the
//     agents itself.
//
// With the master "local" the job runs on an embedded Mesos cluster in the
// scheduler process (see package localmesos), with real executor processes.
// While a job runs, a progress line on stderr shows its phase, its tasks by
// state and its message rates; with GoTaskSchedConfig.StatusAddress set, an
// HTTP server shows the same as JSON (/status) and as a web page (/).
//
// Licensed under Apache 2.0.
package mesosgot

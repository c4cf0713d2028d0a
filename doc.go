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
//
// The application scheduler is also a Go function, run in a goroutine:
//
//	func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent)
//
// It receives messages from tasks on schedin, sends to tasks on schedout and
// receives scheduling events on schedevent. The channels overlay Mesos
// framework messages.
//
// Resource allocation is simple and static: offers are accepted only when
// one round of offers can hold every task (all or nothing), and whenever any
// task fails the whole job shuts down.
//
// Programming: build two executables.
//
//   - app_scheduler: create a GoTaskScheduler, call SpawnTask to ask for
//     named tasks and RegisterSchedFunc to register the scheduler function,
//     then Run it (or plug DriverConfig into a MesosSchedulerDriver).
//   - app_executor: create a GoTaskExecutor, call RegisterTaskFunc (or
//     RegisterTask) for every task name, then Run it (or plug DriverConfig
//     into a MesosExecutorDriver).
//
// Licensed under Apache 2.0.
package mesosgot

// Package mesostest is an in-process fake Apache Mesos for tests: a master,
// its agents and the mesos-go v0 scheduler and executor drivers, joined by one
// Cluster object, with no network and no processes.
//
// It runs any sched.Scheduler and any exec.Executor. A test builds a Cluster
// from a Config (agents with scalar resources, an executor factory, fault
// hooks), gets a sched.SchedulerDriver for its scheduler with
// Cluster.SchedulerDriver, and drives it exactly like a real driver:
//
//	c := mesostest.NewCluster(mesostest.Config{
//		Agents:      []mesostest.Agent{{ID: "a1", Resources: map[string]float64{"cpus": 2, "mem": 512}}},
//		NewExecutor: func(agentID string, info *mesos.ExecutorInfo) exec.Executor { return myExecutor() },
//	})
//	defer c.Close()
//	d := c.SchedulerDriver(myScheduler)
//	d.Start()
//
// Mirrors of the real system:
//
//   - Callbacks are serialized: every scheduler callback runs on one goroutine
//     owned by the fake, and every executor's callbacks on that executor's own
//     goroutine, fed by unbounded queues. Driver methods never block on a
//     callback and never call one on the caller's stack, so they may be called
//     from inside callbacks and from any goroutine.
//   - The master validates LaunchTasks like Mesos: offer problems (unknown or
//     used offers, offers of several agents, no offers) make every task
//     TASK_LOST with REASON_INVALID_OFFERS; task problems (missing or duplicate
//     TaskId, wrong SlaveId, no ExecutorInfo, non-scalar resources, more
//     resources than the offers have left after the tasks before it) make that
//     task TASK_ERROR with REASON_TASK_INVALID while the valid tasks launch.
//     Resources of a new executor are charged once per ExecutorID per agent.
//   - Offers: Start delivers Registered, then one ResourceOffers with one offer
//     per agent. The fake re-offers an agent's unoffered free resources
//     whenever they change (tasks or executors end, offers are declined,
//     rescinded or used), unless a refusal filter holds them (see below).
//   - Filters: DeclineOffer, and the unused resources of a LaunchTasks, refuse
//     those resources on that agent for Filters.RefuseSeconds (default 5, as in
//     Mesos); Config.OfferDelay turns that number into a real timer duration,
//     so tests can scale it down. A filter is bypassed when the agent has more
//     free resources than were refused (as in Mesos's allocator). One filter
//     per agent: the latest replaces the previous. ReviveOffers clears all.
//   - Framework messages are best-effort and go through Config.Hooks, which can
//     drop, duplicate, change and delay each one; delays reorder. Without hooks,
//     messages of one sender arrive in the order sent.
//
// Differences a user must know:
//
//   - Executors are not processes. The first task for an ExecutorID on an
//     agent calls Config.NewExecutor on the executor's own goroutine, then
//     Registered. The executor's driver is already running (Start is a no-op,
//     Run is Join). An executor's driver being stopped or aborted counts as the
//     executor process exiting: its unfinished tasks become TASK_LOST
//     (REASON_EXECUTOR_TERMINATED) and the scheduler gets ExecutorLost with
//     status 0 (Stop) or 1 (Abort), as a Mesos agent reports an exited
//     executor.
//   - Status updates are not retried: an update sent while no scheduler driver
//     runs is only recorded (see Tasks and ReconcileTasks). Updates for unknown
//     or already terminal tasks are ignored, as a Mesos agent does.
//   - SchedulerDriver.SendFrameworkMessage to an executor that does not exist
//     (never launched, terminated, or on a lost agent) returns DRIVER_RUNNING
//     and no error, like the real driver, and drops the message, as the Mesos
//     master does; it is counted in Stats as Undeliverable.
//   - AcceptOffers supports only LAUNCH operations (as LaunchTasks) and an
//     empty operation list (a decline); anything else returns an error.
//     RequestResources is a no-op, as in Mesos's default allocator.
//   - Stop(false) tears the framework down: every executor gets Shutdown, then
//     its driver stops. Stop(true) and Abort leave executors running; a new
//     driver from SchedulerDriver may then Start (a failover) and gets
//     Registered with the same framework ID. Only one scheduler driver runs at
//     a time. Join returns once the driver is stopped or aborted.
//   - Close stops everything and waits for every goroutine the fake started,
//     so a callback that never returns makes Close hang, and Close must not be
//     called from inside a callback.
package mesostest

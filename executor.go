package mesosgot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// GoTaskExecutor starts app tasks as goroutines and forwards messages
// between the scheduler and the tasks. It implements mesos-go's
// exec.Executor; one executor process per agent runs every task of the job
// placed there.
//
// Driver callbacks never block on app code: each hands its work to the
// executor's own goroutine, and each task runs in goroutines of its own.
type GoTaskExecutor struct {
	app AppTaskExecutor

	startOnce sync.Once
	inbox     *inbox[func()]
	stop      chan struct{} // closed to end the executor goroutine
	stopOnce  sync.Once
	done      chan struct{} // closed when the executor goroutine has ended

	// owned by the executor goroutine:
	driver exec.ExecutorDriver
	link   *link
	tasks  map[string]*execTask
	outQ   map[string]*execTask // tasks with messages waiting for the link
	// early holds messages for tasks whose LaunchTask has not run yet
	// (executorearly.go).
	early map[string][]GoTaskMsg
	// killedEarly holds kills for tasks whose LaunchTask has not run yet.
	killedEarly map[string]bool
	// recovery shuts the executor down when its agent does not come back.
	recovery  recoveryTimer
	returning int // tasks returned whose final status is not sent yet
	// link trust and liveness (linkwatch.go)
	linkKeyed   bool          // the link has the job's key
	linkTimeout time.Duration // from the task data
	drops       dropCounter   // frames refused by the link
	abandoned   bool          // the scheduler was unresponsive: the executor is ending

	linkCfg       linkConfig
	tokens        *tokenTable // large framework messages the messenger holds for the driver
	tick          time.Duration
	statusGrace   time.Duration // how long a returned task's messages may stay unacknowledged before its status goes anyway
	shutdownGrace time.Duration // how long Shutdown waits for tasks to return
}

// NewGoTaskExecutor creates a Go Task Executor to be used with a Mesos
// executor driver. The AppTaskExecutor does the app's dispatching to task
// functions; nil gives a DefAppTaskExecutor. When ae also implements
// AppTaskArgsRunner, tasks receive their Args and Env.
func NewGoTaskExecutor(ae AppTaskExecutor) (exec *GoTaskExecutor) {
	if ae == nil {
		ae = NewDefAppTaskExecutor()
	}
	return &GoTaskExecutor{
		app:           ae,
		inbox:         newInbox[func()](),
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
		tasks:         map[string]*execTask{},
		outQ:          map[string]*execTask{},
		early:         map[string][]GoTaskMsg{},
		killedEarly:   map[string]bool{},
		linkCfg:       defaultLinkConfig(),
		tokens:        newTokenTable(),
		tick:          10 * time.Millisecond,
		statusGrace:   10 * time.Second,
		shutdownGrace: 10 * time.Second,
	}
}

// RegisterTask registers a task to a task name in the go task executor.
func (exec *GoTaskExecutor) RegisterTask(name string, task AppTask) {
	exec.app.RegisterTask(name, task)
}

// RegisterTaskFunc registers a task func to a task name in the go task executor.
func (exec *GoTaskExecutor) RegisterTaskFunc(name string, taskFunc AppTaskFunc) {
	exec.app.RegisterTaskFunc(name, taskFunc)
}

// DriverConfig returns the Mesos driver config for this GoTask executor.
// Its addresses follow libprocess: LIBPROCESS_IP (which the agent passes
// its executors), LIBPROCESS_PORT and LIBPROCESS_ADVERTISE_IP when set,
// else the IP of the interface that routes to the agent. Its driver runs
// on mesosgot's messenger, which takes messages only from the executor's
// agent. A bad address value is logged and leaves
// the driver's own defaults; Run returns it as an error.
func (exc *GoTaskExecutor) DriverConfig() exec.DriverConfig {
	cfg, err := exc.driverConfig()
	if err != nil {
		log.Errorf("%v", err)
	}
	return cfg
}

func (exc *GoTaskExecutor) driverConfig() (exec.DriverConfig, error) {
	cfg := exec.DriverConfig{Executor: exc}
	p, ok, err := executorAddresses(os.Getenv, net.LookupIP, routeIP)
	if ok {
		cfg.BindingAddress, cfg.BindingPort, cfg.PublishedAddress = p.BindIP, p.DriverPort, p.AdvertiseIP
		if p.BindIP.IsUnspecified() {
			cfg.HostnameOverride = p.AdvertiseIP.String()
		}
	}
	useExecutorMessenger(&cfg, exc.tokens) // reads the addresses set above
	return cfg, err
}

// Run builds the mesos-go executor driver (which reads the MESOS_*
// environment the agent sets) and runs until the driver stops. It returns
// nil when the driver stopped normally.
func (exc *GoTaskExecutor) Run() error {
	cfg, err := exc.driverConfig()
	if err != nil {
		return err
	}
	driver, err := exec.NewMesosExecutorDriver(cfg)
	if err != nil {
		return fmt.Errorf("mesosgot: creating the executor driver: %w", err)
	}
	status, err := driver.Run()
	exc.recovery.stop()
	exc.shutdown()
	if err != nil {
		return fmt.Errorf("mesosgot: executor driver ended with %s: %w", status, err)
	}
	if status != mesos.Status_DRIVER_STOPPED {
		return fmt.Errorf("mesosgot: executor driver ended with %s", status)
	}
	return nil
}

// Registered is the mesos-go callback for the executor's registration.
func (exec *GoTaskExecutor) Registered(driver exec.ExecutorDriver, execInfo *mesos.ExecutorInfo, fwinfo *mesos.FrameworkInfo, slaveInfo *mesos.SlaveInfo) {
	log.Infof("mesosgot: executor %s registered on agent %s (%s)", execInfo.GetExecutorId().GetValue(), slaveInfo.GetId().GetValue(), slaveInfo.GetHostname())
	exec.call(driver, func() {})
}

// Reregistered is the mesos-go callback for re-registration with a restarted agent.
func (exec *GoTaskExecutor) Reregistered(driver exec.ExecutorDriver, slaveInfo *mesos.SlaveInfo) {
	log.Infof("mesosgot: executor re-registered with agent %s", slaveInfo.GetId().GetValue())
	exec.recovery.stop()
	exec.call(driver, func() {})
}

// Disconnected is the mesos-go callback for losing the agent. The driver
// only calls it when the agent checkpoints and may come back, so the tasks
// keep running and their messages wait in the link; when the agent does
// not re-register it within MESOS_RECOVERY_TIMEOUT the executor shuts
// down (executorrecovery.go).
func (exec *GoTaskExecutor) Disconnected(driver exec.ExecutorDriver) {
	d := exec.recovery.start(os.Getenv, func(d time.Duration) {
		log.Errorf("mesosgot: the agent did not come back within the recovery timeout (%v); the executor shuts down", d)
		exec.Shutdown(driver)
		if _, err := driver.Stop(); err != nil {
			log.Warningf("mesosgot: stopping the executor driver: %v", err)
		}
	})
	log.Warningf("mesosgot: executor disconnected from its agent; tasks keep running until it reconnects or the recovery timeout (%v) ends", d)
}

// LaunchTask starts the app task in its own goroutines and reports TASK_RUNNING.
func (exec *GoTaskExecutor) LaunchTask(driver exec.ExecutorDriver, taskInfo *mesos.TaskInfo) {
	exec.call(driver, func() { exec.launch(taskInfo) })
}

// KillTask closes the task's in channel (after the messages already
// delivered to it); the task reports TASK_KILLED when it returns.
func (exec *GoTaskExecutor) KillTask(driver exec.ExecutorDriver, taskId *mesos.TaskID) {
	exec.call(driver, func() { exec.kill(taskId.GetValue()) })
}

// FrameworkMessage forwards messages from the scheduler to tasks.
func (exec *GoTaskExecutor) FrameworkMessage(driver exec.ExecutorDriver, rawMsg string) {
	owned := isToken(rawMsg) // the data taken back is the request body's, read by nothing else
	rawMsg, ok := exec.tokens.resolve(rawMsg)
	if !ok {
		log.Warningf("mesosgot: framework message names data the messenger does not hold; dropped")
		return
	}
	exec.call(driver, func() { exec.frameworkMessage(rawMsg, owned) })
}

// Shutdown is called when the scheduler or Mesos ends the executor: every
// task's in is closed, and Shutdown waits (bounded) for the tasks to return
// and their final status to be sent.
func (exec *GoTaskExecutor) Shutdown(driver exec.ExecutorDriver) {
	log.Infof("mesosgot: executor shutting down")
	ended := make(chan struct{})
	exec.call(driver, func() { exec.shutdownTasks(ended) })
	select {
	case <-ended:
	case <-time.After(exec.shutdownGrace):
		log.Warningf("mesosgot: tasks did not return within %v of shutdown", exec.shutdownGrace)
	}
	exec.shutdown()
}

// Error is the mesos-go callback for an unrecoverable error (the driver has
// already aborted): every task is told to exit.
func (exec *GoTaskExecutor) Error(driver exec.ExecutorDriver, err string) {
	log.Errorf("mesosgot: executor driver error: %s", err)
	exec.call(driver, func() {
		for name := range exec.tasks {
			exec.kill(name)
		}
	})
}

// call starts the executor goroutine on the first callback and hands it f.
func (exec *GoTaskExecutor) call(driver exec.ExecutorDriver, f func()) {
	exec.startOnce.Do(func() {
		exec.driver = driver
		exec.link = newLink(exec.linkCfg, rand.Uint64())
		exec.link.auth = newLinkAuth(false) // keyed by the first task (joinLink)
		go exec.loop()
	})
	exec.inbox.push(f)
}

// shutdown ends the executor goroutine and waits for it.
func (exec *GoTaskExecutor) shutdown() {
	started := true
	exec.startOnce.Do(func() { started = false })
	exec.stopOnce.Do(func() { close(exec.stop) })
	if started {
		<-exec.done
	}
}

// loop is the executor goroutine: it owns the link and the task table.
func (exec *GoTaskExecutor) loop() {
	defer close(exec.done)
	// The link's clock ticks every exec.tick, but while the link is idle
	// the loop sleeps until its next due event (exectick.go): an executor
	// waiting for work costs no wakeups, which matters with many executor
	// processes on few cores.
	ticker := newExecTicker(exec.tick)
	defer ticker.stop()
	for {
		select {
		case <-exec.stop:
			for _, f := range exec.inbox.drain() {
				f()
			}
			exec.flush()
			return
		case <-exec.inbox.notify:
			for _, f := range exec.inbox.drain() {
				f()
			}
		case <-ticker.c():
			exec.link.Advance(ticker.elapsed())
			exec.checkScheduler()
		}
		exec.flush() // also sends the final status of returned tasks (checkReturned)
		ticker.next(exec.idleTicks())
	}
}

// flush moves waiting task output into the link, sends the link's frames
// and hands delivered messages to their tasks.
func (exec *GoTaskExecutor) flush() {
	for name, t := range exec.outQ {
		for len(t.outPending) > 0 && exec.link.CanSend(name) {
			m := t.outPending[0]
			t.outPending[0] = GoTaskMsg{}
			t.outPending = t.outPending[1:]
			exec.sendOut(t, m)
		}
		if len(t.outPending) == 0 {
			t.outPending = nil
			delete(exec.outQ, name)
		}
	}
	frames, msgs := exec.link.Ready()
	for _, f := range frames {
		if err := exec.sendFrame(f); err != nil { // messenger_exec.go
			log.Warningf("mesosgot: sending to the scheduler: %v", err)
		}
	}
	for _, m := range msgs {
		t, ok := exec.tasks[m.TaskName]
		if !ok {
			exec.holdEarly(m)
			continue
		}
		exec.deliver(t, m)
	}
	exec.checkReturned()
}

// sendOut gives one task message to the link, or keeps it waiting when the
// stream is full; the task's out slot is released when the link took it.
func (exec *GoTaskExecutor) sendOut(t *execTask, m GoTaskMsg) {
	err := exec.link.Send(m)
	if errors.Is(err, errStreamFull) {
		t.outPending = append([]GoTaskMsg{m}, t.outPending...)
		exec.outQ[t.name] = t
		return
	}
	if err != nil {
		err = fmt.Errorf("message from task %s refused: %w", t.name, err)
		log.Errorf("mesosgot: %v", err)
		exec.report(err)
	}
	t.releaseOut()
}

// report tells the scheduler about a problem on this executor: it becomes
// an Error event there.
func (exec *GoTaskExecutor) report(err error) {
	if e := exec.link.Send(GoTaskMsg{TaskName: ctlStream, MessageData: err.Error()}); e != nil {
		log.Errorf("mesosgot: cannot report %q to the scheduler: %v", err, e)
	}
}

// taskOut is called (on the executor goroutine) with messages a task sent.
func (exec *GoTaskExecutor) taskOut(t *execTask, msgs []GoTaskMsg) {
	for _, m := range msgs {
		m.TaskName = t.name // a task speaks only for itself
		if len(t.outPending) > 0 || !exec.link.CanSend(t.name) {
			t.outPending = append(t.outPending, m)
			exec.outQ[t.name] = t
			continue
		}
		exec.sendOut(t, m)
	}
}

// launch starts one task.
func (exec *GoTaskExecutor) launch(info *mesos.TaskInfo) {
	name := info.GetTaskId().GetValue()
	if _, dup := exec.tasks[name]; dup {
		exec.status(name, mesos.TaskState_TASK_FAILED, "a task with this ID is already running on this executor")
		return
	}
	td, err := decodeTaskInfoData(info.GetData())
	if err == nil {
		err = exec.joinLink(td.Link)
	}
	if err != nil {
		exec.status(name, mesos.TaskState_TASK_FAILED, fmt.Sprintf("bad task data: %v", err))
		exec.dropEarly(name, "its launch failed")
		return
	}
	if exec.killedEarly[name] {
		delete(exec.killedEarly, name)
		exec.status(name, mesos.TaskState_TASK_KILLED, "killed before it started")
		exec.dropEarly(name, "it was killed before it started")
		return
	}
	args, env := td.Args, td.Env
	base, index := splitTaskName(name)
	// args[0] is the task's own name, as os.Args[0] is a program's.
	args = append([]string{name}, args...)
	env["MESOSGOT_TASK_NAME"] = name
	env["MESOSGOT_TASK_INDEX"] = index
	t := newExecTask(name, base, exec.linkCfg.TaskQueue)
	exec.tasks[name] = t
	exec.status(name, mesos.TaskState_TASK_RUNNING, "")
	exec.deliverEarly(t)
	t.start(exec, args, env)
}

// kill closes a task's in after what was delivered to it.
func (exec *GoTaskExecutor) kill(name string) {
	t, ok := exec.tasks[name]
	if !ok {
		exec.killEarly(name)
		return
	}
	t.killAsk = true
	t.mailbox.close()
}

// frameworkMessage takes a frame from the scheduler; owned means nothing
// else reads raw's bytes (link.RecvOwned).
func (exec *GoTaskExecutor) frameworkMessage(raw string, owned bool) {
	if err := exec.link.recv(raw, owned); err != nil {
		if isDropErr(err) {
			exec.frameDropped(raw, err)
			return
		}
		err = fmt.Errorf("framework message from the scheduler (%d bytes): %w", len(raw), err)
		log.Warningf("mesosgot: %v", err)
		exec.report(err)
	}
}

// taskReturned records a task's result; its status goes out once its
// messages are acknowledged (checkReturned).
func (exec *GoTaskExecutor) taskReturned(t *execTask, state mesos.TaskState, msg string) {
	t.returned, t.finalState, t.finalMsg = true, state, msg
	exec.returning++
	t.returnedAt = time.Now()
	t.mailbox.close()
}

// checkReturned sends the final status of returned tasks whose output has
// been taken and acknowledged (or waited for too long).
func (exec *GoTaskExecutor) checkReturned() {
	if exec.returning == 0 {
		return
	}
	for name, t := range exec.tasks {
		if !t.returned || t.statusSent || !t.outDrained {
			continue
		}
		if exec.link.Unacked(name) > 0 || len(t.outPending) > 0 {
			if time.Since(t.returnedAt) < exec.statusGrace {
				continue
			}
			log.Warningf("mesosgot: task %s: %d messages unacknowledged %v after it returned; reporting its status anyway", name, exec.link.Unacked(name), exec.statusGrace)
		}
		t.statusSent = true
		exec.returning--
		exec.status(name, t.finalState, t.finalMsg)
		close(t.statusDone)
	}
}

// shutdownTasks closes every task's in and closes ended once all have
// returned and reported.
func (exec *GoTaskExecutor) shutdownTasks(ended chan struct{}) {
	var waits []chan struct{}
	for name, t := range exec.tasks {
		exec.kill(name)
		waits = append(waits, t.statusDone)
	}
	go func() {
		for _, w := range waits {
			select {
			case <-w:
			case <-exec.stop:
				return
			}
		}
		close(ended)
	}()
}

// status sends a task status update.
func (exec *GoTaskExecutor) status(name string, state mesos.TaskState, msg string) {
	st := &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String(name)},
		State:  state.Enum(),
	}
	if msg != "" {
		st.Message = proto.String(msg)
	}
	if _, err := exec.driver.SendStatusUpdate(st); err != nil {
		log.Errorf("mesosgot: sending status %s of task %s: %v", state, name, err)
	}
}

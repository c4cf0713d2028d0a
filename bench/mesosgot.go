package main

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/gogo/protobuf/proto"
	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/internal/mesostest"
	"github.com/mesosgot/mesosgot/localmesos"
)

// taskRes are the resources of every benchmark task.
var taskRes = map[string]float64{"cpus": 0.01, "mem": 1}

// echoJob is a running mesosgot job of n echo tasks whose app scheduler
// hands its schedout to the harness and its schedin to harness.echo.
type echoJob struct {
	sendCh chan<- mesosgot.GoTaskMsg
	end    chan struct{} // closed to make the app scheduler return
	result chan error    // Run's result
}

// startEchoJob starts the job with run (which calls s.Run or s.RunDriver)
// and returns once all n tasks are RUNNING.
func startEchoJob(h *harness, run func(s *mesosgot.GoTaskScheduler) error, conf *mesosgot.GoTaskSchedConfig) (*echoJob, error) {
	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("echo", h.n, taskRes)
	ready := make(chan chan<- mesosgot.GoTaskMsg, 1)
	j := &echoJob{end: make(chan struct{}), result: make(chan error, 1)}
	s.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		if !waitRunning(schedevent, h.n, nil) {
			return
		}
		go func() {
			for range schedevent {
			}
		}()
		go func() {
			for m := range schedin {
				h.echo(m.MessageData)
			}
		}()
		ready <- schedout
		<-j.end
	})
	go func() { j.result <- run(s) }()
	select {
	case j.sendCh = <-ready:
	case err := <-j.result:
		if err == nil {
			err = errors.New("job ended before its tasks ran")
		}
		return nil, err
	case <-time.After(60 * time.Second):
		return nil, errors.New("tasks not RUNNING within 60s")
	}
	names := taskNames(h.n)
	h.send = func(task int, data string) {
		j.sendCh <- mesosgot.GoTaskMsg{TaskName: names[task], MessageData: data}
	}
	return j, nil
}

// stop ends the job normally and returns Run's result.
func (j *echoJob) stop() error {
	close(j.end)
	select {
	case err := <-j.result:
		return err
	case <-time.After(90 * time.Second):
		return errors.New("job did not end within 90s")
	}
}

// waitRunning reads events until n TaskRunning events were seen (calling
// onRunning for the last one); false if the job ended or a task failed.
func waitRunning(schedevent <-chan mesosgot.SchedEvent, n int, onRunning func()) bool {
	running := 0
	for running < n {
		ev, ok := <-schedevent
		if !ok {
			return false
		}
		switch ev.EventType {
		case mesosgot.TaskRunning:
			running++
		case mesosgot.TaskFailed, mesosgot.TaskLost, mesosgot.TaskKilled, mesosgot.SlaveLost, mesosgot.ExecutorLost, mesosgot.Shutdown:
			return false
		}
	}
	if onRunning != nil {
		onRunning()
	}
	return true
}

// fakeRun returns the run function of a job over the in-process fake
// cluster (agents agents, GoTaskExecutors made in NewExecutor); the cluster
// is stored in cp before the driver runs.
func fakeRun(agents int, cp *atomic.Pointer[mesostest.Cluster]) func(s *mesosgot.GoTaskScheduler) error {
	return func(s *mesosgot.GoTaskScheduler) error {
		var as []mesostest.Agent
		for i := 0; i < agents; i++ {
			as = append(as, mesostest.Agent{ID: fmt.Sprintf("agent-%d", i), Resources: map[string]float64{"cpus": 64, "mem": 65536}})
		}
		c := mesostest.NewCluster(mesostest.Config{
			Agents: as,
			NewExecutor: func(agentID string, info *mesos.ExecutorInfo) exec.Executor {
				e := mesosgot.NewGoTaskExecutor(nil)
				e.RegisterTaskFunc("echo", echoTaskFn)
				return e
			},
		})
		defer c.Close()
		cp.Store(c)
		return s.RunDriver(c.SchedulerDriver(s))
	}
}

// echoTaskFn is the echo task of the fake cluster's executors (the same as
// benchexec's).
func echoTaskFn(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, _ []string, _ map[string]string) error {
	for m := range in {
		out <- m
	}
	return nil
}

// localConf is the scheduler config of a job over a localmesos cluster.
func localConf(c *localmesos.Cluster, execPath string) *mesosgot.GoTaskSchedConfig {
	conf := mesosgot.DefaultSchedulerConfig()
	conf.Master = c.MasterAddr()
	conf.ExecutorPath = execPath
	conf.FrameworkName = "mesosgot-bench"
	conf.Progress = false // the bench prints its own progress
	return conf
}

// startLocal starts a localmesos cluster of agents agents, big enough for
// every benchmark job.
func startLocal(agents int) (*localmesos.Cluster, error) {
	return localmesos.Start(localmesos.Config{
		Agents:                agents,
		Resources:             "cpus:64;mem:65536;disk:10000;ports:[31000-32000]",
		ExecutorShutdownGrace: 2 * time.Second,
	})
}

// ---- raw mesos-go framework (no mesosgot) ----

// rawSched is a minimal v0 framework: it launches n tasks over the agents'
// first offers (one executor per agent running benchexec -raw), and hands
// every framework message to the harness.
type rawSched struct {
	h        *harness
	agents   int
	execURI  string
	offers   []*mesos.Offer
	launched bool
	running  int
	ready    chan struct{}
	failed   chan string
	taskExec []*mesos.ExecutorID // per task
	taskSlv  []*mesos.SlaveID
}

func (r *rawSched) Registered(sched.SchedulerDriver, *mesos.FrameworkID, *mesos.MasterInfo) {}
func (r *rawSched) Reregistered(sched.SchedulerDriver, *mesos.MasterInfo)                   {}
func (r *rawSched) Disconnected(sched.SchedulerDriver)                                      {}
func (r *rawSched) OfferRescinded(sched.SchedulerDriver, *mesos.OfferID)                    {}
func (r *rawSched) SlaveLost(sched.SchedulerDriver, *mesos.SlaveID)                         {}
func (r *rawSched) ExecutorLost(_ sched.SchedulerDriver, e *mesos.ExecutorID, _ *mesos.SlaveID, st int) {
	r.fail(fmt.Sprintf("executor %s lost (%d)", e.GetValue(), st))
}
func (r *rawSched) Error(_ sched.SchedulerDriver, msg string) { r.fail(msg) }

func (r *rawSched) fail(msg string) {
	select {
	case r.failed <- msg:
	default:
	}
}

func (r *rawSched) ResourceOffers(d sched.SchedulerDriver, offers []*mesos.Offer) {
	if r.launched {
		for _, o := range offers {
			_, _ = d.DeclineOffer(o.GetId(), &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
		}
		return
	}
	r.offers = append(r.offers, offers...)
	bySlave := map[string]*mesos.Offer{}
	for _, o := range r.offers {
		bySlave[o.GetSlaveId().GetValue()] = o
	}
	if len(bySlave) < r.agents {
		return
	}
	r.launched = true
	var slaves []*mesos.Offer
	for _, o := range r.offers {
		if bySlave[o.GetSlaveId().GetValue()] == o {
			slaves = append(slaves, o)
		} else {
			_, _ = d.DeclineOffer(o.GetId(), &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
		}
	}
	tasks := make([][]*mesos.TaskInfo, len(slaves))
	execs := make([]*mesos.ExecutorInfo, len(slaves))
	for i, o := range slaves {
		execs[i] = &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String("raw-" + o.GetSlaveId().GetValue())},
			Command: &mesos.CommandInfo{
				Value: proto.String("./benchexec -raw"),
				Uris:  []*mesos.CommandInfo_URI{{Value: proto.String(r.execURI), Executable: proto.Bool(true)}},
			},
			Resources: []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		}
	}
	for t := 0; t < r.h.n; t++ {
		k := t % len(slaves)
		o := slaves[k]
		tasks[k] = append(tasks[k], &mesos.TaskInfo{
			Name:      proto.String(fmt.Sprintf("raw-%d", t)),
			TaskId:    &mesos.TaskID{Value: proto.String(fmt.Sprintf("raw-%d", t))},
			SlaveId:   o.GetSlaveId(),
			Executor:  execs[k],
			Resources: []*mesos.Resource{scalar("cpus", taskRes["cpus"]), scalar("mem", taskRes["mem"])},
		})
		r.taskExec = append(r.taskExec, execs[k].ExecutorId)
		r.taskSlv = append(r.taskSlv, o.GetSlaveId())
	}
	for k, o := range slaves {
		if len(tasks[k]) == 0 {
			_, _ = d.DeclineOffer(o.GetId(), &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
			continue
		}
		if _, err := d.LaunchTasks([]*mesos.OfferID{o.GetId()}, tasks[k], &mesos.Filters{RefuseSeconds: proto.Float64(3600)}); err != nil {
			r.fail("launch: " + err.Error())
		}
	}
}

func (r *rawSched) StatusUpdate(_ sched.SchedulerDriver, st *mesos.TaskStatus) {
	switch st.GetState() {
	case mesos.TaskState_TASK_RUNNING:
		r.running++
		if r.running == r.h.n {
			close(r.ready)
		}
	case mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_KILLED, mesos.TaskState_TASK_FINISHED:
	default:
		r.fail(fmt.Sprintf("task %s: %s %s", st.GetTaskId().GetValue(), st.GetState(), st.GetMessage()))
	}
}

func (r *rawSched) FrameworkMessage(_ sched.SchedulerDriver, _ *mesos.ExecutorID, _ *mesos.SlaveID, msg string) {
	r.h.echo(msg)
}

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
}

// rawJob is the raw framework running on a localmesos cluster.
type rawJob struct {
	driver *sched.MesosSchedulerDriver
}

// startRawJob registers the raw framework, launches its tasks and returns
// once all are RUNNING, with h.send wired to SendFrameworkMessage.
func startRawJob(h *harness, c *localmesos.Cluster, agents int, execPath string) (*rawJob, error) {
	r := &rawSched{h: h, agents: agents, execURI: execPath, ready: make(chan struct{}), failed: make(chan string, 1)}
	d, err := sched.NewMesosSchedulerDriver(sched.DriverConfig{
		Scheduler:      r,
		Framework:      &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String("raw-bench")},
		Master:         c.MasterAddr(),
		BindingAddress: net.ParseIP("127.0.0.1"),
	})
	if err != nil {
		return nil, err
	}
	if _, err := d.Start(); err != nil {
		return nil, err
	}
	j := &rawJob{driver: d}
	select {
	case <-r.ready:
	case msg := <-r.failed:
		j.stop()
		return nil, errors.New(msg)
	case <-time.After(60 * time.Second):
		j.stop()
		return nil, errors.New("raw tasks not RUNNING within 60s")
	}
	h.send = func(task int, data string) {
		if _, err := d.SendFrameworkMessage(r.taskExec[task], r.taskSlv[task], data); err != nil {
			// counted as lost: no echo will come
			_ = err
		}
	}
	return j, nil
}

// stop unregisters the framework (Mesos shuts its executors down).
func (j *rawJob) stop() {
	_, _ = j.driver.Stop(false)
	_, _ = j.driver.Join()
}

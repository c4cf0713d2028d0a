package mesosgot

import (
	"net"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/localmesos"
)

// A plain master that stops answering mid-job fails the job after
// MasterLostTimeout, naming the master and pointing to zk://; the app saw
// Disconnected when it went.
func TestMasterUnreachableFailsTheJobAfterTimeout(t *testing.T) {
	checkNoLeak(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() { // accepts and closes: the "master" is reachable
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.conf.Master = l.Addr().String()
	f.sched.conf.MasterLostTimeout = time.Second
	f.sched.probeMaster.Store(true)
	f.sched.SpawnTask("wait", 2, nil)
	evs := &events{}
	var lostAt time.Time
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			return
		}
		lostAt = time.Now()
		l.Close()
		for ev := range schedevent {
			evs.add(ev)
		}
	})
	start := time.Now()
	err = f.run()
	require.Error(t, err)
	t.Logf("error after %v (master gone %v before): %v", time.Since(start).Round(time.Millisecond), time.Since(lostAt).Round(time.Millisecond), err)
	assert.Contains(t, err.Error(), "master "+l.Addr().String()+" lost for 1s")
	assert.Contains(t, err.Error(), "zk://")
	assert.Equal(t, 1, evs.count(Disconnected))
	assert.Equal(t, 1, evs.count(Error))
}

// A driver that disconnects and re-registers within the timeout keeps the
// job: the app sees Disconnected then Reregistered, the tasks are
// reconciled (their state comes again, marked as reconciliation), and the
// messages around the failover all arrive in order.
func TestReregistrationKeepsTheJobAndReconciles(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 2, func(e *GoTaskExecutor) { e.RegisterTaskFunc("echo", echoTask) })
	f.sched.conf.MasterLostTimeout = 5 * time.Second
	f.sched.reconTiming = reconcileTiming{First: 20 * time.Millisecond, Max: 100 * time.Millisecond}
	f.sched.SpawnTask("echo", 2, nil)
	f.start()
	const n = 200
	evs := &events{}
	var got []string
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			return
		}
		for i := 0; i < n; i++ {
			if i == n/2 {
				f.sched.Disconnected(f.driver)
				f.sched.Reregistered(f.driver, &mesos.MasterInfo{Id: proto.String("master-2")})
			}
			schedout <- GoTaskMsg{TaskName: "echo-" + string(rune('0'+i%2)), MessageData: string(rune(i))}
		}
		for len(got) < n {
			select {
			case m := <-schedin:
				got = append(got, m.TaskName+":"+string(rune('0'+int([]rune(m.MessageData)[0])%10)))
			case ev := <-schedevent:
				evs.add(ev)
			}
		}
		// the reconciliation answers (a RUNNING per task) come through
		deadline := time.Now().Add(20 * time.Second)
		for f.sched.reconciledTasks.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polling with a deadline
		}
	})
	err := f.run()
	require.NoError(t, err)
	require.Len(t, got, n)
	per := map[string][]string{}
	for _, g := range got {
		per[g[:6]] = append(per[g[:6]], g)
	}
	for i := 0; i < n; i++ {
		name := "echo-" + string(rune('0'+i%2))
		want := name + ":" + string(rune('0'+i%10))
		require.Equal(t, want, per[name][i/2], "message %d", i)
	}
	assert.Equal(t, 1, evs.count(Disconnected))
	assert.Equal(t, 1, evs.count(Reregistered))
	assert.EqualValues(t, 2, f.sched.reconciledTasks.Load(), "each live task reconciled once")
	assert.Equal(t, 2, evs.count(TaskRunning), "a reconciled RUNNING is not a new TaskRunning")
	order := []SchedEventType{}
	for _, ev := range evs.evs {
		if ev.EventType == Disconnected || ev.EventType == Reregistered {
			order = append(order, ev.EventType)
		}
	}
	assert.Equal(t, []SchedEventType{Disconnected, Reregistered}, order)
}

// A task the master reports lost when reconciling after re-registration
// fails the job, saying so.
func TestReconciledLostTaskFailsTheJob(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.SpawnTask("wait", 1, nil)
	f.start()
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		f.sched.Disconnected(f.driver)
		f.sched.Reregistered(f.driver, &mesos.MasterInfo{Id: proto.String("master-2")})
		// the new master's answer: it does not know the task
		f.sched.StatusUpdate(f.driver, &mesos.TaskStatus{
			TaskId: util.NewTaskID("wait-0"), State: mesos.TaskState_TASK_LOST.Enum(),
			Source: mesos.TaskStatus_SOURCE_MASTER.Enum(), Reason: mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
			Message: proto.String("Reconciliation: task is unknown"),
		})
		for ev := range schedevent {
			evs.add(ev)
		}
	})
	err := f.run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task wait-0: TASK_LOST: Reconciliation: task is unknown (found by reconciliation after re-registration)")
	assert.Equal(t, 1, evs.count(TaskLost))
}

// With a real driver and a standalone master that goes away before the job
// could launch, the job fails within the timeout instead of waiting forever.
func TestLocalMasterGoneFailsTheJob(t *testing.T) {
	c, err := localmesos.Start(localmesos.Config{})
	require.NoError(t, err)
	defer c.Close()
	conf := localConf(t, c.MasterAddr())
	conf.MasterLostTimeout = 2 * time.Second
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("wait", 1, map[string]float64{"cpus": 1e6}) // never placed: the job waits for offers
	evs := &events{}
	registered := make(chan struct{})
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		for ev := range schedevent {
			evs.add(ev)
			if ev.EventType == Registered {
				close(registered)
			}
		}
	})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case <-registered:
	case <-time.After(60 * time.Second):
		t.Fatal("not registered")
	}
	closed := time.Now()
	require.NoError(t, c.Close())
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("job did not end after its master went away")
	}
	require.Error(t, err)
	t.Logf("failed %v after the master went away: %v", time.Since(closed).Round(time.Millisecond), err)
	assert.Contains(t, err.Error(), "master "+c.MasterAddr()+" lost for 2s")
	assert.Contains(t, err.Error(), "use -master=zk://")
	assert.GreaterOrEqual(t, evs.count(Disconnected), 1)
}

package localmesos

import (
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Follows Mesos' src/slave/constants.hpp (EXECUTOR_REGISTRATION_TIMEOUT,
// DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD, STATUS_UPDATE_RETRY_INTERVAL_MIN)
// and include/mesos/mesos.proto (Filters.refuse_seconds default 5): the
// zero Config gets Mesos' values.
func TestConformanceDefaults(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	assert.Equal(t, time.Minute, c.cfg.ExecutorRegistrationTimeout)
	assert.Equal(t, 5*time.Second, c.cfg.ExecutorShutdownGrace)
	assert.Equal(t, 10*time.Second, c.cfg.StatusUpdateRetry)
	assert.Equal(t, 5*time.Second, c.cfg.OfferRefuseDefault)
	assert.False(t, c.cfg.NoSwitchUser)
}

// Follows Mesos' src/slave/task_status_update_manager.cpp
// (TaskStatusUpdateManagerProcess::timeout: the retry interval doubles from
// STATUS_UPDATE_RETRY_INTERVAL_MIN up to STATUS_UPDATE_RETRY_INTERVAL_MAX,
// 10 minutes).
func TestConformanceStatusUpdateRetrySchedule(t *testing.T) {
	var got []time.Duration
	for d := 10 * time.Second; len(got) < 8; d = nextRetry(d) {
		got = append(got, d)
	}
	assert.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 10 * time.Minute, 10 * time.Minute}, got)
}

// Follows Mesos' src/slave/task_status_update_manager.cpp: an update the
// scheduler does not acknowledge is resent, each time after twice as long,
// and the task's next update waits behind it.
func TestConformanceStatusUpdateRetries(t *testing.T) {
	t.Parallel()
	const first = 100 * time.Millisecond
	c := startCluster(t, Config{StatusUpdateRetry: first})
	r := newRawSched(t, c)
	fid := r.register()
	o := recv(t, r.offers, "offer")
	r.launch(fid, o, commandTask("t", "true", o))
	var running *mesos.StatusUpdate
	for sends := 0; sends < 3; sends++ {
		u := recv(t, r.updates, "update")
		require.Equal(t, mesos.TaskState_TASK_RUNNING, u.GetStatus().GetState(), "nothing overtakes the unacknowledged update")
		if running != nil {
			require.Equal(t, running.GetStatus().GetUuid(), u.GetStatus().GetUuid(), "the same update, resent")
		}
		running = u
	}
	// Three sends so far: the next wait is first * 2^3 (or more, if a
	// fourth send happened meanwhile), never reset.
	a := c.agents[0]
	a.mu.Lock()
	next := a.streams[fid.GetValue()+"/t"].backoff
	a.mu.Unlock()
	assert.GreaterOrEqual(t, next, 8*first)
	assert.Zero(t, next%(8*first), "doubling from %v: %v", first, next)
	r.ack(running)
	r.ack(r.update("t", mesos.TaskState_TASK_FINISHED))
}

// Follows Mesos' src/slave/slave.cpp, Slave::shutdownExecutor:
// ExecutorInfo.shutdown_grace_period replaces the agent's
// --executor_shutdown_grace_period before an executor that ignores
// ShutdownExecutorMessage is killed.
func TestConformanceShutdownGracePeriodOverride(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{ExecutorShutdownGrace: 10 * time.Minute})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := &mesos.ExecutorInfo{
		ExecutorId: util.NewExecutorID("stubborn"),
		Command:    &mesos.CommandInfo{Value: proto.String("trap '' TERM; exec sleep 600")},
	}
	SetShutdownGracePeriod(e, 100*time.Millisecond)
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("s1", o, e, "")}, noRefuse())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ex := c.Executors()
		return len(ex) == 1 && ex[0].Pid != 0
	}, waitTimeout, 10*time.Millisecond)
	pgid := c.Executors()[0].Pid
	_, err = d.Stop(false) // the framework is removed: its executors shut down
	require.NoError(t, err)
	eventuallyGone(t, pgid, "killed after the executor's own grace period, not the agent's 10 minutes")
}

// Follows Mesos' src/slave/slave.cpp, Slave::registerExecutorTimeout: an
// executor that does not register in time is killed and its tasks fail with
// REASON_EXECUTOR_REGISTRATION_TIMEOUT.
func TestConformanceExecutorRegistrationTimeout(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{ExecutorRegistrationTimeout: 200 * time.Millisecond})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := &mesos.ExecutorInfo{
		ExecutorId: util.NewExecutorID("mute"),
		Command:    &mesos.CommandInfo{Value: proto.String("exec sleep 600")},
	}
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("m1", o, e, "")}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "m1", mesos.TaskState_TASK_FAILED)
	assert.Equal(t, mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT, st.GetReason())
	assert.Equal(t, "Executor did not register within 200ms", st.GetMessage())
	assert.Equal(t, mesos.TaskStatus_SOURCE_SLAVE, st.GetSource())
	assert.Equal(t, "mute", recv(t, s.execLost, "executor lost").executorID)
}

// Follows Mesos' src/master/allocator/mesos/hierarchical.cpp,
// HierarchicalAllocatorProcess::recoverResources: a negative refuse_seconds
// means the default (5 s), more than 365 days means 365 days.
func TestConformanceRefuseSeconds(t *testing.T) {
	m := &master{c: &Cluster{cfg: Config{OfferRefuseDefault: 5 * time.Second}}}
	f := func(secs float64) *mesos.Filters { return &mesos.Filters{RefuseSeconds: proto.Float64(secs)} }
	assert.Equal(t, 5*time.Second, m.refuse(nil))
	assert.Equal(t, 5*time.Second, m.refuse(&mesos.Filters{}))
	assert.Equal(t, 5*time.Second, m.refuse(f(-1)))
	assert.Equal(t, time.Duration(0), m.refuse(f(0)))
	assert.Equal(t, 2500*time.Millisecond, m.refuse(f(2.5)))
	assert.Equal(t, 365*24*time.Hour, m.refuse(f(1e12)))
}

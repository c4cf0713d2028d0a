package mesosgot

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/zktest"
	"github.com/mesosgot/mesosgot/localmesos"
)

// failoverTimes are the moments of a master failover as the job saw them.
type failoverTimes struct {
	mu                                    sync.Mutex
	kill, disconnected, reregistered, msg time.Time
	msgAfterRereg                         time.Time // first message delivered after Reregistered
	sched                                 *GoTaskScheduler
}

// delivered notes a message delivered after the fault.
func (f *failoverTimes) delivered() {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.msg.IsZero() {
		f.msg = now
	}
	if !f.reregistered.IsZero() && f.msgAfterRereg.IsZero() {
		f.msgAfterRereg = now
	}
}

func (f *failoverTimes) set(p *time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.IsZero() {
		*p = time.Now()
	}
}

func (f *failoverTimes) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	since := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Sub(f.kill).Round(time.Millisecond).String()
	}
	return fmt.Sprintf("kill -> Disconnected %s -> Reregistered %s; first message delivered after the kill %s, after Reregistered %s",
		since(f.disconnected), since(f.reregistered), since(f.msg), since(f.msgAfterRereg))
}

// startLeaderAndStandby starts two in-process clusters on cfg's ZooKeeper
// group: the first is elected before the second starts, as its standby.
// Both are closed at the end of the test.
func startLeaderAndStandby(t *testing.T, cfg localmesos.Config) (leader, standby *localmesos.Cluster) {
	t.Helper()
	leader, err := localmesos.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { leader.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for !leader.Elected() {
		require.True(t, time.Now().Before(deadline), "first master not elected")
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	standby, err = localmesos.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { standby.Close() })
	return leader, standby
}

// A job over -master=zk://... rides through the leading master's death:
// a standby takes over, the agents and the framework re-register, and every
// message of the ping-pong arrives once and in order (the seq tasks fail on
// any gap, repeat or reorder).
func TestJobSurvivesMasterFailover(t *testing.T) {
	zs := zktest.Start(t)
	url := zs.URL("/mesos")
	// one cluster secret, so that each cluster's agents may register with the other's master
	cfg := localmesos.Config{ZK: url, ZKSessionTimeout: 2 * time.Second, RegistrationBackoffFactor: 100 * time.Millisecond,
		ClusterSecret: localmesos.NewClusterSecret()}
	a, b := startLeaderAndStandby(t, cfg)

	conf := localConf(t, url)
	conf.MasterLostTimeout = 60 * time.Second
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("seq", 2, map[string]float64{"cpus": 1, "mem": 64})
	const rounds = 2000
	times := &failoverTimes{}
	evs := &events{}
	var appErr error
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			appErr = fmt.Errorf("tasks not running")
			return
		}
		for i := 0; i < rounds; i++ {
			if i == rounds/2 {
				times.set(&times.kill)
				a.StopMaster()
			}
			for _, name := range []string{"seq-0", "seq-1"} {
				schedout <- GoTaskMsg{TaskName: name, MessageData: strconv.Itoa(i)}
			}
			for got := 0; got < 2; {
				select {
				case m := <-schedin:
					if m.MessageData != strconv.Itoa(i) {
						appErr = fmt.Errorf("round %d: %s echoed %q", i, m.TaskName, m.MessageData)
						return
					}
					got++
					if i >= rounds/2 {
						times.delivered()
					}
				case ev := <-schedevent:
					evs.add(ev)
					switch ev.EventType {
					case Disconnected:
						times.set(&times.disconnected)
					case Reregistered:
						times.set(&times.reregistered)
					}
				}
			}
		}
	})
	start := time.Now()
	err := s.Run()
	t.Logf("%d rounds x 2 tasks in %v; failover: %v", rounds, time.Since(start).Round(time.Millisecond), times)
	require.NoError(t, err)
	require.NoError(t, appErr)
	logRetransmits(t, s)
	assert.Equal(t, 1, evs.count(Reregistered))
	assert.False(t, a.Elected())
	assert.True(t, b.Elected())
}

// logRetransmits logs the scheduler side's link retransmissions of an
// ended job (its state is no longer touched once Run returned).
func logRetransmits(t *testing.T, s *GoTaskScheduler) {
	var sent, retx, timeouts uint64
	for _, c := range s.job.conns {
		st := c.link.Stats()
		sent, retx, timeouts = sent+st.RecordsSent, retx+st.Retransmits, timeouts+st.Timeouts
	}
	t.Logf("scheduler links: %d records sent, %d retransmitted, %d retransmission timeouts", sent, retx, timeouts)
}

// With -master=zk://... and no standby, the leader's death fails the job
// after MasterLostTimeout, saying no master was elected.
func TestJobFailsWhenNoMasterIsElected(t *testing.T) {
	zs := zktest.Start(t)
	url := zs.URL("/mesos")
	a, err := localmesos.Start(localmesos.Config{ZK: url, ZKSessionTimeout: 2 * time.Second, RegistrationBackoffFactor: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	conf := localConf(t, url)
	conf.MasterLostTimeout = 2 * time.Second
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("wait", 1, nil)
	evs := &events{}
	var stopped time.Time
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		stopped = time.Now()
		a.StopMaster()
		for ev := range schedevent {
			evs.add(ev)
		}
	})
	err = s.Run()
	require.Error(t, err)
	t.Logf("failed %v after the only master stopped: %v", time.Since(stopped).Round(time.Millisecond), err)
	assert.Contains(t, err.Error(), "master "+url+" lost for 2s")
	assert.Contains(t, err.Error(), "no master was elected")
	assert.Equal(t, 1, evs.count(Disconnected))
}

// If the agents running the job do not re-register with the new leader (here
// they cannot: each in-process cluster has a cluster secret of its own), the
// new master never reports their tasks, and the job fails after
// MasterLostTimeout naming them instead of waiting forever.
func TestJobFailsWhenItsAgentsDoNotReregister(t *testing.T) {
	zs := zktest.Start(t)
	url := zs.URL("/mesos")
	cfg := localmesos.Config{ZK: url, ZKSessionTimeout: 2 * time.Second, RegistrationBackoffFactor: 100 * time.Millisecond}
	a, _ := startLeaderAndStandby(t, cfg) // the standby leads once a stops

	conf := localConf(t, url)
	conf.MasterLostTimeout = 3 * time.Second
	s := NewGoTaskScheduler("", conf, nil)
	s.reconTiming = reconcileTiming{First: 200 * time.Millisecond, Max: time.Second}
	s.SpawnTask("wait", 2, map[string]float64{"cpus": 1, "mem": 64})
	evs := &events{}
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			return
		}
		a.StopMaster()
		for ev := range schedevent {
			evs.add(ev)
		}
	})
	err := s.Run()
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Contains(t, err.Error(), "the master did not report the state of tasks [wait-0 wait-1] within 3s")
	assert.Equal(t, 1, evs.count(Reregistered))
}

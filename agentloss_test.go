package mesosgot

import (
	"strconv"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/localmesos"
)

// agentLossGrace is far longer than any test's deadline: a job that ends
// within the deadline did not wait out a grace period.
const agentLossGrace = time.Hour

// runWithin runs s and returns its error, failing the test if Run has not
// returned within d.
func runWithin(t *testing.T, s *GoTaskScheduler, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Run has not returned %v after the start (it waits out a grace period of %v?)", d, agentLossGrace)
		return nil
	}
}

// agentOf returns the agent the cluster's master says runs task.
func agentOf(t *testing.T, c *localmesos.Cluster, task string) string {
	for _, ts := range c.Tasks() {
		if ts.TaskID == task {
			return ts.AgentID
		}
	}
	t.Fatalf("no task %s on the cluster", task)
	return ""
}

// An app that streams to its tasks (sending everything before reading
// anything) loses an agent mid-stream. The job fails at once and Run
// returns without waiting for StopGrace, FlushGrace or AppGrace (each an
// hour here): the app is not left blocked on schedout (what it sends to a
// stopping job is dropped), and the killed tasks on the live agent are not
// left blocked on out with input still queued (once the job has failed,
// the links get their credit back without waiting for the app), so they end
// and report TASK_KILLED.
func TestAgentLossEndsAStreamingJobPromptly(t *testing.T) {
	c, err := localmesos.Start(localmesos.Config{Agents: 2, Resources: "cpus:4;mem:4096"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s := NewGoTaskScheduler("", localConf(t, c.MasterAddr()), nil)
	s.timing.StopGrace, s.timing.FlushGrace, s.timing.AppGrace = agentLossGrace, agentLossGrace, agentLossGrace
	names := []string{"seq-0", "seq-1", "seq-2", "seq-3"}
	s.SpawnTask("seq", len(names), map[string]float64{"cpus": 1.5, "mem": 64}) // two per agent
	evs := &events{}
	var lost string
	var lostAt time.Time
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(len(names), evs, schedevent) {
			return
		}
		for i := 0; i < 20000; i++ {
			if i == 2000 {
				lost = agentOf(t, c, "seq-0")
				lostAt = time.Now()
				require.NoError(t, c.RemoveAgentNow(lost))
			}
			for _, name := range names {
				schedout <- GoTaskMsg{TaskName: name, MessageData: strconv.Itoa(i)}
			}
		}
		for schedin != nil || schedevent != nil {
			select {
			case _, ok := <-schedin:
				if !ok {
					schedin = nil
				}
			case ev, ok := <-schedevent:
				if !ok {
					schedevent = nil
					continue
				}
				evs.add(ev)
			}
		}
	})
	err = runWithin(t, s, 2*time.Minute)
	t.Logf("Run returned %v after the agent's removal (StopGrace %v)", time.Since(lostAt).Round(time.Millisecond), agentLossGrace)
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Contains(t, err.Error(), "TASK_LOST")
	assert.Equal(t, 2, evs.count(TaskLost), "the lost agent's two tasks")
	assert.Equal(t, 2, evs.count(TaskKilled), "the live agent's two tasks ended when killed")
	assert.Equal(t, 1, evs.count(SlaveLost))
	// the lost agent's executors were SIGKILLed and the live agent's are
	// shutting down (the cluster outlives the job): they end soon after
	deadline := time.Now().Add(15 * time.Second)
	for len(executorProcesses(t, testExecutor(t))) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	assert.Empty(t, executorProcesses(t, testExecutor(t)), "no executor process left behind")
}

// When the agent's loss comes without states for its tasks (a master's
// own status updates are sent once, unlike an agent's), the job does not
// wait for them: the tasks of a lost agent are gone. They are reported
// TaskLost and Run returns once the live agent's task was killed.
func TestLostAgentsTasksAreNotWaitedFor(t *testing.T) {
	// the master would remove the silent agent only after an hour of pings
	c, err := localmesos.Start(localmesos.Config{Agents: 2, Resources: "cpus:1;mem:1024", AgentPingTimeout: agentLossGrace})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s := NewGoTaskScheduler("", localConf(t, c.MasterAddr()), nil)
	s.timing.StopGrace, s.timing.FlushGrace, s.timing.AppGrace = agentLossGrace, agentLossGrace, agentLossGrace
	s.SpawnTask("wait", 2, map[string]float64{"cpus": 0.8, "mem": 64}) // one per agent
	evs := &events{}
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(2, evs, schedevent) {
			return
		}
		lost := agentOf(t, c, "wait-0")
		require.NoError(t, c.LoseAgent(lost)) // silent: no TASK_LOST, no LostSlaveMessage
		// what the scheduler driver calls on a LostSlaveMessage
		s.SlaveLost(nil, &mesos.SlaveID{Value: &lost})
		drainEvents(evs, schedevent)
	})
	err = runWithin(t, s, 2*time.Minute)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task wait-0: agent ")
	assert.Contains(t, err.Error(), " lost")
	lostEvs := evs.find(TaskLost)
	require.Len(t, lostEvs, 1)
	assert.Equal(t, "wait-0", lostEvs[0].EventData.(TaskEvent).TaskName)
	assert.Equal(t, 1, evs.count(TaskKilled), "wait-1 ended when killed")
}

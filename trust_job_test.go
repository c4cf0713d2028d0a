package mesosgot

import (
	"fmt"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestForgedFramesNeverReachTheApp is the attack of the trust-boundaries
// issue on a running job: frames claiming to come from the executor (to the
// scheduler) and from the scheduler (to the executor), in clear and
// claiming a new link session, with a message for the app. None reaches
// app code, the real link is not disturbed (every real message arrives
// once and in order afterwards), and the scheduler reports the drops with
// their claimed source.
func TestForgedFramesNeverReachTheApp(t *testing.T) {
	checkNoLeak(t)
	var taskGot []string
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("echo", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, _ []string, _ map[string]string) error {
			for m := range in {
				taskGot = append(taskGot, m.MessageData) // read after the job ended
				out <- GoTaskMsg{MessageData: m.MessageData}
			}
			return nil
		})
	})
	f.sched.SpawnTask("echo", 1, nil)
	evs := &events{}
	f.start()
	const n = 200
	var schedGot []string
	forge := func(records ...frameRecord) string {
		return encodeFrame(&frame{SrcEpoch: 0xbad, Base: 1, Ack: 1, Records: records})
	}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		for i := 0; i < n; i++ {
			schedout <- GoTaskMsg{TaskName: "echo-0", MessageData: fmt.Sprint(i)}
			if i == n/2 {
				spoof := forge(frameRecord{Kind: recMsg, Seq: 1, Stream: "echo-0", Data: "SPOOFED"})
				f.sched.FrameworkMessage(f.driver, &mesos.ExecutorID{Value: strPtr("mesosgot-executor-agent-0")}, &mesos.SlaveID{Value: strPtr("agent-0")}, spoof)
				f.execMu.Lock()
				e := f.executors[0]
				f.execMu.Unlock()
				e.FrameworkMessage(nil, spoof)
				// and a real-looking sealed frame under another key
				other := newLink(testConfig(), 0xbad)
				sealLink(t, other, testLinkKey, "mesosgot-executor-agent-0", false, true)
				require.NoError(t, other.Send(GoTaskMsg{TaskName: "echo-0", MessageData: "SPOOFED"}))
				fs, _ := other.Ready()
				f.sched.FrameworkMessage(f.driver, &mesos.ExecutorID{Value: strPtr("mesosgot-executor-agent-0")}, &mesos.SlaveID{Value: strPtr("agent-0")}, fs[0])
			}
		}
		for len(schedGot) < n {
			select {
			case m, ok := <-schedin:
				if !ok {
					return
				}
				schedGot = append(schedGot, m.MessageData)
			case ev, ok := <-schedevent:
				if !ok {
					return
				}
				evs.add(ev)
			}
		}
	})
	require.NoError(t, f.run())
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	assert.Equal(t, want, schedGot, "the app got every real echo once and in order, nothing forged")
	assert.Equal(t, want, taskGot, "the task got every real message once and in order, nothing forged")
	var drops []string
	for _, ev := range evs.find(Error) {
		if s := ev.EventData.(error).Error(); strings.Contains(s, "dropped") {
			drops = append(drops, s)
		}
	}
	require.NotEmpty(t, drops, "the drops are reported")
	assert.Contains(t, strings.Join(drops, "\n"), "claiming to come from executor mesosgot-executor-agent-0 on agent agent-0")
}

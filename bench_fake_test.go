package mesosgot

import (
	"fmt"
	"strings"
	"testing"

	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/mesosgot/mesosgot/internal/mesostest"
)

// BenchmarkEchoFakeCluster measures the per-message cost of the whole
// message path (app scheduler -> link -> fake Mesos -> executor -> task ->
// back) over the in-process fake cluster: b.N 16-byte messages echoed by N
// tasks, with at most 256·N outstanding. It reports ns/msg and the framework
// messages (frames) per message in each direction, the measure of batching.
func BenchmarkEchoFakeCluster(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) { benchEchoFake(b, n, 16) })
	}
}

func benchEchoFake(b *testing.B, n, size int) {
	cluster := mesostest.NewCluster(mesostest.Config{
		Agents: []mesostest.Agent{{ID: "agent-0", Resources: map[string]float64{"cpus": 64, "mem": 65536}}},
		NewExecutor: func(string, *mesos.ExecutorInfo) exec.Executor {
			e := NewGoTaskExecutor(nil)
			e.RegisterTaskFunc("echo", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, _ []string, _ map[string]string) error {
				for m := range in {
					out <- m
				}
				return nil
			})
			return e
		},
	})
	defer cluster.Close()
	s := NewGoTaskScheduler("", nil, nil)
	s.executorURI = "http://artifacts.invalid/executor"
	s.SpawnTask("echo", n, map[string]float64{"cpus": 0.01, "mem": 1})
	data := strings.Repeat("x", size)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("echo-%d", i)
	}
	var toExec, toSched int
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		for running := 0; running < n; {
			ev, ok := <-schedevent
			if !ok {
				b.Error("job ended before its tasks ran")
				return
			}
			if ev.EventType == TaskRunning {
				running++
			}
		}
		go func() {
			for range schedevent {
			}
		}()
		window := make(chan struct{}, min(256*n, 4096))
		st0 := cluster.Stats()
		b.ResetTimer()
		go func() {
			for i := 0; i < b.N; i++ {
				window <- struct{}{}
				schedout <- GoTaskMsg{TaskName: names[i%n], MessageData: data}
			}
		}()
		for i := 0; i < b.N; i++ {
			<-schedin
			<-window
		}
		b.StopTimer()
		st := cluster.Stats()
		toExec, toSched = st.ToExecutor.Sent-st0.ToExecutor.Sent, st.ToScheduler.Sent-st0.ToScheduler.Sent
	})
	if err := s.RunDriver(cluster.SchedulerDriver(s)); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
	b.ReportMetric(float64(toExec)/float64(b.N), "frames/msg-out")
	b.ReportMetric(float64(toSched)/float64(b.N), "frames/msg-in")
}

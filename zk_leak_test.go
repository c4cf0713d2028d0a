package mesosgot

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/zktest"
	"github.com/mesosgot/mesosgot/localmesos"
)

// zkGoroutines returns the stacks of goroutines running the ZooKeeper client.
func zkGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "samuel/go-zookeeper") {
			out = append(out, g)
		}
	}
	return out
}

// A job over -master=zk://... that ends normally leaves no ZooKeeper client
// behind: mesos-go's driver cancels its detector only when it aborts, so
// the job's messenger cancels it when the driver stops.
func TestZooKeeperDetectorEndsWithTheJob(t *testing.T) {
	require.Empty(t, zkGoroutines(), "ZooKeeper clients of earlier tests are still running")
	zs := zktest.Start(t)
	url := zs.URL("/mesos")
	a, err := localmesos.Start(localmesos.Config{ZK: url, ZKSessionTimeout: 2 * time.Second, RegistrationBackoffFactor: 100 * time.Millisecond})
	require.NoError(t, err)
	conf := localConf(t, url)
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("seq", 1, nil)
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		schedout <- GoTaskMsg{TaskName: "seq-0", MessageData: "0"}
		<-schedin
	})
	require.NoError(t, s.Run())
	require.NoError(t, a.Close())
	deadline := time.Now().Add(10 * time.Second)
	for len(zkGoroutines()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling with a deadline for goroutines to unwind
	}
	require.Empty(t, zkGoroutines(), "a ZooKeeper client outlived the job and the cluster")
}

package libprocess

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// TestPipelinedMessagesArriveInOrder writes more messages than the pipe
// depth in one batch and checks the peer received them all, in order, from
// the pid named.
func TestPipelinedMessagesArriveInOrder(t *testing.T) {
	tr := NewTransport(upid.UPID{ID: "peer", Host: "127.0.0.1", Port: "0"}, net.IPv4(127, 0, 0, 1))
	tr.Install("test.Msg")
	pid, errc := tr.Start()
	if pid.Port == "" {
		t.Fatalf("start: %v", <-errc)
	}
	t.Cleanup(func() { _ = tr.Stop(true) })
	var wg sync.WaitGroup
	pc, err := DialPipe(net.JoinHostPort(pid.Host, pid.Port), "127.0.0.1", &wg, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		pc.Fail()
		wg.Wait()
	}()
	const n = 3 * pipeDepth
	var batch []*Outgoing
	for i := 0; i < n; i++ {
		batch = append(batch, NewOutgoing(pid, "test.Msg", []byte(strconv.Itoa(i))))
	}
	go func() {
		if err := pc.Write("sender(1)@127.0.0.1:1", batch); err != nil {
			t.Errorf("write: %v", err)
		}
	}()
	for i := 0; i < n; i++ {
		got := make(chan *messenger.Message, 1)
		go func() {
			m, _ := tr.Recv()
			got <- m
		}()
		select {
		case m := <-got:
			if string(m.Bytes) != strconv.Itoa(i) || m.UPID.String() != "sender(1)@127.0.0.1:1" {
				t.Fatalf("message %d: got %q from %s", i, m.Bytes, m.UPID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not received within 10s", i)
		}
	}
}

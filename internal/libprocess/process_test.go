package libprocess

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var loopback = net.ParseIP("127.0.0.1").To4()

// counting starts a process that counts the PingSlaveMessages it receives.
func counting(t *testing.T, id string) (*Process, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	p, err := New(id, loopback, 0, nil, func(m messenger.Messenger) error {
		return m.Install(func(*upid.UPID, proto.Message) { n.Add(1) }, &mesos.PingSlaveMessage{})
	})
	require.NoError(t, err)
	t.Cleanup(p.Stop)
	return p, &n
}

func ping() *mesos.PingSlaveMessage { return &mesos.PingSlaveMessage{Connected: proto.Bool(true)} }

func (p *Process) queued(to upid.UPID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q := p.queues[to.String()]; q != nil {
		return len(q.msgs)
	}
	return 0
}

// deadPID is the pid of a process on a port nothing listens on.
func deadPID(t *testing.T) upid.UPID {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, ln.Close())
	return upid.UPID{ID: "gone", Host: "127.0.0.1", Port: port}
}

// silentPID is the pid of a peer that accepts connections and never answers.
func silentPID(t *testing.T) upid.UPID {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return upid.UPID{ID: "silent", Host: "127.0.0.1", Port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
}

func TestSendDelivers(t *testing.T) {
	a, _ := counting(t, "a")
	b, got := counting(t, "b")
	to := b.PID()
	for i := 0; i < 100; i++ {
		a.Send(&to, ping())
	}
	require.Eventually(t, func() bool { return got.Load() == 100 }, 10*time.Second, time.Millisecond)
}

func TestDeadPeerDoesNotHoldUpOthers(t *testing.T) {
	a, _ := counting(t, "a")
	b, got := counting(t, "b")
	dead, silent, live := deadPID(t), silentPID(t), b.PID()
	for i := 0; i < 50; i++ {
		a.Send(&dead, ping())
		a.Send(&silent, ping())
		a.Send(&live, ping())
	}
	require.Eventually(t, func() bool { return got.Load() == 50 }, 10*time.Second, time.Millisecond,
		"messages to a live peer wait for a dead or silent one")
	// A refused connection fails the queue at once rather than message by
	// message.
	require.Eventually(t, func() bool { return a.queued(dead) == 0 }, 10*time.Second, time.Millisecond)
	// Messages to the silent peer are written without waiting for its
	// answers (pipelined), so its queue empties too.
	require.Eventually(t, func() bool { return a.queued(silent) == 0 }, 3*SendTimeout, 10*time.Millisecond)
}

func TestSendQueueIsBounded(t *testing.T) {
	a, _ := counting(t, "a")
	silent := silentPID(t)
	for i := 0; i < MaxQueuedPerDestination+500; i++ {
		a.Send(&silent, ping())
	}
	assert.LessOrEqual(t, a.queued(silent), MaxQueuedPerDestination)
	// Stop with a send in flight and messages queued returns promptly.
	stopped := make(chan struct{})
	go func() { a.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * SendTimeout):
		t.Fatal("Stop blocked on an in-flight send")
	}
}

func TestStopWithMessagesInFlight(t *testing.T) {
	for round := 0; round < 5; round++ {
		a, gotA := counting(t, "a")
		b, gotB := counting(t, "b")
		ta, tb := a.PID(), b.PID()
		stop := make(chan struct{})
		done := make(chan struct{}, 2)
		flood := func(p *Process, to upid.UPID) {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
					p.Send(&to, ping())
				}
			}
		}
		go flood(a, tb)
		go flood(b, ta)
		// Messages flow both ways when the processes stop.
		require.Eventually(t, func() bool { return gotA.Load() > 10 && gotB.Load() > 10 }, 10*time.Second, time.Millisecond)
		b.Stop()
		a.Stop()
		close(stop)
		<-done
		<-done
		a.Send(&tb, ping()) // after Stop: dropped, no panic
	}
}

func TestSendNow(t *testing.T) {
	a, _ := counting(t, "a")
	b, got := counting(t, "b")
	to := b.PID()
	require.NoError(t, a.SendNow(t.Context(), &to, ping()))
	require.Eventually(t, func() bool { return got.Load() == 1 }, 5*time.Second, time.Millisecond)
	dead := deadPID(t)
	require.Error(t, a.SendNow(t.Context(), &dead, ping()))
	// A refused message is a StatusError, not a broken link.
	unknown := upid.UPID{ID: "nobody", Host: to.Host, Port: to.Port}
	err := a.SendNow(t.Context(), &unknown, ping())
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Contains(t, se.Status, "404")
}

// A peer that closes a kept-alive connection instead of answering the next
// request on it (as mesos-go's transporter does when its read timeout hits)
// costs no message: the send is made again on a new connection.
func TestSendRetriesOnClosedKeptAliveConnection(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				req, err := http.ReadRequest(r)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				got.Add(1)
				_, _ = c.Write([]byte("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"))
				// The next request on this connection is read and dropped.
				if req, err := http.ReadRequest(r); err == nil {
					_, _ = io.Copy(io.Discard, req.Body)
				}
			}(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	a, _ := counting(t, "a")
	to := upid.UPID{ID: "peer", Host: "127.0.0.1", Port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
	for i := 0; i < 20; i++ {
		require.NoError(t, a.SendNow(t.Context(), &to, ping()), "message %d", i)
	}
	assert.EqualValues(t, 20, got.Load())
}

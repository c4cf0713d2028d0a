package libprocess

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// TestFrameworkFieldsMatchProtobuf checks the light decoder and encoder
// against the generated ones: same fields, the data not copied, the same
// bytes encoded, and every truncation refused or decoded as protobuf does.
func TestFrameworkFieldsMatchProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 1, 127, 128, 300, 70000, 1 << 20} {
		want := &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("agent-1"), FrameworkId: util.NewFrameworkID("fw-0001"),
			ExecutorId: util.NewExecutorID("exec"), Data: randBytes(r, size)}
		body, err := proto.Marshal(want)
		require.NoError(t, err)
		var got ExecutorToFrameworkMessage
		require.NoError(t, proto.Unmarshal(body, &got))
		assert.Equal(t, "agent-1", got.SlaveID)
		assert.Equal(t, "fw-0001", got.FrameworkID)
		assert.Equal(t, "exec", got.ExecutorID)
		assert.Equal(t, want.Data, got.Data, "size %d", size)
		if size > 0 {
			assert.Same(t, &body[len(body)-size], &got.Data[0], "the data is not copied")
		}
		assert.Equal(t, body, bytes.Join(got.Parts(), nil), "Parts encodes what proto.Marshal does")
		m, err := got.Marshal()
		require.NoError(t, err)
		assert.Equal(t, body, m)
		assert.Contains(t, got.String(), fmt.Sprintf("data:<%d bytes>", size), "String names the data's length, not its bytes")
		for cut := 0; cut < len(body) && cut < 80; cut++ {
			var a ExecutorToFrameworkMessage
			var b mesos.ExecutorToFrameworkMessage
			errA := proto.Unmarshal(body[:cut], &a)
			errB := proto.Unmarshal(body[:cut], &b)
			if errA == nil {
				require.NoError(t, errB, "cut %d", cut)
				assert.Equal(t, b.Data, a.Data, "cut %d", cut)
			}
		}
	}
	// the other direction has the same fields
	to := &mesos.FrameworkToExecutorMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"), ExecutorId: util.NewExecutorID("e"), Data: []byte("x")}
	var fe FrameworkToExecutorMessage
	require.NoError(t, proto.Unmarshal(mustMarshal(t, to), &fe))
	assert.Equal(t, mustMarshal(t, to), bytes.Join(fe.Parts(), nil))
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestFrameworkFieldsRefuseMalformed: what the generated decoder refuses,
// the light one refuses too.
func TestFrameworkFieldsRefuseMalformed(t *testing.T) {
	full := mustMarshal(t, &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
		ExecutorId: util.NewExecutorID("e"), Data: []byte("data")})
	withoutData := full[:len(full)-6] // the data field is the last: key, length 4, "data"
	for name, enc := range map[string][]byte{
		"no data":            withoutData,
		"no IDs":             {0x22, 0x01, 'x'},
		"ID without value":   append(append([]byte{}, withoutData...), 0x0a, 0x00, 0x22, 0x00), // slave_id {} then data
		"varint as slave_id": append([]byte{0x08, 0x01}, full...),
		"bad length":         append(append([]byte{}, full...), 0x22, 0x7f),
		"field number 0":     append([]byte{0x02, 0x00}, full...),
	} {
		var a ExecutorToFrameworkMessage
		var b mesos.ExecutorToFrameworkMessage
		assert.Error(t, proto.Unmarshal(b2(enc), &a), name)
		assert.Error(t, proto.Unmarshal(b2(enc), &b), "%s (protobuf)", name)
	}
	// unknown fields are skipped
	var a ExecutorToFrameworkMessage
	require.NoError(t, proto.Unmarshal(append(append([]byte{}, full...), 0x28, 0x07), &a))
	assert.Equal(t, []byte("data"), a.Data)
}

func b2(b []byte) []byte { return append([]byte{}, b...) }

// TestPipeWritesLargeAndSmallBodies: heads, small bodies and large parts
// written with writev arrive whole and in order.
func TestPipeWritesLargeAndSmallBodies(t *testing.T) {
	tr := NewTransport(upid.UPID{ID: "peer", Host: "127.0.0.1", Port: "0"}, loopback)
	tr.Install("test.Msg")
	pid, errc := tr.Start()
	if pid.Port == "" {
		t.Fatalf("start: %v", <-errc)
	}
	t.Cleanup(func() { _ = tr.Stop(true) })
	var wg sync.WaitGroup
	pc, err := DialPipe(pid.Host+":"+pid.Port, "127.0.0.1", &wg, "test")
	require.NoError(t, err)
	defer func() {
		pc.Fail()
		wg.Wait()
	}()
	r := rand.New(rand.NewPCG(5, 6))
	var batch []*Outgoing
	var want [][]byte
	for i := 0; i < 60; i++ {
		var parts [][]byte
		for k := r.IntN(4); k >= 0; k-- {
			n := []int{0, 10, directPart - 1, directPart, 200 << 10}[r.IntN(5)]
			parts = append(parts, randBytes(r, n))
		}
		batch = append(batch, &Outgoing{To: pid, Name: "test.Msg", Body: parts})
		want = append(want, bytes.Join(parts, nil))
	}
	go func() {
		if err := pc.Write("sender(1)@127.0.0.1:1", batch); err != nil {
			t.Errorf("write: %v", err)
		}
	}()
	for i := range want {
		m := recvWithin(t, tr, 10*time.Second)
		require.Equal(t, len(want[i]), len(m.Bytes), "message %d", i)
		require.True(t, bytes.Equal(want[i], m.Bytes), "message %d arrives whole", i)
	}
}

func recvWithin(t *testing.T, tr *Transport, d time.Duration) *messenger.Message {
	t.Helper()
	got := make(chan *messenger.Message, 1)
	go func() {
		m, _ := tr.Recv()
		got <- m
	}()
	select {
	case m := <-got:
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
		return nil
	}
}

// TestProcessRelaysPooledBodiesIntact relays many large framework messages
// through a process that writes each on from its pooled body, as an agent
// does, while the pool reuses the buffers: every message arrives intact and
// in order, and the buffers do go back to the pool.
func TestProcessRelaysPooledBodiesIntact(t *testing.T) {
	sink := NewTransport(upid.UPID{ID: "sink", Host: "127.0.0.1", Port: "0"}, loopback)
	sink.Install("mesos.internal.ExecutorToFrameworkMessage")
	sinkPID, errc := sink.Start()
	if sinkPID.Port == "" {
		t.Fatalf("start: %v", <-errc)
	}
	t.Cleanup(func() { _ = sink.Stop(true) })
	var relay *Process
	relayed := make(chan *Body, 1000)
	relay, err := New("relay", loopback, 0, nil, func(m messenger.Messenger) error {
		return m.Install(func(from *upid.UPID, pb proto.Message) {
			msg := pb.(*ExecutorToFrameworkMessage)
			relayed <- msg.body()
			out := &ExecutorToFrameworkMessage{FrameworkFields: msg.FrameworkFields}
			out.SlaveID = "relay-agent"
			relay.Send(&sinkPID, out)
		}, &ExecutorToFrameworkMessage{})
	})
	require.NoError(t, err)
	t.Cleanup(relay.Stop)
	sender, err := New("sender", loopback, 0, nil, func(messenger.Messenger) error { return nil })
	require.NoError(t, err)
	t.Cleanup(sender.Stop)

	const n = 200
	r := rand.New(rand.NewPCG(7, 8))
	var want [][]byte
	relayPID := relay.PID()
	for i := 0; i < n; i++ {
		data := randBytes(r, 70<<10+r.IntN(200<<10))
		want = append(want, data)
		sender.Send(&relayPID, &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
			ExecutorId: util.NewExecutorID(fmt.Sprint(i)), Data: data})
	}
	for i := 0; i < n; i++ {
		m := recvWithin(t, sink, 20*time.Second)
		var got mesos.ExecutorToFrameworkMessage
		require.NoError(t, proto.Unmarshal(m.Bytes, &got))
		require.Equal(t, fmt.Sprint(i), got.GetExecutorId().GetValue(), "in order")
		assert.Equal(t, "relay-agent", got.GetSlaveId().GetValue())
		require.True(t, bytes.Equal(want[i], got.Data), "message %d intact", i)
	}
	// the bodies were pooled, and every one was handed back
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < n; i++ {
		b := <-relayed
		require.NotNil(t, b)
		assert.True(t, b.pooled)
		for b.refs.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		assert.Zero(t, b.refs.Load(), "body %d released", i)
	}
}

// BenchmarkFrameworkMessageRelay is what an agent does to a 1 MiB
// framework message on its way to the scheduler, with the generated types
// (decode, clone to set the agent's ID, encode) and with the light ones
// (decode, encode the head; the data is written from the body).
func BenchmarkFrameworkMessageRelay(b *testing.B) {
	body := mustMarshalB(b, &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("agent-1"), FrameworkId: util.NewFrameworkID("fw"),
		ExecutorId: util.NewExecutorID("exec"), Data: make([]byte, 1<<20)})
	b.Run("generated", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var m mesos.ExecutorToFrameworkMessage
			if err := proto.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
			out := proto.Clone(&m).(*mesos.ExecutorToFrameworkMessage)
			out.SlaveId = util.NewSlaveID("agent-2")
			if _, err := proto.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("light", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var m ExecutorToFrameworkMessage
			if err := proto.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
			out := &ExecutorToFrameworkMessage{FrameworkFields: m.FrameworkFields}
			out.SlaveID = "agent-2"
			_ = out.Parts()
		}
	})
}

func mustMarshalB(b *testing.B, m proto.Message) []byte {
	out, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

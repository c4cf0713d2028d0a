package mesosgot

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeFrameworkMessageMatchesProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 127, 128, 300, 70000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		want := &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("agent-1"), FrameworkId: util.NewFrameworkID("fw"),
			ExecutorId: util.NewExecutorID("exec"), Data: data}
		body, err := proto.Marshal(want)
		require.NoError(t, err)
		var got mesos.ExecutorToFrameworkMessage
		require.NoError(t, decodeFrameworkMessage(body, &got))
		assert.True(t, proto.Equal(want, &got), "size %d", size)
		if size > 0 {
			assert.Same(t, &body[len(body)-size], &got.Data[0], "the data is not copied")
		}
		// every truncation is an error or a message protobuf also decodes, never a panic
		for cut := 0; cut < len(body) && cut < 64; cut++ {
			var a, b mesos.ExecutorToFrameworkMessage
			errA := decodeFrameworkMessage(body[:cut], &a)
			errB := proto.Unmarshal(body[:cut], &b)
			if errA == nil {
				assert.NoError(t, errB, "cut %d", cut)
				assert.True(t, proto.Equal(&a, &b), "cut %d", cut)
			}
		}
	}
	// unknown fields are kept, as protobuf keeps them
	withUnknown := append(mustMarshal(t, &mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"),
		ExecutorId: util.NewExecutorID("e"), Data: []byte("x")}), 0x28, 0x07) // field 5, varint 7
	var a, b mesos.ExecutorToFrameworkMessage
	require.NoError(t, decodeFrameworkMessage(withUnknown, &a))
	require.NoError(t, proto.Unmarshal(withUnknown, &b))
	assert.Equal(t, b.XXX_unrecognized, a.XXX_unrecognized)
	// a missing required field is an error
	assert.Error(t, decodeFrameworkMessage(mustMarshal(t, util.NewSlaveID("a")), &a))
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestDecodeExecutorMessageMatchesProtobuf(t *testing.T) {
	want := &mesos.FrameworkToExecutorMessage{SlaveId: util.NewSlaveID("agent-1"), FrameworkId: util.NewFrameworkID("fw"),
		ExecutorId: util.NewExecutorID("exec"), Data: []byte("to the executor")}
	var got mesos.FrameworkToExecutorMessage
	require.NoError(t, decodeExecutorMessage(mustMarshal(t, want), &got))
	assert.True(t, proto.Equal(want, &got))
}

// TestTokensForFramesSent: a large frame goes to the driver as a token,
// which the messenger's sending hook exchanges back once; small frames and
// a table no messenger adopted send the frame itself; a token the driver
// sent some other way turns tokens off.
func TestTokensForFramesSent(t *testing.T) {
	big := string(make([]byte, 4096))
	var sent []string
	send := func(data string) error { sent = append(sent, data); return nil }

	plain := newTokenTable()
	require.NoError(t, plain.sendFrame(big, nil, send))
	assert.Equal(t, big, sent[0], "not adopted: the frame itself")

	tt := newTokenTable()
	tt.adopt()
	sent = nil
	require.NoError(t, tt.sendFrame("small", nil, send))
	assert.Equal(t, "small", sent[0])
	var taken []byte
	released := 0
	require.NoError(t, tt.sendFrame(big, func() { released++ }, func(data string) error {
		require.True(t, isToken(data), "the driver gets a token")
		msg := &mesos.ExecutorToFrameworkMessage{Data: []byte(data)}
		release := (&execPolicy{tokens: tt}).sending(nil, msg)
		require.NotNil(t, release)
		release()
		taken = msg.Data
		again := []byte(data)
		tt.takeOut(&again)
		assert.Equal(t, data, string(again), "a token is exchanged once")
		return nil
	}))
	assert.Equal(t, big, string(taken), "the messenger sends the frame")
	assert.Equal(t, 1, released, "its release is handed to the messenger")
	assert.Len(t, tt.data, 0, "nothing left in the table")

	// a driver that sends the token without the messenger's hook
	sent = nil
	require.NoError(t, tt.sendFrame(big, func() { t.Error("a frame the messenger did not write is released") }, send))
	assert.True(t, isToken(sent[0]))
	sent = nil
	require.NoError(t, tt.sendFrame(big, nil, send))
	assert.Equal(t, big, sent[0], "tokens are off once one went another way")
	assert.Len(t, tt.data, 0)
}

// TestOutgoingFrameworkMessagesInParts: the messenger writes a framework
// message's data from the message, and the bytes are proto.Marshal's.
func TestOutgoingFrameworkMessagesInParts(t *testing.T) {
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte(i)
	}
	for _, msg := range []proto.Message{
		&mesos.ExecutorToFrameworkMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"), ExecutorId: util.NewExecutorID("e"), Data: data},
		&mesos.FrameworkToExecutorMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"), ExecutorId: util.NewExecutorID("e"), Data: data},
		&mesos.FrameworkToExecutorMessage{SlaveId: util.NewSlaveID("a"), FrameworkId: util.NewFrameworkID("f"), Data: data}, // no executor ID: encoded whole
		&mesos.KillTaskMessage{FrameworkId: util.NewFrameworkID("f"), TaskId: util.NewTaskID("t")},
	} {
		o, err := outgoing(upid.UPID{ID: "x", Host: "127.0.0.1", Port: "1"}, msg)
		want, werr := proto.Marshal(msg)
		if werr != nil {
			assert.Error(t, err, "what protobuf refuses to encode is refused: %T", msg)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, want, bytes.Join(o.Body, nil), "%T", msg)
		if len(o.Body) == 2 {
			assert.Same(t, &data[0], &o.Body[1][0], "the data is not copied")
		}
	}
}

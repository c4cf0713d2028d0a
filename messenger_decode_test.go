package mesosgot

import (
	"math/rand/v2"
	"testing"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
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

package mesosgot

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeDecodeMsgRoundTrip(t *testing.T) {
	mib := strings.Repeat("\x00\xff^x", 1<<18) // 1 MiB
	tests := []struct {
		name string
		msg  GoTaskMsg
	}{
		{"empty", GoTaskMsg{}},
		{"plain", GoTaskMsg{TaskName: "worker-0", MessageData: "hello"}},
		{"empty name", GoTaskMsg{MessageData: "data only"}},
		{"empty data", GoTaskMsg{TaskName: "worker-1"}},
		{"caret in name", GoTaskMsg{TaskName: "a^b^", MessageData: "^c^"}},
		{"nul bytes", GoTaskMsg{TaskName: "a\x00b", MessageData: "\x00\x00"}},
		{"unicode", GoTaskMsg{TaskName: "задача-7", MessageData: "日本語 🙂"}},
		{"invalid utf8", GoTaskMsg{TaskName: "\xff\xfe", MessageData: "\xc3\x28"}},
		{"name looks like a header", GoTaskMsg{TaskName: "\x01\x05", MessageData: "\x01"}},
		{"long name", GoTaskMsg{TaskName: strings.Repeat("n", 300), MessageData: "d"}},
		{"1 MiB data", GoTaskMsg{TaskName: "big-0", MessageData: mib}},
		{"1 MiB name", GoTaskMsg{TaskName: mib, MessageData: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := EncodeMsg(tc.msg)
			require.NoError(t, err)
			require.NotEmpty(t, s)
			assert.Equal(t, msgVersion1, s[0], "version byte")
			got, err := DecodeMsg(s)
			require.NoError(t, err)
			assert.True(t, got == tc.msg, "round trip changed the message")
		})
	}
}

func TestEncodeMsgLayout(t *testing.T) {
	s, err := EncodeMsg(GoTaskMsg{TaskName: "ab", MessageData: "xyz"})
	require.NoError(t, err)
	assert.Equal(t, "\x01\x02abxyz", s)
}

func TestDecodeMsgMalformed(t *testing.T) {
	valid, err := EncodeMsg(GoTaskMsg{TaskName: "worker-3", MessageData: "payload"})
	require.NoError(t, err)
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"version only", "\x01"},
		{"unknown version 0", "\x00\x00"},
		{"unknown version 2", "\x02\x00abc"},
		{"seed-style caret text", "worker-0^hello"},
		{"truncated varint", "\x01\x80"},
		{"truncated long varint", "\x01\xff\xff\xff"},
		{"varint overflow", "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"},
		{"name longer than rest", "\x01\x05abc"},
		{"huge name length", "\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f"},
		{"valid truncated in name", valid[:5]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				m   GoTaskMsg
				err error
			)
			require.NotPanics(t, func() { m, err = DecodeMsg(tc.in) })
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedMsg)
			assert.Equal(t, GoTaskMsg{}, m)
		})
	}
}

// TestDecodeMsgEveryPrefix decodes every prefix of a valid message: each is
// either an error wrapping ErrMalformedMsg or a message whose name is whole.
func TestDecodeMsgEveryPrefix(t *testing.T) {
	s, err := EncodeMsg(GoTaskMsg{TaskName: "worker-12", MessageData: "some data"})
	require.NoError(t, err)
	for i := 0; i <= len(s); i++ {
		var m GoTaskMsg
		require.NotPanics(t, func() { m, err = DecodeMsg(s[:i]) })
		if err != nil {
			assert.ErrorIs(t, err, ErrMalformedMsg, "prefix %d", i)
			continue
		}
		assert.Equal(t, "worker-12", m.TaskName, "prefix %d", i)
		assert.True(t, strings.HasPrefix("some data", m.MessageData), "prefix %d", i)
	}
}

func TestEncodeDecodeMsgRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	randBytes := func(max int) string {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return string(b)
	}
	for i := 0; i < 2000; i++ {
		m := GoTaskMsg{TaskName: randBytes(200), MessageData: randBytes(500)}
		s, err := EncodeMsg(m)
		require.NoError(t, err)
		got, err := DecodeMsg(s)
		require.NoError(t, err)
		require.True(t, got == m, "iteration %d", i)

		// Random garbage never panics, and any error wraps ErrMalformedMsg.
		g := randBytes(40)
		require.NotPanics(t, func() { _, err = DecodeMsg(g) })
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedMsg)
		} else {
			require.Equal(t, msgVersion1, g[0])
		}
	}
}

func TestDecodeMsgDoesNotAlias(t *testing.T) {
	// DecodeMsg works on strings, so the result cannot alias a caller's
	// byte buffer that is later reused.
	buf := []byte("\x01\x01ab")
	m, err := DecodeMsg(string(buf))
	require.NoError(t, err)
	copy(buf, bytes.Repeat([]byte{'z'}, len(buf)))
	assert.Equal(t, GoTaskMsg{TaskName: "a", MessageData: "b"}, m)
}

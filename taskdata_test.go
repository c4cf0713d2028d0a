package mesosgot

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTaskDataRoundTrip(t *testing.T) {
	manyArgs := make([]string, 1000)
	manyEnv := make(map[string]string, 1000)
	for i := range manyArgs {
		manyArgs[i] = fmt.Sprintf("arg-%d", i)
		manyEnv[fmt.Sprintf("K%04d", i)] = strings.Repeat("v", i%17)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"nothing", nil, nil},
		{"args only", []string{"-n", "3"}, nil},
		{"env only", nil, map[string]string{"A": "1"}},
		{"empty strings", []string{"", "", ""}, map[string]string{"": "", "E": ""}},
		{"any bytes", []string{"\x00", "a b", "'\"$\\", "\xff\xfe", "日本"}, map[string]string{"\x00k": "\x00v", "x=y": "=;"}},
		{"long value", []string{strings.Repeat("z", 1<<16)}, map[string]string{"BIG": strings.Repeat("q", 300)}},
		{"many entries", manyArgs, manyEnv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeTaskData(tc.args, tc.env)
			require.NotEmpty(t, data)
			assert.Equal(t, taskDataVersion1, data[0])
			args, env, err := decodeTaskData(data)
			require.NoError(t, err)
			if len(tc.args) == 0 {
				assert.Empty(t, args)
			} else {
				assert.Equal(t, tc.args, args)
			}
			require.NotNil(t, env, "env is never nil")
			if len(tc.env) == 0 {
				assert.Empty(t, env)
			} else {
				assert.Equal(t, tc.env, env)
			}
		})
	}
}

func TestTaskDataNilVersusEmpty(t *testing.T) {
	// nil and empty encode the same: the task sees no args and an empty env.
	a := encodeTaskData(nil, nil)
	b := encodeTaskData([]string{}, map[string]string{})
	assert.Equal(t, a, b)
	args, env, err := decodeTaskData(a)
	require.NoError(t, err)
	assert.Empty(t, args)
	assert.NotNil(t, env)
	assert.Empty(t, env)
}

func TestTaskDataDeterministic(t *testing.T) {
	env := map[string]string{"c": "3", "a": "1", "b": "2", "d": "4", "e": "5"}
	first := encodeTaskData([]string{"x"}, env)
	for i := 0; i < 20; i++ {
		assert.Equal(t, first, encodeTaskData([]string{"x"}, env), "env is encoded sorted by key")
	}
}

func TestTaskDataEmptyInput(t *testing.T) {
	for _, data := range [][]byte{nil, {}} {
		args, env, err := decodeTaskData(data)
		require.NoError(t, err)
		assert.Nil(t, args)
		require.NotNil(t, env)
		assert.Empty(t, env)
	}
}

func TestTaskDataMalformed(t *testing.T) {
	valid := encodeTaskData([]string{"alpha", "beta"}, map[string]string{"K": "V"})
	uv := func(n uint64) []byte { return binary.AppendUvarint(nil, n) }
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"unknown version", []byte{2, 0, 0}},
		{"version zero", []byte{0}},
		{"version only", []byte{1}},
		{"truncated arg count", []byte{1, 0x80}},
		{"missing env count", []byte{1, 0}},
		{"arg count without args", []byte{1, 3}},
		{"arg length exceeds data", []byte{1, 1, 9, 'a'}},
		{"truncated arg length", []byte{1, 1, 0x80}},
		{"env key without value", cat([]byte{1, 0}, uv(1), uv(1), []byte("k"))},
		{"env value too long", cat([]byte{1, 0}, uv(1), uv(1), []byte("k"), uv(5), []byte("v"))},
		{"trailing bytes", append(append([]byte{}, valid...), 0)},
		{"varint overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"huge arg count", cat([]byte{1}, uv(1<<60))},
		{"huge env count", cat([]byte{1}, uv(0), uv(1<<60))},
		{"huge string length", cat([]byte{1}, uv(1), uv(1<<62), []byte("abc"))},
	}
	for i := 1; i < len(valid); i++ {
		tests = append(tests, struct {
			name string
			data []byte
		}{fmt.Sprintf("valid truncated to %d", i), valid[:i]})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, _, err = decodeTaskData(tc.data) })
			assert.Error(t, err)
		})
	}
}

func TestTaskDataImplausibleCountIsCheap(t *testing.T) {
	// A header claiming 2^60 args must fail at once, not allocate for them.
	data := binary.AppendUvarint([]byte{taskDataVersion1}, 1<<60)
	start := time.Now()
	allocs := testing.AllocsPerRun(10, func() {
		_, _, err := decodeTaskData(data)
		require.Error(t, err)
	})
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.LessOrEqual(t, allocs, 10.0, "decoding a bad header allocates little")
}

func TestTaskDataRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	str := func() string {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return string(b)
	}
	for i := 0; i < 500; i++ {
		args := make([]string, r.IntN(6))
		for j := range args {
			args[j] = str()
		}
		env := map[string]string{}
		for j := r.IntN(6); j > 0; j-- {
			env[str()] = str()
		}
		data := encodeTaskData(args, env)
		gotArgs, gotEnv, err := decodeTaskData(data)
		require.NoError(t, err)
		if len(args) == 0 {
			require.Empty(t, gotArgs)
		} else {
			require.Equal(t, args, gotArgs)
		}
		require.Equal(t, env, gotEnv)

		// Flip one byte: no panic, and either an error or some decoding.
		bad := append([]byte(nil), data...)
		bad[r.IntN(len(bad))] ^= byte(1 + r.UintN(255))
		require.NotPanics(t, func() { _, _, _ = decodeTaskData(bad) })
	}
}

// TestTaskDataManyEntriesRoundTrip: any number of args or env entries
// round-trips; only the input's size bounds the decoder.
func TestTaskDataManyEntriesRoundTrip(t *testing.T) {
	many := make([]string, 100_000)
	env := map[string]string{}
	for i := 0; i < 70_000; i++ {
		env[fmt.Sprint("k", i)] = ""
	}
	args, gotEnv, err := decodeTaskData(encodeTaskData(many, env))
	require.NoError(t, err)
	assert.Len(t, args, len(many))
	assert.Len(t, gotEnv, len(env))
}

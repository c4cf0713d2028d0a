package mesosgot

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLinkHeartbeat: an idle link pings its silent peer every
// HeartbeatTicks, the peer answers at once, and Silent stays below the
// interval; once the peer stops answering, Silent grows without bound.
func TestLinkHeartbeat(t *testing.T) {
	cfg := testConfig()
	cfg.HeartbeatTicks = 5
	p := newPair(t, cfg)
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "s", MessageData: "hello"}))
	p.settle(100)
	pings := 0
	for range 100 {
		p.a.Tick()
		p.b.Tick()
		fa, fb := p.ready(p.a), p.ready(p.b)
		for _, f := range fa {
			if decodeT(t, f).Flags&frameFlagPing != 0 {
				pings++
			}
			require.NoError(t, p.b.Recv(f))
		}
		for _, f := range fb {
			if decodeT(t, f).Flags&frameFlagPing != 0 {
				pings++
			}
			require.NoError(t, p.a.Recv(f))
		}
		for _, f := range append(p.ready(p.a), p.ready(p.b)...) { // the answers
			if decodeT(t, f).SrcEpoch == p.a.epoch {
				require.NoError(t, p.b.Recv(f))
			} else {
				require.NoError(t, p.a.Recv(f))
			}
		}
		assert.Less(t, p.a.Silent(), int64(cfg.HeartbeatTicks+1))
		assert.Less(t, p.b.Silent(), int64(cfg.HeartbeatTicks+1))
	}
	assert.GreaterOrEqual(t, pings, 100/cfg.HeartbeatTicks-1, "about one ping per interval")
	assert.LessOrEqual(t, pings, 2*100/cfg.HeartbeatTicks+2, "and not many more")
	assert.True(t, p.a.Idle() && p.b.Idle())

	// b stops answering: a keeps pinging and Silent grows.
	for range 50 {
		p.a.Tick()
		p.ready(p.a)
	}
	assert.GreaterOrEqual(t, p.a.Silent(), int64(50))
}

func TestLinkNoHeartbeatByDefault(t *testing.T) {
	l := newLink(testConfig(), 1)
	for range 1000 {
		l.Tick()
		fs, _ := l.Ready()
		require.Empty(t, fs)
	}
}

func TestLinkTimeoutTicks(t *testing.T) {
	assert.Equal(t, int64(0), linkTicks(0, 10*time.Millisecond))
	assert.Equal(t, int64(200), linkTicks(2*time.Second, 10*time.Millisecond))
	assert.Equal(t, int64(1), linkTicks(time.Millisecond, 10*time.Millisecond))
	assert.Equal(t, 0, heartbeatTicks(0))
	assert.Equal(t, 50, heartbeatTicks(200))
	assert.Equal(t, 1, heartbeatTicks(2))
}

func TestDropCounterRateLimits(t *testing.T) {
	var d dropCounter
	now := time.Unix(1000, 0)
	assert.True(t, d.note(now), "the first drop is reported")
	n, total := d.take()
	assert.Equal(t, [2]uint64{1, 1}, [2]uint64{n, total})
	for i := range 100 {
		assert.False(t, d.note(now.Add(time.Duration(i)*time.Millisecond)))
	}
	assert.True(t, d.note(now.Add(dropReportInterval)))
	n, total = d.take()
	assert.Equal(t, [2]uint64{101, 102}, [2]uint64{n, total})
}

func TestTaskInfoDataRoundTrip(t *testing.T) {
	td := taskData{Args: []string{"a"}, Env: map[string]string{"K": "V"},
		Link: taskLinkParams{Key: testLinkKey, ExecutorID: "mesosgot-executor-a1", Encrypt: true, Timeout: 1500 * time.Millisecond}}
	got, err := decodeTaskInfoData(encodeTaskInfoData(td))
	require.NoError(t, err)
	assert.Equal(t, td, got)
	v1, err := decodeTaskInfoData(encodeTaskData([]string{"a"}, nil))
	require.NoError(t, err)
	assert.Nil(t, v1.Link.Key, "version 1 carries no link key")
	bad := td
	bad.Link.Key = []byte("short")
	_, err = decodeTaskInfoData(encodeTaskInfoData(bad))
	assert.ErrorContains(t, err, "link key of 5 bytes")
	full := encodeTaskInfoData(td)
	for i := 1; i < len(full); i++ {
		_, err := decodeTaskInfoData(full[:i])
		assert.Error(t, err, "truncated to %d", i)
	}
}

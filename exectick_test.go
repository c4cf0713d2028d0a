package mesosgot

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLinkIdleTicks: a busy link needs every tick; an idle one may sleep
// until its next heartbeat, and Advance over that stretch asks for the
// ping exactly as that many Ticks would.
func TestLinkIdleTicks(t *testing.T) {
	cfg := testConfig()
	cfg.HeartbeatTicks = 20
	p := newPair(t, cfg)
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "s", MessageData: "hello"}))
	assert.Zero(t, p.a.IdleTicks(), "a queued message: not idle")
	p.settle(100)
	require.True(t, p.a.Idle())
	n := p.a.IdleTicks()
	assert.Positive(t, n)
	assert.LessOrEqual(t, n, int64(cfg.HeartbeatTicks))

	p.a.Advance(n - 1)
	fs, _ := p.a.Ready()
	assert.Empty(t, fs, "no ping before the heartbeat is due")
	assert.EqualValues(t, 1, p.a.IdleTicks())
	p.a.Advance(1)
	fs, _ = p.a.Ready()
	require.Len(t, fs, 1)
	assert.NotZero(t, decodeT(t, fs[0]).Flags&frameFlagPing, "the heartbeat ping is due after the idle ticks")

	noHB := newLink(testConfig(), 1)
	assert.Equal(t, int64(math.MaxInt64), noHB.IdleTicks(), "no heartbeat: nothing ever due")
}

// TestExecTickerSleepsWhileIdle: the executor's ticker fires every period
// while the link is busy and once after the idle stretch otherwise,
// counting the ticks that passed.
func TestExecTickerSleepsWhileIdle(t *testing.T) {
	const period = 5 * time.Millisecond
	tk := newExecTicker(period)
	defer tk.stop()
	<-tk.c()
	assert.GreaterOrEqual(t, tk.elapsed(), int64(1))
	tk.next(0)
	<-tk.c()
	assert.GreaterOrEqual(t, tk.elapsed(), int64(1))
	tk.next(20) // idle: 20 ticks
	select {
	case <-tk.c():
		n := tk.elapsed()
		assert.GreaterOrEqual(t, n, int64(20), "one wakeup for the whole idle stretch")
	case <-time.After(10 * time.Second):
		t.Fatal("the idle ticker never fired")
	}
	tk.next(1 << 40) // capped, not overflowing
	assert.True(t, tk.due.After(time.Now()))
	assert.True(t, tk.due.Before(time.Now().Add(time.Duration(maxIdleTicks+1)*period)))
}

package mesosgot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testConfig is a small link configuration for the table tests.
func testConfig() linkConfig {
	return linkConfig{
		MaxBatchMsgs:  64,
		MaxFrameBytes: 8192,
		WindowMsgs:    256,
		WindowBytes:   64 << 10,
		TaskCredit:    16,
		TaskQueue:     8,
		AckDelayTicks: 1,
		RTOTicks:      20,
		MaxRTOTicks:   200,
		MaxMsgBytes:   1 << 20,
		QueueBytes:    1 << 20,
		// The frame window is on, as in defaultLinkConfig.
		MaxInflightFrames: 2,
	}
}

// pair is two links joined by a lossless test channel; delivered messages
// are consumed at once except on streams listed in hold.
type pair struct {
	// t is the running test.
	t *testing.T
	// a and b are the two links.
	a, b *link
	// got are the messages delivered at each end, in order.
	gotA, gotB []GoTaskMsg
	// hold lists streams whose messages the receiving app does not consume.
	hold map[string]bool
	// frames counts frames carried a→b and b→a.
	framesAB, framesBA int
}

// newPair returns two fresh links with configuration cfg.
func newPair(t *testing.T, cfg linkConfig) *pair {
	return &pair{t: t, a: newLink(cfg, 0xa), b: newLink(cfg, 0xb), hold: map[string]bool{}}
}

// ready collects l's output, consuming deliveries not on hold.
func (p *pair) ready(l *link) []string {
	fs, del := l.Ready()
	for _, m := range del {
		if !p.hold[m.TaskName] {
			l.Consumed(m.TaskName, 1)
		}
	}
	if l == p.a {
		p.gotA = append(p.gotA, del...)
	} else {
		p.gotB = append(p.gotB, del...)
	}
	return fs
}

// settle exchanges frames (ticking when nothing moves) until both links
// are quiet, or fails after maxTicks ticks.
func (p *pair) settle(maxTicks int) {
	for ticks := 0; ; {
		fa, fb := p.ready(p.a), p.ready(p.b)
		for _, f := range fa {
			require.NoError(p.t, p.b.Recv(f))
		}
		for _, f := range fb {
			require.NoError(p.t, p.a.Recv(f))
		}
		p.framesAB += len(fa)
		p.framesBA += len(fb)
		if len(fa)+len(fb) > 0 {
			continue
		}
		if p.a.Idle() && p.b.Idle() {
			return
		}
		if ticks++; ticks > maxTicks {
			// Quiet but not idle is fine when a stream is on hold.
			return
		}
		p.a.Tick()
		p.b.Tick()
	}
}

// msgs returns n messages of stream with data "<stream>#<i>".
func msgs(stream string, n int) []GoTaskMsg {
	var out []GoTaskMsg
	for i := range n {
		out = append(out, GoTaskMsg{TaskName: stream, MessageData: fmt.Sprintf("%s#%d", stream, i)})
	}
	return out
}

// decodeT decodes a frame or fails the test.
func decodeT(t *testing.T, s string) frame {
	t.Helper()
	var f frame
	require.NoError(t, decodeFrame(s, &f))
	return f
}

// TestLinkAckPiggyback checks that a data frame carries the ack and that no
// standalone ack is sent when there is data to ride on.
func TestLinkAckPiggyback(t *testing.T) {
	p := newPair(t, testConfig())
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: "ping"}))
	fa, _ := p.a.Ready()
	require.Len(t, fa, 1)
	require.NoError(t, p.b.Recv(fa[0]))
	require.NoError(t, p.b.Send(GoTaskMsg{TaskName: "t-0", MessageData: "pong"}))
	fb, del := p.b.Ready()
	require.Equal(t, []GoTaskMsg{{TaskName: "t-0", MessageData: "ping"}}, del)
	require.Len(t, fb, 1)
	f := decodeT(t, fb[0])
	assert.Equal(t, uint64(0xa), f.DstEpoch)
	assert.Equal(t, uint64(2), f.Ack, "acks seq 1")
	require.Len(t, f.Records, 1)
	assert.Equal(t, "pong", f.Records[0].Data)
	assert.Equal(t, 1, p.a.Unacked("t-0"))
	require.NoError(t, p.a.Recv(fb[0]))
	assert.Equal(t, 0, p.a.Unacked("t-0"))
	assert.Zero(t, p.b.Stats().AckFramesSent)
	assert.False(t, p.b.Idle(), "b waits for its pong to be acked")
}

// TestLinkStandaloneAck checks the header-only ack after AckDelayTicks.
func TestLinkStandaloneAck(t *testing.T) {
	for _, delay := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("delay=%d", delay), func(t *testing.T) {
			cfg := testConfig()
			cfg.AckDelayTicks = delay
			p := newPair(t, cfg)
			require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: "x"}))
			fa, _ := p.a.Ready()
			require.NoError(t, p.b.Recv(fa[0]))
			var acks []string
			ticks := 0
			for {
				fb, _ := p.b.Ready()
				if len(fb) > 0 {
					acks = fb
					break
				}
				assert.False(t, p.b.Idle())
				p.b.Tick()
				ticks++
				require.LessOrEqual(t, ticks, delay)
			}
			assert.Equal(t, delay, ticks)
			require.Len(t, acks, 1)
			f := decodeT(t, acks[0])
			assert.Empty(t, f.Records)
			assert.Equal(t, uint64(2), f.Ack)
			assert.True(t, p.b.Idle())
			require.NoError(t, p.a.Recv(acks[0]))
			assert.True(t, p.a.Idle())
			assert.Equal(t, uint64(1), p.b.Stats().AckFramesSent)
			// Nothing more is owed: no ack of an ack.
			p.a.Tick()
			fa, _ = p.a.Ready()
			assert.Empty(t, fa)
		})
	}
}

// TestLinkRetransmitBackoff checks retransmission after the RTO, doubling
// up to MaxRTOTicks, and the reset on progress.
func TestLinkRetransmitBackoff(t *testing.T) {
	p := newPair(t, testConfig())
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: "x"}))
	fa, _ := p.a.Ready()
	require.Len(t, fa, 1) // dropped
	var at []int
	for tick := 1; tick <= 700; tick++ {
		p.a.Tick()
		fa, _ = p.a.Ready()
		if len(fa) > 0 {
			at = append(at, tick)
			f := decodeT(t, fa[0])
			assert.NotZero(t, f.Flags&frameFlagAckNow, "retransmissions ask for an ack now")
		}
	}
	// RTO 20, 40, 80, 160, then capped at 200.
	assert.Equal(t, []int{20, 60, 140, 300, 500, 700}, at)
	st := p.a.Stats()
	assert.Equal(t, 200, st.MaxRTOTicks)
	assert.Equal(t, uint64(6), st.Retransmits)
	// Progress resets the back-off: the next loss is retried after 20 ticks.
	require.NoError(t, p.b.Recv(fa[0]))
	p.b.Tick()
	fb, _ := p.b.Ready()
	require.NoError(t, p.a.Recv(fb[0]))
	require.True(t, p.a.Idle())
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: "y"}))
	p.a.Ready() // dropped
	for tick := 1; tick <= 20; tick++ {
		p.a.Tick()
		fa, _ = p.a.Ready()
		assert.Equal(t, tick == 20, len(fa) > 0, "tick %d", tick)
	}
}

// TestLinkDuplicateDropped checks that a duplicated frame is delivered once.
func TestLinkDuplicateDropped(t *testing.T) {
	p := newPair(t, testConfig())
	for _, m := range msgs("t-0", 3) {
		require.NoError(t, p.a.Send(m))
	}
	fa, _ := p.a.Ready()
	require.Len(t, fa, 1)
	require.NoError(t, p.b.Recv(fa[0]))
	require.NoError(t, p.b.Recv(fa[0]))
	_, del := p.b.Ready()
	assert.Equal(t, msgs("t-0", 3), del)
	assert.Equal(t, uint64(3), p.b.Stats().DupsDropped)
	// A late copy after the messages were handed out is dropped too.
	require.NoError(t, p.b.Recv(fa[0]))
	_, del = p.b.Ready()
	assert.Empty(t, del)
	assert.Equal(t, uint64(6), p.b.Stats().DupsDropped)
}

// TestLinkOutOfOrder checks reordering, SACK and selective retransmission,
// with one frame per message (no frame window) and under the frame window.
func TestLinkOutOfOrder(t *testing.T) {
	t.Run("uncapped", testLinkOutOfOrderUncapped)
	t.Run("capped", testLinkOutOfOrderCapped)
}

// testLinkOutOfOrderUncapped sends three frames of one message each (no
// frame window), delivers the third first and checks that the SACK limits
// the retransmission to the first two.
func testLinkOutOfOrderUncapped(t *testing.T) {
	cfg := testConfig()
	cfg.MaxInflightFrames = 0
	p := newPair(t, cfg)
	var fs []string
	for _, m := range msgs("t-0", 3) {
		require.NoError(t, p.a.Send(m))
		f, _ := p.a.Ready()
		require.Len(t, f, 1)
		fs = append(fs, f[0])
	}
	// The third frame arrives first: nothing deliverable, SACKed.
	require.NoError(t, p.b.Recv(fs[2]))
	p.b.Tick()
	fb, del := p.b.Ready()
	assert.Empty(t, del)
	require.Len(t, fb, 1)
	ack := decodeT(t, fb[0])
	assert.Equal(t, uint64(1), ack.Ack)
	assert.Equal(t, []seqRange{{Start: 3, End: 4}}, ack.Sacks)
	require.NoError(t, p.a.Recv(fb[0]))
	// On timeout a resends only 1 and 2.
	for range 20 {
		p.a.Tick()
	}
	fa, _ := p.a.Ready()
	require.Len(t, fa, 1)
	re := decodeT(t, fa[0])
	require.Len(t, re.Records, 2)
	assert.Equal(t, uint64(1), re.Records[0].Seq)
	assert.Equal(t, uint64(2), re.Records[1].Seq)
	// Original 2 arrives, then 1 (the retransmission is a duplicate).
	require.NoError(t, p.b.Recv(fs[1]))
	require.NoError(t, p.b.Recv(fs[0]))
	require.NoError(t, p.b.Recv(fa[0]))
	_, del = p.b.Ready()
	assert.Equal(t, msgs("t-0", 3), del)
	assert.Equal(t, uint64(2), p.b.Stats().OutOfOrder)
	assert.Equal(t, uint64(2), p.b.Stats().DupsDropped)
	p.settle(100)
	assert.True(t, p.a.Idle())
}

// testLinkOutOfOrderCapped is the same story under a frame window of 2:
// two frames go, the third message is held; the second frame arrives
// first and is SACKed at once (it filled the window: AckNow); on timeout
// only the first is retransmitted while the third message is still held;
// the held message goes after the ack and everything is delivered once,
// in order.
func testLinkOutOfOrderCapped(t *testing.T) {
	p := newPair(t, testConfig())
	var fs []string
	for i, m := range msgs("t-0", 3) {
		require.NoError(t, p.a.Send(m))
		f, _ := p.a.Ready()
		if i == 2 {
			require.Empty(t, f, "the window is full: the third message waits")
			continue
		}
		require.Len(t, f, 1)
		fs = append(fs, f[0])
	}
	assert.NotZero(t, decodeT(t, fs[1]).Flags&frameFlagAckNow, "the frame filling the window asks for an ack now")
	// The second frame arrives first: nothing deliverable, SACKed at once.
	require.NoError(t, p.b.Recv(fs[1]))
	fb := p.ready(p.b)
	assert.Empty(t, p.gotB)
	require.Len(t, fb, 1)
	ack := decodeT(t, fb[0])
	assert.Equal(t, uint64(1), ack.Ack)
	assert.Equal(t, []seqRange{{Start: 2, End: 3}}, ack.Sacks)
	require.NoError(t, p.a.Recv(fb[0]))
	fa, _ := p.a.Ready()
	assert.Empty(t, fa, "a SACK frees no frame of the window")
	// On timeout a resends only 1; 3 is still held.
	for range 20 {
		p.a.Tick()
	}
	fa, _ = p.a.Ready()
	require.Len(t, fa, 1)
	re := decodeT(t, fa[0])
	require.Len(t, re.Records, 1)
	assert.Equal(t, uint64(1), re.Records[0].Seq)
	assert.NotZero(t, re.Flags&frameFlagAckNow)
	// Original 1 arrives, then its retransmission (a duplicate).
	require.NoError(t, p.b.Recv(fs[0]))
	require.NoError(t, p.b.Recv(fa[0]))
	fb = p.ready(p.b)
	assert.Equal(t, msgs("t-0", 2), p.gotB)
	require.Len(t, fb, 1, "acked at once (AckNow)")
	assert.Equal(t, uint64(3), decodeT(t, fb[0]).Ack)
	require.NoError(t, p.a.Recv(fb[0]))
	fa, _ = p.a.Ready()
	require.Len(t, fa, 1, "the window is free: the held message goes")
	f := decodeT(t, fa[0])
	require.Len(t, f.Records, 1)
	assert.Equal(t, uint64(3), f.Records[0].Seq)
	require.NoError(t, p.b.Recv(fa[0]))
	p.settle(100)
	assert.Equal(t, msgs("t-0", 3), p.gotB)
	assert.Equal(t, uint64(1), p.b.Stats().OutOfOrder)
	assert.Equal(t, uint64(1), p.b.Stats().DupsDropped)
	assert.True(t, p.a.Idle())
	assert.True(t, p.b.Idle())
}

// TestLinkFrameWindow checks the frame window (MaxInflightFrames): when
// records go at once, when they are held, and that held records go
// together after the ack.
func TestLinkFrameWindow(t *testing.T) {
	// sendReady sends one message of stream t-0 (data "m<i>") and returns
	// what Ready emits.
	sendReady := func(t *testing.T, l *link, i int) []string {
		t.Helper()
		require.NoError(t, l.Send(GoTaskMsg{TaskName: "t-0", MessageData: fmt.Sprint("m", i)}))
		fs, _ := l.Ready()
		return fs
	}
	// seqs returns the sequence numbers of a frame's records.
	seqs := func(t *testing.T, s string) []uint64 {
		var out []uint64
		for _, r := range decodeT(t, s).Records {
			out = append(out, r.Seq)
		}
		return out
	}
	tests := []struct {
		name   string
		window int
		run    func(t *testing.T, p *pair)
	}{
		{"lone message goes at once", 2, func(t *testing.T, p *pair) {
			fs := sendReady(t, p.a, 0)
			require.Len(t, fs, 1)
			f := decodeT(t, fs[0])
			assert.Equal(t, []uint64{1}, seqs(t, fs[0]))
			assert.Zero(t, f.Flags&frameFlagAckNow, "the window is not full yet")
			// After the ack the next lone message goes at once too.
			require.NoError(t, p.b.Recv(fs[0]))
			p.settle(10)
			assert.True(t, p.a.Idle())
			require.Len(t, sendReady(t, p.a, 1), 1)
		}},
		{"window 1: every data frame asks for an ack now", 1, func(t *testing.T, p *pair) {
			fs := sendReady(t, p.a, 0)
			require.Len(t, fs, 1)
			assert.NotZero(t, decodeT(t, fs[0]).Flags&frameFlagAckNow)
			assert.Empty(t, sendReady(t, p.a, 1))
		}},
		{"frame filling the window asks for an ack now", 3, func(t *testing.T, p *pair) {
			var flags []bool
			for i := range 3 {
				fs := sendReady(t, p.a, i)
				require.Len(t, fs, 1)
				flags = append(flags, decodeT(t, fs[0]).Flags&frameFlagAckNow != 0)
			}
			assert.Equal(t, []bool{false, false, true}, flags)
			assert.Empty(t, sendReady(t, p.a, 3))
		}},
		{"held while full, then sent together in one frame", 2, func(t *testing.T, p *pair) {
			var first []string
			for i := range 2 {
				first = append(first, sendReady(t, p.a, i)...)
			}
			require.Len(t, first, 2)
			for i := 2; i < 7; i++ {
				assert.Empty(t, sendReady(t, p.a, i), "message %d held", i)
			}
			assert.Equal(t, uint64(5), p.a.Stats().HeldFlushes)
			assert.Equal(t, 7, p.a.Unacked("t-0"))
			// b acks at once, without a tick: the second frame asked.
			for _, f := range first {
				require.NoError(t, p.b.Recv(f))
			}
			fb := p.ready(p.b)
			require.Len(t, fb, 1)
			ack := decodeT(t, fb[0])
			assert.Empty(t, ack.Records)
			assert.Equal(t, uint64(3), ack.Ack)
			require.NoError(t, p.a.Recv(fb[0]))
			fa, _ := p.a.Ready()
			require.Len(t, fa, 1)
			assert.Equal(t, []uint64{3, 4, 5, 6, 7}, seqs(t, fa[0]))
			assert.Zero(t, decodeT(t, fa[0]).Flags&frameFlagAckNow, "one frame in flight")
			require.NoError(t, p.b.Recv(fa[0]))
			p.settle(10)
			require.Len(t, p.gotB, 7)
			for i, m := range p.gotB {
				assert.Equal(t, fmt.Sprint("m", i), m.MessageData)
			}
			assert.Equal(t, uint64(3), p.a.Stats().FramesSent-p.a.Stats().AckFramesSent)
			assert.Equal(t, 2, p.a.Stats().MaxInflightFrames)
		}},
		{"retransmission goes while full, new records stay held", 2, func(t *testing.T, p *pair) {
			for i := range 2 {
				require.Len(t, sendReady(t, p.a, i), 1) // both lost
			}
			assert.Empty(t, sendReady(t, p.a, 2))
			var re []string
			for tick := 1; tick <= 20 && len(re) == 0; tick++ {
				p.a.Tick()
				re, _ = p.a.Ready()
			}
			require.Len(t, re, 1)
			f := decodeT(t, re[0])
			assert.Equal(t, []uint64{1, 2}, seqs(t, re[0]), "only retransmissions")
			assert.NotZero(t, f.Flags&frameFlagAckNow)
			assert.Equal(t, uint64(2), p.a.Stats().Retransmits)
			require.NoError(t, p.b.Recv(re[0]))
			fb := p.ready(p.b)
			require.Len(t, fb, 1)
			require.NoError(t, p.a.Recv(fb[0]))
			fa, _ := p.a.Ready()
			require.Len(t, fa, 1)
			assert.Equal(t, []uint64{3}, seqs(t, fa[0]))
			require.NoError(t, p.b.Recv(fa[0]))
			p.settle(10)
			require.Len(t, p.gotB, 3)
			assert.True(t, p.a.Idle())
		}},
		{"full frames are not held", 1, func(t *testing.T, p *pair) {
			p.a.cfg.MaxBatchMsgs = 4
			p.a.cfg.TaskQueue = 100
			for i := range 9 {
				require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: fmt.Sprint("m", i)}))
			}
			fa, _ := p.a.Ready()
			require.Len(t, fa, 2, "two full frames; the last message waits")
			assert.Equal(t, []uint64{1, 2, 3, 4}, seqs(t, fa[0]))
			assert.Equal(t, []uint64{5, 6, 7, 8}, seqs(t, fa[1]))
			for _, f := range fa {
				require.NoError(t, p.b.Recv(f))
			}
			p.settle(10)
			require.Len(t, p.gotB, 9)
			assert.Equal(t, uint64(3), p.a.Stats().FramesSent-p.a.Stats().AckFramesSent)
		}},
		{"window 0: a frame on every Ready", 0, func(t *testing.T, p *pair) {
			for i := range 10 {
				require.Len(t, sendReady(t, p.a, i), 1)
			}
			assert.Zero(t, p.a.Stats().HeldFlushes)
		}},
		{"acks go while both ends are full", 2, func(t *testing.T, p *pair) {
			var fa, fb []string
			for i := range 2 {
				fa = append(fa, sendReady(t, p.a, i)...)
				fb = append(fb, sendReady(t, p.b, i)...)
			}
			require.Len(t, fa, 2)
			require.Len(t, fb, 2)
			assert.Empty(t, sendReady(t, p.a, 2))
			assert.Empty(t, sendReady(t, p.b, 2))
			for _, f := range fa {
				require.NoError(t, p.b.Recv(f))
			}
			for _, f := range fb {
				require.NoError(t, p.a.Recv(f))
			}
			// Each end is full but owes an ack now: header-only frames.
			fa, fb = p.ready(p.a), p.ready(p.b)
			require.Len(t, fa, 1)
			require.Len(t, fb, 1)
			assert.Empty(t, decodeT(t, fa[0]).Records)
			assert.Empty(t, decodeT(t, fb[0]).Records)
			require.NoError(t, p.b.Recv(fa[0]))
			require.NoError(t, p.a.Recv(fb[0]))
			// Both windows are free: the held messages go, acks riding on them.
			fa, fb = p.ready(p.a), p.ready(p.b)
			require.Len(t, fa, 1)
			require.Len(t, fb, 1)
			assert.Equal(t, []uint64{3}, seqs(t, fa[0]))
			assert.Equal(t, []uint64{3}, seqs(t, fb[0]))
			for _, f := range fa {
				require.NoError(t, p.b.Recv(f))
			}
			for _, f := range fb {
				require.NoError(t, p.a.Recv(f))
			}
			p.settle(10)
			assert.Len(t, p.gotA, 3)
			assert.Len(t, p.gotB, 3)
			assert.True(t, p.a.Idle())
			assert.True(t, p.b.Idle())
		}},
		{"peer restart frees the window", 2, func(t *testing.T, p *pair) {
			require.NoError(t, p.b.Send(GoTaskMsg{TaskName: "t-9", MessageData: "hello"}))
			p.settle(10) // a knows b's epoch
			for i := range 2 {
				require.Len(t, sendReady(t, p.a, i), 1)
			}
			assert.Empty(t, sendReady(t, p.a, 2))
			// b restarts; its new incarnation speaks first.
			b2 := newLink(p.b.cfg, 0xb2)
			require.NoError(t, b2.Send(GoTaskMsg{TaskName: "t-9", MessageData: "again"}))
			fb, _ := b2.Ready()
			require.ErrorIs(t, p.a.Recv(fb[0]), errPeerRestarted)
			assert.Empty(t, p.a.dataFrames)
			fa := sendReady(t, p.a, 3)
			require.Len(t, fa, 1, "the window is empty after the reset")
			assert.Len(t, decodeT(t, fa[0]).Records, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxInflightFrames = tt.window
			tt.run(t, newPair(t, cfg))
		})
	}
}

// TestLinkReadyReuse checks the contract of Ready's slices: Recv does not
// touch what the last Ready returned, and the next Ready reuses them.
func TestLinkReadyReuse(t *testing.T) {
	p := newPair(t, testConfig())
	for _, m := range msgs("t-0", 2) {
		require.NoError(t, p.a.Send(m))
	}
	fa, _ := p.a.Ready()
	require.NoError(t, p.b.Recv(fa[0]))
	_, del := p.b.Ready()
	require.Equal(t, msgs("t-0", 2), del)
	// More arrives before the caller is done with del: del is intact.
	for _, m := range msgs("t-1", 3) {
		require.NoError(t, p.a.Send(m))
	}
	p.a.cfg.MaxInflightFrames = 0
	fa, _ = p.a.Ready()
	require.Len(t, fa, 1)
	require.NoError(t, p.b.Recv(fa[0]))
	assert.Equal(t, msgs("t-0", 2), del)
	_, del2 := p.b.Ready()
	assert.Equal(t, msgs("t-1", 3), del2)
	// Nothing new: nil, not an empty reused slice.
	fs, del3 := p.b.Ready()
	assert.Nil(t, fs)
	assert.Nil(t, del3)
	assert.Zero(t, testing.AllocsPerRun(100, func() { p.b.Ready() }), "an idle Ready allocates nothing")
}

// TestLinkCreditBlocksOneStream checks that an unconsumed stream stops at
// TaskCredit while another stream on the same link keeps flowing, and that
// consuming releases it.
func TestLinkCreditBlocksOneStream(t *testing.T) {
	cfg := testConfig()
	cfg.TaskCredit = 4
	cfg.TaskQueue = 100
	p := newPair(t, cfg)
	p.hold["slow-0"] = true
	for i := range 10 {
		require.NoError(t, p.a.Send(msgs("slow-0", 10)[i]))
		require.NoError(t, p.a.Send(msgs("fast-0", 10)[i]))
	}
	p.settle(100)
	var slow, fast int
	for _, m := range p.gotB {
		if m.TaskName == "slow-0" {
			slow++
		} else {
			fast++
		}
	}
	assert.Equal(t, 4, slow)
	assert.Equal(t, 10, fast)
	assert.Equal(t, 6, p.a.Unacked("slow-0"))
	assert.Equal(t, 0, p.a.Unacked("fast-0"))
	assert.False(t, p.a.Idle())
	// More fast traffic still flows past the blocked stream.
	for _, m := range msgs("fast-1", 30) {
		require.NoError(t, p.a.Send(m))
	}
	p.settle(100)
	assert.Equal(t, 0, p.a.Unacked("fast-1"))
	// The app consumes: credit returns, the rest of slow-0 arrives in order.
	p.hold["slow-0"] = false
	p.b.Consumed("slow-0", 4)
	p.settle(100)
	var got []GoTaskMsg
	for _, m := range p.gotB {
		if m.TaskName == "slow-0" {
			got = append(got, m)
		}
	}
	assert.Equal(t, msgs("slow-0", 10), got)
	assert.True(t, p.a.Idle())
	assert.True(t, p.b.Idle())
	assert.LessOrEqual(t, p.b.Stats().MaxUnconsumed, 4)
	assert.Zero(t, p.b.Stats().CreditViolations)
}

// TestLinkStreamFull checks CanSend and errStreamFull back-pressure.
func TestLinkStreamFull(t *testing.T) {
	cfg := testConfig()
	cfg.TaskQueue = 3
	cfg.QueueBytes = 100
	l := newLink(cfg, 1)
	for i := range 3 {
		require.True(t, l.CanSend("a"))
		require.NoError(t, l.Send(GoTaskMsg{TaskName: "a", MessageData: fmt.Sprint(i)}))
	}
	assert.False(t, l.CanSend("a"))
	err := l.Send(GoTaskMsg{TaskName: "a", MessageData: "3"})
	assert.ErrorIs(t, err, errStreamFull)
	assert.True(t, l.CanSend("b"), "other streams are not affected")
	assert.Equal(t, 3, l.Unacked("a"))
	// Once the queue moves into the window there is room again.
	l.Ready()
	assert.True(t, l.CanSend("a"))
	assert.Equal(t, 3, l.Unacked("a"))
	// The link-wide byte bound stops every stream (one message may overshoot).
	require.NoError(t, l.Send(GoTaskMsg{TaskName: "b", MessageData: strings.Repeat("x", 150)}))
	assert.False(t, l.CanSend("a"))
	assert.False(t, l.CanSend("c"))
	assert.ErrorIs(t, l.Send(GoTaskMsg{TaskName: "c", MessageData: "y"}), errStreamFull)
}

// TestLinkMsgTooLarge checks that oversized messages are refused.
func TestLinkMsgTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMsgBytes = 1000
	l := newLink(cfg, 1)
	err := l.Send(GoTaskMsg{TaskName: "a", MessageData: strings.Repeat("x", 1001)})
	require.ErrorIs(t, err, errMsgTooLarge)
	err = l.Send(GoTaskMsg{TaskName: strings.Repeat("n", maxStreamName+1), MessageData: "x"})
	require.ErrorIs(t, err, errMsgTooLarge)
	assert.Equal(t, 0, l.Unacked("a"))
	assert.True(t, l.Idle())
	fs, _ := l.Ready()
	assert.Empty(t, fs)
	require.NoError(t, l.Send(GoTaskMsg{TaskName: "a", MessageData: strings.Repeat("x", 1000)}))
}

// TestLinkLargeMessage sends a 16 MiB message through the default config
// (4 MiB window, 256 KiB frames) and checks it arrives intact, once.
func TestLinkLargeMessage(t *testing.T) {
	cfg := defaultLinkConfig()
	p := newPair(t, cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, cfg.MaxMsgBytes)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	big := GoTaskMsg{TaskName: "big-0", MessageData: string(buf)}
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "small-0", MessageData: "before"}))
	require.NoError(t, p.a.Send(big))
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "small-0", MessageData: "after"}))
	maxFrame := 0
	for !(p.a.Idle() && p.b.Idle()) {
		fa := p.ready(p.a)
		for _, f := range fa {
			maxFrame = max(maxFrame, len(f))
			require.NoError(t, p.b.Recv(f))
		}
		p.framesAB += len(fa)
		for _, f := range p.ready(p.b) {
			require.NoError(t, p.a.Recv(f))
		}
		if len(fa) == 0 {
			p.a.Tick()
			p.b.Tick()
		}
	}
	require.Len(t, p.gotB, 3)
	assert.Equal(t, "before", p.gotB[0].MessageData)
	assert.True(t, big == p.gotB[1], "16 MiB message intact")
	assert.Equal(t, "after", p.gotB[2].MessageData)
	assert.LessOrEqual(t, maxFrame, cfg.MaxFrameBytes)
	assert.GreaterOrEqual(t, p.framesAB, cfg.MaxMsgBytes/cfg.MaxFrameBytes)
	st := p.a.Stats()
	assert.LessOrEqual(t, st.MaxInflightBytes, cfg.WindowBytes)
	assert.Equal(t, cfg.MaxMsgBytes, p.b.Stats().MaxReassemblyBytes)
	assert.Zero(t, st.Retransmits)
}

// TestLinkLargeMessageLossy reassembles a fragmented message across loss
// and reordering of its fragments.
func TestLinkLargeMessageLossy(t *testing.T) {
	cfg := testConfig()
	cfg.MaxFrameBytes = 4096
	cfg.WindowBytes = 16 << 10
	p := newPair(t, cfg)
	data := strings.Repeat("0123456789abcdef", 40<<10/16)
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "big-0", MessageData: data}))
	n := 0
	for range 2000 {
		fa := p.ready(p.a)
		// Deliver in reverse order, dropping every third frame.
		for i := len(fa) - 1; i >= 0; i-- {
			if n++; n%3 != 0 {
				require.NoError(t, p.b.Recv(fa[i]))
			}
		}
		for _, f := range p.ready(p.b) {
			require.NoError(t, p.a.Recv(f))
		}
		if p.a.Idle() && p.b.Idle() {
			break
		}
		p.a.Tick()
		p.b.Tick()
	}
	require.True(t, p.a.Idle())
	require.Len(t, p.gotB, 1)
	assert.True(t, data == p.gotB[0].MessageData)
	assert.LessOrEqual(t, p.a.Stats().MaxInflightBytes, cfg.WindowBytes)
}

// TestLinkBatching checks that queued messages share frames, bounded by
// MaxBatchMsgs and MaxFrameBytes. Without a frame window they all go at
// once; with a window of 2, the two full frames go at once and the partial
// rest after the ack.
func TestLinkBatching(t *testing.T) {
	for _, window := range []int{0, 2} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			cfg := testConfig()
			cfg.TaskQueue = 1000
			cfg.TaskCredit = 1000
			cfg.MaxBatchMsgs = 100
			cfg.MaxInflightFrames = window
			// Count bound: 250 messages in frames of at most 100.
			p := newPair(t, cfg)
			for _, m := range msgs("t-0", 250) {
				require.NoError(t, p.a.Send(m))
			}
			fa, _ := p.a.Ready()
			var sizes []int
			for _, f := range fa {
				sizes = append(sizes, len(decodeT(t, f).Records))
			}
			if window == 0 {
				assert.Equal(t, []int{100, 100, 50}, sizes)
			} else {
				assert.Equal(t, []int{100, 100}, sizes, "the partial rest waits for an ack")
			}
			for _, f := range fa {
				require.NoError(t, p.b.Recv(f))
			}
			p.settle(10)
			assert.Equal(t, msgs("t-0", 250), p.gotB)
			st := p.a.Stats()
			assert.Equal(t, uint64(3), st.FramesSent-st.AckFramesSent, "data frames")
			// Bytes bound: 1000-byte messages, 8 KiB frames (7 a frame).
			p = newPair(t, cfg)
			for range 20 {
				require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: strings.Repeat("x", 1000)}))
			}
			fa, _ = p.a.Ready()
			sizes = sizes[:0]
			for _, f := range fa {
				assert.LessOrEqual(t, len(f), cfg.MaxFrameBytes)
				sizes = append(sizes, len(decodeT(t, f).Records))
			}
			if window == 0 {
				assert.Equal(t, []int{7, 7, 6}, sizes)
			} else {
				assert.Equal(t, []int{7, 7}, sizes)
			}
			for _, f := range fa {
				require.NoError(t, p.b.Recv(f))
			}
			p.settle(10)
			assert.Len(t, p.gotB, 20)
			st = p.a.Stats()
			assert.Equal(t, uint64(3), st.FramesSent-st.AckFramesSent, "data frames")
		})
	}
}

// TestLinkWindow checks that at most WindowMsgs records are unacknowledged.
func TestLinkWindow(t *testing.T) {
	cfg := testConfig()
	cfg.WindowMsgs = 10
	cfg.TaskQueue = 100
	cfg.TaskCredit = 100
	l := newLink(cfg, 1)
	for _, m := range msgs("t-0", 25) {
		require.NoError(t, l.Send(m))
	}
	fs, _ := l.Ready()
	require.Len(t, fs, 1)
	assert.Len(t, decodeT(t, fs[0]).Records, 10)
	assert.Equal(t, 25, l.Unacked("t-0"))
	assert.Equal(t, 10, l.Stats().MaxInflightMsgs)
}

// TestLinkEpochChange checks peer-restart detection in both directions and
// that frames of the old epoch are ignored afterwards.
func TestLinkEpochChange(t *testing.T) {
	cfg := testConfig()
	p := newPair(t, cfg)
	for _, m := range msgs("t-0", 3) {
		require.NoError(t, p.a.Send(m))
		require.NoError(t, p.b.Send(m))
	}
	p.settle(100)
	require.Len(t, p.gotB, 3)
	// b has data in flight to a when a restarts.
	require.NoError(t, p.b.Send(GoTaskMsg{TaskName: "t-0", MessageData: "lost"}))
	toOldA, _ := p.b.Ready()
	require.Len(t, toOldA, 1)
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: "late"}))
	fromOldA, _ := p.a.Ready()
	a2 := newLink(cfg, 0xa2)

	// The new a gets b's frame addressed to the old a: ignored, hello sent.
	require.NoError(t, a2.Recv(toOldA[0]))
	hello, del := a2.Ready()
	assert.Empty(t, del)
	require.Len(t, hello, 1)
	assert.Equal(t, uint64(0), decodeT(t, hello[0]).DstEpoch)
	// b learns the restart from the hello, drops what was meant for the old a.
	err := p.b.Recv(hello[0])
	require.ErrorIs(t, err, errPeerRestarted)
	assert.Equal(t, 0, p.b.Unacked("t-0"))
	assert.Equal(t, uint64(1), p.b.Stats().DroppedOnRestart)
	assert.True(t, p.b.Idle())
	// The old a's late frame is ignored now.
	require.NoError(t, p.b.Recv(fromOldA[0]))
	_, del = p.b.Ready()
	assert.Empty(t, del)
	assert.Equal(t, uint64(1), p.b.Stats().StaleFrames)

	// The new session works both ways.
	p.a = a2
	p.gotA, p.gotB = nil, nil
	for _, m := range msgs("t-1", 5) {
		require.NoError(t, p.a.Send(m))
		require.NoError(t, p.b.Send(m))
	}
	p.settle(100)
	assert.Equal(t, msgs("t-1", 5), p.gotA)
	assert.Equal(t, msgs("t-1", 5), p.gotB)
}

// TestLinkEpochChangeData checks detection when the restarted peer speaks
// first, with data.
func TestLinkEpochChangeData(t *testing.T) {
	cfg := testConfig()
	p := newPair(t, cfg)
	for _, m := range msgs("t-0", 2) {
		require.NoError(t, p.a.Send(m))
	}
	p.settle(100)
	a2 := newLink(cfg, 0xa2)
	require.NoError(t, a2.Send(GoTaskMsg{TaskName: "t-0", MessageData: "new"}))
	fs, _ := a2.Ready()
	err := p.b.Recv(fs[0])
	require.ErrorIs(t, err, errPeerRestarted)
	_, del := p.b.Ready()
	assert.Equal(t, []GoTaskMsg{{TaskName: "t-0", MessageData: "new"}}, del)
	assert.Equal(t, uint64(1), p.b.Stats().PeerRestarts)
	// The same epoch again is not a restart.
	require.NoError(t, p.b.Recv(fs[0]))
}

// TestLinkIdleUnacked checks Idle and Unacked through a round trip.
func TestLinkIdleUnacked(t *testing.T) {
	p := newPair(t, testConfig())
	assert.True(t, p.a.Idle())
	assert.Equal(t, 0, p.a.Unacked("t-0"))
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: "x"}))
	require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "t-0", MessageData: "y"}))
	assert.False(t, p.a.Idle())
	assert.Equal(t, 2, p.a.Unacked("t-0"))
	assert.Equal(t, 0, p.a.Unacked("t-1"))
	fa, _ := p.a.Ready()
	assert.Equal(t, 2, p.a.Unacked("t-0"), "in flight, not acked")
	require.NoError(t, p.b.Recv(fa[0]))
	assert.False(t, p.b.Idle(), "b owes an ack")
	p.settle(10)
	assert.Equal(t, 0, p.a.Unacked("t-0"))
	assert.True(t, p.a.Idle())
	assert.True(t, p.b.Idle())
}

// TestLinkMalformed checks that garbage is refused and changes nothing.
func TestLinkMalformed(t *testing.T) {
	l := newLink(testConfig(), 1)
	for _, in := range []string{"", "\x01\x01ab", "\x02garbage", strings.Repeat("\x02", 40)} {
		err := l.Recv(in)
		assert.ErrorIs(t, err, ErrMalformedMsg)
	}
	assert.True(t, l.Idle())
	fs, del := l.Ready()
	assert.Empty(t, fs)
	assert.Empty(t, del)
	assert.Equal(t, uint64(4), l.Stats().MalformedFrames)
	assert.Zero(t, l.Stats().FramesRecv)
}

// simConfig is the configuration of the randomized test: small, so every
// bound is exercised.
func simConfig() linkConfig {
	return linkConfig{
		MaxBatchMsgs:  16,
		MaxFrameBytes: 4096,
		WindowMsgs:    48,
		WindowBytes:   16 << 10,
		TaskCredit:    8,
		TaskQueue:     4,
		AckDelayTicks: 1,
		RTOTicks:      8,
		MaxRTOTicks:   64,
		MaxMsgBytes:   20 << 10,
		QueueBytes:    64 << 10,
		// The frame window is on, as in defaultLinkConfig.
		MaxInflightFrames: 2,
	}
}

// simFrame is a frame in the simulated network.
type simFrame struct {
	// at is the tick the frame arrives.
	at int
	// toB says the frame goes to b (else to a).
	toB bool
	// data is the frame.
	data string
}

// simEnd is the application at one end of the simulated link.
type simEnd struct {
	// l is the end's link.
	l *link
	// toSend counts the messages each stream still has to send; sent how
	// many it has sent.
	toSend, sent map[string]int
	// inbox holds delivered, unconsumed messages per stream.
	inbox map[string][]GoTaskMsg
	// next is the index of the message expected next, per stream.
	next map[string]int
	// doneAt is the tick at which each stream's last message was delivered.
	doneAt map[string]int
}

// simPayload returns message i of stream: a header naming it, plus padding.
func simPayload(rng *rand.Rand, stream string, i int) string {
	h := fmt.Sprintf("%s#%d|", stream, i)
	n := rng.IntN(200)
	if rng.IntN(40) == 0 {
		n = 5000 + rng.IntN(12000) // fragmented
	}
	return h + strings.Repeat(string(rune('a'+i%26)), n)
}

// TestLinkRandomized drives two links through a channel that drops 20%,
// duplicates 5%, delays and reorders frames, with traffic both ways on
// several streams, one consumed slowly. It checks exactly-once in-order
// delivery, completion (no deadlock, also with both ends' frame windows
// full), the memory bounds and, with the small config, that the slow
// stream does not hold up the others. The frame window is on (2 frames,
// as by default) except in the "uncapped" config, and 1 frame in "window1".
// Failures name the seed.
func TestLinkRandomized(t *testing.T) {
	seeds := []uint64{1, 2, 3, 42, 1234, 99991, 7, 2026}
	for i := range uint64(24) {
		seeds = append(seeds, 0x5eed0000+i)
	}
	if testing.Short() {
		seeds = seeds[:3]
	}
	tight := simConfig()
	tight.WindowMsgs = 8
	tight.WindowBytes = 6000
	tight.MaxBatchMsgs = 3
	tight.AckDelayTicks = 0
	tight.TaskCredit = 3
	// With the tight window the link itself is the bottleneck, so the
	// head-of-line check (fast streams finish well before the slow one)
	// only applies to the small config.
	uncapped := simConfig()
	uncapped.MaxInflightFrames = 0
	window1 := simConfig()
	window1.MaxInflightFrames = 1
	configs := []struct {
		name     string
		cfg      linkConfig
		seeds    []uint64
		checkHOL bool
	}{
		{"small", simConfig(), seeds, true},
		{"tight", tight, seeds[:8], false},
		{"uncapped", uncapped, seeds[:8], true},
		{"window1", window1, seeds[:8], true},
	}
	for _, c := range configs {
		for _, seed := range c.seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", c.name, seed), func(t *testing.T) {
				runSim(t, seed, c.cfg, c.checkHOL)
			})
		}
	}
}

// runSim runs one randomized simulation; see TestLinkRandomized.
func runSim(t *testing.T, seed uint64, cfg linkConfig, checkHOL bool) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const perStream = 120
	streams := []string{"fast-0", "fast-1", "mid-0", "slow-0"}
	mkEnd := func(epoch uint64) *simEnd {
		e := &simEnd{l: newLink(cfg, epoch), toSend: map[string]int{}, sent: map[string]int{},
			inbox: map[string][]GoTaskMsg{}, next: map[string]int{}, doneAt: map[string]int{}}
		for _, s := range streams {
			e.toSend[s] = perStream
		}
		return e
	}
	a, b := mkEnd(rng.Uint64()|1), mkEnd(rng.Uint64()|1)
	var net []simFrame
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: %s", seed, fmt.Sprintf(format, args...))
	}
	push := func(now int, toB bool, fs []string) {
		for _, f := range fs {
			if rng.Float64() < 0.20 {
				continue
			}
			net = append(net, simFrame{at: now + rng.IntN(6), toB: toB, data: f})
			if rng.Float64() < 0.05 {
				net = append(net, simFrame{at: now + 1 + rng.IntN(20), toB: toB, data: f})
			}
		}
	}
	step := func(now int, e *simEnd) []string {
		// The app sends what CanSend allows, in random bursts.
		for _, s := range streams {
			for burst := rng.IntN(4); burst > 0 && e.toSend[s] > 0; burst-- {
				if !e.l.CanSend(s) {
					if err := e.l.Send(GoTaskMsg{TaskName: s, MessageData: "x"}); !errors.Is(err, errStreamFull) {
						fail("Send when !CanSend: %v", err)
					}
					break
				}
				if err := e.l.Send(GoTaskMsg{TaskName: s, MessageData: simPayload(rng, s, e.sent[s])}); err != nil {
					fail("Send: %v", err)
				}
				e.sent[s]++
				e.toSend[s]--
			}
		}
		fs, del := e.l.Ready()
		for _, m := range del {
			want := fmt.Sprintf("%s#%d|", m.TaskName, e.next[m.TaskName])
			if !strings.HasPrefix(m.MessageData, want) {
				fail("stream %s: got %.20q, want prefix %q", m.TaskName, m.MessageData, want)
			}
			if e.next[m.TaskName]++; e.next[m.TaskName] == perStream {
				e.doneAt[m.TaskName] = now
			}
			e.inbox[m.TaskName] = append(e.inbox[m.TaskName], m)
			if n := len(e.inbox[m.TaskName]); n > cfg.TaskCredit {
				fail("stream %s: %d unconsumed messages, credit %d", m.TaskName, n, cfg.TaskCredit)
			}
		}
		// The app consumes: slow-0 one message every 9 ticks, others faster.
		for _, s := range streams {
			n := 1 + rng.IntN(4)
			if s == "slow-0" {
				n = 0
				if now%9 == 0 {
					n = 1
				}
			}
			n = min(n, len(e.inbox[s]))
			if n > 0 {
				e.inbox[s] = e.inbox[s][n:]
				e.l.Consumed(s, n)
			}
		}
		return fs
	}
	done := func(e, peer *simEnd) bool {
		for _, s := range streams {
			if peer.next[s] != perStream || e.toSend[s] != 0 || len(peer.inbox[s]) != 0 {
				return false
			}
		}
		return e.l.Idle()
	}
	const maxTicks = 200000
	now := 0
	for ; now < maxTicks; now++ {
		a.l.Tick()
		b.l.Tick()
		// Deliver due frames in random order.
		rng.Shuffle(len(net), func(i, j int) { net[i], net[j] = net[j], net[i] })
		rest := net[:0]
		var due []simFrame
		for _, f := range net {
			if f.at <= now {
				due = append(due, f)
			} else {
				rest = append(rest, f)
			}
		}
		net = rest
		for _, f := range due {
			to := a.l
			if f.toB {
				to = b.l
			}
			if err := to.Recv(f.data); err != nil {
				fail("Recv: %v", err)
			}
		}
		push(now, true, step(now, a))
		push(now, false, step(now, b))
		if done(a, b) && done(b, a) {
			break
		}
	}
	if now == maxTicks {
		fail("not done after %d ticks: a next %v toSend %v idle %v; b next %v toSend %v idle %v",
			maxTicks, b.next, a.toSend, a.l.Idle(), a.next, b.toSend, b.l.Idle())
	}
	for _, e := range []*simEnd{a, b} {
		// The slowly consumed stream held up only itself.
		for _, s := range []string{"fast-0", "fast-1", "mid-0"} {
			if checkHOL && e.doneAt[s]*2 > e.doneAt["slow-0"] {
				fail("stream %s done at tick %d, slow-0 at %d: head-of-line blocking", s, e.doneAt[s], e.doneAt["slow-0"])
			}
		}
		st := e.l.Stats()
		bounds := []struct {
			name     string
			got, max int
		}{
			{"MaxInflightMsgs", st.MaxInflightMsgs, cfg.WindowMsgs},
			{"MaxInflightBytes", st.MaxInflightBytes, max(cfg.WindowBytes, cfg.MaxFrameBytes)},
			{"MaxReorderMsgs", st.MaxReorderMsgs, cfg.WindowMsgs},
			{"MaxReorderBytes", st.MaxReorderBytes, cfg.WindowBytes + cfg.MaxFrameBytes},
			{"MaxUnconsumed", st.MaxUnconsumed, cfg.TaskCredit},
			{"MaxStreamQueued", st.MaxStreamQueued, cfg.TaskQueue},
			{"MaxQueuedMsgs", st.MaxQueuedMsgs, cfg.TaskQueue * len(streams)},
			{"MaxQueuedBytes", st.MaxQueuedBytes, cfg.QueueBytes + cfg.MaxMsgBytes},
			{"MaxReassemblyBytes", st.MaxReassemblyBytes, cfg.MaxMsgBytes},
			{"MaxRTOTicks", st.MaxRTOTicks, cfg.MaxRTOTicks},
		}
		for _, bd := range bounds {
			if bd.got > bd.max {
				fail("%s = %d exceeds bound %d", bd.name, bd.got, bd.max)
			}
		}
		if st.CreditViolations != 0 || st.ProtocolErrors != 0 || st.MalformedFrames != 0 {
			fail("stats %+v", st)
		}
		if st.Retransmits == 0 || st.DupsDropped == 0 || st.OutOfOrder == 0 {
			fail("the channel was not adversarial enough: %+v", st)
		}
		if (cfg.MaxInflightFrames > 0) != (st.HeldFlushes > 0) {
			fail("frame window %d but %d flushes held records", cfg.MaxInflightFrames, st.HeldFlushes)
		}
	}
	t.Logf("seed %d: %d ticks; done at a %v b %v; a %+v", seed, now, a.doneAt, b.doneAt, a.l.Stats())
}

// BenchmarkLinkStep measures messages through a pair of links over a
// lossless channel: each op sends 64 messages of 100 bytes from a to b,
// delivers and consumes them, and acks back.
func BenchmarkLinkStep(b *testing.B) {
	cfg := defaultLinkConfig()
	cfg.AckDelayTicks = 0
	x, y := newLink(cfg, 1), newLink(cfg, 2)
	data := strings.Repeat("x", 100)
	const batch = 64
	b.ReportAllocs()
	b.SetBytes(batch * 100)
	for b.Loop() {
		for range batch {
			if err := x.Send(GoTaskMsg{TaskName: "worker-1", MessageData: data}); err != nil {
				b.Fatal(err)
			}
		}
		fs, _ := x.Ready()
		for _, f := range fs {
			if err := y.Recv(f); err != nil {
				b.Fatal(err)
			}
		}
		fs, del := y.Ready()
		y.Consumed("worker-1", len(del))
		if len(del) != batch {
			b.Fatalf("delivered %d", len(del))
		}
		for _, f := range fs {
			if err := x.Recv(f); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
}

// TestLinkPeerProtocolErrors feeds hand-made frames that a correct peer
// never sends: the link drops what makes no sense, keeps credit accounting
// and never hangs or panics.
func TestLinkPeerProtocolErrors(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMsgBytes = 100
	from := func(base uint64, recs ...frameRecord) string {
		return encodeFrame(&frame{SrcEpoch: 7, DstEpoch: 1, Ack: 1 << 50, Base: base,
			Sacks: []seqRange{{Start: 1 << 50, End: 1<<50 + 3}}, Records: recs})
	}
	l := newLink(cfg, 1)
	require.NoError(t, l.Send(GoTaskMsg{TaskName: "s", MessageData: "mine"}))
	l.Ready()
	tests := []struct {
		name string
		in   string
		want []GoTaskMsg
	}{
		{"oversized message skipped", from(1,
			frameRecord{Kind: recFragFirst, Seq: 1, Stream: "s", Data: "ab", Total: 1000},
			frameRecord{Kind: recFragMid, Seq: 2, Stream: "s", Data: "cd"},
			frameRecord{Kind: recFragLast, Seq: 3, Stream: "s", Data: "ef"},
			frameRecord{Kind: recMsg, Seq: 4, Stream: "s", Data: "ok1"}),
			[]GoTaskMsg{{TaskName: "s", MessageData: "ok1"}}},
		{"orphan fragment", from(1,
			frameRecord{Kind: recFragLast, Seq: 5, Stream: "s", Data: "zz"},
			frameRecord{Kind: recMsg, Seq: 6, Stream: "s", Data: "ok2"}),
			[]GoTaskMsg{{TaskName: "s", MessageData: "ok2"}}},
		{"message interrupts fragments", from(1,
			frameRecord{Kind: recFragFirst, Seq: 7, Stream: "s", Data: "ab", Total: 6},
			frameRecord{Kind: recMsg, Seq: 8, Stream: "s", Data: "ok3"},
			frameRecord{Kind: recFragLast, Seq: 9, Stream: "s", Data: "cdef"}),
			[]GoTaskMsg{{TaskName: "s", MessageData: "ok3"}}},
		{"fragments overflow their total", from(1,
			frameRecord{Kind: recFragFirst, Seq: 10, Stream: "s", Data: "ab", Total: 3},
			frameRecord{Kind: recFragLast, Seq: 11, Stream: "s", Data: "cd"}),
			nil},
		{"buffered out of order", from(1,
			frameRecord{Kind: recMsg, Seq: 20, Stream: "s", Data: "gone"}),
			nil},
		{"huge base is not believed", from(1<<60,
			frameRecord{Kind: recMsg, Seq: 1 << 60, Stream: "s", Data: "far"}),
			nil},
	}
	for _, tt := range tests {
		require.NoError(t, l.Recv(tt.in), tt.name)
		_, del := l.Ready()
		assert.Equal(t, tt.want, del, tt.name)
	}
	st := l.Stats()
	assert.NotZero(t, st.ProtocolErrors)
	assert.Equal(t, 1, l.Unacked("s"), "bogus acks and SACKs are ignored")
	// Every message the peer sent counts as delivered for credit; the
	// skipped ones count as consumed as well.
	rs := l.rstreams["s"]
	assert.Equal(t, uint64(6), rs.delivered)
	assert.Equal(t, uint64(3), rs.consumed)
	assert.Equal(t, 1, l.ringCount, "the out-of-order record still waits for its gap")
}

// TestLinkBaseBeyondAcks is the regression test for a frame whose base
// (the sender's oldest unacknowledged record) is beyond anything the
// receiver acknowledged: believing it made the receiver skip ahead and drop
// the real records that followed.
func TestLinkBaseBeyondAcks(t *testing.T) {
	p := newPair(t, testConfig())
	for _, m := range msgs("s", 3) {
		require.NoError(t, p.a.Send(m))
	}
	p.settle(100)
	require.Len(t, p.gotB, 3)
	for _, base := range []uint64{5, 1000, 1 << 62} {
		bogus := encodeFrame(&frame{SrcEpoch: p.a.epoch, DstEpoch: p.b.epoch, Ack: 1, Base: base})
		require.NoError(t, p.b.Recv(bogus))
	}
	all := msgs("s", 8)
	for _, m := range all[3:] {
		require.NoError(t, p.a.Send(m))
	}
	p.settle(1000)
	assert.Equal(t, all, p.gotB, "every real message once and in order")
	assert.Equal(t, uint64(3), p.b.Stats().ProtocolErrors)
}

package mesosgot

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testLinkKey is a fixed job key for tests.
var testLinkKey = bytes.Repeat([]byte{0x5a}, linkKeySize)

// sealLink gives l the sealing state of the scheduler (toExec) or executor
// end of link id.
func sealLink(t testing.TB, l *link, key []byte, id string, toExec, encrypt bool) {
	t.Helper()
	a := newLinkAuth(toExec)
	require.NoError(t, a.setKey(key, id, encrypt))
	l.auth = a
}

// newSealedPair returns a pair whose a end is the scheduler's and b end
// the executor's of link "exec-1".
func newSealedPair(t *testing.T, encrypt bool) *pair {
	p := newPair(t, testConfig())
	sealLink(t, p.a, testLinkKey, "exec-1", true, encrypt)
	sealLink(t, p.b, testLinkKey, "exec-1", false, encrypt)
	return p
}

func TestLinkSealedDelivers(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		p := newSealedPair(t, encrypt)
		want := msgs("s", 50)
		for _, m := range want {
			if !p.a.CanSend(m.TaskName) {
				p.settle(1000)
			}
			require.NoError(t, p.a.Send(m))
		}
		p.settle(1000)
		assert.Equal(t, want, p.gotB, "encrypt=%v", encrypt)
		fs, _ := p.a.Ready()
		for _, f := range fs {
			assert.NotContains(t, f, "s#1", "frames are sealed")
		}
		if encrypt {
			require.NoError(t, p.a.Send(GoTaskMsg{TaskName: "s", MessageData: "secret-data"}))
			fs, _ := p.a.Ready()
			require.NotEmpty(t, fs)
			assert.NotContains(t, fs[0], "secret-data", "encrypted")
		}
	}
}

// TestLinkSealedRefusesForgeries feeds an established sealed link every
// kind of frame that does not come from its peer: none reaches the
// application, none changes the link, and real traffic goes on.
func TestLinkSealedRefusesForgeries(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		p := newSealedPair(t, encrypt)
		all := msgs("s", 6)
		require.NoError(t, p.a.Send(all[0]))
		fs, _ := p.a.Ready()
		require.Len(t, fs, 1)
		captured := fs[0]
		require.NoError(t, p.b.Recv(captured))
		p.settle(1000)
		require.Len(t, p.gotB, 1)

		other := newLink(testConfig(), p.a.epoch) // another executor's link, same job key
		sealLink(t, other, testLinkKey, "exec-2", true, encrypt)
		require.NoError(t, other.Send(GoTaskMsg{TaskName: "s", MessageData: "moved"}))
		moved, _ := other.Ready()
		wrongKey := newLink(testConfig(), 0x99)
		sealLink(t, wrongKey, bytes.Repeat([]byte{1}, linkKeySize), "exec-1", true, encrypt)
		require.NoError(t, wrongKey.Send(GoTaskMsg{TaskName: "s", MessageData: "new epoch"}))
		forgedEpoch, _ := wrongKey.Ready()
		tampered := []byte(captured)
		tampered[len(tampered)/2] ^= 1
		clear := encodeFrame(&frame{SrcEpoch: 0x77, DstEpoch: p.b.epoch, Base: 1,
			Records: []frameRecord{{Kind: recMsg, Seq: 1, Stream: "s", Data: "SPOOFED"}}})
		require.NoError(t, p.b.Send(GoTaskMsg{TaskName: "r", MessageData: "up"}))
		reflected, _ := p.b.Ready()
		require.NotEmpty(t, reflected)
		refl := reflected[0]

		before := p.b.Stats()
		for name, f := range map[string]string{
			"replayed": captured, "moved between links": moved[0], "new epoch, wrong key": forgedEpoch[0],
			"tampered": string(tampered), "cleartext": clear, "reflected": refl,
			"truncated": captured[:len(captured)-1], "empty": "",
		} {
			err := p.b.Recv(f)
			assert.True(t, errors.Is(err, errFrameAuth) || errors.Is(err, errFrameReplay), "%s: %v", name, err)
		}
		after := p.b.Stats()
		assert.Equal(t, uint64(1), after.Replays-before.Replays)
		assert.Equal(t, uint64(7), after.AuthFailures-before.AuthFailures)
		assert.Zero(t, after.PeerRestarts)
		assert.Equal(t, before.FramesRecv, after.FramesRecv, "no forged frame reached the protocol")
		_, del := p.b.Ready()
		assert.Empty(t, del)

		for _, m := range all[1:] {
			require.NoError(t, p.a.Send(m))
		}
		p.settle(1000)
		assert.Equal(t, all, p.gotB, "encrypt=%v: every real message once and in order", encrypt)
		assert.Equal(t, []GoTaskMsg{{TaskName: "r", MessageData: "up"}}, p.gotA)
	}
}

func TestLinkSealedModeMismatch(t *testing.T) {
	a := newLink(testConfig(), 1)
	sealLink(t, a, testLinkKey, "e", true, true)
	b := newLink(testConfig(), 2)
	sealLink(t, b, testLinkKey, "e", false, false)
	require.NoError(t, a.Send(GoTaskMsg{TaskName: "s", MessageData: "x"}))
	fs, _ := a.Ready()
	require.Len(t, fs, 1)
	assert.ErrorIs(t, b.Recv(fs[0]), errFrameAuth, "an authenticate-only link refuses encrypted frames")
}

func TestLinkWithoutKeyHoldsAndRefuses(t *testing.T) {
	l := newLink(testConfig(), 1)
	l.auth = newLinkAuth(false)
	require.NoError(t, l.Send(GoTaskMsg{TaskName: "s", MessageData: "early"}))
	fs, _ := l.Ready()
	assert.Empty(t, fs, "nothing goes out before the key")
	assert.ErrorIs(t, l.Recv("anything"), errNoLinkKey)
	assert.Error(t, l.auth.setKey([]byte("short"), "e", true))
	require.NoError(t, l.auth.setKey(testLinkKey, "e", true))
	fs, _ = l.Ready()
	assert.Len(t, fs, 1, "held messages go once the key is set")
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	assert.False(t, w.fresh(0))
	for _, c := range []uint64{1, 3, 2, 10, 5} {
		require.True(t, w.fresh(c), "%d", c)
		w.mark(c)
		assert.False(t, w.fresh(c), "%d again", c)
	}
	assert.True(t, w.fresh(4))
	w.mark(10 + replayWindowBits)
	assert.False(t, w.fresh(10), "too old to tell")
	assert.True(t, w.fresh(11), "within the window and unseen")
	w.mark(5 * replayWindowBits)
	assert.True(t, w.fresh(5*replayWindowBits-1))
	assert.False(t, w.fresh(5*replayWindowBits))
}

// BenchmarkLinkSeal measures sealing and opening one frame of 256 16-byte
// messages, authenticated only and encrypted.
func BenchmarkLinkSeal(b *testing.B) {
	for _, encrypt := range []bool{false, true} {
		name := "auth"
		if encrypt {
			name = "encrypt"
		}
		b.Run(name, func(b *testing.B) {
			tx := newLinkAuth(true)
			rx := newLinkAuth(false)
			require.NoError(b, tx.setKey(testLinkKey, "e", encrypt))
			require.NoError(b, rx.setKey(testLinkKey, "e", encrypt))
			f := &frame{SrcEpoch: 1, Base: 1}
			for i := range 256 {
				f.Records = append(f.Records, frameRecord{Kind: recMsg, Seq: uint64(i + 1), Stream: "echo-17", Data: "0123456789abcdef"})
			}
			b.SetBytes(int64(frameLen(f)))
			b.ReportAllocs()
			for b.Loop() {
				s := tx.seal(f, 1)
				if _, _, err := rx.open(string(s)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLinkAuthOpenInPlace: an owned payload decrypts in place to the frame
// a copying open returns; a tampered one is refused (its bytes are then
// overwritten, which only its owner sees) and the link is unchanged.
func TestLinkAuthOpenInPlace(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		tx, rx, rx2 := newLinkAuth(true), newLinkAuth(false), newLinkAuth(false)
		for _, a := range []*linkAuth{tx, rx, rx2} {
			require.NoError(t, a.setKey(testLinkKey, "e", encrypt))
		}
		f := &frame{SrcEpoch: 9, Base: 1, Records: []frameRecord{{Kind: recMsg, Seq: 1, Stream: "t-0", Data: string(bytes.Repeat([]byte("big"), 100000))}}}
		sealed := tx.seal(f, 9)
		want, _, err := rx.open(string(sealed))
		require.NoError(t, err)
		owned := append([]byte(nil), sealed...)
		got, epoch, err := rx2.openPayload(ownedString(owned), true)
		require.NoError(t, err)
		assert.Equal(t, want, got, "encrypt=%v", encrypt)
		assert.Equal(t, uint64(9), epoch)
		if len(got) > 0 {
			assert.True(t, &owned[sealedHeaderLen] == unsafeData(got), "the frame lies in the payload (no copy)")
		}
		bad := tx.seal(f, 9)
		bad[len(bad)/2] ^= 1
		_, _, err = rx2.openPayload(ownedString(bad), true)
		assert.ErrorIs(t, err, errFrameAuth)
		good := tx.seal(f, 9)
		_, _, err = rx2.openPayload(ownedString(good), true)
		assert.NoError(t, err, "the refusal changed nothing")
	}
}

// TestLinkRecvOwnedDelivers: a sealed link fed owned payloads (each frame
// in a buffer of its own, as a request body) delivers what it is sent,
// encrypted or not, in order.
func TestLinkRecvOwnedDelivers(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		p := newSealedPair(t, encrypt)
		var want []GoTaskMsg
		for i := range 8 {
			want = append(want, GoTaskMsg{TaskName: "s", MessageData: string(bytes.Repeat([]byte{byte(i)}, 100<<10+i))})
		}
		next := 0
		for ticks := 0; len(p.gotB) < len(want) && ticks < 1000; ticks++ {
			for next < len(want) && p.a.CanSend("s") {
				require.NoError(t, p.a.Send(want[next]))
				next++
			}
			for _, f := range p.ready(p.a) {
				require.NoError(t, p.b.recv(ownedString([]byte(f)), true))
			}
			for _, f := range p.ready(p.b) {
				require.NoError(t, p.a.Recv(f))
			}
			p.a.Tick()
			p.b.Tick()
		}
		assert.Equal(t, want, p.gotB, "encrypt=%v", encrypt)
	}
}

// ownedString is b as a string without a copy (b is not used after).
func ownedString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func unsafeData(s string) *byte { return unsafe.StringData(s) }

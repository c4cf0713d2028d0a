package mesosgot

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleFrame returns a frame using every record kind and SACK ranges.
func sampleFrame() frame {
	return frame{
		Flags:    frameFlagAckNow,
		SrcEpoch: 0xdeadbeefcafef00d,
		DstEpoch: 42,
		Ack:      17,
		Base:     100,
		Sacks:    []seqRange{{Start: 19, End: 21}, {Start: 30, End: 31}},
		Records: []frameRecord{
			{Kind: recMsg, Seq: 100, Stream: "worker-0", Data: "hello"},
			{Kind: recCredit, Seq: 101, Stream: "worker-1", Total: 12345},
			{Kind: recFragFirst, Seq: 105, Stream: "worker-2", Data: "abc", Total: 9},
			{Kind: recFragMid, Seq: 106, Stream: "worker-2", Data: "def"},
			{Kind: recFragLast, Seq: 107, Stream: "worker-2", Data: "ghi"},
			{Kind: recMsg, Seq: 108, Stream: "", Data: ""},
			{Kind: recMsg, Seq: 109, Stream: "\x00\xff", Data: "\x00\x01\x02\xff"},
		},
	}
}

// normFrame returns f with empty slices made nil, for comparisons.
func normFrame(f frame) frame {
	if len(f.Sacks) == 0 {
		f.Sacks = nil
	}
	if len(f.Records) == 0 {
		f.Records = nil
	}
	return f
}

// TestEnvelopeRoundTrip checks that decodeFrame inverts encodeFrame.
func TestEnvelopeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    frame
	}{
		{"header only, unknown peer", frame{SrcEpoch: 1, Base: 1, Sacks: []seqRange{}, Records: []frameRecord{}}},
		{"header only with ack", frame{SrcEpoch: ^uint64(0), DstEpoch: ^uint64(0), Ack: 1 << 62, Base: 1 << 63, Sacks: []seqRange{}, Records: []frameRecord{}}},
		{"all kinds", sampleFrame()},
		{"max sacks", frame{SrcEpoch: 9, Base: 1, Ack: 5, Sacks: []seqRange{{6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}, {16, 17}, {18, 19}, {20, 100}}, Records: []frameRecord{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := encodeFrame(&tt.f)
			require.Equal(t, frameVersion2, s[0])
			assert.Equal(t, len(s), frameLen(&tt.f))
			var got frame
			require.NoError(t, decodeFrame(s, &got))
			assert.Equal(t, normFrame(tt.f), normFrame(got))
		})
	}
}

// TestEnvelopeFrameLen checks that frameLen is the exact encoded length
// around every varint length boundary.
func TestEnvelopeFrameLen(t *testing.T) {
	var vals []uint64
	for sh := 0; sh < 64; sh += 7 {
		v := uint64(1) << sh
		vals = append(vals, v-1, v, v+1)
	}
	vals = append(vals, ^uint64(0)-1)
	for _, v := range vals {
		f := frame{SrcEpoch: 1, DstEpoch: v, Ack: v, Base: max(v, 1),
			Sacks: []seqRange{{Start: v, End: v + 1}},
			Records: []frameRecord{
				{Kind: recFragFirst, Seq: max(v, 1), Stream: strings.Repeat("s", int(v%300)), Data: "d", Total: v},
				{Kind: recCredit, Seq: max(v, 1) + 1 + v%200, Stream: "c", Total: v},
				{Kind: recMsg, Seq: max(v, 1) + 2 + v%200, Data: strings.Repeat("x", int(v%20000))},
			}}
		assert.Equal(t, len(appendFrame(nil, &f)), frameLen(&f), "value %d", v)
	}
	for _, n := range []int{0, 1, 127, 128, 16383, 16384} {
		f := frame{SrcEpoch: 1, Base: 1, Records: make([]frameRecord, n)}
		for i := range f.Records {
			f.Records[i] = frameRecord{Kind: recMsg, Seq: uint64(i + 1)}
		}
		assert.Equal(t, len(appendFrame(nil, &f)), frameLen(&f), "%d records", n)
	}
}

// TestEnvelopeMalformed checks that bad input is rejected with ErrMalformedMsg.
func TestEnvelopeMalformed(t *testing.T) {
	good := sampleFrame()
	enc := encodeFrame(&good)
	tooManySacks := frame{SrcEpoch: 1, Base: 1, Sacks: make([]seqRange, maxSacks+1)}
	for i := range tooManySacks.Sacks {
		tooManySacks.Sacks[i] = seqRange{Start: uint64(2*i + 1), End: uint64(2*i + 2)}
	}
	zeroEpoch := frame{SrcEpoch: 0, Base: 1}
	zeroBase := frame{SrcEpoch: 1, Base: 0}
	badKind := encodeFrame(&frame{SrcEpoch: 1, Base: 1, Records: []frameRecord{{Kind: recMsg, Seq: 1, Stream: "a", Data: "b"}}})
	badKind = badKind[:frameFixedLen+4] + "\x09" + badKind[frameFixedLen+5:]
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"short", "\x02\x00\x01"},
		{"msg version", "\x01\x00" + strings.Repeat("\x01", 20)},
		{"unknown version", "\x03" + enc[1:]},
		{"truncated", enc[:len(enc)-1]},
		{"trailing", enc + "x"},
		{"too many sacks", encodeFrame(&tooManySacks)},
		{"zero epoch", encodeFrame(&zeroEpoch)},
		{"zero base", encodeFrame(&zeroBase)},
		{"bad kind", badKind},
		{"huge record count", encodeFrame(&frame{SrcEpoch: 1, Base: 1})[:frameFixedLen+3] + "\xff\xff\xff\xff\x0f"},
		{"varint overflow", "\x02\x00" + strings.Repeat("\x01", 16) + strings.Repeat("\xff", 10) + "\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f frame
			err := decodeFrame(tt.in, &f)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrMalformedMsg), "%v", err)
		})
	}
	// Every truncation of a valid frame is rejected.
	for i := 0; i < len(enc); i++ {
		var f frame
		assert.ErrorIs(t, decodeFrame(enc[:i], &f), ErrMalformedMsg, "prefix %d", i)
	}
}

// FuzzEnvelopeDecode checks that decodeFrame never panics, that what it
// accepts re-encodes to an equal frame, and that a link survives any input.
func FuzzEnvelopeDecode(f *testing.F) {
	s := sampleFrame()
	f.Add(encodeFrame(&s))
	f.Add(encodeFrame(&frame{SrcEpoch: 1, Base: 1}))
	f.Add(encodeFrame(&frame{SrcEpoch: 7, DstEpoch: 8, Ack: 3, Base: 2, Sacks: []seqRange{{4, 6}}}))
	// Frames from the fuzzed links' peer (epoch 7 to epoch 1) reach every
	// record path of link.Recv.
	f.Add(encodeFrame(&frame{SrcEpoch: 7, DstEpoch: 1, Ack: 2, Base: 1, Sacks: []seqRange{{3, 5}}, Records: []frameRecord{
		{Kind: recMsg, Seq: 1, Stream: "x", Data: "m"},
		{Kind: recFragFirst, Seq: 3, Stream: "x", Data: "abc", Total: 9},
		{Kind: recFragMid, Seq: 4, Stream: "x", Data: "def"},
		{Kind: recFragLast, Seq: 5, Stream: "x", Data: "ghi"},
		{Kind: recCredit, Seq: 6, Stream: "x", Total: 1},
	}}))
	f.Add(encodeFrame(&frame{SrcEpoch: 7, DstEpoch: 1, Ack: 1, Base: 1, Records: []frameRecord{
		{Kind: recFragFirst, Seq: 2, Stream: "x", Data: "abc", Total: 1 << 40},
		{Kind: recFragLast, Seq: 3, Stream: "y", Data: "abc"},
	}}))
	f.Add(encodeFrame(&frame{SrcEpoch: 9, DstEpoch: 1, Ack: 1, Base: 5}))
	f.Add("")
	f.Add("\x02")
	f.Add("\x01\x03abcdata")
	f.Add(strings.Repeat("\xff", 64))
	f.Fuzz(func(t *testing.T, in string) {
		var fr frame
		if err := decodeFrame(in, &fr); err != nil {
			if !errors.Is(err, ErrMalformedMsg) {
				t.Fatalf("error does not wrap ErrMalformedMsg: %v", err)
			}
		} else {
			if n := len(appendFrame(nil, &fr)); n != frameLen(&fr) {
				t.Fatalf("frameLen %d, encoding %d bytes", frameLen(&fr), n)
			}
			var again frame
			if err := decodeFrame(encodeFrame(&fr), &again); err != nil {
				t.Fatalf("re-encoded frame does not decode: %v", err)
			}
			assert.Equal(t, normFrame(fr), normFrame(again))
		}
		// A link must take any payload without panicking, fresh or established.
		cfg := linkConfig{WindowMsgs: 16, MaxMsgBytes: 1 << 16}
		a := newLink(cfg, 1)
		_ = a.Recv(in)
		a.Ready()
		a.Tick()
		a.Ready()
		b := newLink(cfg, 7)
		_ = b.Send(GoTaskMsg{TaskName: "x", MessageData: "y"})
		fs, _ := b.Ready()
		_ = a.Recv(fs[0])
		fs, _ = a.Ready()
		_ = a.Recv(in)
		a.Ready()
		for _, fr := range fs {
			_ = b.Recv(fr)
		}
		_ = b.Recv(in)
		b.Ready()
	})
}

// FuzzDecodeMsg checks that DecodeMsg never panics and that what it accepts
// survives EncodeMsg/DecodeMsg.
func FuzzDecodeMsg(f *testing.F) {
	for _, m := range []GoTaskMsg{{}, {TaskName: "worker-0", MessageData: "hello"}, {TaskName: "\x00", MessageData: "\xff\xfe"}} {
		s, _ := EncodeMsg(m)
		f.Add(s)
	}
	f.Add("")
	f.Add("\x01\xff")
	f.Add("\x02abc")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := DecodeMsg(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedMsg) {
				t.Fatalf("error does not wrap ErrMalformedMsg: %v", err)
			}
			return
		}
		s, err := EncodeMsg(m)
		require.NoError(t, err)
		m2, err := DecodeMsg(s)
		require.NoError(t, err)
		assert.Equal(t, m, m2)
	})
}

// benchFrame returns a frame of 64 records of 100 data bytes.
func benchFrame() frame {
	f := frame{SrcEpoch: 0x1234567890abcdef, DstEpoch: 0xfedcba0987654321, Ack: 1 << 20, Base: 1 << 21,
		Sacks: []seqRange{{1<<20 + 5, 1<<20 + 9}}}
	data := strings.Repeat("x", 100)
	for i := range 64 {
		f.Records = append(f.Records, frameRecord{Kind: recMsg, Seq: f.Base + uint64(i), Stream: "worker-12", Data: data})
	}
	return f
}

// BenchmarkEnvelopeEncode measures encoding a 64-record frame.
func BenchmarkEnvelopeEncode(b *testing.B) {
	f := benchFrame()
	var buf []byte
	b.SetBytes(int64(len(encodeFrame(&f))))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendFrame(buf[:0], &f)
	}
}

// BenchmarkEnvelopeDecode measures decoding a 64-record frame.
func BenchmarkEnvelopeDecode(b *testing.B) {
	f := benchFrame()
	s := encodeFrame(&f)
	var got frame
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeFrame(s, &got); err != nil {
			b.Fatal(err)
		}
	}
}

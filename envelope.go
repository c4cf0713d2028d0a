package mesosgot

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The link frame: one Mesos framework-message payload carrying a batch of
// sequenced records between the two ends of a link (see link.go).
//
// Layout (all uvarints are encoding/binary unsigned varints):
//
//	byte     version (frameVersion2; msg.go's single message uses 1)
//	byte     flags (frameFlagAckNow, frameFlagPing; unknown bits are ignored)
//	8 bytes  source epoch, little endian, nonzero: the sender's session id
//	8 bytes  destination epoch, little endian: the receiver's session id as
//	         the sender knows it, 0 while it has heard nothing from it
//	uvarint  ack: the next sequence number the sender expects from the
//	         receiver (everything below it arrived); meaningful only when
//	         the destination epoch matches the receiver's epoch
//	uvarint  base: the sender's lowest unacknowledged sequence number
//	         (nonzero); records below it will never be sent again
//	uvarint  number of SACK ranges (at most maxSacks), then per range:
//	         uvarint start minus the previous range's end (the first range
//	         counts from ack), uvarint length (nonzero). Each range is a run
//	         of sequence numbers above ack that the sender already holds.
//	uvarint  number of records, then per record:
//	         byte kind (recMsg … recCredit)
//	         uvarint gap: seq minus the next seq after the previous record
//	                  (the first record counts from base)
//	         uvarint stream length, stream bytes
//	         recFragFirst only: uvarint total message length
//	         recCredit: uvarint cumulative consumed count
//	         others: uvarint data length, data bytes
//
// Nothing may follow the last record.

// frameVersion2 is the first byte of every link frame; it differs from
// msgVersion1 so a frame is never mistaken for a single EncodeMsg message.
const frameVersion2 byte = 2

// frameFlagAckNow asks the receiver to acknowledge at once instead of after
// its ack delay; set on frames that carry retransmitted records and on the
// data frame that fills the sender's frame window (link.go).
const frameFlagAckNow byte = 1 << 0

// frameFlagPing asks the receiver to answer with a frame at once even if it
// has nothing to acknowledge: the heartbeat of an idle link (link.go).
const frameFlagPing byte = 1 << 1

// maxSacks is the largest number of SACK ranges a frame may carry.
const maxSacks = 8

// frameFixedLen is the length of the fixed part of a frame header: version,
// flags and the two epochs.
const frameFixedLen = 1 + 1 + 8 + 8

// frameHeaderMax bounds the encoded size of a frame header including the
// record count, whatever its SACK ranges.
const frameHeaderMax = frameFixedLen + 2*binary.MaxVarintLen64 + 1 + maxSacks*2*binary.MaxVarintLen64 + binary.MaxVarintLen64

// recordOverheadMax bounds the encoded size of a record minus the bytes of
// its stream name and data.
const recordOverheadMax = 1 + 4*binary.MaxVarintLen64

// minRecordLen is the smallest possible encoded record (kind, gap, empty
// stream, empty data or zero value): used to cap the record count that a
// decoder trusts before allocating.
const minRecordLen = 4

// recKind is the kind of a record in a frame.
type recKind uint8

// Record kinds. Zero is not a valid kind.
const (
	// recMsg is a whole message: stream and data.
	recMsg recKind = iota + 1
	// recFragFirst is the first fragment of a large message; Total is the
	// length of the whole message.
	recFragFirst
	// recFragMid is a middle fragment of a large message.
	recFragMid
	// recFragLast is the last fragment of a large message.
	recFragLast
	// recCredit returns credit: Total is the cumulative count of messages of
	// Stream the sender of the frame has handed to its application.
	recCredit
)

// String returns the record kind's name.
func (k recKind) String() string {
	switch k {
	case recMsg:
		return "msg"
	case recFragFirst:
		return "frag-first"
	case recFragMid:
		return "frag-mid"
	case recFragLast:
		return "frag-last"
	case recCredit:
		return "credit"
	}
	return fmt.Sprintf("recKind(%d)", uint8(k))
}

// seqRange is the half-open range [Start, End) of sequence numbers.
type seqRange struct {
	// Start is the first sequence number in the range.
	Start uint64
	// End is one past the last sequence number in the range.
	End uint64
}

// frameRecord is one sequenced record of a frame.
type frameRecord struct {
	// Kind says what the record carries.
	Kind recKind
	// Seq is the record's link sequence number.
	Seq uint64
	// Stream is the stream (task name) the record belongs to.
	Stream string
	// Data is the message data or fragment (empty for recCredit).
	Data string
	// Total is the whole message length for recFragFirst and the cumulative
	// consumed count for recCredit; zero otherwise.
	Total uint64
}

// frame is a decoded link frame.
type frame struct {
	// Flags holds frameFlag bits.
	Flags byte
	// SrcEpoch is the sender's session epoch (nonzero).
	SrcEpoch uint64
	// DstEpoch is the receiver's epoch as known by the sender, 0 if unknown.
	DstEpoch uint64
	// Ack is the next sequence number the sender expects from the receiver.
	Ack uint64
	// Base is the sender's lowest unacknowledged sequence number (nonzero).
	Base uint64
	// Sacks are ascending, disjoint ranges above Ack the sender already holds.
	Sacks []seqRange
	// Records are the sequenced records, in ascending Seq order, none below Base.
	Records []frameRecord
}

// recordEncodedMax bounds the encoded size of r.
func recordEncodedMax(r *frameRecord) int {
	return recordOverheadMax + len(r.Stream) + len(r.Data)
}

// appendFrame appends the encoding of f to dst. f must be well formed:
// nonzero SrcEpoch and Base, at most maxSacks ascending non-empty ranges
// starting at or above Ack, records ascending and not below Base.
func appendFrame(dst []byte, f *frame) []byte {
	dst = append(dst, frameVersion2, f.Flags)
	dst = binary.LittleEndian.AppendUint64(dst, f.SrcEpoch)
	dst = binary.LittleEndian.AppendUint64(dst, f.DstEpoch)
	dst = binary.AppendUvarint(dst, f.Ack)
	dst = binary.AppendUvarint(dst, f.Base)
	dst = binary.AppendUvarint(dst, uint64(len(f.Sacks)))
	prev := f.Ack
	for _, r := range f.Sacks {
		dst = binary.AppendUvarint(dst, r.Start-prev)
		dst = binary.AppendUvarint(dst, r.End-r.Start)
		prev = r.End
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.Records)))
	next := f.Base
	for i := range f.Records {
		r := &f.Records[i]
		dst = append(dst, byte(r.Kind))
		dst = binary.AppendUvarint(dst, r.Seq-next)
		next = r.Seq + 1
		dst = binary.AppendUvarint(dst, uint64(len(r.Stream)))
		dst = append(dst, r.Stream...)
		switch r.Kind {
		case recCredit:
			dst = binary.AppendUvarint(dst, r.Total)
			continue
		case recFragFirst:
			dst = binary.AppendUvarint(dst, r.Total)
		}
		dst = binary.AppendUvarint(dst, uint64(len(r.Data)))
		dst = append(dst, r.Data...)
	}
	return dst
}

// uvarintLen is the length of the unsigned varint encoding of x.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// frameLen returns the exact length of appendFrame's encoding of f.
func frameLen(f *frame) int {
	n := frameFixedLen + uvarintLen(f.Ack) + uvarintLen(f.Base) + uvarintLen(uint64(len(f.Sacks)))
	prev := f.Ack
	for _, r := range f.Sacks {
		n += uvarintLen(r.Start-prev) + uvarintLen(r.End-r.Start)
		prev = r.End
	}
	n += uvarintLen(uint64(len(f.Records)))
	next := f.Base
	for i := range f.Records {
		r := &f.Records[i]
		n += 1 + uvarintLen(r.Seq-next) + uvarintLen(uint64(len(r.Stream))) + len(r.Stream)
		next = r.Seq + 1
		switch r.Kind {
		case recCredit:
			n += uvarintLen(r.Total)
			continue
		case recFragFirst:
			n += uvarintLen(r.Total)
		}
		n += uvarintLen(uint64(len(r.Data))) + len(r.Data)
	}
	return n
}

// encodeFrame returns the encoding of f as a framework-message payload.
func encodeFrame(f *frame) string {
	return string(appendFrame(make([]byte, 0, frameLen(f)), f))
}

// frameReader reads the parts of a frame from a string, remembering the
// first error; reads after an error return zero values.
type frameReader struct {
	// s is the input.
	s string
	// off is the offset of the next unread byte.
	off int
	// err is the first error met.
	err error
}

// fail records the first decoding error.
func (r *frameReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: frame: %s at offset %d", ErrMalformedMsg, fmt.Sprintf(format, args...), r.off)
	}
}

// byte1 reads one byte.
func (r *frameReader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.s) {
		r.fail("truncated")
		return 0
	}
	b := r.s[r.off]
	r.off++
	return b
}

// u64 reads a fixed little-endian uint64.
func (r *frameReader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.s)-r.off < 8 {
		r.fail("truncated")
		return 0
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(r.s[r.off+i])
	}
	r.off += 8
	return v
}

// uvarint reads an unsigned varint, rejecting overlong and overflowing ones.
func (r *frameReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if r.off >= len(r.s) {
			r.fail("truncated varint")
			return 0
		}
		b := r.s[r.off]
		r.off++
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	r.fail("varint overflows 64 bits")
	return 0
}

// str reads a uvarint length and that many bytes, as a substring of the input.
func (r *frameReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)-r.off) {
		r.fail("length %d exceeds remaining %d bytes", n, len(r.s)-r.off)
		return ""
	}
	s := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

// decodeFrame decodes s into f, reusing f's slices. Strings in f are
// substrings of s. Truncated, garbage or trailing input returns an error
// wrapping ErrMalformedMsg, and f is then unspecified. It never panics and
// allocates at most in proportion to len(s).
func decodeFrame(s string, f *frame) error {
	r := frameReader{s: s}
	if len(s) < frameFixedLen {
		return fmt.Errorf("%w: frame: %d bytes, shorter than a header", ErrMalformedMsg, len(s))
	}
	if v := r.byte1(); v != frameVersion2 {
		return fmt.Errorf("%w: frame: unknown version byte 0x%02x", ErrMalformedMsg, v)
	}
	f.Flags = r.byte1()
	f.SrcEpoch = r.u64()
	f.DstEpoch = r.u64()
	f.Ack = r.uvarint()
	f.Base = r.uvarint()
	if r.err == nil && f.SrcEpoch == 0 {
		r.fail("zero source epoch")
	}
	if r.err == nil && f.Base == 0 {
		r.fail("zero base")
	}
	ns := r.uvarint()
	if r.err == nil && ns > maxSacks {
		r.fail("%d SACK ranges, more than %d", ns, maxSacks)
	}
	f.Sacks = f.Sacks[:0]
	prev := f.Ack
	for i := uint64(0); i < ns && r.err == nil; i++ {
		d, n := r.uvarint(), r.uvarint()
		start, end := prev+d, prev+d+n
		if r.err == nil && (n == 0 || start < prev || end < start) {
			r.fail("bad SACK range")
		}
		f.Sacks = append(f.Sacks, seqRange{Start: start, End: end})
		prev = end
	}
	nr := r.uvarint()
	if r.err == nil && nr > uint64(len(s)-r.off)/minRecordLen {
		r.fail("%d records cannot fit in %d bytes", nr, len(s)-r.off)
	}
	if r.err != nil {
		return r.err
	}
	if uint64(cap(f.Records)) < nr {
		f.Records = make([]frameRecord, 0, nr)
	}
	f.Records = f.Records[:0]
	next := f.Base
	for i := uint64(0); i < nr && r.err == nil; i++ {
		var rec frameRecord
		rec.Kind = recKind(r.byte1())
		gap := r.uvarint()
		rec.Seq = next + gap
		if r.err == nil && (rec.Seq < next || rec.Seq == ^uint64(0)) {
			r.fail("sequence number overflows")
		}
		next = rec.Seq + 1
		rec.Stream = r.str()
		switch rec.Kind {
		case recMsg, recFragMid, recFragLast:
			rec.Data = r.str()
		case recFragFirst:
			rec.Total = r.uvarint()
			rec.Data = r.str()
			if r.err == nil && uint64(len(rec.Data)) > rec.Total {
				r.fail("first fragment longer than its message")
			}
		case recCredit:
			rec.Total = r.uvarint()
		default:
			r.fail("unknown record kind %d", uint8(rec.Kind))
		}
		f.Records = append(f.Records, rec)
	}
	if r.err == nil && r.off != len(s) {
		r.fail("%d trailing bytes", len(s)-r.off)
	}
	return r.err
}

package mesosgot

import (
	"cmp"
	"fmt"
	"slices"
	"unsafe"
)

// The sending half of the link (see link.go): queues, sequence numbers,
// window and credit, retransmission and frame packing.

// outRec is an outgoing record from assignment of its sequence number until
// it is acknowledged.
type outRec struct {
	// frameRecord is what goes on the wire.
	frameRecord
	// stream is the sending stream; nil for credit records.
	stream *sendStream
	// size is what the record counts against WindowBytes.
	size int
	// endsMsg marks the last record of a message.
	endsMsg bool
	// sentAt is the tick the record was last put in a frame.
	sentAt int64
	// queued means the record waits in newQ or retxQ to be put in a frame.
	queued bool
	// sent means the record was put in a frame at least once.
	sent bool
	// sacked means the receiver reported holding the record.
	sacked bool
	// acked means the record was cumulatively acknowledged (or discarded).
	acked bool
}

// sendStream is the sender's state of one stream.
type sendStream struct {
	// name is the stream (task) name.
	name string
	// queue holds messages waiting for window or credit from index head on.
	queue []GoTaskMsg
	// head is the index of the first queued message.
	head int
	// sent counts messages of the stream given sequence numbers this session.
	sent uint64
	// peerConsumed is the peer's cumulative consumed count, as last heard.
	peerConsumed uint64
	// inflight counts messages given sequence numbers and not fully acked.
	inflight int
	// active means the stream is in link.active.
	active bool
}

// queued returns the number of messages waiting in the stream's queue.
func (s *sendStream) queued() int { return len(s.queue) - s.head }

// fragState is the sender's progress through a message being fragmented.
type fragState struct {
	// s is the message's stream.
	s *sendStream
	// data is the whole message data.
	data string
	// off is how much of data has been given sequence numbers.
	off int
}

// Send queues m for its stream m.TaskName. It returns an error wrapping
// errMsgTooLarge (and queues nothing) if m.MessageData exceeds MaxMsgBytes or
// the task name exceeds maxStreamName bytes, and one wrapping errStreamFull
// if CanSend(m.TaskName) is false.
func (l *link) Send(m GoTaskMsg) error {
	if len(m.MessageData) > l.cfg.MaxMsgBytes {
		return fmt.Errorf("%w: %d data bytes for task %q, limit %d", errMsgTooLarge, len(m.MessageData), m.TaskName, l.cfg.MaxMsgBytes)
	}
	if len(m.TaskName) > maxStreamName {
		return fmt.Errorf("%w: task name of %d bytes, limit %d", errMsgTooLarge, len(m.TaskName), maxStreamName)
	}
	if !l.CanSend(m.TaskName) {
		return fmt.Errorf("%w: task %q", errStreamFull, m.TaskName)
	}
	s := l.sstream(m.TaskName)
	if s == nil {
		s = &sendStream{name: m.TaskName}
		l.sstreams[s.name] = s
	}
	m.TaskName = s.name
	s.queue = append(s.queue, m)
	if !s.active {
		s.active = true
		l.active = append(l.active, s)
	}
	l.queuedMsgs++
	l.queuedBytes += len(m.MessageData)
	l.stats.MsgsSent++
	l.stats.MaxQueuedMsgs = max(l.stats.MaxQueuedMsgs, l.queuedMsgs)
	l.stats.MaxQueuedBytes = max(l.stats.MaxQueuedBytes, l.queuedBytes)
	l.stats.MaxStreamQueued = max(l.stats.MaxStreamQueued, s.queued())
	return nil
}

// maxData returns the largest data that one record of stream name may carry
// and still fit in a frame.
func (l *link) maxData(name string) int {
	return l.cfg.MaxFrameBytes - frameHeaderMax - recordOverheadMax - len(name)
}

// windowAllows reports whether a new record of size bytes fits in the window.
func (l *link) windowAllows(size int) bool {
	if len(l.unacked) == 0 {
		return true
	}
	return len(l.unacked) < l.cfg.WindowMsgs && l.inflightBytes+size <= l.cfg.WindowBytes
}

// pump gives sequence numbers to queued work as the window and credit
// allow: credit records first, then the rest of a fragmented message, then
// messages taken round-robin from streams with credit.
func (l *link) pump() {
	for {
		if len(l.creditQ) > 0 {
			rs := l.creditQ[0]
			if !l.windowAllows(len(rs.name)) {
				return
			}
			l.creditQ = l.creditQ[1:]
			rs.creditQueued = false
			rs.advertised = rs.consumed
			l.newRec(frameRecord{Kind: recCredit, Stream: rs.name, Total: rs.consumed}, nil, len(rs.name), false)
			continue
		}
		if l.frag != nil {
			f := l.frag
			n := min(len(f.data)-f.off, l.maxData(f.s.name))
			if !l.windowAllows(n + len(f.s.name)) {
				return
			}
			kind, last := recFragMid, f.off+n == len(f.data)
			if last {
				kind = recFragLast
				l.frag = nil
			}
			l.newRec(frameRecord{Kind: kind, Stream: f.s.name, Data: f.data[f.off : f.off+n]}, f.s, n+len(f.s.name), last)
			f.off += n
			continue
		}
		if !l.pumpMsg() {
			return
		}
	}
}

// pumpMsg takes the next message round-robin from a stream with credit and
// gives its first record a sequence number. It returns false when there is
// no such message or the window is full.
func (l *link) pumpMsg() bool {
	n := len(l.active)
	for i := 0; i < n; i++ {
		idx := (l.rr + i) % n
		s := l.active[idx]
		if s.sent-s.peerConsumed >= uint64(l.cfg.TaskCredit) {
			continue
		}
		m := s.queue[s.head]
		dlen, md := len(m.MessageData), l.maxData(s.name)
		if !l.windowAllows(min(dlen, md) + len(s.name)) {
			return false
		}
		s.queue[s.head] = GoTaskMsg{}
		s.head++
		if s.head == len(s.queue) {
			s.queue, s.head = s.queue[:0], 0
		} else if s.head >= 64 && s.head*2 >= len(s.queue) {
			k := copy(s.queue, s.queue[s.head:])
			clear(s.queue[k:])
			s.queue, s.head = s.queue[:k], 0
		}
		l.queuedMsgs--
		l.queuedBytes -= dlen
		s.sent++
		s.inflight++
		l.rr = idx + 1
		if s.queued() == 0 {
			s.active = false
			l.active = slices.Delete(l.active, idx, idx+1)
			l.rr = idx
		}
		if dlen <= md {
			l.newRec(frameRecord{Kind: recMsg, Stream: s.name, Data: m.MessageData}, s, dlen+len(s.name), true)
		} else {
			l.newRec(frameRecord{Kind: recFragFirst, Stream: s.name, Data: m.MessageData[:md], Total: uint64(dlen)}, s, md+len(s.name), false)
			l.frag = &fragState{s: s, data: m.MessageData, off: md}
		}
		return true
	}
	return false
}

// outRecBlock is how many outRecs newRec allocates at once.
const outRecBlock = 64

// newRec gives r the next sequence number and queues it to be sent.
func (l *link) newRec(r frameRecord, s *sendStream, size int, endsMsg bool) {
	r.Seq = l.nextSeq
	l.nextSeq++
	if len(l.slab) == 0 {
		// A block is freed once all its records are acknowledged and
		// dropped; onAck clears their data so it is not kept alive.
		l.slab = make([]outRec, outRecBlock)
	}
	or := &l.slab[0]
	l.slab = l.slab[1:]
	*or = outRec{frameRecord: r, stream: s, size: size, endsMsg: endsMsg, queued: true}
	l.unacked = append(l.unacked, or)
	l.inflightBytes += size
	l.newQ = append(l.newQ, or)
	l.newBytes += recordEncodedMax(&or.frameRecord)
	l.stats.MaxInflightMsgs = max(l.stats.MaxInflightMsgs, len(l.unacked))
	l.stats.MaxInflightBytes = max(l.stats.MaxInflightBytes, l.inflightBytes)
}

// header fills l.out's header (not its records) from the current state.
func (l *link) header(flags byte) {
	f := &l.out
	f.Flags = flags
	f.SrcEpoch = l.epoch
	f.DstEpoch = l.peerEpoch
	f.Ack = 0
	f.Base = l.base
	f.Sacks = f.Sacks[:0]
	f.Records = f.Records[:0]
	if l.peerEpoch == 0 {
		return
	}
	f.Ack = l.expected
	if l.ringCount == 0 {
		return
	}
	w := uint64(len(l.ring))
	for seq := l.expected + 1; seq <= l.ringMax && len(f.Sacks) < maxSacks; seq++ {
		if l.ring[seq%w].Kind == 0 {
			continue
		}
		if n := len(f.Sacks); n > 0 && f.Sacks[n-1].End == seq {
			f.Sacks[n-1].End++
		} else {
			f.Sacks = append(f.Sacks, seqRange{Start: seq, End: seq + 1})
		}
	}
}

// flush packs records into frames bounded by MaxBatchMsgs and
// MaxFrameBytes, each carrying the current ack: first every queued
// retransmission, then records never sent, as far as the frame window
// allows (see the protocol summary). With no frame to send and an ack (or
// hello) due, it emits a header-only frame. Its cost is proportional to
// the records it sends: newQ and retxQ are kept in sequence order.
func (l *link) flush() {
	if len(l.retxQ) == 0 {
		if l.newHead == len(l.newQ) {
			l.flushAck()
			return
		}
		if l.capped() && !l.fillsFrame(frameHeaderMax, 0) {
			l.stats.HeldFlushes++
			l.flushAck()
			return
		}
	}
	l.header(0)
	hsize := frameHeaderMax
	size, retx, fresh, last := hsize, false, false, uint64(0)
	emitted, sent := false, false
	closeFrame := func() {
		l.closeFrame(retx, fresh, last)
		emitted = true
		l.header(0)
		size, retx, fresh = hsize, false, false
	}
	if len(l.retxQ) > 0 {
		// Appended in order by each timeout or SACK, but two batches may
		// interleave; the queue is short.
		if !slices.IsSortedFunc(l.retxQ, cmpOutRec) {
			slices.SortFunc(l.retxQ, cmpOutRec)
		}
		for _, r := range l.retxQ {
			r.queued = false
			if r.acked || r.sacked {
				continue
			}
			rs := recordEncodedMax(&r.frameRecord)
			if n := len(l.out.Records); n > 0 && (n >= l.cfg.MaxBatchMsgs || size+rs > l.cfg.MaxFrameBytes) {
				closeFrame()
			}
			l.out.Records = append(l.out.Records, r.frameRecord)
			size += rs
			r.sentAt = l.now
			retx, sent = true, true
			l.stats.Retransmits++
			l.stats.RecordsSent++
		}
		clear(l.retxQ)
		l.retxQ = l.retxQ[:0]
	}
	held := false
	for l.newHead < len(l.newQ) {
		r := l.newQ[l.newHead]
		rs := recordEncodedMax(&r.frameRecord)
		if r.acked { // acknowledged unsent: only a confused peer does that
			l.popNew(rs)
			r.queued = false
			r.release()
			continue
		}
		if n := len(l.out.Records); n > 0 && (n >= l.cfg.MaxBatchMsgs || size+rs > l.cfg.MaxFrameBytes) {
			closeFrame()
		}
		if !fresh && l.capped() && !l.fillsFrame(size, len(l.out.Records)) {
			held = true
			break
		}
		l.popNew(rs)
		l.out.Records = append(l.out.Records, r.frameRecord)
		size += rs
		r.queued, r.sent, r.sentAt = false, true, l.now
		fresh, last, sent = true, r.Seq, true
		l.stats.RecordsSent++
	}
	if held {
		l.stats.HeldFlushes++
	}
	if len(l.out.Records) > 0 {
		closeFrame()
	}
	if l.newHead == len(l.newQ) {
		clear(l.newQ)
		l.newQ, l.newHead = l.newQ[:0], 0
	} else if l.newHead >= 64 && l.newHead*2 >= len(l.newQ) {
		k := copy(l.newQ, l.newQ[l.newHead:])
		clear(l.newQ[k:])
		l.newQ, l.newHead = l.newQ[:k], 0
	}
	if !emitted {
		l.flushAck()
	}
	if sent && !l.timerOn {
		l.timerOn = true
		l.deadline = l.now + int64(l.rto)
	}
}

// flushAck emits a header-only frame when an ack, a hello or a ping is due.
func (l *link) flushAck() {
	if l.helloOwed || l.pingOwed || (l.ackOwed && l.now >= l.ackDue) {
		l.header(0)
		l.emit()
		l.stats.AckFramesSent++
	}
}

// capped reports whether MaxInflightFrames data frames are unacknowledged.
func (l *link) capped() bool {
	return l.cfg.MaxInflightFrames > 0 && len(l.dataFrames) >= l.cfg.MaxInflightFrames
}

// fillsFrame reports whether the records never sent fill the rest of a
// frame that already holds n records of size encoded bytes (header
// included): such a frame goes even when the frame window is full.
func (l *link) fillsFrame(size, n int) bool {
	return n+len(l.newQ)-l.newHead >= l.cfg.MaxBatchMsgs || size+l.newBytes >= l.cfg.MaxFrameBytes
}

// popNew takes the first record off newQ; rs is its recordEncodedMax.
func (l *link) popNew(rs int) {
	l.newQ[l.newHead] = nil
	l.newHead++
	l.newBytes -= rs
}

// closeFrame emits l.out, whose records include retransmissions if retx
// and records sent for the first time if fresh, the highest being last.
// A fresh frame enters the frame window; the one that fills it asks for an
// ack at once, as does a frame with retransmissions.
func (l *link) closeFrame(retx, fresh bool, last uint64) {
	if fresh {
		l.dataFrames = append(l.dataFrames, last)
		l.stats.MaxInflightFrames = max(l.stats.MaxInflightFrames, len(l.dataFrames))
		if l.capped() {
			retx = true
		}
	}
	if retx {
		l.out.Flags |= frameFlagAckNow
	}
	l.emit()
}

// cmpOutRec orders records by sequence number.
func cmpOutRec(a, b *outRec) int { return cmp.Compare(a.Seq, b.Seq) }

// emit encodes l.out into l.frames; the frame acknowledges everything
// received so far.
func (l *link) emit() {
	if l.pingOwed {
		l.out.Flags |= frameFlagPing
		l.pingOwed = false
	}
	// Each frame gets its own exactly sized buffer, never written again
	// once encoded, so it can become the string without a copy.
	var b []byte
	if l.auth != nil {
		b = l.auth.seal(&l.out, l.epoch)
	} else {
		b = appendFrame(make([]byte, 0, frameLen(&l.out)), &l.out)
	}
	l.frames = append(l.frames, unsafe.String(unsafe.SliceData(b), len(b)))
	clear(l.out.Records)
	l.out.Records = l.out.Records[:0]
	l.stats.FramesSent++
	l.ackOwed = false
	l.helloOwed = false
}

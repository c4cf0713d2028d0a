package mesosgot

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The receiving half of the link (see link.go): epochs, acks, reordering,
// reassembly and delivery.

// recvStream is the receiver's state of one stream.
type recvStream struct {
	// name is the stream (task) name.
	name string
	// delivered counts messages of the stream delivered this session.
	delivered uint64
	// consumed counts those the caller reported consumed.
	consumed uint64
	// advertised is the consumed count last put in a credit record.
	advertised uint64
	// creditQueued means the stream is in link.creditQ.
	creditQueued bool
}

// assembler is the receiver's reassembly of one fragmented message.
type assembler struct {
	// active means a first fragment was applied and the last was not.
	active bool
	// stream is the message's stream.
	stream string
	// total is the message length announced by the first fragment.
	total int
	// skip means the message is too large to accept: fragments are dropped.
	skip bool
	// buf collects the fragments.
	buf strings.Builder
}

// Recv takes one incoming framework-message payload. On a sealed link (see
// linkauth.go) a frame not sealed with the link's key returns an error
// wrapping errFrameAuth (errNoLinkKey before the key is set), an authentic
// frame seen before one wrapping errFrameReplay; either leaves the link
// unchanged. Garbage returns an error wrapping ErrMalformedMsg and leaves
// the link unchanged. A frame from
// a new epoch of the peer resets the session (see the protocol summary),
// is then processed, and returns an error wrapping errPeerRestarted. Frames
// from earlier peer epochs are ignored.
func (l *link) Recv(payload string) error { return l.recv(payload, false) }

// recv is Recv; owned means that nothing else reads payload's bytes, now
// or later (a request body the messenger received and handed over whole):
// an encrypted frame is then decrypted in place instead of into a new
// buffer, and the payload's bytes are overwritten, also when the frame is
// refused.

func (l *link) recv(payload string, owned bool) error {
	f := &l.in
	sealedBy := uint64(0)
	if l.auth != nil {
		inner, epoch, err := l.auth.openPayload(payload, owned)
		if err != nil {
			if errors.Is(err, errFrameReplay) {
				l.stats.Replays++
			} else {
				l.stats.AuthFailures++
			}
			return err
		}
		payload, sealedBy = inner, epoch
	}
	if err := decodeFrame(payload, f); err != nil {
		l.stats.MalformedFrames++
		return err
	}
	if l.auth != nil && f.SrcEpoch != sealedBy {
		l.stats.MalformedFrames++
		return fmt.Errorf("%w: frame of epoch %#x sealed by epoch %#x", ErrMalformedMsg, f.SrcEpoch, sealedBy)
	}
	defer func() {
		clear(f.Records)
		f.Records = f.Records[:0]
	}()
	l.stats.FramesRecv++
	l.inLen = len(payload)
	if slices.Contains(l.oldPeers, f.SrcEpoch) {
		l.stats.StaleFrames++
		return nil
	}
	if f.DstEpoch != 0 && f.DstEpoch != l.epoch {
		// Addressed to an earlier incarnation of this end: tell the peer.
		l.stats.StaleFrames++
		if f.SrcEpoch == l.peerEpoch || l.peerEpoch == 0 {
			l.helloOwed = true
		}
		return nil
	}
	var err error
	switch {
	case l.peerEpoch == 0:
		l.peerEpoch = f.SrcEpoch
		l.expected = f.Base
	case f.SrcEpoch != l.peerEpoch:
		err = fmt.Errorf("%w: epoch %#x replaces %#x", errPeerRestarted, f.SrcEpoch, l.peerEpoch)
		l.restart(f.SrcEpoch, f.Base)
	}
	if f.Base > l.expected {
		// The peer's base only moves up with our acks, which never exceed
		// expected (a new session starts at the peer's base, above): a
		// larger base claims acks we never sent. Skipping ahead would
		// drop records still coming, so the claim is ignored.
		l.stats.ProtocolErrors++
	}
	l.lastHeard = l.now
	if f.Flags&frameFlagPing != 0 {
		l.helloOwed = true // answer at once
	}
	if f.DstEpoch == l.epoch {
		l.onAck(f.Ack, f.Sacks)
	}
	if len(f.Records) == 0 {
		return err
	}
	due := l.now + int64(l.cfg.AckDelayTicks)
	if f.Flags&frameFlagAckNow != 0 {
		due = l.now
	}
	if !l.ackOwed || due < l.ackDue {
		l.ackDue = due
	}
	l.ackOwed = true
	for i := range f.Records {
		l.onRecord(&f.Records[i])
	}
	return err
}

// restart resets both directions for a new peer epoch: what was queued or in
// flight to the old incarnation is discarded and receiving starts at base.
func (l *link) restart(epoch, base uint64) {
	l.stats.PeerRestarts++
	l.oldPeers = append(l.oldPeers, l.peerEpoch)
	if len(l.oldPeers) > maxOldEpochs {
		l.oldPeers = slices.Delete(l.oldPeers, 0, 1)
	}
	l.peerEpoch = epoch
	// Send side.
	dropped := 0
	for _, s := range l.sstreams {
		dropped += s.queued() + s.inflight
		*s = sendStream{name: s.name}
	}
	l.stats.DroppedOnRestart += uint64(dropped)
	for _, r := range l.unacked {
		r.acked = true
		r.release()
	}
	clear(l.unacked)
	l.unacked = l.unacked[:0]
	clear(l.newQ)
	l.newQ, l.newHead, l.newBytes = l.newQ[:0], 0, 0
	clear(l.retxQ)
	l.retxQ = l.retxQ[:0]
	l.dataFrames = l.dataFrames[:0]
	l.active, l.rr, l.frag = nil, 0, nil
	l.queuedMsgs, l.queuedBytes, l.inflightBytes = 0, 0, 0
	l.base = l.nextSeq
	l.rto, l.timerOn = l.cfg.RTOTicks, false
	// Receive side.
	clear(l.ring)
	l.ringCount, l.ringBytes, l.ringMax = 0, 0, 0
	l.asm.reset()
	l.rstreams = make(map[string]*recvStream)
	l.lastR = nil
	l.creditQ = nil
	l.ackOwed = false
	l.expected = base
}

// onAck processes a cumulative ack and SACK ranges from the peer.
func (l *link) onAck(ack uint64, sacks []seqRange) {
	if ack > l.nextSeq {
		return // not one of ours
	}
	if ack > l.base {
		n := int(ack - l.base)
		for _, r := range l.unacked[:n] {
			r.acked = true
			l.inflightBytes -= r.size
			if r.endsMsg && r.stream != nil {
				r.stream.inflight--
			}
			if r.sent { // unsent ones are released when flush drops them
				r.release()
			}
		}
		k := copy(l.unacked, l.unacked[n:])
		clear(l.unacked[k:])
		l.unacked = l.unacked[:k]
		l.base = ack
		k = 0
		for k < len(l.dataFrames) && l.dataFrames[k] < ack {
			k++
		}
		if k > 0 {
			l.dataFrames = l.dataFrames[:copy(l.dataFrames, l.dataFrames[k:])]
		}
		l.rto = l.cfg.RTOTicks
		if len(l.unacked) == 0 {
			l.timerOn = false
		} else {
			l.deadline = l.now + int64(l.rto)
		}
	}
	for _, sr := range sacks {
		lo, hi := max(sr.Start, l.base), min(sr.End, l.nextSeq)
		for seq := lo; seq < hi; seq++ {
			// Only a confused peer SACKs what was never sent; ignoring
			// that keeps newQ free of SACKed records.
			if r := l.unacked[seq-l.base]; r.sent {
				r.sacked = true
			}
		}
	}
	if len(sacks) > 0 {
		l.fastRetransmit()
	}
}

// dupThresh is how many sequence numbers past a missing record the peer
// must have SACKed before the record is retransmitted without waiting for
// the timer.
const dupThresh = 3

// fastRetransmit queues the records that the peer's SACKs show to be lost:
// not SACKed, at least dupThresh below the highest SACKed record, and last
// sent before it.
func (l *link) fastRetransmit() {
	var hi *outRec
	for i := len(l.unacked) - 1; i >= 0; i-- {
		if l.unacked[i].sacked {
			hi = l.unacked[i]
			break
		}
	}
	if hi == nil {
		return
	}
	for _, r := range l.unacked {
		if r.Seq+dupThresh > hi.Seq {
			return
		}
		if r.sacked || r.queued || !r.sent || r.sentAt >= hi.sentAt {
			continue
		}
		r.queued = true
		l.retxQ = append(l.retxQ, r)
		l.stats.FastRetransmits++
	}
}

// onRecord processes one incoming record: credit at once, then apply in
// order, buffer out of order, drop duplicates.
func (l *link) onRecord(r *frameRecord) {
	if r.Kind == recCredit {
		if s := l.sstreams[r.Stream]; s != nil && r.Total > s.peerConsumed {
			s.peerConsumed = min(r.Total, s.sent)
		}
	}
	switch {
	case r.Seq < l.expected:
		l.stats.DupsDropped++
	case r.Seq == l.expected:
		l.apply(r, false)
		l.expected++
		l.drain()
	case r.Seq-l.expected >= uint64(l.cfg.WindowMsgs):
		l.stats.BeyondWindow++
	default:
		if l.ring == nil {
			l.ring = make([]frameRecord, l.cfg.WindowMsgs)
		}
		slot := &l.ring[r.Seq%uint64(len(l.ring))]
		if slot.Kind != 0 {
			l.stats.DupsDropped++
			return
		}
		size := len(r.Stream) + len(r.Data)
		if l.ringBytes+size > l.cfg.WindowBytes+l.cfg.MaxFrameBytes {
			l.stats.BeyondWindow++
			return
		}
		*slot = frameRecord{Kind: r.Kind, Seq: r.Seq, Stream: strings.Clone(r.Stream), Data: l.keep(r.Data), Total: r.Total}
		l.ringCount++
		l.ringBytes += size
		l.ringMax = max(l.ringMax, r.Seq)
		l.stats.OutOfOrder++
		l.ackDue = l.now // a gap: tell the sender at once (SACK)
		l.stats.MaxReorderMsgs = max(l.stats.MaxReorderMsgs, l.ringCount)
		l.stats.MaxReorderBytes = max(l.stats.MaxReorderBytes, l.ringBytes)
	}
}

// drain applies buffered records that have become in order.
func (l *link) drain() {
	for l.ringCount > 0 {
		slot := &l.ring[l.expected%uint64(len(l.ring))]
		if slot.Kind == 0 || slot.Seq != l.expected {
			return
		}
		r := *slot
		*slot = frameRecord{}
		l.ringCount--
		l.ringBytes -= len(r.Stream) + len(r.Data)
		l.apply(&r, true)
		l.expected++
	}
	l.ringMax = 0
}

// keep returns data, a substring of the payload being received, in a form
// that may outlive it in a delivered message or the reorder buffer: data
// itself (no copy) when it is at least a quarter of the payload, so a
// message kept by the application holds at most four times its size in
// memory, else a copy.
func (l *link) keep(data string) string {
	if 4*len(data) >= l.inLen {
		return data
	}
	return strings.Clone(data)
}

// release drops what an acknowledged record references, so that the
// record's block does not keep message data alive.
func (r *outRec) release() {
	r.Stream, r.Data, r.stream = "", "", nil
}

// apply applies the in-order record r; owned means r's strings were
// already made independent of the payload (see keep).
func (l *link) apply(r *frameRecord, owned bool) {
	a := &l.asm
	switch r.Kind {
	case recMsg:
		l.abortAsm()
		data := r.Data
		if !owned {
			data = l.keep(data)
		}
		l.deliverMsg(r.Stream, data)
	case recFragFirst:
		l.abortAsm()
		a.active, a.stream = true, strings.Clone(r.Stream)
		if r.Total > uint64(l.cfg.MaxMsgBytes) {
			// Larger than this end accepts: drop its fragments.
			l.stats.ProtocolErrors++
			a.skip = true
			return
		}
		a.total = int(r.Total)
		a.buf.Grow(a.total)
		a.buf.WriteString(r.Data)
	case recFragMid, recFragLast:
		if !a.active || a.stream != r.Stream {
			l.stats.ProtocolErrors++
			l.abortAsm()
			return
		}
		if !a.skip {
			if a.buf.Len()+len(r.Data) > a.total {
				l.abortAsm()
				return
			}
			a.buf.WriteString(r.Data)
		}
		if r.Kind != recFragLast {
			return
		}
		if a.skip || a.buf.Len() != a.total {
			l.abortAsm()
			return
		}
		l.stats.MaxReassemblyBytes = max(l.stats.MaxReassemblyBytes, a.total)
		stream, data := a.stream, a.buf.String()
		a.reset()
		l.deliverMsg(stream, data)
	}
}

// abortAsm drops a partly reassembled (or skipped) message, counting it as
// delivered and consumed so the peer's credit is not lost.
func (l *link) abortAsm() {
	if !l.asm.active {
		return
	}
	l.stats.ProtocolErrors++
	stream := l.asm.stream
	l.asm.reset()
	l.skipMsg(stream)
}

// skipMsg accounts for a message of stream that cannot be delivered as if
// it had been delivered and consumed, so the peer's credit is not lost.
func (l *link) skipMsg(stream string) {
	rs := l.rstream(stream)
	rs.delivered++
	l.Consumed(rs.name, 1)
}

// reset forgets the message being reassembled.
func (a *assembler) reset() {
	a.active, a.stream, a.total, a.skip = false, "", 0, false
	a.buf = strings.Builder{}
}

// rstream returns the receive stream named name, creating it.
func (l *link) rstream(name string) *recvStream {
	rs := l.findRStream(name)
	if rs == nil {
		rs = &recvStream{name: strings.Clone(name)}
		l.rstreams[rs.name] = rs
	}
	return rs
}

// deliverMsg queues a complete message of stream for Ready.
func (l *link) deliverMsg(stream, data string) {
	rs := l.rstream(stream)
	rs.delivered++
	unconsumed := int(rs.delivered - rs.consumed)
	if unconsumed > l.cfg.TaskCredit {
		l.stats.CreditViolations++
	}
	l.stats.MaxUnconsumed = max(l.stats.MaxUnconsumed, unconsumed)
	l.deliver = append(l.deliver, GoTaskMsg{TaskName: rs.name, MessageData: data})
}

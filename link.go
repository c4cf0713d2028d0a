package mesosgot

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// The link: exactly-once, in-order, flow-controlled delivery of GoTaskMsgs
// over best-effort Mesos framework messages, as a pure state machine in the
// style of etcd-io/raft. It has no goroutines, no I/O, no clock and no
// randomness: the caller feeds it outgoing messages (Send), incoming frames
// (Recv), consumption reports (Consumed) and logical time (Tick), and after
// each batch of inputs calls Ready for the frames to send and the messages to
// deliver. One link serves one (scheduler, executor) pair; both ends use it.
//
// Protocol summary (wire format in envelope.go):
//   - Every message, message fragment and credit update is a record with a
//     per-direction sequence number. Every frame carries the cumulative ack
//     (next expected seq) and up to maxSacks SACK ranges of the reverse
//     direction; with nothing to piggy-back on, a header-only ack frame goes
//     out AckDelayTicks after data arrived.
//   - One retransmission timer per link: on expiry the records that are
//     unacknowledged, not SACKed and older than the RTO are sent again and
//     the RTO doubles up to MaxRTOTicks; any cumulative-ack progress resets it.
//   - The receiver delivers records in sequence order, drops duplicates and
//     holds at most WindowMsgs out-of-order records; the sender never has
//     more than WindowMsgs records / WindowBytes bytes unacknowledged (the
//     first record may exceed WindowBytes so progress is always possible).
//   - Per-stream credit: the sender has at most TaskCredit messages of a
//     stream sent and not yet consumed by the receiving application. The
//     receiver returns credit with sequenced recCredit records carrying its
//     cumulative consumed count (idempotent, so loss and duplication are
//     harmless). A stream whose receiver does not consume blocks only itself.
//   - Frame window (Nagle's rule for framework messages): at most
//     MaxInflightFrames data frames carrying records sent for the first time
//     are unacknowledged (cumulatively). While that many are, records never
//     sent yet are held and accumulate, unless they fill a whole frame
//     (MaxBatchMsgs records or MaxFrameBytes); once an ack frees the window
//     they go together in as few frames as possible. Retransmissions and
//     header-only frames are never held. The data frame that brings the
//     count to the limit carries frameFlagAckNow so the peer acknowledges at
//     once, without waiting AckDelayTicks: a lone message on an idle link
//     goes out at the next Ready, a burst costs about one frame per round
//     trip instead of one per Ready. Acks are header-only when nothing else
//     can go, so two capped ends never wait for each other.
//   - Messages larger than a frame are split into fragments (never
//     interleaved with other messages, only with credit records),
//     each counted against the window, and reassembled at the receiver.
//   - Every frame names the sender's epoch and the epoch it believes the
//     receiver has. A new source epoch means the peer restarted: both
//     directions of the session reset (what was queued or in flight to the
//     old incarnation is discarded) and Recv reports errPeerRestarted. A
//     frame addressed to an earlier epoch of this end is ignored and answered
//     with a header-only frame so the peer learns the new epoch.

// errStreamFull is returned (wrapped) by link.Send when the stream's sender
// queue is full (or the link's queued bytes reached QueueBytes): the caller
// must stop taking messages for that stream and retry once CanSend is true.
var errStreamFull = errors.New("mesosgot: link stream queue full")

// errMsgTooLarge is returned (wrapped) by link.Send for a message whose data
// exceeds MaxMsgBytes or whose task name exceeds maxStreamName bytes.
var errMsgTooLarge = errors.New("mesosgot: message too large")

// errPeerRestarted is returned (wrapped) by link.Recv when a frame comes from
// a new epoch of the peer: the peer restarted and the session was reset.
var errPeerRestarted = errors.New("mesosgot: link peer restarted")

// ctlStream is the stream an executor reports its own problems on (a task
// message refused, a malformed frame); no task can have this name.
const ctlStream = "\x00mesosgot"

// maxStreamName is the longest stream (task) name a link accepts.
const maxStreamName = 1024

// maxOldEpochs is how many previous peer epochs a link remembers in order to
// ignore their late frames.
const maxOldEpochs = 8

// minFrameBytes is the smallest MaxFrameBytes a link accepts.
const minFrameBytes = 4096

// linkConfig bounds a link's batching, window, credit, memory and timers.
type linkConfig struct {
	// MaxBatchMsgs is the largest number of records in one frame.
	MaxBatchMsgs int
	// MaxFrameBytes bounds the encoded size of one frame (at least 4096).
	MaxFrameBytes int
	// WindowMsgs is the most records (messages, fragments, credit updates)
	// unacknowledged on the link, and the receiver's reorder buffer size.
	WindowMsgs int
	// WindowBytes is the most unacknowledged record bytes on the link.
	WindowBytes int
	// TaskCredit is the most messages of one stream sent but not yet
	// consumed by the receiving application.
	TaskCredit int
	// TaskQueue is the most messages of one stream queued at the sender
	// waiting for window or credit.
	TaskQueue int
	// AckDelayTicks is how long an ack may wait for a frame to ride on
	// before a header-only ack frame is sent; 0 acks at once.
	AckDelayTicks int
	// RTOTicks is the initial retransmission timeout.
	RTOTicks int
	// MaxRTOTicks caps the exponential back-off of the retransmission timeout.
	MaxRTOTicks int
	// MaxMsgBytes is the largest MessageData the link accepts.
	MaxMsgBytes int
	// QueueBytes bounds the data bytes queued at the sender over all streams:
	// once reached, Send refuses every stream (the last message accepted may
	// overshoot it by up to MaxMsgBytes).
	QueueBytes int
	// MaxInflightFrames is the most unacknowledged data frames (frames with
	// records sent for the first time) before the link holds new records
	// that do not fill a frame; see the protocol summary. 0 means no limit
	// (a frame on every Ready that has records); negative means the default.
	MaxInflightFrames int
}

// defaultLinkConfig returns the link configuration used by the scheduler and
// the executor.
func defaultLinkConfig() linkConfig {
	return linkConfig{
		MaxBatchMsgs:  1024,
		MaxFrameBytes: 1<<20 + 16<<10, // a 1 MiB message in one frame (BENCHMARKS.md, bulk rows)
		WindowMsgs:    4096,
		WindowBytes:   8 << 20,
		TaskCredit:    DefTaskChanLen * 2,
		TaskQueue:     DefTaskChanLen,
		AckDelayTicks: 1,
		RTOTicks:      20,
		MaxRTOTicks:   200,
		MaxMsgBytes:   16 << 20,
		QueueBytes:    64 << 20,
		// Two frames in flight keep a lone message's latency at one
		// frame and let a burst's records merge while the first frame
		// is acknowledged.
		MaxInflightFrames: 2,
	}
}

// normalized returns c with fields that are zero or negative replaced by
// their defaults (AckDelayTicks and MaxInflightFrames only when negative)
// and with MaxFrameBytes >= minFrameBytes and MaxRTOTicks >= RTOTicks.
func (c linkConfig) normalized() linkConfig {
	d := defaultLinkConfig()
	fix := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fix(&c.MaxBatchMsgs, d.MaxBatchMsgs)
	fix(&c.MaxFrameBytes, d.MaxFrameBytes)
	fix(&c.WindowMsgs, d.WindowMsgs)
	fix(&c.WindowBytes, d.WindowBytes)
	fix(&c.TaskCredit, d.TaskCredit)
	fix(&c.TaskQueue, d.TaskQueue)
	fix(&c.RTOTicks, d.RTOTicks)
	fix(&c.MaxRTOTicks, d.MaxRTOTicks)
	fix(&c.MaxMsgBytes, d.MaxMsgBytes)
	fix(&c.QueueBytes, d.QueueBytes)
	if c.AckDelayTicks < 0 {
		c.AckDelayTicks = d.AckDelayTicks
	}
	if c.MaxInflightFrames < 0 {
		c.MaxInflightFrames = d.MaxInflightFrames
	}
	c.MaxFrameBytes = max(c.MaxFrameBytes, minFrameBytes)
	c.MaxRTOTicks = max(c.MaxRTOTicks, c.RTOTicks)
	return c
}

// linkStats are a link's counters and high-water marks.
type linkStats struct {
	// FramesSent counts frames returned by Ready, AckFramesSent of them
	// header-only (standalone acks and hellos).
	FramesSent, AckFramesSent uint64
	// FramesRecv counts well-formed frames given to Recv; MalformedFrames
	// those rejected; StaleFrames those ignored for their epochs.
	FramesRecv, MalformedFrames, StaleFrames uint64
	// MsgsSent counts messages accepted by Send; MsgsDelivered messages
	// handed out by Ready.
	MsgsSent, MsgsDelivered uint64
	// RecordsSent counts records put in frames, retransmissions included;
	// Retransmits counts only the retransmissions.
	RecordsSent, Retransmits uint64
	// Timeouts counts retransmission-timer expiries; FastRetransmits the
	// records retransmitted early because later records were SACKed.
	Timeouts, FastRetransmits uint64
	// DupsDropped counts received records already received; OutOfOrder
	// received records buffered for a gap; BeyondWindow records dropped
	// because they were too far ahead (they are retransmitted).
	DupsDropped, OutOfOrder, BeyondWindow uint64
	// CreditViolations counts messages that arrived while the stream already
	// had TaskCredit undelivered-or-unconsumed messages (a peer bug, or the
	// restart race); ProtocolErrors counts records that made no sense
	// (e.g. a fragment with no start) and were dropped.
	CreditViolations, ProtocolErrors uint64
	// PeerRestarts counts detected peer restarts; DroppedOnRestart the
	// messages queued or in flight to the old incarnation that were discarded.
	PeerRestarts, DroppedOnRestart uint64
	// MaxRTOTicks is the largest retransmission timeout reached.
	MaxRTOTicks int
	// MaxQueuedMsgs and MaxQueuedBytes are the high-water marks of messages
	// and data bytes queued at the sender (all streams).
	MaxQueuedMsgs, MaxQueuedBytes int
	// MaxStreamQueued is the high-water mark of one stream's sender queue.
	MaxStreamQueued int
	// MaxInflightMsgs and MaxInflightBytes are the high-water marks of
	// unacknowledged records and their bytes.
	MaxInflightMsgs, MaxInflightBytes int
	// MaxInflightFrames is the high-water mark of unacknowledged data
	// frames (it exceeds the configured limit only by full frames).
	MaxInflightFrames int
	// HeldFlushes counts Ready calls that held records never sent because
	// MaxInflightFrames data frames were unacknowledged.
	HeldFlushes uint64
	// MaxReorderMsgs and MaxReorderBytes are the high-water marks of the
	// receiver's out-of-order buffer.
	MaxReorderMsgs, MaxReorderBytes int
	// MaxReassemblyBytes is the largest fragmented message reassembled.
	MaxReassemblyBytes int
	// MaxUnconsumed is the high-water mark of delivered-but-unconsumed
	// messages of one stream at the receiver.
	MaxUnconsumed int
}

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

// fragState is the sender's progress through a message being fragmented.
type fragState struct {
	// s is the message's stream.
	s *sendStream
	// data is the whole message data.
	data string
	// off is how much of data has been given sequence numbers.
	off int
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

// link is one end of a reliable ordered link; see the protocol summary at
// the top of link.go. It is not safe for concurrent use: the caller owns it
// from one goroutine (or under one mutex).
//
// Caller contract:
//   - Call Ready after every batch of Send/Recv/Consumed/Tick calls and send
//     every frame it returns with SendFrameworkMessage (order does not
//     matter; send errors can be ignored, the link retransmits). Calling
//     Send many times before one Ready batches messages into fewer frames;
//     under load the frame window (MaxInflightFrames) batches as well, so
//     a Ready with work queued may return no frame.
//   - The slices Ready returns are reused by the next Ready: range over
//     them (copying the GoTaskMsg values is fine) before calling it again.
//   - Call Tick at a fixed period (e.g. every 10ms; RTOTicks and
//     AckDelayTicks count these ticks), then Ready.
//   - Hand each delivered message to the application and call Consumed
//     when the application has taken it (e.g. after the channel send to
//     the task's in, or to schedin), keyed by the message's TaskName.
//     Without Consumed a stream stops after TaskCredit messages.
//   - Before Send, check CanSend(stream); when false, stop reading that
//     stream's source and retry after a later Ready.
//   - errPeerRestarted from Recv is not a failure of the frame (it was
//     processed): the peer process restarted, and what was queued or in
//     flight to it was discarded. Report it (the job normally treats it
//     as the executor or scheduler lost).
type link struct {
	// cfg is the normalized configuration.
	cfg linkConfig
	// epoch is this end's session id.
	epoch uint64
	// now is the logical time in ticks.
	now int64
	// stats are the counters returned by Stats.
	stats linkStats

	// nextSeq is the next outgoing sequence number to assign.
	nextSeq uint64
	// base is the lowest unacknowledged outgoing sequence number.
	base uint64
	// unacked holds the records base … nextSeq-1 in order.
	unacked []*outRec
	// inflightBytes sums the sizes of unacked.
	inflightBytes int
	// newQ holds, from index newHead on, the records never sent, in
	// sequence order (they are appended as they get sequence numbers and
	// sent in that order, so every sent record precedes every one here).
	newQ []*outRec
	// newHead is the index of the first record of newQ not sent yet.
	newHead int
	// newBytes sums recordEncodedMax over newQ[newHead:].
	newBytes int
	// retxQ holds records queued for retransmission (each at most once).
	retxQ []*outRec
	// dataFrames holds, in ascending order, the highest sequence number of
	// each unacknowledged data frame (a frame with records sent for the
	// first time): the frame window of MaxInflightFrames.
	dataFrames []uint64
	// slab is the rest of the block newRec takes outRecs from.
	slab []outRec
	// rto is the current retransmission timeout.
	rto int
	// timerOn and deadline are the retransmission timer.
	timerOn bool
	// deadline is the tick at which the retransmission timer expires.
	deadline int64
	// sstreams are the sender's streams by name.
	sstreams map[string]*sendStream
	// active lists the streams with queued messages, in round-robin order.
	active []*sendStream
	// rr is the index in active where the next round-robin scan starts.
	rr int
	// queuedMsgs and queuedBytes total the sender's queues.
	queuedMsgs, queuedBytes int
	// frag is the message being fragmented, if any.
	frag *fragState
	// creditQ lists receive streams whose credit is to be advertised.
	creditQ []*recvStream

	// peerEpoch is the peer's epoch, 0 before its first frame.
	peerEpoch uint64
	// oldPeers are previous peer epochs whose frames are ignored.
	oldPeers []uint64
	// expected is the next incoming sequence number to apply.
	expected uint64
	// ring buffers out-of-order records, slot seq % WindowMsgs.
	ring []frameRecord
	// ringCount and ringBytes measure ring.
	ringCount, ringBytes int
	// ringMax is the highest sequence number in ring.
	ringMax uint64
	// asm reassembles fragmented messages.
	asm assembler
	// rstreams are the receiver's streams by name.
	rstreams map[string]*recvStream
	// deliver holds messages for the next Ready.
	deliver []GoTaskMsg
	// deliverOut is what the last Ready returned as deliver; its array
	// becomes deliver again at the next Ready.
	deliverOut []GoTaskMsg
	// inLen is the length of the payload Recv is processing: delivered
	// data at least a quarter of it is a substring of the payload instead
	// of a copy (see keep).
	inLen int
	// ackOwed means data arrived that no outgoing frame has acknowledged yet.
	ackOwed bool
	// ackDue is the tick from which a header-only ack may be sent.
	ackDue int64
	// helloOwed means a header-only frame must tell the peer our epoch.
	helloOwed bool

	// frames holds encoded frames for the next Ready.
	frames []string
	// framesOut is what the last Ready returned as frames; its array
	// becomes frames again at the next Ready.
	framesOut []string
	// in is the scratch frame Recv decodes into.
	in frame
	// out is the scratch frame Ready encodes from.
	out frame
}

// newLink returns a link with configuration cfg (normalized: see
// linkConfig.normalized) whose session id is epoch, a random number chosen
// anew each time the process starts; 0 is replaced by 1.
func newLink(cfg linkConfig, epoch uint64) *link {
	if epoch == 0 {
		epoch = 1
	}
	cfg = cfg.normalized()
	return &link{
		cfg:      cfg,
		epoch:    epoch,
		nextSeq:  1,
		base:     1,
		rto:      cfg.RTOTicks,
		sstreams: make(map[string]*sendStream),
		rstreams: make(map[string]*recvStream),
	}
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
	s := l.sstreams[m.TaskName]
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

// CanSend reports whether Send would accept a message for stream: its queue
// holds fewer than TaskQueue messages and the link's queued bytes are below
// QueueBytes.
func (l *link) CanSend(stream string) bool {
	if l.queuedBytes >= l.cfg.QueueBytes {
		return false
	}
	s := l.sstreams[stream]
	return s == nil || s.queued() < l.cfg.TaskQueue
}

// Unacked returns the number of messages of stream queued or in flight and
// not yet acknowledged by the peer.
func (l *link) Unacked(stream string) int {
	s := l.sstreams[stream]
	if s == nil {
		return 0
	}
	return s.queued() + s.inflight
}

// Idle reports whether the link has nothing queued, nothing unacknowledged,
// no credit to advertise, no ack owed and nothing waiting for Ready: it is
// safe to stop.
func (l *link) Idle() bool {
	return l.queuedMsgs == 0 && len(l.unacked) == 0 && l.frag == nil &&
		len(l.creditQ) == 0 && !l.ackOwed && !l.helloOwed && len(l.deliver) == 0
}

// Stats returns the link's counters.
func (l *link) Stats() linkStats { return l.stats }

// Tick advances the link's logical time by one tick, firing the
// retransmission timer when due.
func (l *link) Tick() {
	l.now++
	if l.timerOn && l.now >= l.deadline {
		l.onTimeout()
	}
}

// onTimeout queues for retransmission the unacknowledged, un-SACKed records
// sent at least one RTO ago (at least one record), doubles the RTO up to
// MaxRTOTicks and restarts the timer.
func (l *link) onTimeout() {
	l.stats.Timeouts++
	var first *outRec
	queued := false
	for _, r := range l.unacked {
		if r.sacked || r.queued || !r.sent {
			continue
		}
		if first == nil {
			first = r
		}
		if l.now-r.sentAt >= int64(l.rto) {
			r.queued = true
			l.retxQ = append(l.retxQ, r)
			queued = true
		}
	}
	if !queued && first != nil {
		first.queued = true
		l.retxQ = append(l.retxQ, first)
	}
	l.rto = min(l.rto*2, l.cfg.MaxRTOTicks)
	l.stats.MaxRTOTicks = max(l.stats.MaxRTOTicks, l.rto)
	l.deadline = l.now + int64(l.rto)
}

// Consumed reports that the caller handed n delivered messages of stream to
// the application. Credit goes back to the peer once at least a quarter of
// TaskCredit (at least 1) has accumulated. Counts beyond what was delivered
// are ignored.
func (l *link) Consumed(stream string, n int) {
	rs := l.rstreams[stream]
	if rs == nil || n <= 0 {
		return
	}
	rs.consumed = min(rs.consumed+uint64(n), rs.delivered)
	if !rs.creditQueued && rs.consumed-rs.advertised >= l.creditThreshold() {
		rs.creditQueued = true
		l.creditQ = append(l.creditQ, rs)
	}
}

// creditThreshold is the consumed-but-unadvertised count that triggers a
// credit record. It is at most TaskCredit, so a sender blocked on credit is
// always eventually unblocked once its messages are consumed.
func (l *link) creditThreshold() uint64 {
	return uint64(max(1, l.cfg.TaskCredit/4))
}

// Ready returns the frames to send now, each a framework-message payload,
// and the messages to deliver, in order, and forgets them. Call it after
// every batch of Send, Recv, Consumed and Tick calls.
//
// The two slices are reused: they stay valid (other calls, Recv included,
// do not touch them) only until the next Ready, which overwrites them. Use
// or copy their elements before then; the strings themselves are immutable
// and may be kept.
func (l *link) Ready() (frames []string, deliver []GoTaskMsg) {
	l.pump()
	l.flush()
	// The previous call's slices are free again: release what they
	// reference and collect the next call's output in them.
	clear(l.framesOut)
	clear(l.deliverOut)
	frames, l.frames, l.framesOut = l.frames, l.framesOut[:0], l.frames
	deliver, l.deliver, l.deliverOut = l.deliver, l.deliverOut[:0], l.deliver
	l.stats.MsgsDelivered += uint64(len(deliver))
	if len(frames) == 0 {
		frames = nil
	}
	if len(deliver) == 0 {
		deliver = nil
	}
	return frames, deliver
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

// flushAck emits a header-only frame when an ack or a hello is due.
func (l *link) flushAck() {
	if l.helloOwed || (l.ackOwed && l.now >= l.ackDue) {
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
	// Each frame gets its own exactly sized buffer, never written again
	// once encoded, so it can become the string without a copy.
	b := appendFrame(make([]byte, 0, frameLen(&l.out)), &l.out)
	l.frames = append(l.frames, unsafe.String(unsafe.SliceData(b), len(b)))
	clear(l.out.Records)
	l.out.Records = l.out.Records[:0]
	l.stats.FramesSent++
	l.ackOwed = false
	l.helloOwed = false
}

// Recv takes one incoming framework-message payload. Garbage returns an
// error wrapping ErrMalformedMsg and leaves the link unchanged. A frame from
// a new epoch of the peer resets the session (see the protocol summary),
// is then processed, and returns an error wrapping errPeerRestarted. Frames
// from earlier peer epochs are ignored.
func (l *link) Recv(payload string) error {
	f := &l.in
	if err := decodeFrame(payload, f); err != nil {
		l.stats.MalformedFrames++
		return err
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
		l.skipTo(f.Base)
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
	l.creditQ = nil
	l.ackOwed = false
	l.expected = base
}

// skipTo moves the receive side to base: the peer will never send the
// records below it again (they were acknowledged to an earlier session).
func (l *link) skipTo(base uint64) {
	for i := range l.ring {
		if r := &l.ring[i]; r.Kind != 0 && r.Seq < base {
			l.ringCount--
			l.ringBytes -= len(r.Stream) + len(r.Data)
			*r = frameRecord{}
		}
	}
	if l.asm.active {
		l.stats.ProtocolErrors++
		l.asm.reset()
	}
	l.expected = base
	l.drain()
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
	rs := l.rstreams[name]
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

package mesosgot

import (
	"errors"
	"math"
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
	// HeartbeatTicks is how long the link may hear nothing from its peer
	// before it sends a ping (a frame the peer answers at once); pings
	// repeat at that interval while the peer stays silent. 0 sends none.
	HeartbeatTicks int
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
	c.HeartbeatTicks = max(c.HeartbeatTicks, 0)
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
	// AuthFailures counts frames dropped because they were not sealed
	// with the link's key (forged, corrupted, misdirected, or arriving
	// before the key); Replays authentic frames dropped as seen before.
	AuthFailures, Replays uint64
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
	// lastS and lastR are the streams last looked up by name (sstream,
	// findRStream): consecutive messages mostly belong to one stream, and
	// a comparison is cheaper than a map lookup per message.
	lastS *sendStream
	lastR *recvStream
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
	// helloOwed means a header-only frame must tell the peer our epoch
	// (or answer its ping).
	helloOwed bool
	// lastHeard is the tick of the last frame of the peer's current session.
	lastHeard int64
	// lastPing is the tick a ping was last asked for; pingOwed means the
	// next frame carries frameFlagPing.
	lastPing int64
	pingOwed bool

	// frames holds encoded frames for the next Ready.
	frames []string
	// framesOut is what the last Ready returned as frames; its array
	// becomes frames again at the next Ready.
	framesOut []string
	// in is the scratch frame Recv decodes into.
	in frame
	// out is the scratch frame Ready encodes from.
	out frame
	// auth seals outgoing and opens incoming frames; nil sends and takes
	// frames in clear (tests of the protocol alone).
	auth *linkAuth
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

// CanSend reports whether Send would accept a message for stream: its queue
// holds fewer than TaskQueue messages and the link's queued bytes are below
// QueueBytes.
func (l *link) CanSend(stream string) bool {
	if l.queuedBytes >= l.cfg.QueueBytes {
		return false
	}
	s := l.sstream(stream)
	return s == nil || s.queued() < l.cfg.TaskQueue
}

// sstream is l.sstreams[name], through the one-entry cache lastS.
func (l *link) sstream(name string) *sendStream {
	if s := l.lastS; s != nil && s.name == name {
		return s
	}
	s := l.sstreams[name]
	if s != nil {
		l.lastS = s
	}
	return s
}

// findRStream is l.rstreams[name], through the one-entry cache lastR.
func (l *link) findRStream(name string) *recvStream {
	if rs := l.lastR; rs != nil && rs.name == name {
		return rs
	}
	rs := l.rstreams[name]
	if rs != nil {
		l.lastR = rs
	}
	return rs
}

// Unacked returns the number of messages of stream queued or in flight and
// not yet acknowledged by the peer.
func (l *link) Unacked(stream string) int {
	s := l.sstream(stream)
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

// Silent returns how many ticks have passed since the last frame of the
// peer's current session arrived (since the link was made, if none has).
func (l *link) Silent() int64 { return l.now - l.lastHeard }

// IdleTicks returns how many ticks may pass before Tick has anything to
// do, or 0 if the link is not Idle (its timers need every tick). An idle
// link's only due event is the heartbeat ping; without heartbeats it
// returns math.MaxInt64.
func (l *link) IdleTicks() int64 {
	if !l.Idle() || l.pingOwed {
		return 0
	}
	hb := int64(l.cfg.HeartbeatTicks)
	if hb <= 0 {
		return math.MaxInt64
	}
	return max(max(l.lastHeard, l.lastPing)+hb-l.now, 0)
}

// Advance is n (≥ 1) Ticks at once, for a caller that slept through an
// idle stretch (IdleTicks).
func (l *link) Advance(n int64) {
	if n > 1 {
		l.now += n - 1
	}
	l.Tick()
}

// Stats returns the link's counters.
func (l *link) Stats() linkStats { return l.stats }

// Tick advances the link's logical time by one tick, firing the
// retransmission timer when due and asking for a ping when the peer has
// been silent for HeartbeatTicks.
func (l *link) Tick() {
	l.now++
	if hb := int64(l.cfg.HeartbeatTicks); hb > 0 && l.now-l.lastHeard >= hb && l.now-l.lastPing >= hb {
		l.pingOwed, l.lastPing = true, l.now
	}
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
	rs := l.findRStream(stream)
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
	if l.auth == nil || l.auth.key != nil { // without its key a link holds its frames
		l.pump()
		l.flush()
	}
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

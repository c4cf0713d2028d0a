package mesosgot

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// Sealed link frames: every frame a link sends is authenticated, and by
// default encrypted, with AES-256-GCM under a key derived from the job's
// link key (made by the scheduler, carried to executors in TaskInfo.Data).
//
// Layout of a sealed frame:
//
//	byte     frameVersionSealed
//	byte     mode: sealAuth (the frame travels in clear, followed by the tag)
//	         or sealEncrypt (the frame is encrypted)
//	8 bytes  source epoch, little endian (the sender's session id)
//	8 bytes  counter, little endian: 1 for the sender's first frame of the
//	         epoch, one more for each frame after it
//	...      the frame (envelope.go's layout), in clear or encrypted
//	16 bytes GCM tag over everything before it
//
// The AEAD key of a frame is HKDF-SHA256(job key, info = direction, link
// identity (the executor ID), source epoch): a frame is bound to its
// direction (it cannot be reflected back to its sender), to its link (it
// cannot be moved to another executor's) and to its sender's session. As
// each key serves one sender session, the counter is a unique nonce. The
// receiver keeps a replay window per peer session: a frame whose counter it
// has seen, or that is too old to tell, is dropped.

// frameVersionSealed is the first byte of a sealed frame.
const frameVersionSealed byte = 3

// Seal modes.
const (
	// sealAuth: the frame is authenticated, not encrypted.
	sealAuth byte = 1
	// sealEncrypt: the frame is authenticated and encrypted.
	sealEncrypt byte = 2
)

// Link directions, part of the key derivation.
const (
	// dirToExecutor is the direction scheduler to executor.
	dirToExecutor byte = 'x'
	// dirToScheduler is the direction executor to scheduler.
	dirToScheduler byte = 's'
)

// linkKeySize is the size of a job's link key.
const linkKeySize = 32

// sealedHeaderLen is the length of a sealed frame's clear header.
const sealedHeaderLen = 1 + 1 + 8 + 8

// sealTagLen is the length of the GCM tag.
const sealTagLen = 16

// sealOverhead is what sealing adds to a frame.
const sealOverhead = sealedHeaderLen + sealTagLen

// replayWindowBits is how many counters below the highest seen a receiver
// can still tell apart (frames reordered by more are dropped).
const replayWindowBits = 1024

// maxPeerKeys bounds the peer sessions whose keys a link keeps.
const maxPeerKeys = maxOldEpochs + 1

// errFrameAuth is returned (wrapped) by link.Recv for a frame that is not
// sealed with the link's key: forged, corrupted, for another link or
// direction, or cleartext where sealing is required.
var errFrameAuth = errors.New("mesosgot: link frame failed authentication")

// errFrameReplay is returned (wrapped) by link.Recv for an authentic frame
// received before (or too old to tell).
var errFrameReplay = errors.New("mesosgot: link frame replayed")

// errNoLinkKey is returned (wrapped) by link.Recv while the link waits for
// its key (an executor before its first task).
var errNoLinkKey = errors.New("mesosgot: link has no key yet")

// replayWindow remembers which counters of one peer session were seen.
type replayWindow struct {
	// max is the highest counter accepted (0: none yet).
	max uint64
	// seen has bit c%replayWindowBits set for each accepted counter c in
	// (max-replayWindowBits, max].
	seen [replayWindowBits / 64]uint64
}

// fresh reports whether counter c was not seen and is recent enough to tell.
func (w *replayWindow) fresh(c uint64) bool {
	if c == 0 {
		return false
	}
	if c > w.max {
		return true
	}
	if w.max-c >= replayWindowBits {
		return false
	}
	i := c % replayWindowBits
	return w.seen[i/64]&(1<<(i%64)) == 0
}

// mark records counter c, which fresh accepted.
func (w *replayWindow) mark(c uint64) {
	if c > w.max {
		if c-w.max >= replayWindowBits {
			clear(w.seen[:])
		} else {
			for x := w.max + 1; x < c; x++ {
				i := x % replayWindowBits
				w.seen[i/64] &^= 1 << (i % 64)
			}
		}
		w.max = c
	}
	i := c % replayWindowBits
	w.seen[i/64] |= 1 << (i % 64)
}

// peerKey is the opening key and replay window of one peer session.
type peerKey struct {
	// epoch is the peer session.
	epoch uint64
	// aead opens its frames.
	aead cipher.AEAD
	// replay is its replay window.
	replay replayWindow
}

// linkAuth seals a link's outgoing frames and opens its incoming ones. It
// belongs to one link (see link.auth).
type linkAuth struct {
	// key is the job's link key; nil while the key is not known yet.
	key []byte
	// id is the link's identity (the executor ID).
	id string
	// sendDir and recvDir are the directions of outgoing and incoming frames.
	sendDir, recvDir byte
	// mode is the seal mode of outgoing frames, required of incoming ones.
	mode byte
	// send seals outgoing frames; sendEpoch is the epoch it was made for.
	send      cipher.AEAD
	sendEpoch uint64
	// sendCtr is the counter of the last frame sealed.
	sendCtr uint64
	// peers are the recent peer sessions, newest last.
	peers []*peerKey
	// pooled are the buffers of sealed frames taken from the buffer pool,
	// by their first byte, until framePool hands them to the messenger;
	// pooledSeq numbers them in sealing order.
	pooled    map[*byte]pooledFrame
	pooledSeq uint64
}

// pooledFrame is the buffer of a sealed frame and its sealing order.
type pooledFrame struct {
	buf []byte
	seq uint64
}

// maxPooledFrames bounds the sealed frames in pooled buffers that wait for
// framePool: past it (frames going out some other way), seal allocates.
const maxPooledFrames = 32

// frameBuffer returns the buffer to seal a frame of n bytes into: from the
// buffer pool when it is large, remembered until framePool.
func (a *linkAuth) frameBuffer(n int) []byte {
	if n < libprocess.MinPooled || len(a.pooled) >= maxPooledFrames {
		return make([]byte, 0, n)
	}
	buf, pooled := libprocess.GetBuffer(n)
	if !pooled {
		return buf[:0]
	}
	if a.pooled == nil {
		a.pooled = map[*byte]pooledFrame{}
	}
	a.pooledSeq++
	a.pooled[&buf[0]] = pooledFrame{buf: buf, seq: a.pooledSeq}
	return buf[:0]
}

// framePool returns what gives the buffer of sealed frame f back to the
// pool once nothing refers to f any more (the messenger wrote it), nil if
// f is not in a pooled buffer. The link's owner calls it for every frame
// it sends, in order; frames sealed before f and never sent are forgotten
// (left to the garbage collector), as is a frame whose release is never
// called.
func (a *linkAuth) framePool(f string) func() {
	if a == nil || len(f) == 0 || len(a.pooled) == 0 {
		return nil
	}
	pf, ok := a.pooled[unsafe.StringData(f)]
	if !ok {
		return nil
	}
	for k, o := range a.pooled {
		if o.seq <= pf.seq {
			delete(a.pooled, k)
		}
	}
	return func() { libprocess.PutBuffer(pf.buf) }
}

// newLinkAuth returns the sealing state of one end of a link, without its
// key: toExec is true at the scheduler (it sends to the executor). Until
// setKey, the link refuses every frame and sends none.
func newLinkAuth(toExec bool) *linkAuth {
	a := &linkAuth{sendDir: dirToScheduler, recvDir: dirToExecutor, mode: sealAuth}
	if toExec {
		a.sendDir, a.recvDir = dirToExecutor, dirToScheduler
	}
	return a
}

// deriveAEAD returns the AEAD for frames of direction dir sent by session
// epoch on link id.
func deriveAEAD(key []byte, dir byte, id string, epoch uint64) (cipher.AEAD, error) {
	info := make([]byte, 0, 32+len(id))
	info = append(info, "mesosgot link v1\x00"...)
	info = append(info, dir, 0)
	info = binary.AppendUvarint(info, uint64(len(id)))
	info = append(info, id...)
	info = binary.LittleEndian.AppendUint64(info, epoch)
	k, err := hkdf.Key(sha256.New, key, nil, string(info), 32)
	if err != nil {
		return nil, fmt.Errorf("mesosgot: deriving a link key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("mesosgot: link cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// nonce returns the GCM nonce of counter c.
func nonce(c uint64) [12]byte {
	var n [12]byte
	binary.LittleEndian.PutUint64(n[:8], c)
	return n
}

// seal returns the sealed encoding of f, sent by session epoch. It needs
// the key (a link sends nothing before, see link.Ready); setKey checked it.
func (a *linkAuth) seal(f *frame, epoch uint64) []byte {
	if a.send == nil || a.sendEpoch != epoch {
		aead, err := deriveAEAD(a.key, a.sendDir, a.id, epoch)
		if err != nil {
			panic(err) // unreachable: setKey checked the key's size
		}
		a.send, a.sendEpoch, a.sendCtr = aead, epoch, 0
	}
	a.sendCtr++
	n := frameLen(f)
	buf := a.frameBuffer(sealedHeaderLen + n + sealTagLen)[:sealedHeaderLen]
	buf[0], buf[1] = frameVersionSealed, a.mode
	binary.LittleEndian.PutUint64(buf[2:10], epoch)
	binary.LittleEndian.PutUint64(buf[10:18], a.sendCtr)
	buf = appendFrame(buf, f)
	nc := nonce(a.sendCtr)
	if a.mode == sealEncrypt {
		// In place: the ciphertext overwrites the frame.
		return a.send.Seal(buf[:sealedHeaderLen], nc[:], buf[sealedHeaderLen:], buf[:sealedHeaderLen])
	}
	return a.send.Seal(buf, nc[:], nil, buf)
}

// open checks the sealed payload and returns the frame inside it (a
// substring of payload, or a new string when encrypted) and the sender's
// epoch. It changes nothing unless the frame is authentic and fresh.
func (a *linkAuth) open(payload string) (string, uint64, error) { return a.openPayload(payload, false) }

// openPayload is open; with inPlace, for a payload whose bytes nothing else
// reads, now or later (the body of the request it came in, see
// link.RecvOwned), an encrypted frame is decrypted in place and the frame
// returned is a substring of payload. The payload's bytes are then
// overwritten, also when the frame is refused.
func (a *linkAuth) openPayload(payload string, inPlace bool) (string, uint64, error) {
	if a.key == nil {
		return "", 0, fmt.Errorf("%w: frame of %d bytes dropped", errNoLinkKey, len(payload))
	}
	if len(payload) < sealOverhead || payload[0] != frameVersionSealed {
		return "", 0, fmt.Errorf("%w: not a sealed frame (%d bytes)", errFrameAuth, len(payload))
	}
	if payload[1] != a.mode {
		return "", 0, fmt.Errorf("%w: seal mode %d, want %d", errFrameAuth, payload[1], a.mode)
	}
	b := unsafe.Slice(unsafe.StringData(payload), len(payload)) // only read
	epoch := binary.LittleEndian.Uint64(b[2:10])
	ctr := binary.LittleEndian.Uint64(b[10:18])
	pk := a.peer(epoch)
	if pk == nil {
		aead, err := deriveAEAD(a.key, a.recvDir, a.id, epoch)
		if err != nil {
			return "", 0, fmt.Errorf("%w: %w", errFrameAuth, err)
		}
		pk = &peerKey{epoch: epoch, aead: aead}
	}
	nc := nonce(ctr)
	var inner string
	if a.mode == sealEncrypt {
		ct := b[sealedHeaderLen:]
		var dst []byte
		if inPlace {
			dst = ct[:0]
		} else {
			dst = make([]byte, 0, len(ct)-sealTagLen)
		}
		out, err := pk.aead.Open(dst, nc[:], ct, b[:sealedHeaderLen])
		if err != nil {
			return "", 0, fmt.Errorf("%w: epoch %#x counter %d", errFrameAuth, epoch, ctr)
		}
		// out is never written again: the frame's strings may alias it.
		inner = unsafe.String(unsafe.SliceData(out), len(out))
	} else {
		n := len(b) - sealTagLen
		if _, err := pk.aead.Open(nil, nc[:], b[n:], b[:n]); err != nil {
			return "", 0, fmt.Errorf("%w: epoch %#x counter %d", errFrameAuth, epoch, ctr)
		}
		inner = payload[sealedHeaderLen:n]
	}
	if !pk.replay.fresh(ctr) {
		return "", 0, fmt.Errorf("%w: epoch %#x counter %d", errFrameReplay, epoch, ctr)
	}
	pk.replay.mark(ctr)
	a.keep(pk)
	return inner, epoch, nil
}

// peer returns the kept key of peer session epoch, or nil.
func (a *linkAuth) peer(epoch uint64) *peerKey {
	for _, p := range a.peers {
		if p.epoch == epoch {
			return p
		}
	}
	return nil
}

// keep remembers pk (which opened an authentic frame), dropping the oldest
// session beyond maxPeerKeys.
func (a *linkAuth) keep(pk *peerKey) {
	if a.peer(pk.epoch) != nil {
		return
	}
	if len(a.peers) >= maxPeerKeys {
		a.peers = append(a.peers[:0], a.peers[1:]...)
	}
	a.peers = append(a.peers, pk)
}

// setKey gives the link its key, identity (the executor ID) and mode:
// encrypt, or only authenticate.
func (a *linkAuth) setKey(key []byte, id string, encrypt bool) error {
	if len(key) != linkKeySize {
		return fmt.Errorf("mesosgot: link key of %d bytes, want %d", len(key), linkKeySize)
	}
	a.key, a.id = append([]byte(nil), key...), id
	a.mode = sealAuth
	if encrypt {
		a.mode = sealEncrypt
	}
	a.send, a.peers = nil, nil
	return nil
}

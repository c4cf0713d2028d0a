package libprocess

import (
	"sync"
	"sync/atomic"
)

// A Body is a received request body in a pooled buffer: a relay that
// writes a message's data on from where it lies (FrameworkParts) hands the
// buffer back once the last write of it is done, so that relaying a large
// message allocates nothing (a fresh buffer costs zeroing it, and in a Go
// process whose live heap is small, one garbage collection every few
// megabytes relayed).
//
// A Body is shared by reference counting: the receiving process holds one
// reference while the message's handler runs, and every Outgoing message
// written from it one more until it is written (or dropped). A reference
// is never released twice; a buffer whose last reference is never released
// is left to the garbage collector.
type Body struct {
	buf    []byte
	refs   atomic.Int32
	pooled bool // buf belongs to a pool class
}

// newBody returns a Body of n bytes (one reference), in a pooled buffer
// when n is large enough to be worth it.
func newBody(n int) *Body {
	b := &Body{}
	b.refs.Store(1)
	b.buf, b.pooled = GetBuffer(n)
	return b
}

// Bytes returns the body.
func (b *Body) Bytes() []byte { return b.buf }

// ref takes one more reference.
func (b *Body) ref() *Body {
	b.refs.Add(1)
	return b
}

// unref releases one reference; the last one returns the buffer to its
// pool.
func (b *Body) unref() {
	if b.refs.Add(-1) != 0 {
		return
	}
	if b.pooled {
		PutBuffer(b.buf)
	}
	b.buf = nil
}

const (
	// MinPooled is the smallest buffer GetBuffer takes from a pool.
	MinPooled = 64 << 10
	// poolStep is the granularity of the pools' buffer sizes.
	poolStep = 64 << 10
	// maxPooled is the largest pooled buffer (above MaxMessageBytes and a
	// sealed frame of it).
	maxPooled = 18 << 20
)

// bufPools hold free buffers by capacity, in steps of poolStep.
var bufPools [maxPooled/poolStep + 1]sync.Pool

// GetBuffer returns a buffer of n bytes, from a pool (its contents are
// then those of an earlier use, not zeros) when n is at least MinPooled,
// and whether it is pooled (to be given back with PutBuffer once nothing
// refers to it).
func GetBuffer(n int) ([]byte, bool) {
	if n < MinPooled || n > maxPooled {
		return make([]byte, n), false
	}
	c := (n + poolStep - 1) / poolStep
	if p, _ := bufPools[c].Get().(*[]byte); p != nil {
		return (*p)[:n], true
	}
	return make([]byte, n, c*poolStep), true
}

// PutBuffer gives back a buffer GetBuffer returned as pooled; nothing may
// refer to it afterwards.
func PutBuffer(b []byte) {
	c := cap(b) / poolStep
	if cap(b) < MinPooled || cap(b) > maxPooled || cap(b)%poolStep != 0 {
		return
	}
	b = b[:0]
	bufPools[c].Put(&b)
}

package libprocess

import (
	"math/bits"
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

const (
	// minPooledBody is the smallest body read into a pooled buffer.
	minPooledBody = 64 << 10
	// maxPooledClass is the largest buffer class (2^25 = 32 MiB, above
	// MaxMessageBytes).
	maxPooledClass = 25
)

// bodyPools are the buffers of each power-of-two class.
var bodyPools [maxPooledClass + 1]sync.Pool

// newBody returns a Body of n bytes (one reference), from the pool when n
// is large enough to be worth it.
func newBody(n int) *Body {
	b := &Body{}
	b.refs.Store(1)
	c := bits.Len(uint(n - 1))
	if n < minPooledBody || c > maxPooledClass {
		b.buf = make([]byte, n)
		return b
	}
	b.pooled = true
	if p, _ := bodyPools[c].Get().(*[]byte); p != nil {
		b.buf = (*p)[:n]
		return b
	}
	b.buf = make([]byte, n, 1<<c)
	b.pooled = true
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
	if !b.pooled {
		return
	}
	c := bits.Len(uint(cap(b.buf) - 1))
	buf := b.buf[:0]
	b.buf = nil
	bodyPools[c].Put(&buf)
}

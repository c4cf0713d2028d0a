package mesosgot

// fifo is a first-in first-out queue over one slice that is reused as it
// drains, so that a queue which keeps filling and emptying stops allocating.
type fifo[T any] struct {
	buf  []T
	head int
}

// push appends v.
func (q *fifo[T]) push(v T) {
	if q.head > 0 && q.head >= len(q.buf)/2 {
		// more than half the slice is consumed: move the rest down
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, v)
}

// len returns the number of queued values.
func (q *fifo[T]) len() int { return len(q.buf) - q.head }

// front returns the oldest value; the queue must not be empty.
func (q *fifo[T]) front() *T { return &q.buf[q.head] }

// pop removes and returns the oldest value; the queue must not be empty.
func (q *fifo[T]) pop() T {
	v := q.buf[q.head]
	var zero T
	q.buf[q.head] = zero
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	return v
}

// reset drops every value.
func (q *fifo[T]) reset() {
	clear(q.buf)
	q.buf, q.head = q.buf[:0], 0
}

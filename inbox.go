package mesosgot

import "sync"

// inbox is an unbounded queue from driver callbacks (which must never block)
// to the goroutine that owns the state. Pushes never block; notify has
// capacity one and is signalled after every push.
type inbox[T any] struct {
	mu     sync.Mutex
	items  []T
	notify chan struct{}
}

func newInbox[T any]() *inbox[T] {
	return &inbox[T]{notify: make(chan struct{}, 1)}
}

// push appends v and wakes the owner.
func (q *inbox[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// drain takes every queued item, oldest first.
func (q *inbox[T]) drain() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

package mesostest

import "sync"

// serialQueue runs queued functions one at a time, in order, on one
// goroutine. push never blocks; stop discards what is queued and ends the
// goroutine after the function in progress (if any) returns.
type serialQueue struct {
	mu      sync.Mutex
	items   []func()
	stopped bool
	wake    chan struct{}
}

func newSerialQueue(wg *sync.WaitGroup) *serialQueue {
	q := &serialQueue{wake: make(chan struct{}, 1)}
	wg.Add(1)
	go func() {
		defer wg.Done()
		q.loop()
	}()
	return q
}

func (q *serialQueue) loop() {
	for {
		q.mu.Lock()
		if q.stopped {
			q.mu.Unlock()
			return
		}
		if len(q.items) == 0 {
			q.mu.Unlock()
			<-q.wake
			continue
		}
		f := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		q.mu.Unlock()
		f()
	}
}

// push queues f; it reports false when the queue is stopped.
func (q *serialQueue) push(f func()) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, f)
	q.mu.Unlock()
	q.signal()
	return true
}

func (q *serialQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.items = nil
	q.mu.Unlock()
	q.signal()
}

func (q *serialQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

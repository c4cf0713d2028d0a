package mesosgot

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// execTask is one task on an executor. Three goroutines serve it: the
// runner (the app's task function), the out pump (task -> executor
// goroutine, bounded by outSlots) and the in forwarder (mailbox -> in).
// Fields below "owned" belong to the executor goroutine.
type execTask struct {
	name, base string
	in         chan GoTaskMsg
	out        chan GoTaskMsg
	mailbox    *mailbox
	outSlots   outSlots         // messages between the pump and the link (exectask_slots.go)
	spare      chan []GoTaskMsg // a batch slice the executor goroutine is done with
	ended      chan struct{}    // closed when the task function has returned
	statusDone chan struct{}    // closed when the final status was sent

	// owned by the executor goroutine
	killAsk    bool
	returned   bool
	outDrained bool
	statusSent bool
	returnedAt time.Time
	finalState mesos.TaskState
	finalMsg   string
	outPending []GoTaskMsg
}

func newExecTask(name, base string, queue int) *execTask {
	t := &execTask{
		name:       name,
		base:       base,
		in:         make(chan GoTaskMsg, DefTaskChanLen),
		out:        make(chan GoTaskMsg, DefTaskChanLen),
		mailbox:    nil,
		outSlots:   newOutSlots(max(queue, 1)),
		spare:      make(chan []GoTaskMsg, 1),
		ended:      make(chan struct{}),
		statusDone: make(chan struct{}),
	}
	t.mailbox = newMailbox(t.in)
	return t
}

// start runs the task function and its two helpers.
func (t *execTask) start(exec *GoTaskExecutor, args []string, env map[string]string) {
	go t.forward(exec)
	go t.pump(exec)
	go func() {
		state, msg := t.run(exec.app, args, env)
		close(t.ended)
		exec.inbox.push(func() { exec.taskReturned(t, state, msg) })
	}()
}

// run calls the app task and turns its end into a Mesos state: nil is
// FINISHED (KILLED when the kill was asked for), an error or a panic FAILED.
func (t *execTask) run(app AppTaskExecutor, args []string, env map[string]string) (state mesos.TaskState, msg string) {
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			log.Errorf("mesosgot: task %s panicked: %v\n%s", t.name, r, stack)
			state, msg = mesos.TaskState_TASK_FAILED, fmt.Sprintf("panic: %v\n%s", r, panicStackHead(stack, panicStackFrames))
		}
	}()
	var err error
	if ar, ok := app.(AppTaskArgsRunner); ok {
		err = ar.RunTaskWithArgs(t.base, t.in, t.out, args, env)
	} else {
		err = app.RunTask(t.base, t.in, t.out)
	}
	if err != nil {
		log.Errorf("mesosgot: task %s failed: %v", t.name, err)
		return mesos.TaskState_TASK_FAILED, err.Error()
	}
	if t.mailbox.wasClosedByKill() {
		return mesos.TaskState_TASK_KILLED, ""
	}
	return mesos.TaskState_TASK_FINISHED, ""
}

// pump carries the task's out messages to the executor goroutine, one slot
// each: when the link has no room for the task's stream the slots run out
// and the task blocks on out (back-pressure on that task alone). Messages
// already waiting in out go over together. After the task returns it takes
// what is left in out, then reports itself drained.
func (t *execTask) pump(exec *GoTaskExecutor) {
	// more adds to batch what out holds now, while slots are free.
	more := func(batch []GoTaskMsg) []GoTaskMsg {
		for len(batch) < t.outSlots.capacity && t.outSlots.free() {
			select {
			case m := <-t.out:
				t.outSlots.take()
				batch = append(batch, m)
			default:
				return batch
			}
		}
		return batch
	}
	// send hands m and what follows it to the executor goroutine.
	send := func(m GoTaskMsg) bool {
		if !t.outSlots.wait(exec.stop) {
			return false
		}
		t.outSlots.take()
		var batch []GoTaskMsg
		select {
		case batch = <-t.spare:
		default:
		}
		batch = more(append(batch, m))
		exec.inbox.push(func() {
			exec.taskOut(t, batch)
			clear(batch)
			select {
			case t.spare <- batch[:0]: // the pump may reuse it
			default:
			}
		})
		return true
	}
	for {
		select {
		case m := <-t.out:
			if !send(m) {
				return
			}
		case <-t.ended:
			for {
				select {
				case m := <-t.out:
					if !send(m) {
						return
					}
					continue
				default:
				}
				break
			}
			exec.inbox.push(func() { t.outDrained = true })
			return
		case <-exec.stop:
			return
		}
	}
}

// releaseOut frees one out slot (the link took a message, or refused it).
func (t *execTask) releaseOut() {
	t.outSlots.release()
}

// forward moves delivered messages from the mailbox into in, returning
// credit to the link for each, and closes in once the mailbox is closed
// and empty. If the task has returned, the rest is dropped (and credited).
func (t *execTask) forward(exec *GoTaskExecutor) {
	defer t.mailbox.shut()
	for {
		items, closed := t.mailbox.take(t.ended, exec.stop)
		sent := 0
		for _, m := range items {
			select {
			case t.in <- m:
				sent++
				continue
			case <-t.ended:
			case <-exec.stop:
			}
			break
		}
		t.mailbox.idle()
		if n := len(items); n > 0 {
			name := t.name
			exec.inbox.push(func() { exec.link.Consumed(name, n) })
			if sent < n {
				log.Warningf("mesosgot: task %s ended with %d messages undelivered", t.name, n-sent)
			}
		}
		if closed || sent < len(items) {
			return
		}
		select {
		case <-t.ended:
			if t.mailbox.empty() {
				return
			}
		case <-exec.stop:
			return
		default:
		}
	}
}

// mailbox holds a task's delivered messages until they are in the task's
// in channel. Its size is bounded by the link's per-stream credit. The
// executor goroutine puts; the task's forwarder takes. While the mailbox is
// empty and the forwarder idle, put hands a message straight to in when in
// has room (one goroutine hand-off less); the order is kept because both
// paths go through the mailbox's lock.
type mailbox struct {
	mu     sync.Mutex
	in     chan GoTaskMsg
	items  []GoTaskMsg
	busy   bool // the forwarder holds taken items not yet in in
	closed bool // no more puts: the forwarder delivers the rest, then closes in
	killed bool // closed by a kill (or the job's end), not by the task returning
	isShut bool // in is closed
	notify chan struct{}
}

func newMailbox(in chan GoTaskMsg) *mailbox {
	return &mailbox{in: in, notify: make(chan struct{}, 1)}
}

// put adds m. direct reports that m went straight into in (the task has
// it); ok is false when the mailbox is closed and m was dropped.
func (b *mailbox) put(m GoTaskMsg) (direct, ok bool) {
	b.mu.Lock()
	if b.closed || b.isShut {
		b.mu.Unlock()
		return false, false
	}
	if len(b.items) == 0 && !b.busy {
		select {
		case b.in <- m:
			b.mu.Unlock()
			return true, true
		default:
		}
	}
	b.items = append(b.items, m)
	b.mu.Unlock()
	b.wake()
	return false, true
}

// close marks the mailbox closed: the forwarder delivers what it holds,
// then closes in.
func (b *mailbox) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed, b.killed = true, true
	}
	b.mu.Unlock()
	b.wake()
}

// shut closes in (once), under the lock put sends under.
func (b *mailbox) shut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.isShut {
		b.isShut, b.closed = true, true
		close(b.in)
	}
}

// wasClosedByKill reports whether close was called.
func (b *mailbox) wasClosedByKill() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.killed
}

func (b *mailbox) empty() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items) == 0
}

func (b *mailbox) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take waits for messages (or closing, or one of the stop channels) and
// returns what is there and whether the mailbox is closed and now empty.
// The forwarder is busy with what take returned until it calls idle.
func (b *mailbox) take(stops ...<-chan struct{}) ([]GoTaskMsg, bool) {
	for {
		b.mu.Lock()
		items, closed := b.items, b.closed
		b.items = nil
		b.busy = len(items) > 0
		b.mu.Unlock()
		if len(items) > 0 || closed {
			return items, closed && len(items) == 0
		}
		select {
		case <-b.notify:
		case <-stops[0]:
			return nil, true
		case <-stops[1]:
			return nil, true
		}
	}
}

// idle ends the forwarder's hold of the items take returned.
func (b *mailbox) idle() {
	b.mu.Lock()
	b.busy = false
	b.mu.Unlock()
}

// splitTaskName splits "<name>-<index>" into the registered name and the index.
func splitTaskName(task string) (base, index string) {
	i := strings.LastIndexByte(task, '-')
	if i <= 0 {
		return task, ""
	}
	if _, err := strconv.Atoi(task[i+1:]); err != nil {
		return task, ""
	}
	return task[:i], task[i+1:]
}

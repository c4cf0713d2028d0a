package mesosgot

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// haWindow is how many pings each task of the failover tests may have
// unanswered: enough to keep the links busy, few enough that a failover
// finds many messages in flight rather than everything queued.
const haWindow = 256

// haHold is a point of the exchange where the test injects a fault, as
// fractions of all echoes: at Signal the exchange closes its reached
// channel; from Stall on it sends no more pings until the test closes
// resume (so that a fault lands mid-exchange however slow the machine).
type haHold struct{ Signal, Stall float64 }

// haFailover is what the exchange saw of one master failover.
type haFailover struct {
	kill              time.Time // the test killed the leading master
	elected           time.Time // the new leader said so (from its log; set by the test)
	disconnected      time.Time // the app got Disconnected
	reregistered      time.Time // the app got Reregistered
	afterKill         time.Time // first echo of a ping sent after the kill
	afterRereg        time.Time // first echo of a ping sent after Reregistered
	inFlight          int       // pings unanswered at the kill
	echoesAtKill      int
	echoesBeforeRereg int           // echoes between the kill and Reregistered
	pause             time.Duration // longest pause between echoes after the kill (until the next kill; waits at holds excluded)
	pauseEnd          time.Time
	killMark          []int // pings sent per task at the kill
	reregMark         []int // pings sent per task at Reregistered
}

// haExchange is a windowed ping-pong: each task gets n numbered pings, at
// most window of them unanswered, and every echo must be the next number
// of its task (once, in order). It runs as the job's app scheduler.
type haExchange struct {
	tasks  []string
	index  map[string]int
	n      int
	window int
	holds  []haHold
	evs    *events

	reached      []chan struct{} // closed when hold i's Signal is reached
	resume       []chan struct{} // closed by the test when hold i's fault is done
	reregistered []chan struct{} // closed at the i-th Reregistered
	quit         chan struct{}   // closed by stop
	quitOnce     sync.Once

	mu           sync.Mutex
	sent, recvd  []int
	echoes       int
	failovers    []haFailover
	killed       int // failovers marked so far
	disconnects  int
	reregs       int
	lastEcho     time.Time
	pause        time.Duration // longest pause between echoes of the whole exchange
	pauseEnd     time.Time
	problem      error
	exchangeDone bool
}

// newHAExchange returns an exchange of n messages per task expecting
// failovers master failovers, with the given holds.
func newHAExchange(tasks []string, n, window, failovers int, holds []haHold) *haExchange {
	x := &haExchange{
		tasks: tasks, index: map[string]int{}, n: n, window: window, holds: holds, evs: &events{},
		quit: make(chan struct{}), sent: make([]int, len(tasks)), recvd: make([]int, len(tasks)),
		failovers: make([]haFailover, failovers),
	}
	for i, name := range tasks {
		x.index[name] = i
	}
	for range holds {
		x.reached = append(x.reached, make(chan struct{}))
		x.resume = append(x.resume, make(chan struct{}))
	}
	for range failovers {
		x.reregistered = append(x.reregistered, make(chan struct{}))
	}
	return x
}

// stop aborts the exchange (the test is over).
func (x *haExchange) stop() { x.quitOnce.Do(func() { close(x.quit) }) }

// err is the first problem the exchange found, or nil.
func (x *haExchange) err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.problem == nil && !x.exchangeDone {
		return fmt.Errorf("exchange not done: %d of %d echoes", x.echoes, x.n*len(x.tasks))
	}
	return x.problem
}

func (x *haExchange) fail(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.problem == nil {
		x.problem = err
	}
}

// progress describes how far the exchange got.
func (x *haExchange) progress() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	sent := 0
	for _, s := range x.sent {
		sent += s
	}
	return fmt.Sprintf("%d pings sent, %d of %d echoes, problem %v", sent, x.echoes, x.n*len(x.tasks), x.problem)
}

// failover returns a copy of failover i's figures.
func (x *haExchange) failover(i int) haFailover {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.failovers[i]
}

// longestPause is the longest pause between two echoes and when it ended.
func (x *haExchange) longestPause() (time.Duration, time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.pause, x.pauseEnd
}

// markKill notes that failover f's master is being killed now.
func (x *haExchange) markKill(f int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	fo := &x.failovers[f]
	fo.kill = time.Now()
	fo.killMark = append([]int(nil), x.sent...)
	fo.echoesAtKill = x.echoes
	for _, s := range x.sent {
		fo.inFlight += s
	}
	fo.inFlight -= x.echoes
	x.killed = f + 1
}

// run is the app scheduler.
func (x *haExchange) run(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
	if !untilRunning(len(x.tasks), x.evs, schedevent) {
		x.fail(errors.New("the job ended before its tasks ran"))
		return
	}
	total := x.n * len(x.tasks)
	at := func(f float64) int { return int(f * float64(total)) }
	hold, signalled := 0, false
	pk, rr := -1, 0 // the task of the pending ping, and where the round robin goes on
	var pending GoTaskMsg
	x.mu.Lock()
	x.lastEcho = time.Now()
	x.mu.Unlock()
	for echoes := 0; echoes < total; {
		stalled := false
		var resume <-chan struct{}
		if hold < len(x.holds) {
			if !signalled && echoes >= at(x.holds[hold].Signal) {
				close(x.reached[hold])
				signalled = true
			}
			if signalled && isClosed(x.resume[hold]) {
				hold, signalled = hold+1, false
				continue
			}
			if echoes >= at(x.holds[hold].Stall) {
				stalled, resume = true, x.resume[hold]
			}
		}
		var out chan<- GoTaskMsg
		if !stalled {
			if pk < 0 {
				pk, pending = x.nextPing(rr)
			}
			if pk >= 0 {
				out = schedout
			}
		}
		select {
		case out <- pending:
			x.mu.Lock()
			x.sent[pk]++
			x.mu.Unlock()
			rr, pk = (pk+1)%len(x.tasks), -1
		case m, ok := <-schedin:
			if !ok {
				x.fail(fmt.Errorf("schedin closed after %d of %d echoes", echoes, total))
				return
			}
			if err := x.echo(m); err != nil {
				x.fail(err)
				return
			}
			echoes++
		case ev, ok := <-schedevent:
			if !ok {
				x.fail(fmt.Errorf("schedevent closed after %d of %d echoes", echoes, total))
				return
			}
			if err := x.event(ev); err != nil {
				x.fail(err)
				return
			}
		case <-resume:
			// the wait at the hold is the test's, not a pause in delivery
			x.mu.Lock()
			x.lastEcho = time.Now()
			x.mu.Unlock()
		case <-x.quit:
			x.fail(fmt.Errorf("aborted by the test after %d of %d echoes", echoes, total))
			return
		}
	}
	x.mu.Lock()
	x.exchangeDone = true
	x.mu.Unlock()
}

// nextPing picks the next task, from rr on, that may get a ping.
func (x *haExchange) nextPing(rr int) (int, GoTaskMsg) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range x.tasks {
		k := (rr + i) % len(x.tasks)
		if x.sent[k] < x.n && x.sent[k]-x.recvd[k] < x.window {
			return k, GoTaskMsg{TaskName: x.tasks[k], MessageData: strconv.Itoa(x.sent[k])}
		}
	}
	return -1, GoTaskMsg{}
}

// echo checks an echo and notes its time.
func (x *haExchange) echo(m GoTaskMsg) error {
	k, ok := x.index[m.TaskName]
	if !ok {
		return fmt.Errorf("echo from unexpected task %q", m.TaskName)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if want := strconv.Itoa(x.recvd[k]); m.MessageData != want {
		return fmt.Errorf("%s echoed %q, want %s (sent %d)", m.TaskName, m.MessageData, want, x.sent[k])
	}
	n := x.recvd[k]
	x.recvd[k]++
	x.echoes++
	now := time.Now()
	if gap := now.Sub(x.lastEcho); gap > x.pause {
		x.pause, x.pauseEnd = gap, now
	}
	if x.killed > 0 {
		fo := &x.failovers[x.killed-1]
		from := x.lastEcho
		if from.Before(fo.kill) {
			from = fo.kill
		}
		if gap := now.Sub(from); gap > fo.pause {
			fo.pause, fo.pauseEnd = gap, now
		}
		if fo.afterKill.IsZero() && n >= fo.killMark[k] {
			fo.afterKill = now
		}
		if fo.reregMark != nil && fo.afterRereg.IsZero() && n >= fo.reregMark[k] {
			fo.afterRereg = now
		}
	}
	x.lastEcho = now
	return nil
}

// event records a scheduler event; a task's end is a failure.
func (x *haExchange) event(ev SchedEvent) error {
	x.evs.add(ev)
	x.mu.Lock()
	defer x.mu.Unlock()
	now := time.Now()
	switch ev.EventType {
	case Disconnected:
		if x.disconnects < len(x.failovers) {
			x.failovers[x.disconnects].disconnected = now
		}
		x.disconnects++
	case Reregistered:
		if x.reregs < len(x.failovers) {
			fo := &x.failovers[x.reregs]
			fo.reregistered = now
			fo.reregMark = append([]int(nil), x.sent...)
			fo.echoesBeforeRereg = x.echoes - fo.echoesAtKill
			close(x.reregistered[x.reregs])
		}
		x.reregs++
	case TaskFailed, TaskLost, TaskKilled, TaskFinished:
		return fmt.Errorf("%v mid-exchange: %+v", ev.EventType, ev.EventData)
	case Shutdown:
		return fmt.Errorf("job shut down mid-exchange: %v", ev.EventData)
	}
	return nil
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

package elevator

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/mesosgot/mesosgot"
)

// Request is a passenger: it appears at floor From at step At and wants to
// go to floor To.
type Request struct {
	ID, At, From, To int
}

// Requests returns the deterministic request stream of n requests for a
// building of floors floors: the same seed gives the same stream. IDs are
// 0..n-1 in order of arrival; the first arrives at step 1 and each next
// one 0, 1 or 2 steps after the previous (one a step on average); From is
// uniform over the floors and To uniform over the other floors.
func Requests(n, floors int, seed uint64) []Request {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rs := make([]Request, n)
	at := 1
	for i := range rs {
		if i > 0 {
			at += rng.IntN(3)
		}
		from := rng.IntN(floors)
		to := rng.IntN(floors - 1)
		if to >= from {
			to++
		}
		rs[i] = Request{ID: i, At: at, From: from, To: to}
	}
	return rs
}

// CarView is what the dispatcher knows of one elevator: its reported
// position and next direction, and the floors it still has to stop at
// for the requests assigned to it (From while waiting, To while riding).
type CarView struct {
	Floor int
	Dir   Dir
	Stops []int
}

// ETA estimates the steps car c needs to reach floor from under the LOOK
// rule, counting moves only: straight there when idle or when from is
// ahead; otherwise on to its farthest stop ahead and back.
func ETA(c CarView, from int) int {
	dist := func(a, b int) int { return max(a-b, b-a) }
	switch {
	case c.Dir == Idle, c.Dir == Up && from >= c.Floor, c.Dir == Down && from <= c.Floor:
		return dist(c.Floor, from)
	}
	ext := c.Floor
	for _, s := range c.Stops {
		if (s-ext)*int(c.Dir) > 0 {
			ext = s
		}
	}
	return dist(c.Floor, ext) + dist(ext, from)
}

// Cost is the dispatcher's estimated cost of giving a request from floor
// from to car c: ETA plus one step per outstanding request of the car (each
// is a likely stop on the way, and it spreads the load).
func Cost(c CarView, from int) int {
	return ETA(c, from) + len(c.Stops)
}

// Choose returns the index of the car with the least Cost for r, the
// lowest index among equals.
func Choose(cars []CarView, r Request) int {
	best, bestCost := -1, 0
	for i, c := range cars {
		if k := Cost(c, r.From); best < 0 || k < bestCost {
			best, bestCost = i, k
		}
	}
	return best
}

// Options configure the dispatcher.
type Options struct {
	// Elevators and Floors size the building; Requests is the number of
	// passengers and Seed seeds their stream (see Requests).
	Elevators, Floors, Requests int
	Seed                        uint64
	// StepDelay, if positive, is slept between steps for visual pacing.
	StepDelay time.Duration
	// Progress, if not nil, is called with a progress line about every 10%
	// of the requests delivered.
	Progress func(line string)
	// OnStep, if not nil, is called after every step with the step and a
	// picture of the cars (see Picture).
	OnStep func(t int, picture string)
	// Tamper, if not nil, may change each assignment just before it is sent
	// to elevator index (fault injection for tests).
	Tamper func(index int, m *Msg)
}

// reqState is where a request is.
type reqState int

const (
	reqPending reqState = iota // not arrived or not assigned yet
	reqAssigned
	reqRiding
	reqDelivered
)

// Result is what the dispatcher saw; it is safe for concurrent use.
type Result struct {
	mu          sync.Mutex
	opts        Options
	Delivered   int       // requests delivered (each counted once)
	Steps       int       // logical steps run
	PerElevator []int     // deliveries per elevator
	Travelled   int       // floors travelled, all elevators
	WaitSum     int       // steps from arrival to pickup, summed
	RideSum     int       // steps from pickup to delivery, summed
	Anomalies   []string  // every check that failed
	Started     time.Time // every elevator ready
	Completed   time.Time // the dispatcher returned
}

func (r *Result) anomaly(f string, a ...any) {
	r.mu.Lock()
	r.Anomalies = append(r.Anomalies, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}

// Err returns nil if every request was delivered exactly once, at its
// destination, and no elevator reported anything impossible; else an error
// with the number of anomalies and the first.
func (r *Result) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.Anomalies) > 0 {
		return fmt.Errorf("elevator: %d anomalies, first: %s", len(r.Anomalies), r.Anomalies[0])
	}
	if r.Delivered != r.opts.Requests {
		return fmt.Errorf("elevator: delivered %d of %d requests", r.Delivered, r.opts.Requests)
	}
	return nil
}

// Summary is a one-line report of the run.
func (r *Result) Summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	avg := func(sum int) float64 {
		if r.Delivered == 0 {
			return 0
		}
		return float64(sum) / float64(r.Delivered)
	}
	took := time.Duration(0)
	if !r.Started.IsZero() && r.Completed.After(r.Started) {
		took = r.Completed.Sub(r.Started)
	}
	return fmt.Sprintf("elevator: %d elevators x %d floors: %d/%d requests served in %d steps, per elevator %v, %d floors travelled, avg wait %.2f steps, avg ride %.2f steps, %d anomalies, took %v",
		r.opts.Elevators, r.opts.Floors, r.Delivered, r.opts.Requests, r.Steps, r.PerElevator, r.Travelled,
		avg(r.WaitSum), avg(r.RideSum), len(r.Anomalies), took.Round(time.Millisecond))
}

// Picture draws the cars on one line: per car its floor, direction
// (^ up, v down, . idle) and passengers aboard, e.g. "[3^2] [0.0]".
func Picture(cars []CarView, riders []int) string {
	var b strings.Builder
	for i, c := range cars {
		if i > 0 {
			b.WriteByte(' ')
		}
		d := map[Dir]string{Up: "^", Down: "v", Idle: "."}[c.Dir]
		fmt.Fprintf(&b, "[%d%s%d]", c.Floor, d, riders[i])
	}
	return b.String()
}

// stallSteps is how many steps without a pickup or delivery, with
// requests outstanding, count as requests lost: LOOK reaches any stop
// within 2*(floors-1) moves plus the stops on the way.
func stallSteps(floors int) int { return 4*floors + 16 }

// Scheduler returns the dispatcher, the job's scheduler function, and the
// Result it fills. The dispatcher is the simulation's clock: it waits for
// every elevator's "pos 0", then for each step t it assigns the requests
// arriving at t (Choose over the cars' reported positions and its own
// record of their stops), sends "step t" to every elevator and waits for
// each one's "pos t", checking every pickup and delivery on the way. It
// returns once every request is delivered, when the job ends under it, or
// when no request has moved for a long time (the rest count as lost).
func Scheduler(o Options) (mesosgot.AppSchedulerFunc, *Result) {
	res := &Result{opts: o, PerElevator: make([]int, o.Elevators)}
	fn := func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		d := newDispatch(o, res)
		d.run(schedin, schedout, schedevent)
		res.mu.Lock()
		res.Completed = time.Now()
		res.mu.Unlock()
	}
	return fn, res
}

// dispatch is the dispatcher's state, owned by the scheduler function.
type dispatch struct {
	o        Options
	res      *Result
	reqs     []Request
	state    []reqState
	owner    []int // elevator of each assigned request
	pickedAt []int
	cars     []CarView
	riders   []int
	seen     []int // the last step each elevator closed with pos
	next     int   // the next request to arrive
	moved    int   // the last step with a pickup or delivery
	t        int
}

func newDispatch(o Options, res *Result) *dispatch {
	n := o.Requests
	d := &dispatch{o: o, res: res, reqs: Requests(n, o.Floors, o.Seed),
		state: make([]reqState, n), owner: make([]int, n), pickedAt: make([]int, n),
		cars: make([]CarView, o.Elevators), riders: make([]int, o.Elevators), seen: make([]int, o.Elevators)}
	for i := range d.seen {
		d.seen[i] = -1
	}
	return d
}

// taskName is the name of elevator i.
func taskName(i int) string { return fmt.Sprintf("%s-%d", TaskName, i) }

func (d *dispatch) run(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
	// Step 0: every elevator reports ready.
	if !d.await(schedin, schedevent) {
		return
	}
	d.res.mu.Lock()
	d.res.Started = time.Now()
	d.res.mu.Unlock()
	step := max(d.o.Requests/10, 1)
	reported := 0
	for d.res.delivered() < d.o.Requests {
		d.t++
		for ; d.next < len(d.reqs) && d.reqs[d.next].At <= d.t; d.next++ {
			r := d.reqs[d.next]
			e := Choose(d.cars, r)
			d.state[r.ID], d.owner[r.ID] = reqAssigned, e
			d.cars[e].Stops = append(d.cars[e].Stops, r.From)
			m := Msg{Kind: KindAssign, Req: r.ID, From: r.From, To: r.To}
			if d.o.Tamper != nil {
				d.o.Tamper(e, &m)
			}
			if !d.send(schedout, schedevent, mesosgot.GoTaskMsg{TaskName: taskName(e), MessageData: m.Encode()}) {
				return
			}
		}
		for e := range d.cars {
			if !d.send(schedout, schedevent, mesosgot.GoTaskMsg{TaskName: taskName(e), MessageData: Msg{Kind: KindStep, T: d.t}.Encode()}) {
				return
			}
		}
		if !d.await(schedin, schedevent) {
			return
		}
		d.res.mu.Lock()
		d.res.Steps = d.t
		done := d.res.Delivered
		d.res.mu.Unlock()
		if d.o.OnStep != nil {
			d.o.OnStep(d.t, Picture(d.cars, d.riders))
		}
		if d.o.Progress != nil && done/step > reported {
			reported = done / step
			waiting, riding := 0, 0
			for _, s := range d.state {
				waiting += b2i(s == reqAssigned)
				riding += b2i(s == reqRiding)
			}
			d.o.Progress(fmt.Sprintf("elevator: step %d: %d/%d delivered, %d waiting, %d riding, cars %s",
				d.t, done, d.o.Requests, waiting, riding, Picture(d.cars, d.riders)))
		}
		if d.next == len(d.reqs) && d.t-d.moved > stallSteps(d.o.Floors) {
			for id, s := range d.state {
				if s != reqDelivered {
					d.res.anomaly("request %d (%d->%d) lost: %s, not delivered after step %d", id, d.reqs[id].From, d.reqs[id].To, taskName(d.owner[id]), d.t)
				}
			}
			return
		}
		if d.o.StepDelay > 0 {
			time.Sleep(d.o.StepDelay) // visual pacing only
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (r *Result) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Delivered
}

// await handles messages and events until every elevator has closed step
// d.t with its pos message. It returns false if the job ended.
func (d *dispatch) await(schedin <-chan mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) bool {
	pending := 0
	for _, s := range d.seen {
		pending += b2i(s < d.t)
	}
	for pending > 0 {
		select {
		case gm, ok := <-schedin:
			if !ok {
				return false
			}
			if d.handle(gm) {
				pending--
			}
		case ev, ok := <-schedevent:
			if !ok {
				return false
			}
			d.event(ev)
		}
	}
	return true
}

// send sends m on schedout, handling events while it waits; it returns
// false if the job ended.
func (d *dispatch) send(schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent, m mesosgot.GoTaskMsg) bool {
	for {
		select {
		case schedout <- m:
			return true
		case ev, ok := <-schedevent:
			if !ok {
				return false
			}
			d.event(ev)
		}
	}
}

// event records the scheduler events that mean the job is going wrong.
func (d *dispatch) event(ev mesosgot.SchedEvent) {
	switch ev.EventType {
	case mesosgot.Shutdown:
		if err, _ := ev.EventData.(error); err != nil {
			d.res.anomaly("job shut down: %v", err)
		}
	case mesosgot.TaskFailed, mesosgot.TaskLost, mesosgot.TaskKilled:
		d.res.anomaly("%s: %+v", ev.EventType, ev.EventData)
	}
}

// handle checks and records one message from an elevator; it returns true
// if the message closed the elevator's current step.
func (d *dispatch) handle(gm mesosgot.GoTaskMsg) bool {
	var e int
	if _, err := fmt.Sscanf(gm.TaskName, TaskName+"-%d", &e); err != nil || e < 0 || e >= len(d.cars) || gm.TaskName != taskName(e) {
		d.res.anomaly("message %q from unexpected task %q", gm.MessageData, gm.TaskName)
		return false
	}
	m, err := ParseMsg(gm.MessageData)
	if err != nil {
		d.res.anomaly("%s: %v", gm.TaskName, err)
		return false
	}
	if m.T != d.t || d.seen[e] >= d.t {
		d.res.anomaly("%s: %q in step %d", gm.TaskName, gm.MessageData, d.t)
		return false
	}
	if (m.Kind == KindPos || m.Kind == KindPickup || m.Kind == KindDeliver) && (m.Floor < 0 || m.Floor >= d.o.Floors) {
		d.res.anomaly("%s: %q: invalid floor %d", gm.TaskName, gm.MessageData, m.Floor)
		if m.Kind == KindPos {
			d.seen[e] = d.t
			return true
		}
		return false
	}
	switch m.Kind {
	case KindPos:
		if d.t > 0 {
			if jump := max(m.Floor-d.cars[e].Floor, d.cars[e].Floor-m.Floor); jump > 1 {
				d.res.anomaly("%s: moved %d floors in step %d", gm.TaskName, jump, d.t)
			}
			d.res.mu.Lock()
			d.res.Travelled += max(m.Floor-d.cars[e].Floor, d.cars[e].Floor-m.Floor)
			d.res.mu.Unlock()
		}
		d.cars[e].Floor, d.cars[e].Dir = m.Floor, m.Dir
		d.riders[e] = m.Riders
		d.seen[e] = d.t
		return true
	case KindPickup, KindDeliver:
		if m.Req < 0 || m.Req >= len(d.reqs) {
			d.res.anomaly("%s: %q: unknown request", gm.TaskName, gm.MessageData)
			return false
		}
		r := d.reqs[m.Req]
		if d.state[r.ID] == reqPending || d.owner[r.ID] != e {
			d.res.anomaly("%s: %q: request %d is not assigned to it", gm.TaskName, gm.MessageData, r.ID)
			return false
		}
		if m.Kind == KindPickup {
			if d.state[r.ID] != reqAssigned {
				d.res.anomaly("%s: request %d picked up twice", gm.TaskName, r.ID)
				return false
			}
			if m.Floor != r.From {
				d.res.anomaly("%s: request %d picked up at floor %d, it waits at %d", gm.TaskName, r.ID, m.Floor, r.From)
			}
			d.state[r.ID], d.pickedAt[r.ID] = reqRiding, d.t
			d.setStop(e, r.From, r.To)
			d.moved = d.t
			d.res.mu.Lock()
			d.res.WaitSum += d.t - r.At
			d.res.mu.Unlock()
			return false
		}
		switch d.state[r.ID] {
		case reqDelivered:
			d.res.anomaly("%s: request %d delivered twice", gm.TaskName, r.ID)
			return false
		case reqAssigned:
			d.res.anomaly("%s: request %d delivered before it was picked up", gm.TaskName, r.ID)
			d.setStop(e, r.From, r.To)
		}
		if m.Floor != r.To {
			d.res.anomaly("%s: request %d delivered at floor %d, want %d", gm.TaskName, r.ID, m.Floor, r.To)
		}
		d.state[r.ID] = reqDelivered
		d.setStop(e, r.To, -1)
		d.moved = d.t
		d.res.mu.Lock()
		d.res.Delivered++
		d.res.PerElevator[e]++
		d.res.RideSum += d.t - d.pickedAt[r.ID]
		d.res.mu.Unlock()
		return false
	}
	d.res.anomaly("%s: unexpected %s message", gm.TaskName, m.Kind)
	return false
}

// setStop replaces one stop at floor old of car e by a stop at floor new,
// or removes it if new < 0.
func (d *dispatch) setStop(e, old, new int) {
	s := d.cars[e].Stops
	for i, f := range s {
		if f == old {
			if new >= 0 {
				s[i] = new
			} else {
				d.cars[e].Stops = append(s[:i], s[i+1:]...)
			}
			return
		}
	}
}

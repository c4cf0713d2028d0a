package mesosgot

import "time"

// maxIdleTicks bounds one sleep of an idle executor loop (in ticks).
const maxIdleTicks = 1 << 20

// execTicker drives an executor's link clock: a tick every period while
// the link has timers running, a single timer to the next due tick while
// it is idle (link.IdleTicks). The clock follows the wall clock: a late or
// skipped tick is made up by advancing several ticks at once.
type execTicker struct {
	period time.Duration
	timer  *time.Timer
	last   time.Time // when the last tick was due
	due    time.Time // when the timer fires; zero once it has
}

func newExecTicker(period time.Duration) *execTicker {
	now := time.Now()
	return &execTicker{period: period, timer: time.NewTimer(period), last: now, due: now.Add(period)}
}

// c is the channel the ticks arrive on.
func (t *execTicker) c() <-chan time.Time { return t.timer.C }

func (t *execTicker) stop() { t.timer.Stop() }

// elapsed is called on a tick: it returns the ticks since the last one (at
// least 1).
func (t *execTicker) elapsed() int64 {
	n := max(int64(time.Since(t.last)/t.period), 1)
	t.last = t.last.Add(time.Duration(n) * t.period)
	t.due = time.Time{}
	return n
}

// next sets the timer for idle ticks after the last tick (at least one).
func (t *execTicker) next(idle int64) {
	due := t.last.Add(time.Duration(min(max(idle, 1), maxIdleTicks)) * t.period)
	if due.Equal(t.due) {
		return
	}
	t.due = due
	t.timer.Reset(time.Until(due))
}

// idleTicks is how many ticks the executor loop may sleep: none while a
// returned task's final status waits (checkReturned polls its grace
// period) or task output waits for the link; else until the link's next
// heartbeat or the scheduler's liveness deadline (checkScheduler).
func (exec *GoTaskExecutor) idleTicks() int64 {
	if exec.returning > 0 || len(exec.outQ) > 0 {
		return 0
	}
	n := exec.link.IdleTicks()
	if limit := linkTicks(exec.linkTimeout, exec.tick); exec.linkKeyed && limit > 0 && !exec.abandoned {
		n = min(n, max(limit-exec.link.Silent(), 0))
	}
	return n
}

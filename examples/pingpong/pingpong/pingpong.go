// Package pingpong is the logic of the pingpong example job, shared by its
// scheduler and executor binaries and by mesosgot's own tests: N workers
// each exchange M numbered messages with the scheduler, and both ends check
// that every message arrives once and in order.
package pingpong

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mesosgot/mesosgot"
)

// TaskName is the name the worker task is registered under.
const TaskName = "pingpong"

// Worker is the task function: it answers ping n with pong n, and fails if
// a ping arrives out of order or twice.
func Worker(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
	next := 0
	for m := range in {
		n, err := strconv.Atoi(m.MessageData)
		if err != nil {
			return fmt.Errorf("pingpong worker %s: bad message %q", env["MESOSGOT_TASK_NAME"], m.MessageData)
		}
		if n != next {
			return fmt.Errorf("pingpong worker %s: got ping %d, want %d", env["MESOSGOT_TASK_NAME"], n, next)
		}
		next++
		out <- mesosgot.GoTaskMsg{MessageData: m.MessageData}
	}
	return nil
}

// Result is what the scheduler function saw.
type Result struct {
	mu        sync.Mutex
	Workers   int
	Messages  int // per worker, each way
	Received  int // pongs received in order
	Errors    []string
	Events    map[mesosgot.SchedEventType]int
	Started   time.Time // first worker running
	Completed time.Time // last pong received
}

// Err returns nil if every pong came back once and in order.
func (r *Result) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.Errors) > 0 {
		return fmt.Errorf("pingpong: %d errors, first: %s", len(r.Errors), r.Errors[0])
	}
	if want := r.Workers * r.Messages; r.Received != want {
		return fmt.Errorf("pingpong: received %d of %d pongs", r.Received, want)
	}
	return nil
}

// Summary is a one-line report of the run.
func (r *Result) Summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.Completed
	if end.IsZero() {
		end = time.Now()
	}
	d := time.Duration(0)
	if !r.Started.IsZero() {
		d = end.Sub(r.Started)
	}
	rate := 0.0
	if d > 0 {
		rate = float64(2*r.Received) / d.Seconds()
	}
	return fmt.Sprintf("pingpong: %d workers x %d messages: %d pongs received in order, %d errors, exchange took %v (%.0f msgs/s both ways)",
		r.Workers, r.Messages, r.Received, len(r.Errors), d.Round(time.Millisecond), rate)
}

// Scheduler returns the scheduler function for workers x messages, and the
// Result it fills. progress, if not nil, is called about every 10% of the
// exchange; onEvent, if not nil, with every scheduler event.
func Scheduler(workers, messages int, progress func(done, total int), onEvent func(mesosgot.SchedEvent)) (mesosgot.AppSchedulerFunc, *Result) {
	res := &Result{Workers: workers, Messages: messages, Events: map[mesosgot.SchedEventType]int{}}
	fn := func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		sent := make([]int, workers)  // pings sent per worker
		recvd := make([]int, workers) // pongs received per worker
		total, done := workers*messages, 0
		// running is the set of workers seen running (by name: each
		// counts once).
		running := map[string]bool{}
		// ended: schedin closed (every task has ended); the events that
		// tell why are still read until schedevent closes.
		ended := false
		step := max(total/10, 1)
		fail := func(f string, a ...any) {
			res.mu.Lock()
			res.Errors = append(res.Errors, fmt.Sprintf(f, a...))
			res.mu.Unlock()
		}
		// next is the worker to ping next, round robin over those with pings left.
		w := 0
		nextPing := func() (mesosgot.GoTaskMsg, bool) {
			for i := 0; i < workers; i++ {
				k := (w + i) % workers
				if sent[k] < messages {
					w = k + 1
					return mesosgot.GoTaskMsg{TaskName: fmt.Sprintf("%s-%d", TaskName, k), MessageData: strconv.Itoa(sent[k])}, true
				}
			}
			return mesosgot.GoTaskMsg{}, false
		}
		var pending mesosgot.GoTaskMsg
		havePending := false
		for done < total {
			var out chan<- mesosgot.GoTaskMsg
			if len(running) == workers && !ended {
				if !havePending {
					pending, havePending = nextPing()
				}
				if havePending {
					out = schedout
				}
			}
			select {
			case out <- pending:
				var k int
				fmt.Sscanf(pending.TaskName, TaskName+"-%d", &k)
				sent[k]++
				havePending = false
			case m, ok := <-schedin:
				if !ok {
					schedin, ended = nil, true
					continue
				}
				var k int
				if _, err := fmt.Sscanf(m.TaskName, TaskName+"-%d", &k); err != nil || k < 0 || k >= workers {
					fail("pong from unexpected task %q", m.TaskName)
					continue
				}
				if n, err := strconv.Atoi(m.MessageData); err != nil || n != recvd[k] {
					fail("task %s: got pong %q, want %d", m.TaskName, m.MessageData, recvd[k])
					continue
				}
				recvd[k]++
				done++
				res.mu.Lock()
				res.Received = done
				if done == total {
					res.Completed = time.Now()
				}
				res.mu.Unlock()
				if progress != nil && done%step == 0 {
					progress(done, total)
				}
			case ev, ok := <-schedevent:
				if !ok {
					return
				}
				res.mu.Lock()
				res.Events[ev.EventType]++
				res.mu.Unlock()
				if onEvent != nil {
					onEvent(ev)
				}
				switch ev.EventType {
				case mesosgot.TaskRunning:
					if te, ok := ev.EventData.(mesosgot.TaskEvent); ok && !running[te.TaskName] {
						running[te.TaskName] = true
						if len(running) == workers {
							res.mu.Lock()
							res.Started = time.Now()
							res.mu.Unlock()
						}
					}
				case mesosgot.Shutdown:
					if err, _ := ev.EventData.(error); err != nil {
						fail("job shut down: %v", err)
					}
				case mesosgot.TaskFailed, mesosgot.TaskLost:
					fail("%s: %+v", ev.EventType, ev.EventData)
				}
			}
		}
	}
	return fn, res
}

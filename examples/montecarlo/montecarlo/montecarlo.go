// Package montecarlo is the logic of the Monte Carlo example job, shared by
// its scheduler and executor binaries and by its tests: the scheduler hands
// out batches of random points (work items) to sampler tasks, each sampler
// counts the points of its batch that fall inside the unit circle and sends
// the count back (results), and the scheduler estimates pi from the sum.
//
// Each batch draws its points from a generator seeded by the batch number,
// so the estimate depends only on the batch count and size, never on which
// task ran which batch: the tests compare it with Sample run locally.
package montecarlo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mesosgot/mesosgot"
)

// TaskName is the name the sampler task is registered under.
const TaskName = "sampler"

// FailArg is the task argument ("fail_batch=N") that makes the sampler
// which receives batch N fail instead of sampling it.
const FailArg = "fail_batch="

// Sample draws n points of the unit square from the generator seeded by
// batch and returns how many fall inside the quarter circle.
func Sample(batch, n uint64) uint64 {
	r := rand.New(rand.NewPCG(batch, 0x9e3779b97f4a7c15))
	var hits uint64
	for i := uint64(0); i < n; i++ {
		x, y := r.Float64(), r.Float64()
		if x*x+y*y <= 1 {
			hits++
		}
	}
	return hits
}

// Estimate is pi estimated from hits out of samples.
func Estimate(hits, samples uint64) float64 {
	if samples == 0 {
		return math.NaN()
	}
	return 4 * float64(hits) / float64(samples)
}

// work is a work item: "<batch> <samples>"; a result is "<batch> <hits>".
func work(batch, samples uint64) string { return fmt.Sprintf("%d %d", batch, samples) }

// parsePair reads two numbers separated by a space.
func parsePair(s string) (a, b uint64, err error) {
	as, bs, ok := strings.Cut(s, " ")
	if !ok {
		return 0, 0, fmt.Errorf("want two numbers, got %q", s)
	}
	if a, err = strconv.ParseUint(as, 10, 64); err == nil {
		b, err = strconv.ParseUint(bs, 10, 64)
	}
	return a, b, err
}

// failBatch reads the FailArg from the task's arguments; -1 if absent.
func failBatch(args []string) (int64, error) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, FailArg); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return -1, nil
}

// Sampler is the task function: for each work item it receives it sends
// back the batch's hit count. args[0] is the task's name; with the argument
// fail_batch=N after it, the task fails when it is given batch N.
func Sampler(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
	if len(args) == 0 {
		return fmt.Errorf("sampler: no task name in args")
	}
	name := args[0]
	fail, err := failBatch(args[1:])
	if err != nil {
		return fmt.Errorf("sampler %s: bad argument %v: %w", name, args, err)
	}
	for m := range in {
		batch, n, err := parsePair(m.MessageData)
		if err != nil {
			return fmt.Errorf("sampler %s: bad work item: %w", name, err)
		}
		if int64(batch) == fail {
			return fmt.Errorf("sampler %s: failing at batch %d as asked (-fail_batch)", name, batch)
		}
		out <- mesosgot.GoTaskMsg{MessageData: fmt.Sprintf("%d %d", batch, Sample(batch, n))}
	}
	return nil
}

// Config is the size of a run.
type Config struct {
	Workers int    // sampler tasks
	Batches uint64 // work items
	Samples uint64 // points per batch
	Depth   int    // work items in flight per task
}

// Result is what the scheduler function computed.
type Result struct {
	mu       sync.Mutex
	cfg      Config
	Hits     uint64
	Done     uint64            // batches whose result arrived
	PerTask  map[string]uint64 // batches done by each task
	Errors   []string
	Started  time.Time
	Finished time.Time
}

// Err returns nil when every batch's result arrived once.
func (r *Result) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.Errors) > 0 {
		return fmt.Errorf("montecarlo: %d errors, first: %s", len(r.Errors), r.Errors[0])
	}
	if r.Done != r.cfg.Batches {
		return fmt.Errorf("montecarlo: %d of %d batches done", r.Done, r.cfg.Batches)
	}
	return nil
}

// Summary is the run's report: the estimate and who did what.
func (r *Result) Summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	samples := r.Done * r.cfg.Samples
	pi := Estimate(r.Hits, samples)
	end := r.Finished
	if end.IsZero() {
		end = time.Now()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "montecarlo: pi ~ %.6f (error %.2g) from %d hits in %d samples, %d/%d batches, %v over %d tasks",
		pi, math.Abs(pi-math.Pi), r.Hits, samples, r.Done, r.cfg.Batches, end.Sub(r.Started).Round(time.Millisecond), r.cfg.Workers)
	for i := 0; i < r.cfg.Workers; i++ {
		name := fmt.Sprintf("%s-%d", TaskName, i)
		fmt.Fprintf(&b, "\nmontecarlo: %s did %d batches", name, r.PerTask[name])
	}
	return b.String()
}

// Scheduler returns the app scheduler function of a run and the Result it
// fills in. It keeps cfg.Depth work items in flight at each task, gives a
// task its next item when a result comes back, and returns when every
// batch is done or the job ends.
func Scheduler(cfg Config) (mesosgot.AppSchedulerFunc, *Result) {
	if cfg.Depth < 1 {
		cfg.Depth = 1
	}
	res := &Result{cfg: cfg, PerTask: map[string]uint64{}}
	fn := func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		res.mu.Lock()
		res.Started = time.Now()
		res.mu.Unlock()
		next := uint64(0)
		give := func(task string) {
			if next < cfg.Batches {
				schedout <- mesosgot.GoTaskMsg{TaskName: task, MessageData: work(next, cfg.Samples)}
				next++
			}
		}
		for d := 0; d < cfg.Depth; d++ {
			for i := 0; i < cfg.Workers; i++ {
				give(fmt.Sprintf("%s-%d", TaskName, i))
			}
		}
		seen := make(map[uint64]bool, cfg.Batches)
		for done := uint64(0); done < cfg.Batches; {
			select {
			case m, ok := <-schedin:
				if !ok {
					return
				}
				batch, hits, err := parsePair(m.MessageData)
				res.mu.Lock()
				switch {
				case err != nil:
					res.Errors = append(res.Errors, fmt.Sprintf("result from %s: %v", m.TaskName, err))
				case batch >= cfg.Batches || seen[batch]:
					res.Errors = append(res.Errors, fmt.Sprintf("result from %s for batch %d: unexpected", m.TaskName, batch))
				default:
					seen[batch] = true
					res.Hits += hits
					res.Done++
					res.PerTask[m.TaskName]++
					done++
				}
				res.mu.Unlock()
				give(m.TaskName)
			case ev, ok := <-schedevent:
				if !ok || ev.EventType == mesosgot.Shutdown {
					return
				}
				if ev.EventType == mesosgot.TaskFailed || ev.EventType == mesosgot.TaskLost {
					d, _ := ev.EventData.(mesosgot.TaskEvent)
					res.mu.Lock()
					res.Errors = append(res.Errors, fmt.Sprintf("%s %s: %s", ev.EventType, d.TaskName, d.Message))
					res.mu.Unlock()
				}
			}
		}
		res.mu.Lock()
		res.Finished = time.Now()
		res.mu.Unlock()
	}
	return fn, res
}

// ErrNoWorkers is returned by Check for a run without tasks.
var ErrNoWorkers = errors.New("montecarlo: -workers must be at least 1")

// Check validates cfg.
func (cfg Config) Check() error {
	if cfg.Workers < 1 {
		return ErrNoWorkers
	}
	if cfg.Samples < 1 || cfg.Batches < 1 {
		return errors.New("montecarlo: -batches and -samples must be at least 1")
	}
	return nil
}

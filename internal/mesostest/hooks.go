package mesostest

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Direction is the way a framework message travels.
type Direction int

const (
	// ToExecutor is a message from the scheduler to an executor.
	ToExecutor Direction = iota
	// ToScheduler is a message from an executor to the scheduler.
	ToScheduler
)

// String returns "ToExecutor" or "ToScheduler".
func (d Direction) String() string {
	switch d {
	case ToExecutor:
		return "ToExecutor"
	case ToScheduler:
		return "ToScheduler"
	}
	return "Direction(?)"
}

// Delivery is one delivery of a framework message, as decided by a hook:
// Data is what the receiver gets, after Delay (zero = at once, in order).
type Delivery struct {
	Data  string
	Delay time.Duration
}

// FrameworkMessageHook decides the fate of one framework message: it returns
// the deliveries to make, so none drops the message, two duplicate it, and
// different delays reorder messages. It is called on the sender's goroutine,
// outside the cluster's lock, possibly concurrently for different senders.
type FrameworkMessageHook func(dir Direction, executorID, agentID, data string) []Delivery

// Hooks are the fault injection points of a Cluster; a nil hook injects no
// fault.
type Hooks struct {
	// FrameworkMessage is called for every framework message, both ways.
	FrameworkMessage FrameworkMessageHook
	// LaunchAfterMessage imitates mesos-go's executor driver, which runs
	// every callback on a goroutine of its own, so that callbacks can run
	// out of the order their messages came in: an executor's second and
	// later LaunchTask calls are held until the executor next sends a
	// framework message (by then it has handled the messages it got before),
	// or a kill or shutdown comes. Its first launch comes in order, so that
	// a task runs and the scheduler sends.
	LaunchAfterMessage bool
}

// DropIf returns a hook that drops the messages for which pred is true and
// delivers the others unchanged and at once.
func DropIf(pred func(dir Direction, executorID, agentID, data string) bool) FrameworkMessageHook {
	return func(dir Direction, executorID, agentID, data string) []Delivery {
		if pred(dir, executorID, agentID, data) {
			return nil
		}
		return []Delivery{{Data: data}}
	}
}

// RandomFaults returns a seeded hook that drops a message with probability
// drop, otherwise delivers it twice with probability dup, and delays each
// delivery by a uniform random duration in [0, maxDelay] (no delay when
// maxDelay <= 0). It is safe for concurrent use; the sequence of decisions is
// a function of the seed and the order of calls, so it is reproducible when
// the messages are sent from one goroutine.
func RandomFaults(seed int64, drop, dup float64, maxDelay time.Duration) FrameworkMessageHook {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(uint64(seed), 0x6d65736f73))
	return func(dir Direction, executorID, agentID, data string) []Delivery {
		mu.Lock()
		defer mu.Unlock()
		if r.Float64() < drop {
			return nil
		}
		n := 1
		if r.Float64() < dup {
			n = 2
		}
		out := make([]Delivery, n)
		for i := range out {
			out[i].Data = data
			if maxDelay > 0 {
				out[i].Delay = time.Duration(r.Int64N(int64(maxDelay) + 1))
			}
		}
		return out
	}
}

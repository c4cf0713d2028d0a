package localmesos

import (
	"math/rand"
	"sync"
	"time"
)

// FrameworkMessage describes one framework message the cluster carries,
// scheduler to executor (ToExecutor) or executor to scheduler. It is what
// Faults.DropIf sees.
type FrameworkMessage struct {
	FrameworkID string
	ExecutorID  string
	AgentID     string
	ToExecutor  bool
	// Data is the message's data, valid only during the DropIf call (it
	// lies in the buffer the agent received the message in, which is
	// reused): copy it to keep it.
	Data []byte
}

// Faults injects faults into framework messages (FrameworkToExecutorMessage
// and ExecutorToFrameworkMessage), in both directions, at the agent that
// carries them. Status updates and the rest of the protocol are never
// touched: Mesos only makes framework messages best-effort. The zero value
// injects nothing. A Faults must not be shared between clusters.
type Faults struct {
	// Drop is the probability in [0,1] that a message is dropped.
	Drop float64
	// Dup is the probability in [0,1] that a delivered message is delivered
	// twice.
	Dup float64
	// Delay, when set, returns how long to hold each delivered message
	// (messages may then be reordered).
	Delay func() time.Duration
	// DropIf, when set, drops every message it returns true for (checked
	// before Drop).
	DropIf func(FrameworkMessage) bool
	// Seed seeds the random source of Drop and Dup; 0 means time-based.
	Seed int64

	mu  sync.Mutex
	rnd *rand.Rand
}

// decide returns how many copies of m to deliver (0, 1 or 2) and the delay.
func (f *Faults) decide(m FrameworkMessage) (copies int, delay time.Duration) {
	if f == nil {
		return 1, 0
	}
	if f.DropIf != nil && f.DropIf(m) {
		return 0, 0
	}
	f.mu.Lock()
	if f.rnd == nil {
		seed := f.Seed
		if seed == 0 {
			seed = time.Now().UnixNano()
		}
		f.rnd = rand.New(rand.NewSource(seed))
	}
	drop := f.Drop > 0 && f.rnd.Float64() < f.Drop
	dup := !drop && f.Dup > 0 && f.rnd.Float64() < f.Dup
	f.mu.Unlock()
	if drop {
		return 0, 0
	}
	copies = 1
	if dup {
		copies = 2
	}
	if f.Delay != nil {
		delay = f.Delay()
	}
	return copies, delay
}

package mesosgot

import (
	"sync"
	"time"

	log "github.com/golang/glog"

	"github.com/mesosgot/mesosgot/internal/mesosflag"
)

// defaultRecoveryTimeout is Mesos' --recovery_timeout default, which
// mesos-go v0.0.11's executor driver always uses.
const defaultRecoveryTimeout = 15 * time.Minute

// recoveryTimer imitates what a Mesos executor does after losing a
// checkpointing agent: it waits MESOS_RECOVERY_TIMEOUT (the agent's
// --recovery_timeout) for the agent to come back and re-register it, and
// shuts down otherwise. mesos-go v0.0.11's executor driver reads no such
// variable (it waits a fixed 15 minutes), so mesosgot keeps the timer
// itself; the driver's own timer, if it ever fires first, does the same.
type recoveryTimer struct {
	mu sync.Mutex
	t  *time.Timer
}

// recoveryTimeout reads MESOS_RECOVERY_TIMEOUT (stout's format, e.g.
// "15mins"), Mesos' default when unset or not understood.
func recoveryTimeout(getenv func(string) string) time.Duration {
	v := getenv("MESOS_RECOVERY_TIMEOUT")
	if v == "" {
		return defaultRecoveryTimeout
	}
	d, err := mesosflag.ParseDuration(v)
	if err != nil || d <= 0 {
		log.Warningf("mesosgot: MESOS_RECOVERY_TIMEOUT=%q: not a positive duration; using %v", v, defaultRecoveryTimeout)
		return defaultRecoveryTimeout
	}
	return d
}

// start arms the timer (once until stop) to call expired after the
// recovery timeout, and returns that timeout.
func (r *recoveryTimer) start(getenv func(string) string, expired func(time.Duration)) time.Duration {
	d := recoveryTimeout(getenv)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t == nil {
		r.t = time.AfterFunc(d, func() { expired(d) })
	}
	return d
}

// stop disarms the timer: the agent is back.
func (r *recoveryTimer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t != nil {
		r.t.Stop()
		r.t = nil
	}
}

// armed reports whether the timer is running.
func (r *recoveryTimer) armed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t != nil
}

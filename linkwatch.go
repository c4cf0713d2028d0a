package mesosgot

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	log "github.com/golang/glog"
)

// The trust and liveness of the job's links, as the scheduler and the
// executor use them: the job's link key, sealed links, frames dropped
// because they did not come from the peer, and peers that stopped
// answering.

// dropReportInterval is the least time between two reports (log line and
// event) of frames dropped on one link.
const dropReportInterval = time.Second

// dropCounter counts the frames a link dropped and rate-limits their reports.
type dropCounter struct {
	// total counts every drop; unreported those since the last report.
	total, unreported uint64
	// last is when the last report was made.
	last time.Time
}

// note counts one drop at now and reports whether a report is due.
func (d *dropCounter) note(now time.Time) bool {
	d.total++
	d.unreported++
	if now.Sub(d.last) < dropReportInterval {
		return false
	}
	d.last = now
	return true
}

// take returns the drops since the last report and the total, and resets
// the former.
func (d *dropCounter) take() (n, total uint64) {
	n, d.unreported = d.unreported, 0
	return n, d.total
}

// isDropErr reports whether err from link.Recv means a frame that did not
// come from the peer (forged, misdirected, replayed, or before the key).
func isDropErr(err error) bool {
	return errors.Is(err, errFrameAuth) || errors.Is(err, errFrameReplay) || errors.Is(err, errNoLinkKey)
}

// linkTicks converts a duration to link ticks (at least 1 for a positive d).
func linkTicks(d, tick time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(int64(d/tick), 1)
}

// heartbeatTicks is the ping interval for a link timeout of timeoutTicks:
// a quarter of it, so that a live peer is heard from several times within
// the timeout.
func heartbeatTicks(timeoutTicks int64) int {
	if timeoutTicks <= 0 {
		return 0
	}
	return int(max(timeoutTicks/4, 1))
}

// newExecLink returns the sealed link to executor execID, making the job's
// link key on first use.
func (j *schedJob) newExecLink(execID string) *link {
	if j.linkKey == nil {
		j.linkKey = make([]byte, linkKeySize)
		_, _ = crand.Read(j.linkKey) // never fails (crypto/rand.Read)
	}
	cfg := j.s.linkCfg
	cfg.HeartbeatTicks = heartbeatTicks(linkTicks(j.s.conf.LinkTimeout, j.s.timing.Tick))
	l := newLink(cfg, j.epoch)
	l.auth = newLinkAuth(true)
	if err := l.auth.setKey(j.linkKey, execID, !j.s.conf.LinkCleartext); err != nil {
		panic(err) // unreachable: the key has linkKeySize bytes
	}
	return l
}

// taskInfoData returns the TaskInfo.Data of task t on executor execID.
func (j *schedJob) taskInfoData(t *schedTask, execID string) []byte {
	return encodeTaskInfoData(taskData{Args: t.info.Args, Env: t.info.Env, Link: taskLinkParams{
		Key: j.linkKey, ExecutorID: execID, Encrypt: !j.s.conf.LinkCleartext, Timeout: j.s.conf.LinkTimeout,
	}})
}

// frameDropped counts a frame from executor c's address that its link
// refused, and reports drops (log line and Error event) at most once per
// dropReportInterval.
func (j *schedJob) frameDropped(c *execConn, agentID string, err error) {
	if !c.drops.note(time.Now()) {
		return
	}
	n, total := c.drops.take()
	err = fmt.Errorf("mesosgot: dropped %d frames (%d in all) claiming to come from executor %s on agent %s: %w", n, total, c.execID, agentID, err)
	log.Warning(err)
	j.emit(Error, err)
}

// checkLinks fails the job when an executor with live tasks has answered
// nothing for the link timeout.
func (j *schedJob) checkLinks() {
	limit := linkTicks(j.s.conf.LinkTimeout, j.s.timing.Tick)
	if limit == 0 || j.phase >= phaseStopping {
		return
	}
	for _, c := range j.conns {
		if !c.ready || !j.connLive(c) || c.link.Silent() < limit {
			continue
		}
		var live []string
		for name := range c.tasks {
			if !j.tasks[name].terminal {
				live = append(live, name)
			}
		}
		sort.Strings(live)
		err := &JobError{TaskName: live[0], Cause: fmt.Sprintf("executor %s on agent %s (tasks %s) unresponsive: nothing heard for %v",
			c.execID, c.agentID, strings.Join(live, ", "), j.s.conf.LinkTimeout)}
		j.emit(Error, err)
		j.fail(err)
		return
	}
}

// joinLink gives the executor's link the job's key from a task's data. The
// first task sets it; later ones must carry the same.
func (exec *GoTaskExecutor) joinLink(p taskLinkParams) error {
	if p.Key == nil {
		return errors.New("the task data carries no link key (a scheduler too old for this executor)")
	}
	if exec.linkKeyed {
		if string(p.Key) != string(exec.link.auth.key) || p.ExecutorID != exec.link.auth.id {
			return errors.New("the task data carries another link key than the executor's first task")
		}
		return nil
	}
	if err := exec.link.auth.setKey(p.Key, p.ExecutorID, p.Encrypt); err != nil {
		return err
	}
	exec.linkKeyed = true
	exec.linkTimeout = p.Timeout
	exec.link.cfg.HeartbeatTicks = heartbeatTicks(linkTicks(p.Timeout, exec.tick))
	return nil
}

// frameDropped counts a frame the executor's link refused and logs drops at
// most once per dropReportInterval (telling the scheduler too, once the
// link has its key).
func (exec *GoTaskExecutor) frameDropped(raw string, err error) {
	if !exec.drops.note(time.Now()) {
		return
	}
	n, total := exec.drops.take()
	err = fmt.Errorf("dropped %d frames (%d in all) claiming to come from the scheduler, last of %d bytes: %w", n, total, len(raw), err)
	log.Warningf("mesosgot: %v", err)
	if exec.linkKeyed {
		exec.report(err)
	}
}

// checkScheduler ends the executor when the scheduler has answered nothing
// for the link timeout: its tasks are told to end and the driver aborts,
// so that an executor never outlives its scheduler by more than that.
func (exec *GoTaskExecutor) checkScheduler() {
	limit := linkTicks(exec.linkTimeout, exec.tick)
	if !exec.linkKeyed || limit == 0 || exec.abandoned || exec.link.Silent() < limit {
		return
	}
	exec.abandoned = true
	log.Errorf("mesosgot: the scheduler is unresponsive: nothing heard for %v; ending the executor", exec.linkTimeout)
	for name := range exec.tasks {
		exec.kill(name)
	}
	driver := exec.driver
	go func() {
		if _, err := driver.Abort(); err != nil {
			log.Warningf("mesosgot: aborting the executor driver: %v", err)
		}
	}()
}

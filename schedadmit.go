package mesosgot

import (
	"fmt"
	"time"

	log "github.com/golang/glog"
)

// admissionWarnEvery is the least time between two admission warnings (and
// JobNotAdmitted events) while the job waits for offers.
const admissionWarnEvery = 10 * time.Second

// notAdmitted records a round of offers that could not hold the job, warns
// (at most every admissionWarnEvery) with what is short, and fails the job
// when the placement timeout has passed.
func (j *schedJob) notAdmitted(offers []placementOffer) {
	a := &j.admit
	now := time.Now()
	a.observe(offers)
	a.rounds++
	if a.first.IsZero() {
		a.first = now
	}
	log.Infof("mesosgot: %d offers cannot hold the %d tasks of the job; declining for %gs", len(offers), len(j.taskOrder), j.s.conf.TaskRefuseSeconds)
	if !a.warned.IsZero() && now.Sub(a.warned) < admissionWarnEvery {
		j.checkPlacementTimeout(now)
		return
	}
	a.warned = now
	ev := j.admissionEvent(now)
	j.emit(JobNotAdmitted, ev)
	wait := "waiting"
	if d := j.s.conf.PlacementTimeout; d > 0 {
		wait = fmt.Sprintf("failing after -placement_timeout %v", d)
	}
	j.s.diagf("WARNING: offers cannot hold the job yet (%s in %v; %s): %s", plural(ev.Rounds, "round"), ev.Waiting.Round(time.Second), wait, ev.Explanation)
	j.checkPlacementTimeout(now)
}

// admissionEvent is the data of a JobNotAdmitted event as of now.
func (j *schedJob) admissionEvent(now time.Time) AdmissionEvent {
	a := &j.admit
	short := explainShortfall(taskTypes(j.s.app.TasksResourceInfo()), j.s.conf.ExecutorResources, a.maxRound, a.maxAgent)
	expl := formatShortfall(short)
	if a.rounds == 0 {
		expl = "no offers received"
	}
	var waiting time.Duration
	if !j.waitSince.IsZero() {
		waiting = now.Sub(j.waitSince)
	}
	return AdmissionEvent{Rounds: a.rounds, Waiting: waiting, Short: short, Explanation: expl}
}

// checkPlacementTimeout fails a job still waiting for offers past the
// placement timeout, with what is short.
func (j *schedJob) checkPlacementTimeout(now time.Time) {
	d := j.s.conf.PlacementTimeout
	if d <= 0 || j.phase != phaseWaiting || j.launched || len(j.tasks) == 0 || j.waitSince.IsZero() || now.Sub(j.waitSince) < d {
		return
	}
	ev := j.admissionEvent(now)
	j.emit(JobNotAdmitted, ev)
	j.fail(&JobError{Cause: fmt.Sprintf("no round of offers could hold the job within -placement_timeout %v (%s): %s", d, plural(ev.Rounds, "round"), ev.Explanation)})
}

// plural is "1 round", "2 rounds".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

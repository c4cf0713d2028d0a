package mesosgot

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// This file explains why offers cannot hold the job: pure functions from
// what the rounds of offers held so far and the job's task types to the
// resources that are short. The job goroutine feeds it each declined round
// (see admit in schedadmit.go).

// ResourceShortfall says how one resource keeps the job from being placed:
// what it needs in one round of offers against the most any round offered,
// and for each task type what one task needs against the largest agent.
type ResourceShortfall struct {
	// Resource is the Mesos resource name, e.g. "cpus".
	Resource string
	// Need is what the whole job needs of it in one round: every task plus
	// one executor (more agents need one executor each).
	Need float64
	// Offered is the largest amount of it any one round offered (the sum of
	// the round's offers).
	Offered float64
	// LargestAgent is the largest amount of it one agent offered in a round
	// (one task must fit on one agent, beside its executor).
	LargestAgent float64
	// Tasks is what each task type needs of it, in the job's order.
	Tasks []TaskTypeNeed
}

// TaskTypeNeed is what the Count tasks of one type need of a resource.
type TaskTypeNeed struct {
	Name  string  // the task type's name (AppTaskResourceInfo.Name)
	Count int     // how many tasks of the type
	Each  float64 // what one task needs
	// TooBig is set when one task (with an executor beside it) needs more
	// than any agent offered: the type can never be placed on such agents.
	TooBig bool
}

// AdmissionEvent is the EventData of a JobNotAdmitted event.
type AdmissionEvent struct {
	// Rounds is how many rounds of offers could not hold the job so far.
	Rounds int
	// Waiting is how long the job has waited since the first such round.
	Waiting time.Duration
	// Short lists the resources that are short, by name. It is empty when
	// every resource suffices in total and for each task but the tasks could
	// not be packed onto the agents.
	Short []ResourceShortfall
	// Explanation is the same in one line, as the warning prints it.
	Explanation string
}

// taskType is one AppTaskResourceInfo as admission sees it.
type taskType struct {
	Name  string
	Count int
	Res   map[string]float64
}

// taskTypes reduces the job's task requests to their types.
func taskTypes(infos []*AppTaskResourceInfo) []taskType {
	var out []taskType
	for _, t := range infos {
		if t == nil || t.Count <= 0 {
			continue
		}
		out = append(out, taskType{Name: t.Name, Count: t.Count, Res: taskResources(t)})
	}
	return out
}

// admission keeps the largest amounts the rounds of offers held.
type admission struct {
	maxRound map[string]float64 // per resource, the largest round total
	maxAgent map[string]float64 // per resource, the largest amount one agent offered in a round
	rounds   int
	first    time.Time // of the first round that could not hold the job
	warned   time.Time // last warning
}

// observe takes one round of offers into account.
func (a *admission) observe(offers []placementOffer) {
	if a.maxRound == nil {
		a.maxRound, a.maxAgent = map[string]float64{}, map[string]float64{}
	}
	round := map[string]float64{}
	agents := map[string]map[string]float64{}
	for _, o := range offers {
		ag := agents[o.AgentID]
		if ag == nil {
			ag = map[string]float64{}
			agents[o.AgentID] = ag
		}
		for name, v := range o.Resources {
			if validResourceAmount(v) {
				round[name] += v
				ag[name] += v
			}
		}
	}
	for name, v := range round {
		a.maxRound[name] = math.Max(a.maxRound[name], v)
	}
	for _, ag := range agents {
		for name, v := range ag {
			a.maxAgent[name] = math.Max(a.maxAgent[name], v)
		}
	}
}

// explainShortfall lists, in name order, each resource the job lacks given
// the largest round and agent seen: its total need (tasks plus one
// executor) exceeds the largest round, or some task type's task (plus an
// executor) exceeds the largest agent.
func explainShortfall(types []taskType, execRes, maxRound, maxAgent map[string]float64) []ResourceShortfall {
	names := map[string]bool{}
	for _, t := range types {
		for name, v := range t.Res {
			if v > 0 {
				names[name] = true
			}
		}
	}
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	sort.Strings(sorted)
	var out []ResourceShortfall
	for _, name := range sorted {
		exec := execRes[name]
		need := exec
		var tasks []TaskTypeNeed
		anyTooBig := false
		for _, t := range types {
			each := t.Res[name]
			if each <= 0 {
				continue
			}
			need += float64(t.Count) * each
			tooBig := each+exec > maxAgent[name]+placementSlack(maxAgent[name])
			anyTooBig = anyTooBig || tooBig
			tasks = append(tasks, TaskTypeNeed{Name: t.Name, Count: t.Count, Each: each, TooBig: tooBig})
		}
		if need <= maxRound[name]+placementSlack(maxRound[name]) && !anyTooBig {
			continue
		}
		out = append(out, ResourceShortfall{Resource: name, Need: need, Offered: maxRound[name], LargestAgent: maxAgent[name], Tasks: tasks})
	}
	return out
}

// formatShortfall says what is short in one line, e.g.
// "cpus: the job needs 8000.1 in one round (worker: 8 x 1000, one task does not fit on any agent), the largest round offered 8, the largest agent 4".
func formatShortfall(short []ResourceShortfall) string {
	if len(short) == 0 {
		return "every resource suffices in total, but the tasks could not be packed onto the offered agents"
	}
	parts := make([]string, 0, len(short))
	for _, r := range short {
		var tasks []string
		for _, t := range r.Tasks {
			s := fmt.Sprintf("%s: %d x %g", t.Name, t.Count, t.Each)
			if t.TooBig {
				s += ", one task does not fit on any agent"
			}
			tasks = append(tasks, s)
		}
		parts = append(parts, fmt.Sprintf("%s: the job needs %g in one round (%s), the largest round offered %g, the largest agent %g",
			r.Resource, round6(r.Need), strings.Join(tasks, "; "), round6(r.Offered), round6(r.LargestAgent)))
	}
	return strings.Join(parts, "; ")
}

// round6 rounds x to 6 decimals, so that sums of 0.1s print cleanly.
func round6(x float64) float64 {
	return math.Round(x*1e6) / 1e6
}

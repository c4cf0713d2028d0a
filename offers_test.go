package mesosgot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// res is shorthand for a resource map.
type res = map[string]float64

// pOffer builds a placementOffer.
func pOffer(id, agent string, r res) placementOffer {
	return placementOffer{ID: id, AgentID: agent, Resources: r}
}

// pTasks builds n task instances "<name>-<i>" needing r each.
func pTasks(name string, n int, r res) []placementTask {
	out := make([]placementTask, n)
	for i := range out {
		out[i] = placementTask{Name: fmt.Sprintf("%s-%d", name, i), Resources: r}
	}
	return out
}

// concatTasks concatenates task lists.
func concatTasks(lists ...[]placementTask) []placementTask {
	return slices.Concat(lists...)
}

// requireValidPlan checks that plan is a complete, valid placement of tasks on
// offers: agents sorted, every offer of a used agent named, every task placed
// exactly once, and per-agent usage (with one executor) within the pooled
// offers.
func requireValidPlan(t testing.TB, offers []placementOffer, tasks []placementTask, exec res, plan placementPlan) {
	t.Helper()
	pooled := map[string]res{}
	offersOf := map[string][]string{}
	for _, o := range offers {
		if pooled[o.AgentID] == nil {
			pooled[o.AgentID] = res{}
		}
		for name, v := range o.Resources {
			if v > 0 && !math.IsInf(v, 1) {
				pooled[o.AgentID][name] += v
			}
		}
		offersOf[o.AgentID] = append(offersOf[o.AgentID], o.ID)
	}
	seen := make([]int, len(tasks))
	for i, a := range plan.Agents {
		if i > 0 {
			require.Less(t, plan.Agents[i-1].AgentID, a.AgentID, "agents sorted and unique")
		}
		require.Contains(t, offersOf, a.AgentID, "agent has offers")
		require.Equal(t, offersOf[a.AgentID], a.OfferIDs, "all offers of agent %s, in input order", a.AgentID)
		require.NotEmpty(t, a.Tasks, "agent %s in plan without tasks", a.AgentID)
		require.True(t, slices.IsSorted(a.Tasks), "tasks ascending")
		used := res{}
		for name, v := range exec {
			used[name] += v
		}
		for _, ti := range a.Tasks {
			require.GreaterOrEqual(t, ti, 0)
			require.Less(t, ti, len(tasks))
			seen[ti]++
			for name, v := range tasks[ti].Resources {
				used[name] += v
			}
		}
		for name, v := range used {
			have := pooled[a.AgentID][name]
			require.LessOrEqual(t, v, have+1e-6*math.Max(1, have),
				"agent %s over-committed on %q: uses %v of %v", a.AgentID, name, v, have)
		}
	}
	for i, n := range seen {
		require.Equal(t, 1, n, "task %d placed %d times", i, n)
	}
}

func TestPlacementTable(t *testing.T) {
	cpu := func(c float64) res { return res{"cpus": c} }
	tests := []struct {
		name   string
		offers []placementOffer
		tasks  []placementTask
		exec   res
		wantOK bool
		want   *placementPlan // when non-nil, the exact plan expected
		// fallback: the first strategy alone fails, a later one succeeds
		fallback bool
	}{
		{
			name:   "fits on one agent",
			offers: []placementOffer{pOffer("o1", "a1", res{"cpus": 4, "mem": 1024})},
			tasks:  pTasks("w", 2, res{"cpus": 1, "mem": 256}),
			exec:   res{"cpus": 0.1, "mem": 32},
			wantOK: true,
			want:   &placementPlan{Agents: []agentPlacement{{AgentID: "a1", OfferIDs: []string{"o1"}, Tasks: []int{0, 1}}}},
		},
		{
			name:   "exact floating point fit 3x0.1 into 0.3",
			offers: []placementOffer{pOffer("o1", "a1", cpu(0.3))},
			tasks:  pTasks("w", 3, cpu(0.1)),
			wantOK: true,
			want:   &placementPlan{Agents: []agentPlacement{{AgentID: "a1", OfferIDs: []string{"o1"}, Tasks: []int{0, 1, 2}}}},
		},
		{
			name:   "exact floating point fit pooled 0.1+0.2 with executor",
			offers: []placementOffer{pOffer("o1", "a1", cpu(0.1)), pOffer("o2", "a1", cpu(0.2))},
			tasks:  pTasks("w", 2, cpu(0.1)),
			exec:   cpu(0.1),
			wantOK: true,
		},
		{
			name:   "exact fit of many small amounts",
			offers: []placementOffer{pOffer("o1", "a1", res{"cpus": 1, "mem": 0.7})},
			tasks:  pTasks("w", 10, res{"cpus": 0.1, "mem": 0.07}),
			wantOK: true,
		},
		{
			name:   "just over does not fit",
			offers: []placementOffer{pOffer("o1", "a1", cpu(0.3))},
			tasks:  pTasks("w", 3, cpu(0.1000001)),
			wantOK: false,
		},
		{
			name:   "fragmentation: sum fits but no agent holds the task",
			offers: []placementOffer{pOffer("o1", "a1", cpu(1)), pOffer("o2", "a2", cpu(1))},
			tasks:  pTasks("w", 1, cpu(1.5)),
			wantOK: false,
		},
		{
			name:   "fragmentation: sum fits but packing does not",
			offers: []placementOffer{pOffer("o1", "a1", cpu(1)), pOffer("o2", "a2", cpu(1))},
			tasks:  pTasks("w", 3, cpu(0.6)),
			wantOK: false,
		},
		{
			name: "offers of one agent are pooled",
			offers: []placementOffer{
				pOffer("o2", "a1", res{"cpus": 1, "mem": 100}),
				pOffer("o3", "a2", res{"cpus": 0.5, "mem": 1000}),
				pOffer("o1", "a1", res{"cpus": 1, "mem": 100}),
			},
			tasks:  pTasks("w", 1, res{"cpus": 1.5, "mem": 150}),
			wantOK: true,
			want:   &placementPlan{Agents: []agentPlacement{{AgentID: "a1", OfferIDs: []string{"o2", "o1"}, Tasks: []int{0}}}},
		},
		{
			name:   "executor counted once per agent: fits",
			offers: []placementOffer{pOffer("o1", "a1", cpu(4))},
			tasks:  pTasks("w", 7, cpu(0.5)),
			exec:   cpu(0.5),
			wantOK: true,
			want:   &placementPlan{Agents: []agentPlacement{{AgentID: "a1", OfferIDs: []string{"o1"}, Tasks: []int{0, 1, 2, 3, 4, 5, 6}}}},
		},
		{
			name:   "executor counted: does not fit",
			offers: []placementOffer{pOffer("o1", "a1", cpu(1))},
			tasks:  pTasks("w", 1, cpu(0.75)),
			exec:   cpu(0.5),
			wantOK: false,
		},
		{
			name:   "executor counted on every agent used: two agents fit",
			offers: []placementOffer{pOffer("o1", "a1", cpu(1)), pOffer("o2", "a2", cpu(1))},
			tasks:  pTasks("w", 2, cpu(0.5)),
			exec:   cpu(0.5),
			wantOK: true,
			want: &placementPlan{Agents: []agentPlacement{
				{AgentID: "a1", OfferIDs: []string{"o1"}, Tasks: []int{0}},
				{AgentID: "a2", OfferIDs: []string{"o2"}, Tasks: []int{1}},
			}},
		},
		{
			name:   "executor counted on every agent used: three do not fit",
			offers: []placementOffer{pOffer("o1", "a1", cpu(1)), pOffer("o2", "a2", cpu(1))},
			tasks:  pTasks("w", 3, cpu(0.5)),
			exec:   cpu(0.5),
			wantOK: false,
		},
		{
			name:   "executor needs a resource no agent has",
			offers: []placementOffer{pOffer("o1", "a1", cpu(4))},
			tasks:  pTasks("w", 1, cpu(1)),
			exec:   res{"cpus": 0.1, "mem": 32},
			wantOK: false,
		},
		{
			name:   "task fits nowhere: missing resource counts as 0",
			offers: []placementOffer{pOffer("o1", "a1", cpu(8)), pOffer("o2", "a2", cpu(8))},
			tasks:  pTasks("g", 1, res{"cpus": 1, "gpus": 1}),
			wantOK: false,
		},
		{
			name:   "task fits nowhere: too big",
			offers: []placementOffer{pOffer("o1", "a1", res{"cpus": 8, "mem": 100}), pOffer("o2", "a2", res{"cpus": 1, "mem": 1000})},
			tasks:  pTasks("w", 1, res{"cpus": 2, "mem": 200}),
			wantOK: false,
		},
		{
			name:   "no offers",
			tasks:  pTasks("w", 1, cpu(1)),
			wantOK: false,
		},
		{
			name:   "zero tasks",
			offers: []placementOffer{pOffer("o1", "a1", cpu(1))},
			exec:   cpu(100),
			wantOK: true,
			want:   &placementPlan{},
		},
		{
			name:   "zero tasks and no offers",
			wantOK: true,
			want:   &placementPlan{},
		},
		{
			name:   "task without resources still needs the executor",
			offers: []placementOffer{pOffer("o1", "a1", cpu(0.2)), pOffer("o2", "a2", cpu(0.5))},
			tasks:  []placementTask{{Name: "empty-0"}},
			exec:   cpu(0.5),
			wantOK: true,
			want:   &placementPlan{Agents: []agentPlacement{{AgentID: "a2", OfferIDs: []string{"o2"}, Tasks: []int{0}}}},
		},
		{
			name:   "task without resources: executor fits nowhere",
			offers: []placementOffer{pOffer("o1", "a1", cpu(0.2))},
			tasks:  []placementTask{{Name: "empty-0", Resources: res{}}},
			exec:   cpu(0.5),
			wantOK: false,
		},
		{
			name:   "zero amounts are no requirement",
			offers: []placementOffer{pOffer("o1", "a1", res{})},
			tasks:  pTasks("z", 3, res{"cpus": 0, "gpus": 0}),
			exec:   res{"mem": 0},
			wantOK: true,
			want:   &placementPlan{Agents: []agentPlacement{{AgentID: "a1", OfferIDs: []string{"o1"}, Tasks: []int{0, 1, 2}}}},
		},
		{
			name: "arbitrary resource names: gpus and disk",
			offers: []placementOffer{
				pOffer("o1", "a1", res{"cpus": 8, "mem": 4096, "gpus": 0}),
				pOffer("o2", "a2", res{"cpus": 2, "mem": 1024, "gpus": 2, "disk": 100}),
			},
			tasks: concatTasks(
				pTasks("cpu", 3, res{"cpus": 2, "mem": 512}),
				pTasks("gpu", 2, res{"cpus": 0.5, "gpus": 1, "disk": 40}),
			),
			exec:   res{"cpus": 0.5, "mem": 64},
			wantOK: true,
			want: &placementPlan{Agents: []agentPlacement{
				{AgentID: "a1", OfferIDs: []string{"o1"}, Tasks: []int{0, 1, 2}},
				{AgentID: "a2", OfferIDs: []string{"o2"}, Tasks: []int{3, 4}},
			}},
		},
		{
			name: "many task types on heterogeneous agents",
			offers: []placementOffer{
				pOffer("o1", "a1", res{"cpus": 4, "mem": 4096}),
				pOffer("o2", "a2", res{"cpus": 2, "mem": 8192}),
				pOffer("o3", "a3", res{"cpus": 4, "mem": 2048}),
			},
			tasks: concatTasks(
				pTasks("big", 1, res{"cpus": 1, "mem": 6000}),
				pTasks("cpu", 3, res{"cpus": 1, "mem": 256}),
				pTasks("a", 2, res{"cpus": 0.5, "mem": 500}),
				pTasks("b", 4, res{"cpus": 0.25, "mem": 100}),
				pTasks("c", 2, res{"cpus": 0.75, "mem": 700}),
				pTasks("d", 1, res{"cpus": 1, "mem": 100}),
			),
			exec:   res{"cpus": 0.1, "mem": 10},
			wantOK: true,
		},
		{
			name: "memory-heavy type needs the memory-rich agent",
			offers: []placementOffer{
				pOffer("o1", "a1", res{"cpus": 4, "mem": 100}),
				pOffer("o2", "a2", res{"cpus": 1, "mem": 1000}),
			},
			tasks: concatTasks(
				pTasks("m", 1, res{"cpus": 0.5, "mem": 900}),
				pTasks("c", 3, res{"cpus": 1, "mem": 10}),
				pTasks("x", 2, res{"cpus": 0.25, "mem": 20}),
			),
			wantOK: true,
		},
		{
			name: "first strategy fails, a later one succeeds",
			offers: []placementOffer{
				pOffer("o1", "a1", res{"cpus": 1.3, "mem": 64}),
				pOffer("o2", "a1", res{"cpus": 2.4, "mem": 800}),
				pOffer("o3", "a1", res{"cpus": 2.2, "mem": 256, "disk": 300}),
				pOffer("o4", "a2", res{"cpus": 1.9, "mem": 2016}),
			},
			tasks: concatTasks(
				pTasks("c", 3, res{"cpus": 0.9, "mem": 160}),
				pTasks("m", 3, res{"cpus": 0.5, "mem": 512}),
			),
			exec:     res{"cpus": 0.3, "mem": 32},
			wantOK:   true,
			fallback: true,
		},
		{
			name:   "negative amount is not placeable",
			offers: []placementOffer{pOffer("o1", "a1", cpu(4))},
			tasks:  pTasks("w", 1, cpu(-1)),
			wantOK: false,
		},
		{
			name:   "NaN amount is not placeable",
			offers: []placementOffer{pOffer("o1", "a1", cpu(4))},
			tasks:  pTasks("w", 1, cpu(math.NaN())),
			wantOK: false,
		},
		{
			name:   "infinite amount is not placeable",
			offers: []placementOffer{pOffer("o1", "a1", cpu(math.Inf(1)))},
			tasks:  pTasks("w", 1, cpu(math.Inf(1))),
			wantOK: false,
		},
		{
			name:   "invalid executor resources",
			offers: []placementOffer{pOffer("o1", "a1", cpu(4))},
			tasks:  pTasks("w", 1, cpu(1)),
			exec:   cpu(math.NaN()),
			wantOK: false,
		},
		{
			name: "bad offered amounts are ignored",
			offers: []placementOffer{
				pOffer("o1", "a1", res{"cpus": math.NaN(), "mem": 100}),
				pOffer("o2", "a1", res{"cpus": -5, "mem": 100}),
				pOffer("o3", "a1", res{"cpus": 1, "mem": math.Inf(1)}),
			},
			tasks:  pTasks("w", 1, res{"cpus": 1, "mem": 200}),
			wantOK: true,
			want:   &placementPlan{Agents: []agentPlacement{{AgentID: "a1", OfferIDs: []string{"o1", "o2", "o3"}, Tasks: []int{0}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.tasks) <= 16 && validateTaskResources(tc.exec) == nil {
				valid := true
				for _, task := range tc.tasks {
					valid = valid && validateTaskResources(task.Resources) == nil
				}
				if valid {
					require.Equal(t, tc.wantOK, bruteForcePlaceable(tc.offers, tc.tasks, tc.exec), "expectation vs brute force")
				}
			}
			plan, ok := planPlacement(tc.offers, tc.tasks, tc.exec)
			require.Equal(t, tc.wantOK, ok)
			if !ok {
				require.Empty(t, plan.Agents, "no partial plan")
				require.Equal(t, offerIDs(tc.offers), unusedOffers(tc.offers, plan), "everything declined")
				return
			}
			requireValidPlan(t, tc.offers, tc.tasks, tc.exec, plan)
			if tc.want != nil {
				require.Equal(t, *tc.want, plan)
			}
			if len(tc.tasks) > 0 {
				pl, _ := newPlacementPlanner(tc.offers, tc.tasks, tc.exec)
				_, first := pl.firstFit(pl.typeOrders()[0], pl.agentOrders()[0])
				require.Equal(t, !tc.fallback, first, "first strategy alone succeeds")
			}
			again, ok2 := planPlacement(tc.offers, tc.tasks, tc.exec)
			require.True(t, ok2)
			require.Equal(t, plan, again, "deterministic")
		})
	}
}

// offerIDs returns the IDs of offers in order (nil for none).
func offerIDs(offers []placementOffer) []string {
	var ids []string
	for _, o := range offers {
		ids = append(ids, o.ID)
	}
	return ids
}

func TestPlacementConsolidatesOnFewAgents(t *testing.T) {
	// Identical agents and one task type: first fit fills agents one by one,
	// so the job uses as few agents (and executors) as possible.
	var offers []placementOffer
	for i := range 10 {
		offers = append(offers, pOffer(fmt.Sprintf("o%d", i), fmt.Sprintf("a%02d", i), res{"cpus": 4, "mem": 4096}))
	}
	tasks := pTasks("w", 9, res{"cpus": 1, "mem": 100})
	exec := res{"cpus": 0.5, "mem": 32}
	plan, ok := planPlacement(offers, tasks, exec)
	require.True(t, ok)
	requireValidPlan(t, offers, tasks, exec, plan)
	require.Len(t, plan.Agents, 3)
	assert.Equal(t, []int{0, 1, 2}, plan.Agents[0].Tasks)
	assert.Equal(t, []int{3, 4, 5}, plan.Agents[1].Tasks)
	assert.Equal(t, []int{6, 7, 8}, plan.Agents[2].Tasks)
}

func TestPlacementUnusedOffers(t *testing.T) {
	offers := []placementOffer{
		pOffer("o1", "a1", res{"cpus": 1}),
		pOffer("o2", "a2", res{"cpus": 8}),
		pOffer("o3", "a3", res{"cpus": 0.1}),
		pOffer("o4", "a2", res{"cpus": 1}),
		pOffer("o5", "a4", res{"gpus": 1}),
	}
	tasks := pTasks("w", 2, res{"cpus": 4})
	plan, ok := planPlacement(offers, tasks, nil)
	require.True(t, ok)
	require.Equal(t, []agentPlacement{{AgentID: "a2", OfferIDs: []string{"o2", "o4"}, Tasks: []int{0, 1}}}, plan.Agents)
	assert.Equal(t, []string{"o1", "o3", "o5"}, unusedOffers(offers, plan))

	assert.Equal(t, []string{"o1", "o2", "o3", "o4", "o5"}, unusedOffers(offers, placementPlan{}))
	assert.Empty(t, unusedOffers(nil, plan))
	all := placementPlan{Agents: []agentPlacement{{AgentID: "x", OfferIDs: offerIDs(offers)}}}
	assert.Empty(t, unusedOffers(offers, all))
}

func TestValidateTaskResources(t *testing.T) {
	tests := []struct {
		name    string
		res     res
		wantErr string
	}{
		{name: "nil", res: nil},
		{name: "empty", res: res{}},
		{name: "valid", res: res{"cpus": 0.5, "mem": 64, "gpus": 0}},
		{name: "negative", res: res{"cpus": 1, "mem": -64}, wantErr: `resource "mem": amount -64 is not a finite non-negative number`},
		{name: "NaN", res: res{"cpus": math.NaN()}, wantErr: `resource "cpus": amount NaN`},
		{name: "infinite", res: res{"disk": math.Inf(1)}, wantErr: `resource "disk": amount +Inf`},
		{name: "empty name", res: res{"": 1}, wantErr: "empty name"},
		{name: "first bad in name order", res: res{"b": -1, "a": -2, "c": -3}, wantErr: `resource "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validateTaskResources(tc.res)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// randomPlacementInput builds a random, reproducible placement problem.
func randomPlacementInput(rng *rand.Rand) ([]placementOffer, []placementTask, res) {
	// Amounts are multiples of 0.1 (cpus) and of 32 (mem), as in real use,
	// so exact fits with floating point errors are common.
	tenth := func(lo, hi int) float64 { return float64(lo+rng.IntN(hi-lo+1)) * 0.1 }
	var offers []placementOffer
	nAgents := 1 + rng.IntN(5)
	for a := range nAgents {
		for range 1 + rng.IntN(3) {
			r := res{"cpus": tenth(0, 30), "mem": float64(32 * rng.IntN(64))}
			if rng.IntN(4) == 0 {
				r["gpus"] = float64(rng.IntN(3))
			}
			if rng.IntN(3) == 0 {
				r["disk"] = float64(100 * rng.IntN(10))
			}
			offers = append(offers, pOffer(fmt.Sprintf("o%d", len(offers)), fmt.Sprintf("agent-%d", a), r))
		}
	}
	rng.Shuffle(len(offers), func(i, j int) { offers[i], offers[j] = offers[j], offers[i] })
	var tasks []placementTask
	for ty := range 1 + rng.IntN(4) {
		r := res{}
		switch rng.IntN(6) {
		case 0: // no resources at all
		case 1:
			r["gpus"] = 1
			r["cpus"] = tenth(1, 10)
		default:
			r["cpus"] = tenth(1, 15)
			r["mem"] = float64(32 * (1 + rng.IntN(16)))
			if rng.IntN(3) == 0 {
				r["disk"] = float64(50 * rng.IntN(5))
			}
		}
		tasks = append(tasks, pTasks(fmt.Sprintf("t%d", ty), rng.IntN(8), r)...)
	}
	rng.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })
	var exec res
	if rng.IntN(3) > 0 {
		exec = res{"cpus": tenth(0, 5), "mem": float64(32 * rng.IntN(3))}
	}
	return offers, tasks, exec
}

// singleAgentHoldsAll reports whether some agent alone holds every task plus
// one executor. First fit must then succeed: whatever other agents take, the
// rest still fits on that agent.
func singleAgentHoldsAll(offers []placementOffer, tasks []placementTask, exec res) bool {
	need := res{}
	for name, v := range exec {
		need[name] += v
	}
	for _, t := range tasks {
		for name, v := range t.Resources {
			need[name] += v
		}
	}
	pooled := map[string]res{}
	for _, o := range offers {
		if pooled[o.AgentID] == nil {
			pooled[o.AgentID] = res{}
		}
		for name, v := range o.Resources {
			pooled[o.AgentID][name] += v
		}
	}
	for _, have := range pooled {
		fits := true
		for name, v := range need {
			if v > have[name]+1e-9*math.Max(1, have[name]) {
				fits = false
			}
		}
		if fits {
			return true
		}
	}
	return false
}

// bruteForcePlaceable searches every assignment of tasks to agents (small
// inputs only) and reports whether any is valid.
func bruteForcePlaceable(offers []placementOffer, tasks []placementTask, exec res) bool {
	var agents []string
	pooled := map[string]res{}
	for _, o := range offers {
		if pooled[o.AgentID] == nil {
			pooled[o.AgentID] = res{}
			agents = append(agents, o.AgentID)
		}
		for name, v := range o.Resources {
			if v > 0 && !math.IsInf(v, 1) {
				pooled[o.AgentID][name] += v
			}
		}
	}
	if len(agents) == 0 {
		return len(tasks) == 0
	}
	used := make([]res, len(agents))
	for i := range used {
		used[i] = res{}
	}
	count := make([]int, len(agents))
	add := func(ai int, r res, sign float64) {
		for name, v := range r {
			used[ai][name] += sign * v
		}
	}
	within := func(ai int) bool {
		for name, v := range used[ai] {
			have := pooled[agents[ai]][name]
			if v > have+1e-9*math.Max(1, have) {
				return false
			}
		}
		return true
	}
	var rec func(i int) bool
	rec = func(i int) bool {
		if i == len(tasks) {
			return true
		}
		for ai := range agents {
			if count[ai] == 0 {
				add(ai, exec, 1)
			}
			add(ai, tasks[i].Resources, 1)
			count[ai]++
			found := within(ai) && rec(i+1)
			count[ai]--
			add(ai, tasks[i].Resources, -1)
			if count[ai] == 0 {
				add(ai, exec, -1)
			}
			if found {
				return true
			}
		}
		return false
	}
	return rec(0)
}

func TestPlacementRandomProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240601, 7))
	const cases = 600
	var nOK, nFail, nBrute, nMissed, nFallback int
	for c := range cases {
		offers, tasks, exec := randomPlacementInput(rng)
		plan, ok := planPlacement(offers, tasks, exec)
		again, ok2 := planPlacement(offers, tasks, exec)
		require.Equal(t, ok, ok2, "case %d: deterministic", c)
		require.Equal(t, plan, again, "case %d: deterministic", c)
		if ok && len(tasks) > 0 {
			// How often did the first strategy alone fail?
			pl, _ := newPlacementPlanner(offers, tasks, exec)
			if _, first := pl.firstFit(pl.typeOrders()[0], pl.agentOrders()[0]); !first {
				nFallback++
			}
		}
		unused := unusedOffers(offers, plan)
		if !ok {
			nFail++
			require.Empty(t, plan.Agents, "case %d: no partial plan", c)
			require.Equal(t, offerIDs(offers), unused, "case %d", c)
			require.False(t, singleAgentHoldsAll(offers, tasks, exec),
				"case %d: one agent holds the whole job, yet planning failed", c)
		} else {
			nOK++
			requireValidPlan(t, offers, tasks, exec, plan)
			// Every offer is either used or declined, never both.
			var named []string
			for _, a := range plan.Agents {
				named = append(named, a.OfferIDs...)
			}
			all := slices.Concat(named, unused)
			slices.Sort(all)
			want := offerIDs(offers)
			slices.Sort(want)
			require.Equal(t, want, all, "case %d: used + unused = all offers", c)
		}
		if len(tasks) <= 7 && len(offers) > 0 {
			nBrute++
			feasible := bruteForcePlaceable(offers, tasks, exec)
			if ok {
				require.True(t, feasible, "case %d: plan found for an infeasible input", c)
			} else if feasible {
				nMissed++
			}
		}
	}
	t.Logf("%d cases: %d placed (%d needed a fallback strategy), %d not placeable; %d checked by brute force, heuristic missed %d feasible",
		cases, nOK, nFallback, nFail, nBrute, nMissed)
	require.Greater(t, nOK, cases/10, "random inputs should often be placeable")
	require.Greater(t, nFail, cases/10, "random inputs should often not be placeable")
	require.LessOrEqual(t, nMissed, nBrute/20, "heuristic misses too many feasible small inputs")
}

func TestPlacementLargeInputsValid(t *testing.T) {
	for _, types := range []int{1, 4, 100, 10000} {
		t.Run(fmt.Sprintf("types=%d", types), func(t *testing.T) {
			offers, tasks, exec := benchPlacementInput(10000, 1000, types, 1.25)
			plan, ok := planPlacement(offers, tasks, exec)
			require.True(t, ok)
			requireValidPlan(t, offers, tasks, exec, plan)
			// Tight: the same job on 0.995 of the demand cannot fit once
			// every agent pays for its executor.
			offers, tasks, exec = benchPlacementInput(10000, 1000, types, 0.995)
			pl, valid := newPlacementPlanner(offers, tasks, exec)
			require.True(t, valid)
			require.True(t, pl.feasibleBounds(), "the sum (one executor) fits")
			_, ok = planPlacement(offers, tasks, exec)
			require.False(t, ok)
		})
	}
}

// benchPlacementInput builds nTasks tasks of nTypes types over nOffers offers
// (two offers per agent), with capacity = demand*capScale spread evenly plus
// room for one executor per agent.
func benchPlacementInput(nTasks, nOffers, nTypes int, capScale float64) ([]placementOffer, []placementTask, res) {
	exec := res{"cpus": 0.1, "mem": 32}
	tasks := make([]placementTask, nTasks)
	var cpus, mem float64
	for i := range tasks {
		ty := i % nTypes
		r := res{
			"cpus": 0.25 + 0.05*float64(ty%8) + 1e-4*float64(ty),
			"mem":  float64(128 + 64*(ty%5)),
		}
		cpus += r["cpus"]
		mem += r["mem"]
		tasks[i] = placementTask{Name: fmt.Sprintf("t%d-%d", ty, i/nTypes), Resources: r}
	}
	nAgents := max(1, nOffers/2)
	perOffer := res{
		"cpus": math.Ceil(10*(cpus*capScale/float64(nOffers)+exec["cpus"]/2)) / 10,
		"mem":  math.Ceil(mem*capScale/float64(nOffers) + exec["mem"]/2),
		"disk": 1000,
	}
	offers := make([]placementOffer, nOffers)
	for i := range offers {
		offers[i] = pOffer(fmt.Sprintf("offer-%d", i), fmt.Sprintf("agent-%04d", i%nAgents), perOffer)
	}
	return offers, tasks, exec
}

func BenchmarkPlacement(b *testing.B) {
	type size struct {
		tasks, offers, types int
		capScale             float64
		wantOK               bool
		suffix               string
	}
	sizes := []size{
		{100, 10, 4, 1.25, true, ""},
		{1000, 100, 4, 1.25, true, ""},
		{10000, 1000, 4, 1.25, true, ""},
		{10000, 1000, 100, 1.25, true, "/types=100"},
		{10000, 1000, 10000, 1.25, true, "/types=10000"},
		// Enough in total (executor counted once) but not per agent:
		// every strategy runs and fails.
		{10000, 1000, 4, 0.995, false, "/nofit"},
	}
	for _, s := range sizes {
		offers, tasks, exec := benchPlacementInput(s.tasks, s.offers, s.types, s.capScale)
		b.Run(fmt.Sprintf("tasks=%d/offers=%d%s", s.tasks, s.offers, s.suffix), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := planPlacement(offers, tasks, exec); ok != s.wantOK {
					b.Fatalf("ok = %v, want %v", ok, s.wantOK)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.tasks), "ns/task")
		})
	}
}

package mesosgot

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// This file holds the all-or-nothing placement planner: a pure function from
// one round of offers and the job's task instances to either a plan that
// places every task, or "not this round". It knows nothing of mesos-go, does
// no I/O, reads no clock and keeps no global state.
//
// Placement is multi-dimensional bin packing with heterogeneous bins (one bin
// per agent, the agent's offers pooled) and a per-bin opening cost (the
// executor's own resources), which is NP-hard. The planner uses deterministic
// first-fit-decreasing heuristics on task types (identical resource vectors
// grouped together), trying a few orderings before giving up:
//
//   - types in decreasing dominant share (then decreasing total share),
//   - agents in decreasing, then increasing, normalised size.
//
// For n tasks of T types, A agents and d resource dimensions, a strategy
// costs O(A·d) to set up plus, per type, O(d log A) for each agent it lands
// on (a segment tree of per-dimension maxima finds the next agent with room),
// so in total about O(n log n): 10,000 tasks over 1,000 offers plan in a few
// milliseconds, with 4 types or 10,000 distinct ones. A cheap necessary
// condition (the sum fits, each type fits the largest agent) rejects most
// hopeless rounds before any strategy runs.

// placementEpsilon is the relative (and, below 1, absolute) tolerance used
// when comparing resource amounts, so floating point rounding (0.1+0.2 style)
// never rejects an exact fit.
const placementEpsilon = 1e-9

// placementOffer is one Mesos offer, reduced to what placement needs.
type placementOffer struct {
	ID        string             // offer ID
	AgentID   string             // agent (slave) ID; offers with the same AgentID may be combined (Mesos allows several offers of one agent in one LaunchTasks)
	Resources map[string]float64 // scalar resources: any name ("cpus","mem","disk","gpus",...)
}

// placementTask is one task instance to place.
type placementTask struct {
	Name      string // instance name "<name>-<index>"
	Resources map[string]float64
}

// placementPlan is the result: for every agent that gets at least one task.
type placementPlan struct {
	Agents []agentPlacement // sorted by AgentID for determinism
}

// agentPlacement is the part of a placementPlan for one agent: the offers to
// launch on and the tasks that go there.
type agentPlacement struct {
	AgentID  string
	OfferIDs []string // ALL offers of that agent that the launch must name (every offer of that agent, since they were pooled), in input order
	Tasks    []int    // indexes into the tasks slice given to planPlacement, in ascending order
}

// validateTaskResources reports whether res is a valid resource request: every
// name non-empty and every amount a finite, non-negative number. The scheduler
// uses it to reject bad SpawnTask input early; planPlacement treats a task
// that fails it as not placeable. A nil or empty map is valid.
func validateTaskResources(res map[string]float64) error {
	bad := false
	for name, v := range res {
		if name == "" || !validResourceAmount(v) {
			bad = true
			break
		}
	}
	if !bad {
		return nil
	}
	// Report the first bad entry in name order, so the message is deterministic.
	names := make([]string, 0, len(res))
	for name := range res {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := res[name]
		if name == "" {
			return fmt.Errorf("resource with an empty name (amount %v)", v)
		}
		if !validResourceAmount(v) {
			return fmt.Errorf("resource %q: amount %v is not a finite non-negative number", name, v)
		}
	}
	return nil
}

// validResourceAmount reports whether v is finite and non-negative.
func validResourceAmount(v float64) bool {
	return v >= 0 && !math.IsInf(v, 1) // NaN fails v >= 0
}

// placementSlack is the tolerance granted when x is the amount available.
func placementSlack(x float64) float64 {
	return placementEpsilon * math.Max(1, math.Abs(x))
}

// placementAgent is one agent's offers pooled, as the planner sees it.
type placementAgent struct {
	id       string
	offerIDs []string
	avail    []float64 // pooled amount per dimension (see planner.dims)
}

// placementType is a group of tasks with identical resource requirements.
type placementType struct {
	req      []float64 // amount per dimension
	tasks    []int     // task indexes, ascending
	dominant float64   // largest share of the pooled total over the dimensions
	share    float64   // sum of shares of the pooled total over the dimensions
}

// placementPlanner holds one planning problem in dense, index-based form.
type placementPlanner struct {
	d      int              // number of dimensions
	dims   []string         // dimension names, sorted
	agents []placementAgent // sorted by id
	types  []placementType  // in order of first appearance
	exec   []float64        // executor resources per dimension
	total  []float64        // pooled total over all agents per dimension
	dimIdx map[string]int   // name -> dimension index
	scores []float64        // normalised agent size, per agent
}

// planPlacement places every task or reports that the round cannot hold the
// job. Offers are pooled per agent; a task must fit entirely on one agent.
// executorRes is counted ONCE per agent that receives >=1 task (the
// executor's own resources). A resource a task asks for that an agent does not
// offer counts as 0 available there; offered amounts that are negative, NaN or
// infinite are ignored. ok=false means: not all tasks fit (or a task or the
// executor asks for an invalid amount, see validateTaskResources); the plan is
// then empty. It never returns a partial plan. Zero tasks give ok=true and an
// empty plan. The result is deterministic: the same input gives the same plan.
func planPlacement(offers []placementOffer, tasks []placementTask, executorRes map[string]float64) (plan placementPlan, ok bool) {
	if len(tasks) == 0 {
		return placementPlan{}, true
	}
	p, valid := newPlacementPlanner(offers, tasks, executorRes)
	if !valid || !p.feasibleBounds() {
		return placementPlan{}, false
	}
	typeOrders := p.typeOrders()
	agentOrders := p.agentOrders()
	for _, to := range typeOrders {
		for _, ao := range agentOrders {
			if assign, ok := p.firstFit(to, ao); ok {
				return p.buildPlan(assign), true
			}
		}
	}
	return placementPlan{}, false
}

// unusedOffers returns the IDs of offers that the plan does not use (to be
// declined), in input order.
func unusedOffers(offers []placementOffer, plan placementPlan) []string {
	used := make(map[string]struct{})
	for _, a := range plan.Agents {
		for _, id := range a.OfferIDs {
			used[id] = struct{}{}
		}
	}
	var out []string
	for _, o := range offers {
		if _, ok := used[o.ID]; !ok {
			out = append(out, o.ID)
		}
	}
	return out
}

// newPlacementPlanner validates the input and builds the dense problem:
// dimensions, pooled agents and task types. valid=false means a task or the
// executor has an invalid resource amount.
func newPlacementPlanner(offers []placementOffer, tasks []placementTask, executorRes map[string]float64) (*placementPlanner, bool) {
	p := &placementPlanner{dimIdx: make(map[string]int)}

	// Dimensions: every resource name some task or the executor needs (> 0).
	addDims := func(res map[string]float64) bool {
		for name, v := range res {
			if name == "" || !validResourceAmount(v) {
				return false
			}
			if v > 0 {
				if _, ok := p.dimIdx[name]; !ok {
					p.dimIdx[name] = 0
					p.dims = append(p.dims, name)
				}
			}
		}
		return true
	}
	if !addDims(executorRes) {
		return nil, false
	}
	for i := range tasks {
		if !addDims(tasks[i].Resources) {
			return nil, false
		}
	}
	sort.Strings(p.dims)
	for i, name := range p.dims {
		p.dimIdx[name] = i
	}
	p.d = len(p.dims)
	p.exec = p.vector(executorRes)

	// Agents: pool the offers, sorted by agent ID.
	agIdx := make(map[string]int)
	for _, o := range offers {
		ai, ok := agIdx[o.AgentID]
		if !ok {
			ai = len(p.agents)
			agIdx[o.AgentID] = ai
			p.agents = append(p.agents, placementAgent{id: o.AgentID, avail: make([]float64, p.d)})
		}
		a := &p.agents[ai]
		a.offerIDs = append(a.offerIDs, o.ID)
		for name, v := range o.Resources {
			r, ok := p.dimIdx[name]
			if ok && v > 0 && !math.IsInf(v, 1) {
				a.avail[r] += v
			}
		}
	}
	sort.SliceStable(p.agents, func(i, j int) bool { return p.agents[i].id < p.agents[j].id })
	p.total = make([]float64, p.d)
	for _, a := range p.agents {
		for r, v := range a.avail {
			p.total[r] += v
		}
	}

	// Types: group tasks with identical requirement vectors.
	typeIdx := make(map[string]int)
	key := make([]byte, 8*p.d)
	vec := make([]float64, p.d)
	for i := range tasks {
		clear(vec)
		for name, v := range tasks[i].Resources {
			if v > 0 {
				vec[p.dimIdx[name]] = v
			}
		}
		for r, v := range vec {
			b := math.Float64bits(v)
			for k := 0; k < 8; k++ {
				key[8*r+k] = byte(b >> (8 * k))
			}
		}
		ti, ok := typeIdx[string(key)]
		if !ok {
			ti = len(p.types)
			typeIdx[string(key)] = ti
			p.types = append(p.types, placementType{req: slices.Clone(vec)})
		}
		p.types[ti].tasks = append(p.types[ti].tasks, i)
	}

	for ti := range p.types {
		t := &p.types[ti]
		for r, v := range t.req {
			if v > 0 {
				s := math.Inf(1)
				if p.total[r] > 0 {
					s = v / p.total[r]
				}
				t.dominant = math.Max(t.dominant, s)
				t.share += s
			}
		}
	}
	p.scores = make([]float64, len(p.agents))
	for ai, a := range p.agents {
		for r, v := range a.avail {
			if p.total[r] > 0 {
				p.scores[ai] += v / p.total[r]
			}
		}
	}
	return p, true
}

// vector converts a resource map to a dense vector over p's dimensions,
// dropping names that are not dimensions.
func (p *placementPlanner) vector(res map[string]float64) []float64 {
	v := make([]float64, p.d)
	for name, x := range res {
		if r, ok := p.dimIdx[name]; ok && x > 0 {
			v[r] = x
		}
	}
	return v
}

// feasibleBounds is a cheap necessary condition: the whole job plus one
// executor fits in the pooled total, and every task type plus an executor fits
// in the largest amount any single agent has, dimension by dimension. When it
// fails no plan exists, and the strategies need not run.
func (p *placementPlanner) feasibleBounds() bool {
	if len(p.agents) == 0 {
		return false
	}
	need := slices.Clone(p.exec)
	maxAvail := make([]float64, p.d)
	for _, a := range p.agents {
		for r, v := range a.avail {
			maxAvail[r] = math.Max(maxAvail[r], v)
		}
	}
	for _, t := range p.types {
		n := float64(len(t.tasks))
		for r, v := range t.req {
			need[r] += n * v
			if v+p.exec[r] > maxAvail[r]+placementSlack(maxAvail[r]) {
				return false
			}
		}
	}
	for r, v := range need {
		if v > p.total[r]+placementSlack(p.total[r]) {
			return false
		}
	}
	return true
}

// typeOrders returns the distinct orders in which the strategies place the
// task types: by decreasing dominant share, then by decreasing total share.
// Ties fall back to the requirement vector and then the first task index, so
// the orders are fully deterministic.
func (p *placementPlanner) typeOrders() [][]int {
	lexDesc := func(a, b *placementType) int {
		for r := range a.req {
			if c := cmpFloatDesc(a.req[r], b.req[r]); c != 0 {
				return c
			}
		}
		return a.tasks[0] - b.tasks[0]
	}
	byDominant := p.typeOrder(func(a, b *placementType) int {
		if c := cmpFloatDesc(a.dominant, b.dominant); c != 0 {
			return c
		}
		if c := cmpFloatDesc(a.share, b.share); c != 0 {
			return c
		}
		return lexDesc(a, b)
	})
	byShare := p.typeOrder(func(a, b *placementType) int {
		if c := cmpFloatDesc(a.share, b.share); c != 0 {
			return c
		}
		if c := cmpFloatDesc(a.dominant, b.dominant); c != 0 {
			return c
		}
		return lexDesc(a, b)
	})
	if slices.Equal(byDominant, byShare) {
		return [][]int{byDominant}
	}
	return [][]int{byDominant, byShare}
}

// typeOrder returns the type indexes sorted with cmp.
func (p *placementPlanner) typeOrder(cmp func(a, b *placementType) int) []int {
	order := make([]int, len(p.types))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return cmp(&p.types[i], &p.types[j]) })
	return order
}

// agentOrders returns the distinct orders in which the strategies try agents:
// by decreasing normalised size (fewest agents, fewest executors), then by
// increasing size (tasks go to the smallest agent that holds them, keeping
// big agents free, a best-fit flavour). Ties fall back to the agent ID.
func (p *placementPlanner) agentOrders() [][]int {
	desc := make([]int, len(p.agents))
	for i := range desc {
		desc[i] = i
	}
	// Agents are sorted by ID, so index order breaks ties by ID.
	slices.SortStableFunc(desc, func(i, j int) int { return cmpFloatDesc(p.scores[i], p.scores[j]) })
	asc := make([]int, len(p.agents))
	for i := range asc {
		asc[i] = i
	}
	slices.SortStableFunc(asc, func(i, j int) int { return -cmpFloatDesc(p.scores[i], p.scores[j]) })
	if slices.Equal(desc, asc) || len(p.types) == 1 {
		// With a single type every agent takes as many as it can hold,
		// whatever the order, so a second order cannot succeed either.
		return [][]int{desc}
	}
	return [][]int{desc, asc}
}

// cmpFloatDesc orders a before b when a is larger.
func cmpFloatDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// firstFit runs one first-fit strategy: types in typeOrder, each placed on
// agents in agentOrder, as many on each agent as fit. It returns the task
// indexes per agent index, or ok=false when some task does not fit. A
// capacityTree finds the next agent that holds at least one task of a type,
// so agents that are (nearly) full cost O(log A) to skip, not O(A).
func (p *placementPlanner) firstFit(typeOrder, agentOrder []int) (assign [][]int, ok bool) {
	d := p.d
	avail := make([]float64, len(p.agents)*d)
	for ai, a := range p.agents {
		copy(avail[ai*d:], a.avail)
	}
	assign = make([][]int, len(p.agents))
	tree := newCapacityTree(len(agentOrder), d)
	for pos, ai := range agentOrder {
		p.capacity(tree.leaf(pos), avail[ai*d:(ai+1)*d], true)
	}
	tree.build()
	for _, ti := range typeOrder {
		t := &p.types[ti]
		placed := 0
		for pos := tree.findFrom(0, t.req); pos >= 0; pos = tree.findFrom(pos+1, t.req) {
			ai := agentOrder[pos]
			av := avail[ai*d : (ai+1)*d]
			fresh := assign[ai] == nil
			k := p.fitCount(av, fresh, t.req, len(t.tasks)-placed)
			if k == 0 {
				continue // cannot happen: the tree found it fits
			}
			for r := range av {
				av[r] -= float64(k) * t.req[r]
				if fresh {
					av[r] -= p.exec[r]
				}
			}
			p.capacity(tree.leaf(pos), av, false)
			tree.update(pos)
			assign[ai] = append(assign[ai], t.tasks[placed:placed+k]...)
			placed += k
			if placed == len(t.tasks) {
				break
			}
		}
		if placed < len(t.tasks) {
			return nil, false
		}
	}
	return assign, true
}

// capacity writes to c what an agent with av available can still give one
// more task, per dimension, tolerance included: av, less the executor when
// the agent is fresh (has no task yet). A task needing req fits iff
// c[r] >= req[r] for every r, which is exactly fitCount(...) >= 1.
func (p *placementPlanner) capacity(c, av []float64, fresh bool) {
	for r, a := range av {
		c[r] = a + placementSlack(a)
		if fresh {
			c[r] -= p.exec[r]
		}
	}
}

// capacityTree is a segment tree over the agents of one strategy, by position
// in the strategy's agent order: a leaf holds an agent's capacity per
// dimension, an inner node the maximum of its children per dimension. It
// finds the leftmost agent from a position on that holds a task.
type capacityTree struct {
	d    int       // dimensions
	n    int       // agents (leaves in use)
	size int       // leaves, a power of two >= n
	max  []float64 // node i (root 1, children 2i and 2i+1) at [i*d, (i+1)*d)
}

// newCapacityTree returns a tree of n leaves of d dimensions, all -Inf.
func newCapacityTree(n, d int) *capacityTree {
	size := 1
	for size < n {
		size *= 2
	}
	t := &capacityTree{d: d, n: n, size: size, max: make([]float64, 2*size*d)}
	for i := range t.max {
		t.max[i] = math.Inf(-1)
	}
	return t
}

// leaf returns the capacity vector of the agent at position pos, to write.
// Call build (all leaves) or update (one leaf) after writing.
func (t *capacityTree) leaf(pos int) []float64 {
	i := t.size + pos
	return t.max[i*t.d : (i+1)*t.d]
}

// build recomputes every inner node from the leaves.
func (t *capacityTree) build() {
	for i := t.size - 1; i >= 1; i-- {
		t.pull(i)
	}
}

// update recomputes the inner nodes above the leaf at position pos.
func (t *capacityTree) update(pos int) {
	for i := (t.size + pos) / 2; i >= 1; i /= 2 {
		t.pull(i)
	}
}

// pull sets node i to the per-dimension maximum of its children.
func (t *capacityTree) pull(i int) {
	d := t.d
	n, l, r := t.max[i*d:(i+1)*d], t.max[2*i*d:(2*i+1)*d], t.max[(2*i+1)*d:(2*i+2)*d]
	for k := range n {
		n[k] = math.Max(l[k], r[k])
	}
}

// findFrom returns the leftmost position >= from whose agent holds a task
// needing req, or -1.
func (t *capacityTree) findFrom(from int, req []float64) int {
	if from >= t.n {
		return -1
	}
	return t.find(1, 0, t.size, from, req)
}

// find searches node i, covering positions [lo, hi), for findFrom.
func (t *capacityTree) find(i, lo, hi, from int, req []float64) int {
	if hi <= from || lo >= t.n {
		return -1
	}
	c := t.max[i*t.d : (i+1)*t.d]
	for r, q := range req {
		if c[r] < q {
			return -1
		}
	}
	if hi-lo == 1 {
		return lo
	}
	mid := (lo + hi) / 2
	if pos := t.find(2*i, lo, mid, from, req); pos >= 0 {
		return pos
	}
	return t.find(2*i+1, mid, hi, from, req)
}

// fitCount returns how many tasks (at most limit) needing req fit into av;
// fresh means the agent has no task yet, so the executor must fit as well.
func (p *placementPlanner) fitCount(av []float64, fresh bool, req []float64, limit int) int {
	k := float64(limit)
	for r, a := range av {
		s := placementSlack(a)
		if fresh {
			a -= p.exec[r]
			if a+s < 0 {
				return 0
			}
		}
		if q := req[r]; q > 0 {
			if n := (a + s) / q; n < k {
				k = n
				if k < 1 {
					return 0
				}
			}
		}
	}
	return int(k) // 0 <= k <= limit, so the truncation is a floor and safe
}

// buildPlan turns a per-agent assignment into the plan, in agent ID order.
func (p *placementPlanner) buildPlan(assign [][]int) placementPlan {
	var plan placementPlan
	for ai, tasks := range assign {
		if len(tasks) == 0 {
			continue
		}
		slices.Sort(tasks)
		plan.Agents = append(plan.Agents, agentPlacement{
			AgentID:  p.agents[ai].id,
			OfferIDs: slices.Clone(p.agents[ai].offerIDs),
			Tasks:    tasks,
		})
	}
	return plan
}

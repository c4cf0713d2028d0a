package localmesos

// usedByAgent returns, for every agent, the resources held by offers, live
// tasks and live executors, in one pass over them. The allocator runs after
// every terminal status update; computing each agent's use separately
// walked every task once per agent (agents × tasks per update, so a job of
// 10,000 tasks on 100 agents ending cost 10^10 steps).
func (m *master) usedByAgent() map[string]resSet {
	used := make(map[string]resSet, len(m.agents))
	at := func(agentID string) resSet {
		u, ok := used[agentID]
		if !ok {
			u = newResSet()
			used[agentID] = u
		}
		return u
	}
	for _, o := range m.offers {
		at(o.agentID).add(o.res)
	}
	for _, fw := range m.frameworks {
		for _, t := range fw.tasks {
			if !isTerminal(t.state) {
				at(t.agentID).add(t.res)
			}
		}
		for agentID, execs := range fw.executors {
			for _, e := range execs {
				at(agentID).add(fromProto(e.GetResources()))
			}
		}
	}
	return used
}

// allocateSoon allocates what terminal tasks freed once the master is
// free again, so that a burst of terminal updates (a job of 10,000 tasks
// ending) costs a few allocations instead of one each. Called with m.mu held.
func (m *master) allocateSoon() {
	if m.allocSoon {
		return
	}
	m.allocSoon = m.c.goTracked(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.allocSoon = false
		m.allocate()
	})
}

// add adds o to rs in place (rs's maps must be its own).
func (rs resSet) add(o resSet) {
	for k, v := range o.scalars {
		rs.scalars[k] += v
	}
	for k, v := range o.ranges {
		rs.ranges[k] = addRanges(rs.ranges[k], v)
	}
	for k, v := range o.sets {
		if rs.sets[k] == nil {
			rs.sets[k] = map[string]bool{}
		}
		for s := range v {
			rs.sets[k][s] = true
		}
	}
}

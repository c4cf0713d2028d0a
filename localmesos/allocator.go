package localmesos

import (
	"fmt"
	"math"
	"sort"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// usedOn returns the resources of agentID held by offers, live tasks and
// live executors.
func (m *master) usedOn(agentID string) resSet {
	used := newResSet()
	for _, o := range m.offers {
		if o.agentID == agentID {
			used.add(o.res)
		}
	}
	for _, fw := range m.frameworks {
		for _, t := range fw.tasks {
			if t.agentID == agentID && !isTerminal(t.state) {
				used.add(t.res)
			}
		}
		for _, e := range fw.executors[agentID] {
			used.add(fromProto(e.GetResources()))
		}
	}
	return used
}

func (fw *framework) filtered(agentID string, res resSet, now time.Time) bool {
	kept := fw.filters[:0]
	hit := false
	for _, f := range fw.filters {
		if now.After(f.until) {
			continue
		}
		kept = append(kept, f)
		if f.agentID == agentID && f.res.contains(res) {
			hit = true
		}
	}
	fw.filters = kept
	return hit
}

// allocate offers every agent's free resources to one active framework
// each, round-robin. Called with m.mu held.
func (m *master) allocate() {
	if m.c.isClosing() {
		return
	}
	m.allocateAgents(m.agentOrder, m.usedByAgent()) // allocator_used.go
}

// allocateAgent is allocate for one agent only, whose resources an event
// changed (a launch's unused remainder): Mesos' allocator leaves those to
// its next batch allocation (MESOS-3078), this one offers them at once
// without walking every task of every agent (a job launching 10,000 tasks
// on 100 agents sends 100 LaunchTasksMessages). Called with m.mu held.
func (m *master) allocateAgent(agentID string) {
	if m.c.isClosing() || m.agents[agentID] == nil {
		return
	}
	m.allocateAgents([]string{agentID}, map[string]resSet{agentID: m.usedOn(agentID)})
}

// allocateAgents is allocate over agentIDs, used holding their resources
// in use.
func (m *master) allocateAgents(agentIDs []string, used map[string]resSet) {
	var fws []*framework
	for _, fw := range m.frameworks {
		if fw.active && fw.connected && !fw.removed {
			fws = append(fws, fw)
		}
	}
	if len(fws) == 0 {
		return
	}
	sort.Slice(fws, func(i, j int) bool { return fws[i].id < fws[j].id })
	now := time.Now()
	batch := map[*framework]*mesos.ResourceOffersMessage{}
	for _, agentID := range agentIDs {
		a := m.agents[agentID]
		if a.lost {
			continue
		}
		u, ok := used[agentID]
		if !ok {
			u = newResSet()
		}
		free := a.total.minus(u)
		if free.empty() {
			continue
		}
		for i := range fws {
			fw := fws[(m.rr+i)%len(fws)]
			if fw.filtered(agentID, free, now) {
				continue
			}
			m.rr++
			o := &offer{id: fmt.Sprintf("%s-O%d", m.c.runID, m.nextOffer), fwID: fw.id, agentID: agentID, res: free}
			m.nextOffer++
			m.offers[o.id] = o
			var execIDs []*mesos.ExecutorID
			for _, e := range fw.executors[agentID] {
				execIDs = append(execIDs, e.ExecutorId)
			}
			sort.Slice(execIDs, func(i, j int) bool { return execIDs[i].GetValue() < execIDs[j].GetValue() })
			pb := &mesos.Offer{
				Id:          &mesos.OfferID{Value: proto.String(o.id)},
				FrameworkId: fw.info.Id,
				SlaveId:     &mesos.SlaveID{Value: proto.String(agentID)},
				Hostname:    proto.String(a.info.GetHostname()),
				Resources:   free.proto(),
				Attributes:  a.info.GetAttributes(),
				ExecutorIds: execIDs,
			}
			msg := batch[fw]
			if msg == nil {
				msg = &mesos.ResourceOffersMessage{}
				batch[fw] = msg
			}
			msg.Offers = append(msg.Offers, pb)
			msg.Pids = append(msg.Pids, a.pid.String())
			break
		}
	}
	for fw, msg := range batch {
		m.c.stats.offersSent.Add(int64(len(msg.Offers)))
		m.send(fw.pid, msg)
	}
}

// rescindOffers withdraws fw's offers matching pred, telling the scheduler.
func (m *master) rescindOffers(fw *framework, pred func(*offer) bool) {
	for id, o := range m.offers {
		if o.fwID == fw.id && pred(o) {
			delete(m.offers, id)
			m.c.stats.offersRescinded.Add(1)
			if fw.connected {
				m.send(fw.pid, &mesos.RescindResourceOfferMessage{OfferId: &mesos.OfferID{Value: proto.String(id)}})
			}
		}
	}
}

// dropOffers forgets fw's offers without telling it.
func (m *master) dropOffers(fw *framework) {
	for id, o := range m.offers {
		if o.fwID == fw.id {
			delete(m.offers, id)
		}
	}
}

// maxRefuse caps refuse_seconds, as Mesos' hierarchical allocator does.
const maxRefuse = 365 * 24 * time.Hour

// refuse is how long declined or unused resources are filtered, as Mesos'
// HierarchicalAllocatorProcess::recoverResources reads Filters: unset or
// negative (or not a number) refuse_seconds means the default (5 s), more
// than 365 days means 365 days.
func (m *master) refuse(filters *mesos.Filters) time.Duration {
	if filters == nil || filters.RefuseSeconds == nil {
		return m.c.cfg.OfferRefuseDefault
	}
	secs := filters.GetRefuseSeconds()
	switch {
	case secs > maxRefuse.Seconds():
		log.Warningf("localmesos: using 365 days to create the refused resources filter because refuse_seconds %g is too big", secs)
		return maxRefuse
	case secs < 0 || math.IsNaN(secs):
		log.Warningf("localmesos: using the default value of 'refuse_seconds' to create the refused resources filter because the input value %g is negative", secs)
		return m.c.cfg.OfferRefuseDefault
	}
	return time.Duration(secs * float64(time.Second))
}

func (m *master) addFilter(fw *framework, agentID string, res resSet, d time.Duration) {
	if d <= 0 || res.empty() {
		return
	}
	fw.filters = append(fw.filters, &filter{agentID: agentID, res: res, until: time.Now().Add(d)})
	m.c.after(d+time.Millisecond, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.allocateAgent(agentID) // the filter held only this agent's resources
	})
}

func (m *master) reviveOffers(from *upid.UPID, msg *mesos.ReviveOffersMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fw := m.lookup(msg.GetFrameworkId(), from); fw != nil {
		fw.filters = nil
		fw.active = true
		m.allocate()
	}
}

func (m *master) resourceRequest(from *upid.UPID, msg *mesos.ResourceRequestMessage) {
	log.V(1).Infof("localmesos: ignoring resource request from %s", from)
}

package mesosgot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/detector"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// A plain host:port master may be restarted on the same address (by an
// operator, by systemd). The new master has a new id and knows nothing of
// the framework (a Mesos master keeps no frameworks across a restart): it
// ignores the scheduler's kills, acknowledgements and reconciliation, and
// forwards none of the tasks' status updates, while the agents re-register
// with it and the data plane, which goes straight between the scheduler
// and the agents, carries on. mesos-go's standalone detector polls the
// master's /state for a change of leader pid, which a restart on the same
// address does not make (mesos-go #231), so the driver never re-registers.
//
// The master probe therefore holds a connection to the master (a dying
// master closes it at once) and reads the master's id from /state each time
// it connects anew, and every stateCheckEvery. When the id is not the one
// the framework registered with, the job waits until the agents of its
// running tasks have re-registered with the new master (a master without a
// registry would answer the reconciliation of tasks on agents it has not
// heard from yet with TASK_LOST), then tells the driver that a master was
// detected, exactly as the driver's own detector does on a change, so that
// it re-registers with the framework's id as after a failover; the new
// master then takes the framework back with the tasks its agents reported.
// If the re-registration does not come within MasterLostTimeout, the job
// fails saying the master restarted and forgot the framework.

// stateCheckEvery is how often a plain master's id is read while the held
// connection stays up (as often as mesos-go's standalone detector polls).
const stateCheckEvery = 30 * time.Second

// recheckEvery is how often a restarted master's /state is read while the
// job waits for its agents to re-register with it.
const recheckEvery = 200 * time.Millisecond

// masterState is the job's view of its master.
type masterState struct {
	lostAt       time.Time // when the master was first seen gone; zero while it is there
	disconnected bool      // the driver said Disconnected and has not re-registered
	unreachable  bool      // the probe cannot connect to the master
	why          string    // what showed it gone first
	stopProbe    func()
	id           string // the id of the master the framework (re-)registered with
	restartedTo  string // the id of a restarted master the driver was sent to re-register with
	announced    bool   // the app got Disconnected and no (re-)registration since
}

// masterIdentity is what a plain master's /state says it is.
type masterIdentity struct {
	ID     string `json:"id"`
	Leader string `json:"leader"` // libprocess pid, e.g. master@10.0.0.1:5050
	Slaves []struct {
		ID     string `json:"id"`
		Active bool   `json:"active"`
	} `json:"slaves"`
}

// fetchMasterIdentity reads the id and leader of the master at addr from
// its /state, as mesos-go's standalone detector does.
func fetchMasterIdentity(ctx context.Context, addr string) (masterIdentity, error) {
	var mi masterIdentity
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/state", nil)
	if err != nil {
		return mi, err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	res, err := client.Do(req)
	if err != nil {
		return mi, fmt.Errorf("reading the master's /state: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return mi, fmt.Errorf("reading the master's /state: %s", res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&mi); err != nil {
		return mi, fmt.Errorf("decoding the master's /state: %w", err)
	}
	return mi, nil
}

// heldConn is a connection to the master held open to notice the master
// process's end at once: the read returns when the master closes it.
type heldConn struct {
	c    net.Conn
	gone chan struct{} // closed when the read returned
	wg   sync.WaitGroup
}

func holdConn(c net.Conn) *heldConn {
	h := &heldConn{c: c, gone: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(h.gone)
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	return h
}

// close closes the connection and waits for its reader.
func (h *heldConn) close() {
	if h != nil {
		h.c.Close()
		h.wg.Wait()
	}
}

// checkIdentity reads the master's id and hands it to the job.
func (j *schedJob) checkIdentity(ctx context.Context, addr string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mi, err := fetchMasterIdentity(ctx, addr)
	if err != nil {
		log.V(1).Infof("mesosgot: master %s: %v", addr, err)
		return
	}
	j.s.inbox.push(func() { j.masterIdentified(mi) })
}

// masterIdentified compares the id a plain master gives with the one the
// framework registered with: another id is a restarted master, which the
// driver is sent to re-register with.
func (j *schedJob) masterIdentified(mi masterIdentity) {
	m := &j.ha.master
	if mi.ID == "" || m.id == "" || mi.ID == m.id || mi.ID == m.restartedTo || j.phase == phaseDone {
		j.s.masterRecheck.Store(false)
		return
	}
	why := fmt.Sprintf("the master restarted (its id is now %s, the framework registered with %s) and forgot the framework", mi.ID, m.id)
	if m.why != why {
		j.masterGone(why)
		m.why = why // the most precise account, even if the master looked gone before
	}
	if missing := j.agentsMissingFrom(mi); len(missing) > 0 {
		// re-register once they are back, so that reconciliation finds the tasks
		m.why = why + fmt.Sprintf("; agents %v of the job's tasks have not re-registered with it", missing)
		if !j.s.masterRecheck.Swap(true) {
			select { // wake the probe, which then reads /state every recheckEvery
			case j.s.masterPoke <- struct{}{}:
			default:
			}
			log.Warningf("mesosgot: master %s: %s; waiting for agents %v to re-register with it", j.s.conf.Master, why, missing)
		}
		return
	}
	j.s.masterRecheck.Store(false)
	m.restartedTo = mi.ID
	if err := j.s.redetectMaster(mi.Leader); err != nil {
		log.Warningf("mesosgot: master %s: %s; cannot make the driver re-register: %v", j.s.conf.Master, why, err)
		return
	}
	m.why = why + "; the framework's re-registration was not answered"
	log.Warningf("mesosgot: master %s: %s; the driver re-registers the framework with it", j.s.conf.Master, why)
}

// agentsMissingFrom returns the agents of the job's running tasks that the
// master mi does not list as active.
func (j *schedJob) agentsMissingFrom(mi masterIdentity) []string {
	active := map[string]bool{}
	for _, a := range mi.Slaves {
		if a.Active {
			active[a.ID] = true
		}
	}
	seen := map[string]bool{}
	var missing []string
	for _, name := range j.taskOrder {
		t := j.tasks[name]
		if t.launched && !t.terminal && t.agentID != "" && !active[t.agentID] && !seen[t.agentID] {
			seen[t.agentID] = true
			missing = append(missing, t.agentID)
		}
	}
	return missing
}

// redetectMaster tells the driver that master leader was detected, as its
// detector does (an InternalMasterChangeDetected routed to the driver's own
// pid through its messenger): the driver disconnects, then re-registers the
// framework with that master.
func (s *GoTaskScheduler) redetectMaster(leader string) error {
	m, _ := s.watchedMsgr.Load().(messenger.Messenger)
	if m == nil {
		return fmt.Errorf("the driver's messenger is not the job's")
	}
	pid, err := upid.Parse(leader)
	if err != nil {
		return fmt.Errorf("the master's /state names leader %q: %w", leader, err)
	}
	self := m.UPID()
	return m.Route(context.Background(), &self, &mesos.InternalMasterChangeDetected{Master: detector.CreateMasterInfo(pid)})
}

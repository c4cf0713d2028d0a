package localmesos

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync/atomic"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// Stats counts what the cluster did. Framework message counters count every
// FrameworkToExecutorMessage and ExecutorToFrameworkMessage the agents
// carry.
type Stats struct {
	FrameworksRegistered int64
	FrameworksRemoved    int64
	OffersSent           int64
	OffersDeclined       int64
	OffersRescinded      int64
	TasksLaunched        int64 // tasks sent to an agent
	TasksInvalid         int64 // tasks refused at launch (TASK_ERROR / TASK_LOST)
	StatusUpdates        int64 // status updates forwarded to schedulers
	ExecutorsLaunched    int64 // executor processes started
	ExecutorsExited      int64
	FrameworkMessages    int64 // framework messages delivered (at least once)
	FrameworkMsgsDropped int64
	FrameworkMsgsDuped   int64
	FrameworkMsgsDelayed int64
	// FrameworkMsgsViaMaster counts executor messages the master relayed
	// because an agent did not know the scheduler's pid.
	FrameworkMsgsViaMaster int64
	AuthenticationsOK      int64
	AuthenticationsFailed  int64
}

type counters struct {
	frameworksRegistered, frameworksRemoved           atomic.Int64
	offersSent, offersDeclined, offersRescinded       atomic.Int64
	tasksLaunched, tasksInvalid, statusUpdates        atomic.Int64
	executorsLaunched, executorsExited                atomic.Int64
	fwMsgs, fwMsgsDropped, fwMsgsDuped, fwMsgsDelayed atomic.Int64
	fwMsgsViaMaster                                   atomic.Int64
	authOK, authFailed                                atomic.Int64
}

// TaskState is the master's view of one task.
type TaskState struct {
	FrameworkID string
	TaskID      string
	AgentID     string
	ExecutorID  string
	State       mesos.TaskState
	Message     string
}

// FrameworkState is the master's view of one framework.
type FrameworkState struct {
	ID        string
	Name      string
	Principal string
	PID       string
	Active    bool // receives offers
	Connected bool
	Removed   bool
}

// AgentState is the master's view of one agent.
type AgentState struct {
	ID        string
	PID       string
	Hostname  string
	Resources string
	Lost      bool // removed by the master (health check timed out or unregistered)
}

// ExecutorState describes one executor known to an agent.
type ExecutorState struct {
	FrameworkID string
	ExecutorID  string
	AgentID     string
	Directory   string // sandbox
	Pid         int    // OS process id (also its process group id); 0 before start
	Registered  bool
}

// Stats returns a snapshot of the cluster's counters.
func (c *Cluster) Stats() Stats {
	s := &c.stats
	return Stats{
		FrameworksRegistered:   s.frameworksRegistered.Load(),
		FrameworksRemoved:      s.frameworksRemoved.Load(),
		OffersSent:             s.offersSent.Load(),
		OffersDeclined:         s.offersDeclined.Load(),
		OffersRescinded:        s.offersRescinded.Load(),
		TasksLaunched:          s.tasksLaunched.Load(),
		TasksInvalid:           s.tasksInvalid.Load(),
		StatusUpdates:          s.statusUpdates.Load(),
		ExecutorsLaunched:      s.executorsLaunched.Load(),
		ExecutorsExited:        s.executorsExited.Load(),
		FrameworkMessages:      s.fwMsgs.Load(),
		FrameworkMsgsDropped:   s.fwMsgsDropped.Load(),
		FrameworkMsgsDuped:     s.fwMsgsDuped.Load(),
		FrameworkMsgsDelayed:   s.fwMsgsDelayed.Load(),
		FrameworkMsgsViaMaster: s.fwMsgsViaMaster.Load(),
		AuthenticationsOK:      s.authOK.Load(),
		AuthenticationsFailed:  s.authFailed.Load(),
	}
}

// Tasks returns the master's view of every task it accepted, sorted by
// framework and task ID.
func (c *Cluster) Tasks() []TaskState { return c.master.tasks() }

// Frameworks returns every framework the master has known, sorted by ID.
func (c *Cluster) Frameworks() []FrameworkState { return c.master.frameworkStates() }

// Agents returns the master's view of its agents, in registration order
// (for Start's agents, start order).
func (c *Cluster) Agents() []AgentState { return c.master.agentStates() }

// Executors returns the executors the agents currently run or start.
func (c *Cluster) Executors() []ExecutorState {
	var out []ExecutorState
	for _, a := range c.agents {
		out = append(out, a.executorStates()...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AgentID != out[j].AgentID {
			return out[i].AgentID < out[j].AgentID
		}
		if out[i].FrameworkID != out[j].FrameworkID {
			return out[i].FrameworkID < out[j].FrameworkID
		}
		return out[i].ExecutorID < out[j].ExecutorID
	})
	return out
}

// serveState answers GET /state with a subset of Mesos' master state JSON;
// "leader" is what mesos-go's standalone master detector reads.
func (c *Cluster) serveState(w http.ResponseWriter, r *http.Request) {
	select {
	case <-c.started:
	case <-c.closing:
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	case <-r.Context().Done():
		return
	}
	type fw struct {
		ID     string      `json:"id"`
		Name   string      `json:"name"`
		PID    string      `json:"pid"`
		Active bool        `json:"active"`
		Tasks  []TaskState `json:"tasks"`
	}
	type slave struct {
		ID        string `json:"id"`
		PID       string `json:"pid"`
		Hostname  string `json:"hostname"`
		Resources string `json:"resources"`
		Active    bool   `json:"active"`
	}
	st := struct {
		Version    string  `json:"version"`
		ID         string  `json:"id"`
		PID        string  `json:"pid"`
		Hostname   string  `json:"hostname"`
		Leader     string  `json:"leader"`
		Frameworks []fw    `json:"frameworks"`
		Slaves     []slave `json:"slaves"`
	}{Version: Version, ID: c.runID, PID: c.MasterPID(), Hostname: c.cfg.IP, Leader: c.MasterPID()}
	tasks := c.Tasks()
	for _, f := range c.Frameworks() {
		if f.Removed {
			continue
		}
		x := fw{ID: f.ID, Name: f.Name, PID: f.PID, Active: f.Active}
		for _, t := range tasks {
			if t.FrameworkID == f.ID {
				x.Tasks = append(x.Tasks, t)
			}
		}
		st.Frameworks = append(st.Frameworks, x)
	}
	for _, a := range c.Agents() {
		st.Slaves = append(st.Slaves, slave{ID: a.ID, PID: a.PID, Hostname: a.Hostname, Resources: a.Resources, Active: !a.Lost})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

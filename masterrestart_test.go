package mesosgot

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeStateServer serves a master's /state whose id and agents the test
// sets; it returns the address and a setter, which also closes every
// connection to it, as a master's restart does.
func fakeStateServer(t *testing.T) (string, func(id string, agents ...string)) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var state atomic.Value
	var mu sync.Mutex
	var conns []net.Conn
	set := func(id string, agents ...string) {
		mi := masterIdentity{ID: id, Leader: "master@" + l.Addr().String()}
		for _, a := range agents {
			mi.Slaves = append(mi.Slaves, struct {
				ID     string `json:"id"`
				Active bool   `json:"active"`
			}{a, true})
		}
		state.Store(mi)
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(state.Load())
	})
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), set
}

// A plain master answers with a new id in its /state (it restarted and
// forgot the framework). When the driver cannot be made to re-register (a
// driver whose messenger is not the job's, here the fake one), the job
// fails after MasterLostTimeout saying so and pointing to zk://; the app
// saw Disconnected when the new id showed.
func TestRestartedMasterFailsTheJobWhenNotReregistered(t *testing.T) {
	checkNoLeak(t)
	addr, setState := fakeStateServer(t)
	setState("mesostest-master", "agent-0")
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.conf.Master = addr
	f.sched.conf.MasterLostTimeout = time.Second
	f.sched.probeMaster.Store(true)
	f.sched.SpawnTask("wait", 1, nil)
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		setState("restarted-master", "agent-0") // and its connections close
		drainEvents(evs, schedevent)
	})
	err := f.run()
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Contains(t, err.Error(), "master "+addr+" lost for 1s (the master restarted (its id is now restarted-master, the framework registered with mesostest-master) and forgot the framework)")
	assert.Contains(t, err.Error(), "use -master=zk://")
	assert.Equal(t, 1, evs.count(Disconnected))
}

// A restarted master whose /state does not list the agents of the job's
// tasks yet is waited on (re-registering now would have the tasks
// reconciled as lost); if they do not come back, the error names them.
func TestRestartedMasterWithoutTheAgentsFailsNamingThem(t *testing.T) {
	checkNoLeak(t)
	addr, setState := fakeStateServer(t)
	setState("mesostest-master", "agent-0")
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) { e.RegisterTaskFunc("wait", waitTask) })
	f.sched.conf.Master = addr
	f.sched.conf.MasterLostTimeout = time.Second
	f.sched.probeMaster.Store(true)
	f.sched.SpawnTask("wait", 1, nil)
	evs := &events{}
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		if !untilRunning(1, evs, schedevent) {
			return
		}
		setState("restarted-master") // and its connections close
		drainEvents(evs, schedevent)
	})
	err := f.run()
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Contains(t, err.Error(), "forgot the framework; agents [agent-0] of the job's tasks have not re-registered with it)")
	assert.Contains(t, err.Error(), "use -master=zk://")
	assert.Equal(t, 1, evs.count(Disconnected))
}

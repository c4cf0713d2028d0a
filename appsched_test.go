package mesosgot

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	_ AppTaskScheduler = (*DefAppTaskScheduler)(nil)
	_ AppSchedulerTask = AppSchedulerFunc(nil)
)

// schedChans are the three channels RunScheduler hands the app scheduler.
type schedChans struct {
	in  chan GoTaskMsg
	out chan GoTaskMsg
	ev  chan SchedEvent
}

func newSchedChans() schedChans {
	return schedChans{in: make(chan GoTaskMsg, 1), out: make(chan GoTaskMsg, 1), ev: make(chan SchedEvent, 1)}
}

// same reports whether the app scheduler got exactly these channels.
func (c schedChans) same(in <-chan GoTaskMsg, out chan<- GoTaskMsg, ev <-chan SchedEvent) bool {
	return in == (<-chan GoTaskMsg)(c.in) && out == (chan<- GoTaskMsg)(c.out) && ev == (<-chan SchedEvent)(c.ev)
}

// countingSchedTask is an AppSchedulerTask that counts its runs.
type countingSchedTask struct {
	runs int
	c    schedChans
	ok   bool
}

func (s *countingSchedTask) Run(in <-chan GoTaskMsg, out chan<- GoTaskMsg, ev <-chan SchedEvent) {
	s.runs++
	s.ok = s.c.same(in, out, ev)
}

func TestAppSchedulerFuncRun(t *testing.T) {
	c := newSchedChans()
	c.in <- GoTaskMsg{TaskName: "w-0", MessageData: "ping"}
	c.ev <- SchedEvent{EventType: Registered, EventData: "fw-1"}
	var got SchedEvent
	f := AppSchedulerFunc(func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, ev <-chan SchedEvent) {
		m := <-in
		out <- GoTaskMsg{TaskName: m.TaskName, MessageData: "pong"}
		got = <-ev
	})
	f.Run(c.in, c.out, c.ev)
	assert.Equal(t, GoTaskMsg{TaskName: "w-0", MessageData: "pong"}, <-c.out)
	assert.Equal(t, SchedEvent{EventType: Registered, EventData: "fw-1"}, got)
}

func TestDefAppTaskSchedulerSpawn(t *testing.T) {
	s := NewDefAppTaskScheduler()
	assert.Empty(t, s.TasksResourceInfo())

	res := map[string]float64{"cpus": 0.5, "mem": 64}
	s.SpawnTask("worker", 8, res)
	more := []*AppTaskResourceInfo{
		{Name: "a", Count: 1, Resources: map[string]float64{"cpus": 1}, Args: []string{"-x"}, Env: map[string]string{"K": "V"}},
		{Name: "b", Count: 2},
	}
	s.SpawnTasks(more)
	s.SpawnTasks(nil)
	s.SpawnTask("last", 1, nil)

	got := s.TasksResourceInfo()
	require.Len(t, got, 4)
	assert.Equal(t, &AppTaskResourceInfo{Name: "worker", Count: 8, Resources: res}, got[0])
	assert.Same(t, more[0], got[1])
	assert.Same(t, more[1], got[2])
	assert.Equal(t, &AppTaskResourceInfo{Name: "last", Count: 1}, got[3])
}

func TestDefAppTaskSchedulerTasksResourceInfoIsCopy(t *testing.T) {
	s := NewDefAppTaskScheduler()
	s.SpawnTask("a", 1, nil)
	s.SpawnTask("b", 2, nil)

	got := s.TasksResourceInfo()
	require.Len(t, got, 2)
	got[0] = &AppTaskResourceInfo{Name: "replaced"}
	got[1] = nil

	again := s.TasksResourceInfo()
	require.Len(t, again, 2)
	assert.Equal(t, "a", again[0].Name)
	assert.Equal(t, "b", again[1].Name)

	// Appending to a returned slice does not show up in later calls either.
	first := s.TasksResourceInfo()
	_ = append(first, &AppTaskResourceInfo{Name: "extra"})
	s.SpawnTask("c", 1, nil)
	third := s.TasksResourceInfo()
	require.Len(t, third, 3)
	assert.Equal(t, "c", third[2].Name)
	assert.Len(t, first, 2)
}

func TestDefAppTaskSchedulerRunScheduler(t *testing.T) {
	t.Run("func", func(t *testing.T) {
		s := NewDefAppTaskScheduler()
		c := newSchedChans()
		runs, ok := 0, false
		s.RegisterSchedFunc(func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, ev <-chan SchedEvent) {
			runs++
			ok = c.same(in, out, ev)
		})
		s.RunScheduler(c.in, c.out, c.ev)
		assert.Equal(t, 1, runs)
		assert.True(t, ok, "the registered func gets the given channels")
	})
	t.Run("task", func(t *testing.T) {
		s := NewDefAppTaskScheduler()
		st := &countingSchedTask{c: newSchedChans()}
		s.RegisterSchedTask(st)
		s.RunScheduler(st.c.in, st.c.out, st.c.ev)
		assert.Equal(t, 1, st.runs)
		assert.True(t, st.ok)
	})
	t.Run("last registration wins", func(t *testing.T) {
		s := NewDefAppTaskScheduler()
		first := &countingSchedTask{}
		s.RegisterSchedTask(first)
		called := false
		s.RegisterSchedFunc(func(<-chan GoTaskMsg, chan<- GoTaskMsg, <-chan SchedEvent) { called = true })
		s.RunScheduler(nil, nil, nil)
		assert.True(t, called)
		assert.Zero(t, first.runs)
	})
	t.Run("nothing registered returns", func(t *testing.T) {
		s := NewDefAppTaskScheduler()
		c := newSchedChans()
		assert.NotPanics(t, func() { s.RunScheduler(c.in, c.out, c.ev) })
		assert.Empty(t, c.out, "nothing was sent")
	})
}

func TestDefAppTaskSchedulerConcurrent(t *testing.T) {
	s := NewDefAppTaskScheduler()
	const n = 16
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.SpawnTask("t", i, nil)
			_ = s.TasksResourceInfo()
			s.RegisterSchedFunc(func(<-chan GoTaskMsg, chan<- GoTaskMsg, <-chan SchedEvent) {})
			s.RunScheduler(nil, nil, nil)
		}()
	}
	wg.Wait()
	assert.Len(t, s.TasksResourceInfo(), n)
}

// recordingAppSched is an AppTaskScheduler that records what reaches it.
type recordingAppSched struct {
	DefAppTaskScheduler
	spawnCalls int
}

func (r *recordingAppSched) SpawnTask(name string, count int, res map[string]float64) {
	r.spawnCalls++
	r.DefAppTaskScheduler.SpawnTask(name, count, res)
}

func TestGoTaskSchedulerDefaults(t *testing.T) {
	s := NewGoTaskScheduler("", nil, nil)
	require.NotNil(t, s)
	assert.Equal(t, DefaultSchedulerConfig(), s.conf, "nil conf means the defaults")
	app, ok := s.app.(*DefAppTaskScheduler)
	require.True(t, ok, "nil aps means a DefAppTaskScheduler, got %T", s.app)
	assert.Nil(t, s.Err(), "no error before DriverConfig")
	assert.Nil(t, s.Result(), "no result before the job ends")

	res := map[string]float64{"cpus": 0.5, "mem": 64}
	s.SpawnTask("worker", 8, res)
	s.SpawnTasks([]*AppTaskResourceInfo{{Name: "x", Count: 1, Args: []string{"a"}}})
	got := app.TasksResourceInfo()
	require.Len(t, got, 2)
	assert.Equal(t, &AppTaskResourceInfo{Name: "worker", Count: 8, Resources: res}, got[0])
	assert.Equal(t, []string{"a"}, got[1].Args)

	c := newSchedChans()
	ok = false
	s.RegisterSchedFunc(func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, ev <-chan SchedEvent) { ok = c.same(in, out, ev) })
	app.RunScheduler(c.in, c.out, c.ev)
	assert.True(t, ok, "RegisterSchedFunc reaches the app scheduler")

	st := &countingSchedTask{c: newSchedChans()}
	s.RegisterSchedTask(st)
	app.RunScheduler(st.c.in, st.c.out, st.c.ev)
	assert.Equal(t, 1, st.runs, "RegisterSchedTask reaches the app scheduler")
}

func TestGoTaskSchedulerUsesGivenAppScheduler(t *testing.T) {
	conf := DefaultSchedulerConfig()
	conf.Master = "m:5050"
	aps := &recordingAppSched{}
	s := NewGoTaskScheduler("bob", conf, aps)
	assert.Same(t, conf, s.conf)
	assert.Same(t, aps, s.app)
	s.SpawnTask("w", 2, nil)
	assert.Equal(t, 1, aps.spawnCalls)
	assert.Len(t, aps.TasksResourceInfo(), 1)
}

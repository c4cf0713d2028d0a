package elevator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	exec "github.com/mesos/mesos-go/api/v0/executor"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/internal/mesostest"
)

func TestParseMsgRoundTrip(t *testing.T) {
	for _, m := range []Msg{
		{Kind: KindAssign, Req: 7, From: 2, To: 5},
		{Kind: KindStep, T: 12},
		{Kind: KindPos, T: 3, Floor: 4, Dir: Down, Riders: 2, Waiting: 1},
		{Kind: KindPos, T: 0, Floor: 0, Dir: Idle},
		{Kind: KindPickup, T: 9, Req: 3, Floor: 6},
		{Kind: KindDeliver, T: 10, Req: 3, Floor: 1},
	} {
		got, err := ParseMsg(m.Encode())
		require.NoError(t, err, m.Encode())
		assert.Equal(t, m, got)
	}
	for _, bad := range []string{"", "fly 1", "assign 1 2", "assign 1 2 x", "pos 1 2 sideways 0 0", "step 1 2", "step  1"} {
		_, err := ParseMsg(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestRequestsAreDeterministicAndValid(t *testing.T) {
	a, b := Requests(500, 8, 42), Requests(500, 8, 42)
	assert.Equal(t, a, b, "same seed, same stream")
	assert.NotEqual(t, a, Requests(500, 8, 43), "another seed, another stream")
	prev := 1
	for i, r := range a {
		assert.Equal(t, i, r.ID)
		assert.True(t, r.From >= 0 && r.From < 8 && r.To >= 0 && r.To < 8 && r.From != r.To, "%+v", r)
		assert.True(t, r.At >= prev && r.At <= prev+2, "%+v after %d", r, prev)
		prev = r.At
	}
	assert.Equal(t, 1, a[0].At)
}

func TestETA(t *testing.T) {
	for _, tc := range []struct {
		name string
		car  CarView
		from int
		want int
	}{
		{"idle below", CarView{Floor: 5, Dir: Idle}, 2, 3},
		{"idle here", CarView{Floor: 3}, 3, 0},
		{"up, ahead", CarView{Floor: 2, Dir: Up, Stops: []int{7}}, 5, 3},
		{"up, behind, turns at farthest stop", CarView{Floor: 4, Dir: Up, Stops: []int{6, 7, 1}}, 2, 3 + 5},
		{"up, behind, no stop ahead", CarView{Floor: 4, Dir: Up, Stops: []int{1}}, 2, 2},
		{"down, ahead", CarView{Floor: 6, Dir: Down, Stops: []int{0}}, 1, 5},
		{"down, behind", CarView{Floor: 3, Dir: Down, Stops: []int{0, 5}}, 6, 3 + 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ETA(tc.car, tc.from))
			assert.Equal(t, tc.want+len(tc.car.Stops), Cost(tc.car, tc.from))
		})
	}
}

func TestPicture(t *testing.T) {
	assert.Equal(t, "[3^2] [0.0] [7v1]", Picture([]CarView{{Floor: 3, Dir: Up}, {Floor: 0}, {Floor: 7, Dir: Down}}, []int{2, 0, 1}))
}

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name string
		cars []CarView
		req  Request
		want int
	}{
		{"nearest idle", []CarView{{Floor: 0}, {Floor: 2}, {Floor: 4}, {Floor: 6}}, Request{From: 5, To: 0}, 2},
		{"tie goes to the lowest index", []CarView{{Floor: 3}, {Floor: 5}}, Request{From: 4, To: 0}, 0},
		{"busy near car loses to idle far one", []CarView{
			{Floor: 4, Dir: Up, Stops: []int{5, 6, 7}}, {Floor: 0}}, Request{From: 3, To: 0}, 1},
		{"car passing by in its direction wins", []CarView{
			{Floor: 1, Dir: Up, Stops: []int{6}}, {Floor: 7, Dir: Down, Stops: []int{0}}}, Request{From: 4, To: 6}, 0},
		{"car moving away loses", []CarView{
			{Floor: 3, Dir: Up, Stops: []int{7}}, {Floor: 7}}, Request{From: 2, To: 0}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, Choose(tc.cars, tc.req)) })
	}
}

// trace runs car through steps 1..n with the assignments given per step
// (applied before that step) and returns every message, one per line.
func trace(t *testing.T, car *Car, steps int, assign map[int][]Request) []string {
	var lines []string
	for s := 1; s <= steps; s++ {
		for _, r := range assign[s] {
			require.NoError(t, car.Assign(r.ID, r.From, r.To))
		}
		msgs, err := car.Step(s)
		require.NoError(t, err)
		for _, m := range msgs {
			lines = append(lines, m.Encode())
		}
	}
	return lines
}

func TestCarSimulation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		start  int
		steps  int
		assign map[int][]Request
		want   []string // every message; "pos" lines only where listed in wantPos
		moves  int
	}{
		{
			name: "one passenger up", start: 0, steps: 6,
			assign: map[int][]Request{1: {{ID: 1, From: 0, To: 3}}},
			want: []string{
				"pickup 1 1 0", "pos 1 0 up 1 0",
				"pos 2 1 up 1 0", "pos 3 2 up 1 0", "pos 4 3 idle 1 0",
				"deliver 5 1 3", "pos 5 3 idle 0 0",
				"pos 6 3 idle 0 0",
			},
			moves: 3,
		},
		{
			name: "LOOK: up to the top caller, then down, serving both", start: 5, steps: 17,
			assign: map[int][]Request{1: {{ID: 1, From: 2, To: 6}, {ID: 2, From: 7, To: 1}}},
			want: []string{
				"pos 1 6 up 0 2", "pos 2 7 down 0 2",
				"pickup 3 2 7", "pos 3 7 down 1 1",
				"pos 4 6 down 1 1", "pos 5 5 down 1 1", "pos 6 4 down 1 1", "pos 7 3 down 1 1", "pos 8 2 down 1 1",
				"pickup 9 1 2", "pos 9 2 down 2 0",
				"pos 10 1 up 2 0",
				"deliver 11 2 1", "pos 11 1 up 1 0",
				"pos 12 2 up 1 0", "pos 13 3 up 1 0", "pos 14 4 up 1 0", "pos 15 5 up 1 0", "pos 16 6 idle 1 0",
				"deliver 17 1 6", "pos 17 6 idle 0 0",
			},
			moves: 2 + 6 + 5,
		},
		{
			name: "deliver and pick up at the same floor in one step", start: 0, steps: 4,
			assign: map[int][]Request{1: {{ID: 1, From: 0, To: 1}}, 2: {{ID: 2, From: 1, To: 0}}},
			want: []string{
				"pickup 1 1 0", "pos 1 0 up 1 0",
				"pos 2 1 idle 1 1",
				"deliver 3 1 1", "pickup 3 2 1", "pos 3 1 down 1 0",
				"pos 4 0 idle 1 0",
			},
			moves: 2,
		},
		{
			name: "idle car stays put", start: 4, steps: 3,
			want:  []string{"pos 1 4 idle 0 0", "pos 2 4 idle 0 0", "pos 3 4 idle 0 0"},
			moves: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			car, err := NewCar(8, tc.start)
			require.NoError(t, err)
			assert.Equal(t, tc.want, trace(t, car, tc.steps, tc.assign))
			assert.Equal(t, tc.moves, car.Moves())
		})
	}
}

func TestCarRejectsBadInput(t *testing.T) {
	_, err := NewCar(8, 8)
	assert.Error(t, err)
	_, err = NewCar(1, 0)
	assert.Error(t, err)
	for _, tc := range []struct {
		name           string
		req, from, to  int
		wantErrContain string
	}{
		{"from below ground", 1, -1, 3, "from floor -1 out of range 0..7"},
		{"from above roof", 1, 8, 3, "from floor 8 out of range"},
		{"to above roof", 1, 3, 99, "to floor 99 out of range"},
		{"nowhere to go", 1, 3, 3, "same floor 3"},
		{"assigned twice", 0, 1, 2, "request 0 assigned twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			car, _ := NewCar(8, 0)
			require.NoError(t, car.Assign(0, 4, 5))
			err := car.Assign(tc.req, tc.from, tc.to)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErrContain)
		})
	}
	car, _ := NewCar(8, 0)
	_, err = car.Step(2)
	assert.ErrorContains(t, err, "got step 2, want step 1")
}

// runTask runs Task as elevator index of 4 on 8 floors with the given
// dispatcher messages, and returns its error and what it sent.
func runTask(index int, send ...string) (error, []string) {
	in := make(chan mesosgot.GoTaskMsg, len(send))
	out := make(chan mesosgot.GoTaskMsg, 256)
	for _, s := range send {
		in <- mesosgot.GoTaskMsg{MessageData: s}
	}
	close(in)
	name := taskName(index)
	err := Task(in, out, append([]string{name}, TaskArgs(4, 8)...), map[string]string{"MESOSGOT_TASK_NAME": name, "MESOSGOT_TASK_INDEX": strconv.Itoa(index)})
	close(out)
	var got []string
	for m := range out {
		got = append(got, m.MessageData)
	}
	return err, got
}

func TestTask(t *testing.T) {
	err, got := runTask(2, "assign 0 4 6", "step 1", "step 2")
	require.NoError(t, err)
	assert.Equal(t, []string{"pos 0 4 idle 0 0", "pickup 1 0 4", "pos 1 4 up 1 0", "pos 2 5 up 1 0"}, got, "elevator-2 starts at floor 2*8/4")

	for _, tc := range []struct {
		send []string
		want string
	}{
		{[]string{"assign 0 4 99"}, "elevator-1: request 0: to floor 99 out of range 0..7"},
		{[]string{"step 2"}, "elevator-1: got step 2, want step 1"},
		{[]string{"pos 1 1 up 0 0"}, "elevator-1: unexpected pos message"},
		{[]string{"assign one"}, "elevator-1: elevator protocol"},
	} {
		err, _ := runTask(1, tc.send...)
		assert.ErrorContains(t, err, tc.want)
	}
	err = Task(nil, nil, []string{"elevator-0", "-floors=x"}, nil)
	assert.ErrorContains(t, err, "bad args")
	err = Task(nil, nil, append([]string{"elevator-4"}, TaskArgs(4, 8)...), map[string]string{"MESOSGOT_TASK_INDEX": "4"})
	assert.ErrorContains(t, err, "is not one of 4 elevators")
}

// runInProcess runs the dispatcher against real elevator Tasks joined by
// plain channels (no Mesos). rewrite may change, drop or duplicate each
// elevator's outgoing message. A task error ends the run as a failed
// task ends a job.
func runInProcess(t *testing.T, o Options, rewrite func(e int, data string) []string) (*Result, []error) {
	fn, res := Scheduler(o)
	schedin := make(chan mesosgot.GoTaskMsg, mesosgot.DefTaskChanLen)
	schedout := make(chan mesosgot.GoTaskMsg, mesosgot.DefTaskChanLen)
	schedevent := make(chan mesosgot.SchedEvent, 16)
	var endOnce sync.Once
	end := func() { endOnce.Do(func() { close(schedevent) }) }
	ins := make([]chan mesosgot.GoTaskMsg, o.Elevators)
	errs := make([]error, o.Elevators)
	var wg sync.WaitGroup
	for e := range ins {
		ins[e] = make(chan mesosgot.GoTaskMsg, mesosgot.DefTaskChanLen)
		out := make(chan mesosgot.GoTaskMsg, mesosgot.DefTaskChanLen)
		wg.Add(2)
		go func() {
			defer wg.Done()
			env := map[string]string{"MESOSGOT_TASK_NAME": taskName(e), "MESOSGOT_TASK_INDEX": strconv.Itoa(e)}
			errs[e] = Task(ins[e], out, append([]string{env["MESOSGOT_TASK_NAME"]}, TaskArgs(o.Elevators, o.Floors)...), env)
			if errs[e] != nil {
				end()
			}
			close(out)
		}()
		go func() {
			defer wg.Done()
			for m := range out {
				ds := []string{m.MessageData}
				if rewrite != nil {
					ds = rewrite(e, m.MessageData)
				}
				for _, d := range ds {
					schedin <- mesosgot.GoTaskMsg{TaskName: taskName(e), MessageData: d}
				}
			}
		}()
	}
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		for m := range schedout {
			e, err := strconv.Atoi(strings.TrimPrefix(m.TaskName, TaskName+"-"))
			require.NoError(t, err)
			select {
			case ins[e] <- m:
			default: // a dead elevator: drop, as Mesos would
			}
		}
	}()
	done := make(chan struct{})
	go func() { fn(schedin, schedout, schedevent); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("dispatcher did not return")
	}
	end()
	close(schedout)
	<-routed
	for _, in := range ins {
		close(in)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case <-schedin:
		case <-finished:
			return res, errs
		}
	}
}

func TestDispatcherInProcess(t *testing.T) {
	o := Options{Elevators: 4, Floors: 8, Requests: 300, Seed: 7}
	var progress []string
	o.Progress = func(l string) { progress = append(progress, l) }
	steps := 0
	o.OnStep = func(step int, picture string) {
		steps++
		assert.Equal(t, steps, step)
		assert.Len(t, strings.Fields(picture), 4)
	}
	res, errs := runInProcess(t, o, nil)
	require.NoError(t, errors.Join(errs...))
	require.NoError(t, res.Err())
	assert.Equal(t, 300, res.Delivered)
	sum := 0
	for _, n := range res.PerElevator {
		assert.Positive(t, n, "every elevator served someone: %v", res.PerElevator)
		sum += n
	}
	assert.Equal(t, 300, sum)
	assert.Len(t, progress, 10)
	assert.Equal(t, res.Steps, steps)
	t.Log(res.Summary())

	// Logical time: the same seed gives the same run, step for step.
	again, _ := runInProcess(t, Options{Elevators: 4, Floors: 8, Requests: 300, Seed: 7}, nil)
	assert.Equal(t, []any{res.Steps, res.PerElevator, res.Travelled, res.WaitSum, res.RideSum},
		[]any{again.Steps, again.PerElevator, again.Travelled, again.WaitSum, again.RideSum})
}

func TestDispatcherDetectsAnomalies(t *testing.T) {
	o := Options{Elevators: 2, Floors: 6, Requests: 40, Seed: 3}
	for _, tc := range []struct {
		name    string
		rewrite func(e int, data string) []string
		want    string
	}{
		{"delivered twice", func(e int, d string) []string {
			if strings.HasPrefix(d, "deliver ") && strings.Split(d, " ")[2] == "5" {
				return []string{d, d}
			}
			return []string{d}
		}, "request 5 delivered twice"},
		{"delivered at the wrong floor", func(e int, d string) []string {
			if m, _ := ParseMsg(d); m.Kind == KindDeliver && m.Req == 6 {
				m.Floor = (m.Floor + 1) % 6
				return []string{m.Encode()}
			}
			return []string{d}
		}, "request 6 delivered at floor"},
		{"lost", func(e int, d string) []string {
			if m, _ := ParseMsg(d); m.Kind == KindDeliver && m.Req == 7 {
				return nil
			}
			return []string{d}
		}, "request 7 ("},
		{"invalid floor", func(e int, d string) []string {
			if m, _ := ParseMsg(d); m.Kind == KindPos && m.T == 4 && e == 1 {
				m.Floor = 6
				return []string{m.Encode()}
			}
			return []string{d}
		}, "elevator-1: \"pos 4 6 "},
		{"pickup of a request not assigned to it", func(e int, d string) []string {
			if m, _ := ParseMsg(d); m.Kind == KindPos && m.T == 2 && e == 0 {
				return []string{"pickup 2 39 0", d}
			}
			return []string{d}
		}, "request 39 is not assigned to it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, errs := runInProcess(t, o, tc.rewrite)
			require.NoError(t, errors.Join(errs...))
			require.Error(t, res.Err())
			assert.Contains(t, res.Err().Error(), tc.want)
		})
	}
}

// fakeJob runs the elevator job on mesostest's in-process cluster.
func fakeJob(t *testing.T, o Options, agents int) (*Result, error) {
	t.Helper()
	conf := mesosgot.DefaultSchedulerConfig()
	conf.TaskRefuseSeconds = 0.05
	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTasks([]*mesosgot.AppTaskResourceInfo{{
		Name: TaskName, Count: o.Elevators,
		Resources: map[string]float64{"cpus": 0.1, "mem": 16},
		Args:      TaskArgs(o.Elevators, o.Floors),
	}})
	fn, res := Scheduler(o)
	s.RegisterSchedFunc(fn)
	var as []mesostest.Agent
	for i := 0; i < agents; i++ {
		as = append(as, mesostest.Agent{ID: fmt.Sprintf("agent-%d", i), Resources: map[string]float64{"cpus": 0.3, "mem": 256}})
	}
	var mu sync.Mutex
	var executors []*mesosgot.GoTaskExecutor
	cluster := mesostest.NewCluster(mesostest.Config{
		Agents: as,
		NewExecutor: func(agentID string, info *mesos.ExecutorInfo) exec.Executor {
			e := mesosgot.NewGoTaskExecutor(nil)
			e.RegisterTaskFunc(TaskName, Task)
			mu.Lock()
			executors = append(executors, e)
			mu.Unlock()
			return e
		},
		OfferDelay: func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) },
	})
	driver := cluster.SchedulerDriver(s)
	err := s.RunDriver(driver)
	cluster.Close()
	mu.Lock()
	defer mu.Unlock()
	assert.NotEmpty(t, executors)
	return res, err
}

func TestJobOnFakeCluster(t *testing.T) {
	o := Options{Elevators: 4, Floors: 8, Requests: 300, Seed: 1}
	progress := 0
	o.Progress = func(string) { progress++ }
	res, err := fakeJob(t, o, 2)
	require.NoError(t, err)
	require.NoError(t, res.Err())
	assert.Equal(t, 300, res.Delivered)
	assert.Equal(t, 10, progress)
	t.Log(res.Summary())

	// Logical time: over Mesos or over plain channels, the same run.
	local, _ := runInProcess(t, Options{Elevators: 4, Floors: 8, Requests: 300, Seed: 1}, nil)
	assert.Equal(t, []any{local.Steps, local.PerElevator, local.Travelled, local.WaitSum, local.RideSum},
		[]any{res.Steps, res.PerElevator, res.Travelled, res.WaitSum, res.RideSum})
}

func TestJobFailsOnInvalidFloor(t *testing.T) {
	o := Options{Elevators: 4, Floors: 8, Requests: 300, Seed: 1}
	victim := -1
	o.Tamper = func(e int, m *Msg) {
		if m.Req == 17 {
			victim = e
			m.To = 8 // the ninth floor of an eight-floor building
		}
	}
	res, err := fakeJob(t, o, 2)
	require.Error(t, err)
	var je *mesosgot.JobError
	require.ErrorAs(t, err, &je)
	require.GreaterOrEqual(t, victim, 0)
	assert.Equal(t, taskName(victim), je.TaskName)
	assert.Contains(t, je.Cause, "TASK_FAILED")
	assert.Contains(t, err.Error(), "request 17: to floor 8 out of range 0..7")
	assert.Error(t, res.Err(), "the dispatcher saw the job end before all were delivered")
	assert.Less(t, res.Delivered, 300)
	t.Log(err)
}

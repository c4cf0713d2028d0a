package mesosgot

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	_ AppTaskExecutor   = (*DefAppTaskExecutor)(nil)
	_ AppTaskArgsRunner = (*DefAppTaskExecutor)(nil)
	_ AppTask           = AppTaskFunc(nil)
)

// taskCall records what a task function was called with.
type taskCall struct {
	in   <-chan GoTaskMsg
	out  chan<- GoTaskMsg
	args []string
	env  map[string]string
}

// recordingTask is an AppTask that records its call and returns err.
type recordingTask struct {
	mu    sync.Mutex
	calls []taskCall
	err   error
}

func (r *recordingTask) Run(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, taskCall{in, out, args, env})
	return r.err
}

func TestAppTaskFuncRun(t *testing.T) {
	in, out := make(chan GoTaskMsg, 1), make(chan GoTaskMsg, 1)
	in <- GoTaskMsg{TaskName: "t-0", MessageData: "ping"}
	wantErr := errors.New("done")
	var called int
	f := AppTaskFunc(func(i <-chan GoTaskMsg, o chan<- GoTaskMsg, args []string, env map[string]string) error {
		called++
		m := <-i
		o <- GoTaskMsg{TaskName: m.TaskName, MessageData: m.MessageData + args[0] + env["k"]}
		return wantErr
	})
	err := f.Run(in, out, []string{"!"}, map[string]string{"k": "?"})
	assert.Same(t, wantErr, err)
	assert.Equal(t, 1, called)
	assert.Equal(t, GoTaskMsg{TaskName: "t-0", MessageData: "ping!?"}, <-out)
}

func TestDefAppTaskExecutorRunTask(t *testing.T) {
	e := NewDefAppTaskExecutor()
	task := &recordingTask{err: errors.New("task error")}
	e.RegisterTask("rec", task)
	var funcArgs []string
	var funcEnv map[string]string
	funcCalled := false
	e.RegisterTaskFunc("fn", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
		funcCalled, funcArgs, funcEnv = true, args, env
		return nil
	})

	in, out := make(chan GoTaskMsg), make(chan GoTaskMsg)

	err := e.RunTask("rec", in, out)
	assert.Same(t, task.err, err, "RunTask returns the task's error")
	require.Len(t, task.calls, 1)
	c := task.calls[0]
	assert.True(t, c.in == (<-chan GoTaskMsg)(in), "RunTask passes the in channel")
	assert.True(t, c.out == (chan<- GoTaskMsg)(out), "RunTask passes the out channel")
	assert.Nil(t, c.args)
	assert.Nil(t, c.env)

	require.NoError(t, e.RunTask("fn", in, out))
	assert.True(t, funcCalled)
	assert.Nil(t, funcArgs)
	assert.Nil(t, funcEnv)
}

func TestDefAppTaskExecutorRunTaskWithArgs(t *testing.T) {
	e := NewDefAppTaskExecutor()
	task := &recordingTask{}
	e.RegisterTask("rec", task)
	in, out := make(chan GoTaskMsg), make(chan GoTaskMsg)
	args := []string{"-n", "3", ""}
	env := map[string]string{"MESOSGOT_TASK_NAME": "rec-2", "MESOSGOT_TASK_INDEX": "2", "": "empty key"}
	require.NoError(t, e.RunTaskWithArgs("rec", in, out, args, env))
	require.Len(t, task.calls, 1)
	assert.Equal(t, args, task.calls[0].args)
	assert.Equal(t, env, task.calls[0].env)
	assert.True(t, task.calls[0].in == (<-chan GoTaskMsg)(in))
	assert.True(t, task.calls[0].out == (chan<- GoTaskMsg)(out))
}

func TestDefAppTaskExecutorUnknownTask(t *testing.T) {
	e := NewDefAppTaskExecutor()
	e.RegisterTaskFunc("known", func(<-chan GoTaskMsg, chan<- GoTaskMsg, []string, map[string]string) error { return nil })
	tests := []struct {
		name string
		run  func(name string) error
	}{
		{"RunTask", func(name string) error { return e.RunTask(name, nil, nil) }},
		{"RunTaskWithArgs", func(name string) error { return e.RunTaskWithArgs(name, nil, nil, []string{"a"}, nil) }},
	}
	for _, tc := range tests {
		for _, name := range []string{"nosuch", "", "known-0", "Known"} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				err := tc.run(name)
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrUnknownTask)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", name), "the error names the task")
			})
		}
	}
}

func TestDefAppTaskExecutorReRegisterReplaces(t *testing.T) {
	e := NewDefAppTaskExecutor()
	first, second := &recordingTask{}, &recordingTask{}
	e.RegisterTask("t", first)
	e.RegisterTask("t", second)
	require.NoError(t, e.RunTask("t", nil, nil))
	assert.Empty(t, first.calls)
	assert.Len(t, second.calls, 1)
}

func TestDefAppTaskExecutorConcurrent(t *testing.T) {
	e := NewDefAppTaskExecutor()
	const n = 32
	var wg sync.WaitGroup
	results := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("task%d", i)
			e.RegisterTaskFunc(name, func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
				if args == nil { // run by another goroutine through RunTask
					return nil
				}
				results[i] = args[0] + env["i"]
				return nil
			})
			// Run this one and, concurrently with other registrations,
			// look up some other name (registered or not).
			assert.NoError(t, e.RunTaskWithArgs(name, nil, nil, []string{name}, map[string]string{"i": fmt.Sprint(i)}))
			err := e.RunTask(fmt.Sprintf("task%d", (i+1)%n), nil, nil)
			if err != nil {
				assert.ErrorIs(t, err, ErrUnknownTask)
			}
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		assert.Equal(t, fmt.Sprintf("task%d%d", i, i), results[i])
	}
}

package mesosgot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watchedJob is a fake job whose status server and progress line are on.
// Its app scheduler sends msgs messages to each of the echo tasks, reads
// the answers and then waits for release (or for the job's end).
type watchedJob struct {
	f       *fakeJob
	out     *syncBuffer
	release chan struct{}
	url     string
}

func newWatchedJob(t *testing.T, tasks, msgs int, failing bool) *watchedJob {
	w := &watchedJob{out: &syncBuffer{}, release: make(chan struct{})}
	w.f = newFakeJob(t, 2, func(e *GoTaskExecutor) {
		e.RegisterTaskFunc("echo", echoTask)
		e.RegisterTaskFunc("bad", func(in <-chan GoTaskMsg, out chan<- GoTaskMsg, args []string, env map[string]string) error {
			<-in
			return errors.New("out of cheese")
		})
	})
	w.f.sched.SpawnTask("echo", tasks, map[string]float64{"cpus": 0.5, "mem": 64})
	if failing {
		w.f.sched.SpawnTask("bad", 1, map[string]float64{"cpus": 0.5})
	}
	n := tasks
	if failing {
		n++
	}
	w.f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		evs := &events{}
		if !untilRunning(n, evs, schedevent) {
			return
		}
		go func() {
			for i := 0; i < msgs; i++ {
				for k := 0; k < tasks; k++ {
					schedout <- GoTaskMsg{TaskName: fmt.Sprintf("echo-%d", k), MessageData: fmt.Sprint(i)}
				}
			}
		}()
		for i := 0; i < tasks*msgs; i++ {
			<-schedin
		}
	wait:
		for {
			select {
			case <-w.release:
				break wait
			case _, ok := <-schedevent:
				if !ok {
					return
				}
			}
		}
		if failing {
			schedout <- GoTaskMsg{TaskName: "bad-0", MessageData: "go"}
			drainEvents(evs, schedevent)
		}
	})
	conf := w.f.sched.conf
	conf.Progress = true
	conf.StatusAddress = "127.0.0.1:0"
	w.f.sched.drvConf.Master = "fake-master"
	require.NoError(t, w.f.sched.startMonitor(w.out))
	w.url = w.f.sched.mon.url
	return w
}

// getStatus fetches and decodes /status.
func getStatus(url string) (*jobStatus, error) {
	resp, err := http.Get(url + "status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var st jobStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// pollStatus polls /status until cond holds, failing after a deadline.
func pollStatus(t *testing.T, url string, what string, cond func(*jobStatus) bool) *jobStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last *jobStatus
	for time.Now().Before(deadline) {
		st, err := getStatus(url)
		if err == nil && cond(st) {
			return st
		}
		if err == nil {
			last = st
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	b, _ := json.Marshal(last)
	t.Fatalf("status never showed %s; last: %s", what, b)
	return nil
}

func TestStatusServerShowsTheRunningJob(t *testing.T) {
	checkNoLeak(t)
	const tasks, msgs = 3, 10
	w := newWatchedJob(t, tasks, msgs, false)
	assert.Contains(t, w.out.String(), "mesosgot: status page at "+w.url)
	res := make(chan error, 1)
	go func() { res <- w.f.run() }()

	st := pollStatus(t, w.url, "every answer received", func(st *jobStatus) bool {
		return st.Phase == "running" && st.Counts.Running == tasks && st.MsgsIn == tasks*msgs
	})
	assert.Equal(t, "fake-master", st.Master)
	assert.NotEmpty(t, st.FrameworkID)
	assert.Equal(t, taskCounts{Total: tasks, Running: tasks}, st.Counts)
	assert.EqualValues(t, tasks*msgs, st.MsgsOut)
	require.Len(t, st.Tasks, tasks)
	for i, ts := range st.Tasks {
		assert.Equal(t, fmt.Sprintf("echo-%d", i), ts.Name)
		assert.Equal(t, "TASK_RUNNING", ts.State)
		assert.True(t, strings.HasPrefix(ts.Agent, "agent-"), ts.Agent)
		assert.EqualValues(t, msgs, ts.MsgsIn, ts.Name)
		assert.EqualValues(t, msgs, ts.MsgsOut, ts.Name)
	}
	assert.NotEmpty(t, st.Links)

	// The page is one self-contained document.
	resp, err := http.Get(w.url)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(page), `fetch("status"`)
	assert.NotRegexp(t, `(src|href)="(https?:)?//`, string(page), "no external assets")
	resp, err = http.Get(w.url + "nothing-here")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	close(w.release)
	require.NoError(t, <-res)
	final := w.f.sched.mon.snapshot()
	assert.Equal(t, "finished", final.Phase)
	assert.Equal(t, tasks, final.Counts.Stopped, "tasks still running at the end are stopped")
	_, err = getStatus(w.url)
	assert.Error(t, err, "the status server stops at the job's end")
	assert.Regexp(t, `mesosgot: job finished after \S+ \| tasks: 0 staging, 0 running, 0 finished, 3 stopped, 0 failed \(of 3\) \| msgs in 30 out 30 \| retransmits 0\n$`, w.out.String())
}

func TestProgressShowsAFailedJob(t *testing.T) {
	checkNoLeak(t)
	w := newWatchedJob(t, 2, 5, true)
	close(w.release)
	err := w.f.run()
	var je *JobError
	require.ErrorAs(t, err, &je)
	final := w.f.sched.mon.snapshot()
	assert.Equal(t, "failed", final.Phase)
	assert.Equal(t, je.Error(), final.Error)
	assert.Equal(t, 1, final.Counts.Failed)
	assert.Equal(t, "TASK_FAILED", final.Tasks[2].State)
	assert.Regexp(t, `mesosgot: job failed after \S+ \| tasks: .* 1 failed \(of 3\)`, w.out.String())
}

func TestProgressLine(t *testing.T) {
	st := &jobStatus{Phase: "running", ElapsedSeconds: 12.34, MsgsInPerSec: 1520.4, MsgsOutPerSec: 1519, Retransmits: 3,
		Counts: taskCounts{Total: 8, Waiting: 0, Staging: 2, Running: 4, Finished: 1, Failed: 1}}
	assert.Equal(t, "mesosgot: running 12.3s | tasks: 2 staging, 4 running, 1 finished, 1 failed (of 8) | msgs/s in 1520 out 1519 | retransmits 3",
		progressLine(st, false))
	st = &jobStatus{Phase: "waiting", ElapsedSeconds: 75, Counts: taskCounts{Total: 4, Waiting: 4}}
	assert.Equal(t, "mesosgot: waiting for offers 1m15s | tasks: 4 waiting, 0 staging, 0 running, 0 finished, 0 failed (of 4) | msgs/s in 0 out 0 | retransmits 0",
		progressLine(st, false))
	st = &jobStatus{Phase: "registering", ElapsedSeconds: 2, Master: "10.0.0.1:5050"}
	assert.Equal(t, "mesosgot: registering 2s | master 10.0.0.1:5050", progressLine(st, false))
}

func TestProgressRedrawsOnATerminalOnly(t *testing.T) {
	var b syncBuffer
	m := &monitor{w: &b, tty: true}
	m.print("one")
	m.print("two")
	assert.Equal(t, "\rone\x1b[K\rtwo\x1b[K", b.String())
	m.above("between")
	m.print("three")
	assert.Equal(t, "\rone\x1b[K\rtwo\x1b[K\r\x1b[Kbetween\n\rthree\x1b[K", b.String(), "a line of its own replaces the redrawn one")
	m = &monitor{w: &b}
	m.print("four")
	assert.True(t, strings.HasSuffix(b.String(), "four\n"))
	assert.False(t, isTerminal(&b))
}

func TestStatusAddressInUseIsAnError(t *testing.T) {
	checkNoLeak(t)
	w := newWatchedJob(t, 1, 1, false)
	addr := strings.TrimSuffix(strings.TrimPrefix(w.url, "http://"), "/")
	s := NewGoTaskScheduler("", nil, nil)
	s.conf.StatusAddress = addr
	err := s.startMonitor(io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-status_address "+addr)
	w.f.sched.runCleanups()
}

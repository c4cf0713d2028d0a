package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/localmesos"
)

// scaleTimeout bounds one scale child.
const scaleTimeout = 3 * time.Minute

// scalePoint is one size of the scale rows.
type scalePoint struct{ tasks, agents int }

// scaleRes are the resources of every scale task.
var scaleRes = map[string]float64{"cpus": 0.01, "mem": 1}

// scaleResult is what the scale child reports (one JSON line on stdout).
type scaleResult struct {
	Tasks       int     `json:"tasks"`
	StartSec    float64 `json:"start_sec"`    // Run() → all RUNNING
	ExchangeSec float64 `json:"exchange_sec"` // one message to every task and its echo back
	RunSec      float64 `json:"run_sec"`      // Run() from call to return
	HeapBefore  float64 `json:"heap_before"`  // live heap bytes before Run (after GC)
	HeapRunning float64 `json:"heap_running"` // live heap bytes with every task RUNNING (after GC)
	RSSBefore   float64 `json:"rss_before_kb"`
	RSSRunning  float64 `json:"rss_running_kb"`
	T0          int64   `json:"t0_unix_nano"` // when Run() was called
	Err         string  `json:"err,omitempty"`
}

// scaleSection runs the scale child (the scheduler alone in its process)
// against a localmesos cluster of this process for each scale point.
func (b *bench) scaleSection() {
	s := &section{
		title: "8. Scale: N tasks over N/100 agents (one executor process per agent)",
		intro: "The scheduler runs as its own process (the bench binary re-executed) against localmesos in this process, whose agents each hold N/agents tasks plus the executor. " +
			"*start*: Run() → the app sees the last TaskRunning; *exchange*: one 16 B message to every task and every echo back; " +
			"*heap per task*: live heap (after GC) with every task RUNNING minus before Run, ÷ N; *RSS per task* likewise for VmRSS. " +
			"*growth*: the figure ÷ the previous row's, beside N log N's ratio (n log n bound).",
		header: []string{"Tasks", "Agents", "start", "exchange msgs/s", "Run() total", "heap per task", "RSS per task", "growth of start (n log n bound)", "growth of heap/task"},
	}
	var prev *scaleResult
	var prevN int
	for _, p := range b.cfg.scale {
		r, err := b.runScale(p)
		if err != nil {
			b.logf("scale %d tasks / %d agents: %v", p.tasks, p.agents, err)
			s.rows = append(s.rows, []string{fmt.Sprint(p.tasks), fmt.Sprint(p.agents), "failed: " + err.Error(), "", "", "", "", "", ""})
			continue
		}
		heapPer := (r.HeapRunning - r.HeapBefore) / float64(p.tasks)
		rssPer := (r.RSSRunning - r.RSSBefore) * 1024 / float64(p.tasks)
		b.logf("scale %d tasks / %d agents: start %s, exchange %s msgs/s, run %s, heap/task %.1f KiB, rss/task %.1f KiB",
			p.tasks, p.agents, dur(r.StartSec), rate(float64(p.tasks)/r.ExchangeSec), dur(r.RunSec), heapPer/1024, rssPer/1024)
		growth, hgrowth := "", ""
		if prev != nil {
			nlogn := float64(p.tasks) * math.Log2(float64(p.tasks)) / (float64(prevN) * math.Log2(float64(prevN)))
			growth = fmt.Sprintf("%.1fx (%.1fx)", r.StartSec/prev.StartSec, nlogn)
			ph := (prev.HeapRunning - prev.HeapBefore) / float64(prevN)
			hgrowth = fmt.Sprintf("%.2fx", heapPer/ph)
		}
		s.rows = append(s.rows, []string{fmt.Sprint(p.tasks), fmt.Sprint(p.agents), dur(r.StartSec), rate(float64(p.tasks) / r.ExchangeSec),
			dur(r.RunSec), fmt.Sprintf("%.1f KiB", heapPer/1024), fmt.Sprintf("%.1f KiB", rssPer/1024), growth, hgrowth})
		if p.tasks == 10000 {
			b.targets = append(b.targets,
				target{"10,000 tasks on 100 agents RUNNING within 5 s of Run()", dur(r.StartSec), r.StartSec <= 5},
				target{"scheduler memory per task ≤ 16 KiB (live heap, 10,000 tasks)", fmt.Sprintf("%.1f KiB", heapPer/1024), heapPer <= 16<<10})
		}
		rc := r
		prev, prevN = &rc, p.tasks
	}
	b.sections = append(b.sections, s)
}

// runScale starts a cluster for p and runs the scale child against it.
func (b *bench) runScale(p scalePoint) (scaleResult, error) {
	per := (p.tasks + p.agents - 1) / p.agents
	res := fmt.Sprintf("cpus:%g;mem:%g;disk:1000;ports:[31000-32000]", float64(per)*scaleRes["cpus"]+0.1+0.05, float64(per)*scaleRes["mem"]+32+8)
	tl := newTimeline()
	cfg := localmesos.Config{Agents: p.agents, Resources: res, ExecutorShutdownGrace: 5 * time.Second, Logf: tl.logf}
	if dir := os.Getenv("MESOSGOT_BENCH_EXEC_CPUPROFILE"); dir != "" {
		cfg.ExecutorEnvironment = map[string]string{"MESOSGOT_BENCH_EXEC_CPUPROFILE": dir}
	}
	c, err := localmesos.Start(cfg)
	if err != nil {
		return scaleResult{}, err
	}
	defer func() {
		waitExecutorsGone(c, 30*time.Second)
		_ = c.Close()
	}()
	self, err := os.Executable()
	if err != nil {
		return scaleResult{}, err
	}
	// A child that has not answered within scaleTimeout is sent SIGQUIT
	// (its goroutines go to the error below) and then killed.
	ctx, cancel := context.WithTimeout(context.Background(), scaleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), childEnv+"=scale",
		"MESOSGOT_BENCH_MASTER="+c.MasterAddr(), "MESOSGOT_BENCH_EXEC="+b.execPath,
		"MESOSGOT_BENCH_N="+strconv.Itoa(p.tasks), "MESOSGOT_BENCH_LOGDIR="+b.tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var r scaleResult
	if jerr := json.Unmarshal(lastLine(out), &r); jerr != nil || err != nil || r.Err != "" {
		return r, fmt.Errorf("scale child: %v %v %s\n%s", err, jerr, r.Err, tail(stderr.String(), 20000))
	}
	b.logf("scale %d tasks / %d agents: timeline from Run(): %s", p.tasks, p.agents, tl.summary(time.Unix(0, r.T0)))
	return r, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// scaleChild is the scheduler process of the scale rows.
func scaleChild() {
	if path := os.Getenv("MESOSGOT_BENCH_CHILD_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	var r scaleResult
	if err := runScaleChild(&r); err != nil {
		r.Err = err.Error()
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func liveHeap() float64 {
	runtime.GC()
	return heapInuseMB() * (1 << 20)
}

func runScaleChild(r *scaleResult) error {
	_ = setFlag("log_dir", os.Getenv("MESOSGOT_BENCH_LOGDIR"))
	n, err := strconv.Atoi(os.Getenv("MESOSGOT_BENCH_N"))
	if err != nil {
		return err
	}
	r.Tasks = n
	conf := mesosgot.DefaultSchedulerConfig()
	conf.Master = os.Getenv("MESOSGOT_BENCH_MASTER")
	conf.ExecutorPath = os.Getenv("MESOSGOT_BENCH_EXEC")
	conf.FrameworkName = "mesosgot-bench-scale"
	conf.RegistrationTimeout = time.Minute
	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("echo", n, scaleRes)
	names := taskNames(n)
	errc := make(chan error, 1)
	var t0 time.Time
	s.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		if !waitRunning(schedevent, n, func() { r.StartSec = time.Since(t0).Seconds() }) {
			errc <- errors.New("the tasks did not all run")
			return
		}
		go func() {
			for range schedevent {
			}
		}()
		r.HeapRunning = liveHeap()
		r.RSSRunning = procStatus("VmRSS")
		t1 := time.Now()
		go func() {
			for _, name := range names {
				schedout <- mesosgot.GoTaskMsg{TaskName: name, MessageData: "0123456789abcdef"}
			}
		}()
		for i := 0; i < n; i++ {
			if _, ok := <-schedin; !ok {
				errc <- fmt.Errorf("schedin closed after %d of %d echoes", i, n)
				return
			}
		}
		r.ExchangeSec = time.Since(t1).Seconds()
		errc <- nil
	})
	if err := s.Err(); err != nil {
		return err
	}
	r.HeapBefore = liveHeap()
	r.RSSBefore = procStatus("VmRSS")
	t0 = time.Now()
	r.T0 = t0.UnixNano()
	err = s.Run()
	r.RunSec = time.Since(t0).Seconds()
	if err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	default:
		return errors.New("the app scheduler did not finish")
	}
}

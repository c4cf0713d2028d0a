package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mesosgot/mesosgot"
)

// childEnv selects a child mode of the bench binary.
const childEnv = "MESOSGOT_BENCH_CHILD"

// floodResult is what the flood child reports (one JSON line on stdout).
type floodResult struct {
	N          int     `json:"n"`
	StartKB    float64 `json:"start_kb"`     // VmRSS with the task RUNNING, before the flood
	HWMKB      float64 `json:"hwm_kb"`       // VmHWM at the end of the flood
	PeakKB     float64 `json:"peak_kb"`      // highest VmRSS sampled during the flood
	InitKB     float64 `json:"init_kb"`      // VmRSS when the process started
	Seconds    float64 `json:"seconds"`      // flood duration (first send to the task's "done")
	HeapPeakMB float64 `json:"heap_peak_mb"` // highest HeapInuse sampled
	Err        string  `json:"err,omitempty"`
}

// slowEvery makes the flood's task sleep 1 ms every slowEvery messages
// (at most ~100k msgs/s: slower than the path, so the scheduler's queues
// would grow without back-pressure).
const slowEvery = 100

// memorySection runs the flood child against a localmesos cluster of this
// process, so that the child's RSS is the scheduler's alone.
func (b *bench) memorySection() {
	c, err := startLocal(1)
	check(err)
	defer c.Close()
	var res []floodResult
	reps := min(b.cfg.reps, 3)
	for rep := 0; rep < reps; rep++ {
		self, err := os.Executable()
		check(err)
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), childEnv+"=flood",
			"MESOSGOT_BENCH_MASTER="+c.MasterAddr(), "MESOSGOT_BENCH_EXEC="+b.execPath,
			"MESOSGOT_BENCH_N="+strconv.Itoa(b.cfg.floodN), "MESOSGOT_BENCH_LOGDIR="+b.tmp)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var r floodResult
		if jerr := json.Unmarshal(lastLine(out), &r); jerr != nil || err != nil || r.Err != "" {
			b.logf("flood child: %v %v %s\n%s", err, jerr, r.Err, stderr.String())
			continue
		}
		b.logf("flood %d: start %s, peak %s (HWM %s), %.1fs", r.N, mib(r.StartKB), mib(r.PeakKB), mib(r.HWMKB), r.Seconds)
		res = append(res, r)
		waitExecutorsGone(c, 10*time.Second)
	}
	pick := func(f func(r floodResult) float64) summary {
		var xs []float64
		for _, r := range res {
			xs = append(xs, f(r))
		}
		return summarize(xs)
	}
	ratio := pick(func(r floodResult) float64 { return r.HWMKB / r.StartKB })
	s := &section{
		title: fmt.Sprintf("5. Memory: scheduler RSS during a %s-message flood into one slow task", thousands(b.cfg.floodN)),
		intro: fmt.Sprintf("The scheduler runs as its own process (the bench binary re-executed) against localmesos in the parent; it sends %d messages of 64 B "+
			"as fast as schedout takes them to one task that sleeps 1 ms every %d messages, and ends when the task reports it took them all. "+
			"RSS at start: VmRSS with the task RUNNING, before the first send; peak: VmHWM (/proc/self/status) at the end. %d repetitions.",
			b.cfg.floodN, slowEvery, reps),
		header: []string{"RSS at process start", "RSS at flood start", "peak RSS (VmHWM)", "peak ÷ start", "peak Go heap in use", "flood time", "msgs/s"},
	}
	s.rows = append(s.rows, []string{
		pick(func(r floodResult) float64 { return r.InitKB }).format(mib),
		pick(func(r floodResult) float64 { return r.StartKB }).format(mib),
		pick(func(r floodResult) float64 { return r.HWMKB }).format(mib),
		ratio.format(num2),
		pick(func(r floodResult) float64 { return r.HeapPeakMB * 1024 }).format(mib),
		pick(func(r floodResult) float64 { return r.Seconds }).format(dur),
		pick(func(r floodResult) float64 { return float64(r.N) / r.Seconds }).format(rate),
	})
	b.sections = append(b.sections, s)
	if ratio.n > 0 {
		b.targets = append(b.targets, target{"peak RSS during the flood ≤ 2x RSS at start", ratio.format(num2) + "x", ratio.med <= 2})
	}
}

// thousands formats n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func lastLine(out []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return lines[len(lines)-1]
}

// floodChild is the scheduler process of the memory row.
func floodChild() {
	var r floodResult
	r.InitKB = procStatus("VmRSS")
	err := runFlood(&r)
	if err != nil {
		r.Err = err.Error()
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func runFlood(r *floodResult) error {
	_ = setFlag("log_dir", os.Getenv("MESOSGOT_BENCH_LOGDIR"))
	n, err := strconv.Atoi(os.Getenv("MESOSGOT_BENCH_N"))
	if err != nil {
		return err
	}
	r.N = n
	conf := mesosgot.DefaultSchedulerConfig()
	conf.Master = os.Getenv("MESOSGOT_BENCH_MASTER")
	conf.ExecutorPath = os.Getenv("MESOSGOT_BENCH_EXEC")
	conf.FrameworkName = "mesosgot-bench-flood"
	conf.Progress = false // the bench prints its own progress
	s := mesosgot.NewGoTaskScheduler("", conf, nil)
	s.SpawnTasks([]*mesosgot.AppTaskResourceInfo{{
		Name: "slow", Count: 1, Resources: taskRes,
		Args: []string{strconv.Itoa(slowEvery), strconv.Itoa(n)},
	}})
	var done atomic.Bool
	errc := make(chan error, 1)
	s.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		if !waitRunning(schedevent, 1, nil) {
			errc <- errors.New("the task did not run")
			return
		}
		go func() {
			for range schedevent {
			}
		}()
		r.StartKB = procStatus("VmRSS")
		stopSampler := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				r.PeakKB = max(r.PeakKB, procStatus("VmRSS"))
				r.HeapPeakMB = max(r.HeapPeakMB, heapInuseMB())
				select {
				case <-t.C:
				case <-stopSampler:
					return
				}
			}
		}()
		t0 := time.Now()
		data := payload(64, 0)
		go func() {
			for i := 0; i < n; i++ {
				schedout <- mesosgot.GoTaskMsg{TaskName: "slow-0", MessageData: data}
			}
		}()
		m, ok := <-schedin
		r.Seconds = time.Since(t0).Seconds()
		close(stopSampler)
		<-sampled
		r.HWMKB = procStatus("VmHWM")
		if !ok || !strings.HasPrefix(m.MessageData, "done") {
			errc <- fmt.Errorf("flood: got %q", m.MessageData)
			return
		}
		done.Store(true)
	})
	if err := s.Run(); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	if !done.Load() {
		return errors.New("flood did not finish")
	}
	return nil
}

// procStatus returns a kB field of /proc/self/status.
func procStatus(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			x, _ := strconv.ParseFloat(v, 64)
			return x
		}
	}
	return 0
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/mesosgot/mesosgot"
)

// rssResult is what the bulk RSS child reports (one JSON line on stdout).
type rssResult struct {
	StartKB  float64 `json:"start_kb"` // VmRSS with the tasks RUNNING
	HWMKB    float64 `json:"hwm_kb"`   // VmHWM at the end of the echo
	Inflight int64   `json:"inflight"` // bytes the app had outstanding
	MBps     float64 `json:"mbps"`
	Err      string  `json:"err,omitempty"`
}

// bulkRSS runs the 16 MiB echo with the scheduler in a child process (the
// bench binary re-executed) against a localmesos cluster of this process,
// and returns the child's report.
func (b *bench) bulkRSS(size int, d time.Duration) (rssResult, error) {
	c, err := startLocal(echoAgents)
	if err != nil {
		return rssResult{}, err
	}
	defer c.Close()
	self, err := os.Executable()
	if err != nil {
		return rssResult{}, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"=bulkrss",
		"MESOSGOT_BENCH_MASTER="+c.MasterAddr(), "MESOSGOT_BENCH_EXEC="+b.execPath,
		"MESOSGOT_BENCH_N="+strconv.Itoa(size), "MESOSGOT_BENCH_DUR="+d.String(), "MESOSGOT_BENCH_LOGDIR="+b.tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var r rssResult
	if jerr := json.Unmarshal(lastLine(out), &r); jerr != nil || err != nil || r.Err != "" {
		return r, fmt.Errorf("bulk RSS child: %v %v %s\n%s", err, jerr, r.Err, tail(stderr.String(), 4000))
	}
	waitExecutorsGone(c, 10*time.Second)
	return r, nil
}

// bulkRSSChild is the scheduler process of the bulk RSS row.
func bulkRSSChild() {
	var r rssResult
	if err := runBulkRSS(&r); err != nil {
		r.Err = err.Error()
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func runBulkRSS(r *rssResult) error {
	_ = setFlag("log_dir", os.Getenv("MESOSGOT_BENCH_LOGDIR"))
	size, err := strconv.Atoi(os.Getenv("MESOSGOT_BENCH_N"))
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(os.Getenv("MESOSGOT_BENCH_DUR"))
	if err != nil {
		return err
	}
	conf := mesosgot.DefaultSchedulerConfig()
	conf.Master = os.Getenv("MESOSGOT_BENCH_MASTER")
	conf.ExecutorPath = os.Getenv("MESOSGOT_BENCH_EXEC")
	conf.FrameworkName = "mesosgot-bench-bulkrss"
	window := max(1, bulkInflight/size)
	r.Inflight = int64(window) * int64(size)
	h := newHarness(bulkTasks, window)
	j, err := startEchoJob(h, func(s *mesosgot.GoTaskScheduler) error { return s.Run() }, conf)
	if err != nil {
		return err
	}
	r.StartKB = procStatus("VmRSS")
	rate := h.throughput(size, d/4, d, 30*time.Second)
	h.settle(30 * time.Second)
	r.HWMKB = procStatus("VmHWM")
	r.MBps = rate * float64(size) / 1e6
	return j.stop()
}

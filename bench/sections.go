package main

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/internal/mesostest"
	"github.com/mesosgot/mesosgot/localmesos"
)

// Paths of the echo rows.
const (
	pathPlain = "plain Go channels"
	pathFake  = "mesosgot / fake cluster"
	pathRaw   = "raw mesos-go / localmesos"
	pathLocal = "mesosgot / localmesos"
)

var echoPaths = []string{pathPlain, pathFake, pathRaw, pathLocal}

// echoAgents is the number of agents of the fake and localmesos echo rows.
const echoAgents = 2

type echoKey struct {
	path       string
	size, n    int
	isLatency  bool
	percentile int
}

// echoSections measures echo throughput and one-at-a-time latency over the
// four paths.
func (b *bench) echoSections() {
	cfg := b.cfg
	rates := map[echoKey][]float64{}
	losses := map[echoKey][]float64{}
	lats := map[echoKey][]float64{}
	frames := map[echoKey]float64{}
	latLost := map[string]int{}
	latCount := map[string]int{}

	b.logf("starting a localmesos cluster of %d agents", echoAgents)
	cluster, err := startLocal(echoAgents)
	check(err)
	defer cluster.Close()

	// echoRun is one path running for the current N.
	type echoRun struct {
		path              string
		h                 *harness
		fm                func() int64 // framework messages (both ways) carried so far
		stall, latTimeout time.Duration
		stop              func() error
	}
	for _, n := range cfg.ns {
		window := min(256*n, 4096)
		st0 := cluster.Stats()
		// Every path runs at once, idle but for the one measured: the
		// repetitions of a row and of its baseline alternate, so that both
		// see the same machine (it is shared).
		var runs []*echoRun
		for _, path := range echoPaths {
			if !b.wantPath(path) {
				continue
			}
			r := &echoRun{path: path, h: newHarness(n, window), fm: func() int64 { return 0 },
				stall: 2 * time.Second, latTimeout: 5 * time.Second}
			h := r.h
			t0 := time.Now()
			switch path {
			case pathPlain:
				p := startPlainEcho(h)
				r.stop = func() error { p.close(); return nil }
			case pathFake:
				var fc atomic.Pointer[mesostest.Cluster]
				j, err := startEchoJob(h, fakeRun(echoAgents, &fc), mesosgot.DefaultSchedulerConfig())
				check(err)
				r.stop = j.stop
				r.fm = func() int64 {
					st := fc.Load().Stats()
					return int64(st.ToExecutor.Sent + st.ToScheduler.Sent)
				}
			case pathRaw:
				r.stall, r.latTimeout = 100*time.Millisecond, time.Second
				j, err := startRawJob(h, cluster, echoAgents, b.execPath)
				check(err)
				r.stop = func() error { j.stop(); return nil }
				r.fm = func() int64 { return cluster.Stats().FrameworkMessages }
			case pathLocal:
				r.stall = time.Second
				conf := localConf(cluster, b.execPath)
				j, err := startEchoJob(h, func(s *mesosgot.GoTaskScheduler) error { return s.Run() }, conf)
				check(err)
				r.stop = j.stop
				r.fm = func() int64 { return cluster.Stats().FrameworkMessages }
			}
			b.logf("%s, %d tasks: running after %v", path, n, time.Since(t0).Round(time.Millisecond))
			runs = append(runs, r)
		}
		for _, size := range cfg.sizes {
			sent, recvd, fms := map[string]int64{}, map[string]int64{}, map[string]int64{}
			for rep := 0; rep < cfg.reps; rep++ {
				for i := range runs {
					r := runs[(i+rep)%len(runs)] // rotate the order
					k := echoKey{path: r.path, size: size, n: n}
					s0, r0 := r.h.counts()
					f0 := r.fm()
					rates[k] = append(rates[k], r.h.throughput(size, cfg.warm, cfg.dur, r.stall))
					ds, dr := r.h.settleSince(s0, r0, r.stall)
					sent[r.path] += ds
					recvd[r.path] += dr
					fms[r.path] += r.fm() - f0
				}
			}
			for _, r := range runs {
				k := echoKey{path: r.path, size: size, n: n}
				loss := 0.0
				if s := sent[r.path]; s > 0 && recvd[r.path] < s {
					loss = float64(s-recvd[r.path]) / float64(s)
				}
				losses[k] = append(losses[k], loss)
				if recvd[r.path] > 0 && r.path != pathPlain {
					frames[k] = float64(fms[r.path]) / float64(recvd[r.path])
				}
				b.logf("  %-26s N=%-2d %5d B: %s msgs/s, loss %s, %.3f framework messages per echo", r.path, n, size,
					summarize(rates[k]).format(rate), pct(loss), frames[k])
			}
		}
		if n == 1 {
			for rep := 0; rep < cfg.reps; rep++ {
				for i := range runs {
					r := runs[(i+rep)%len(runs)]
					rtts, lost := r.h.latency(16, cfg.latSamples, r.latTimeout, uint64(rep)<<32)
					latLost[r.path] += lost
					latCount[r.path] += cfg.latSamples
					for _, p := range []int{50, 99} {
						k := echoKey{path: r.path, isLatency: true, percentile: p}
						lats[k] = append(lats[k], percentile(rtts, float64(p)/100).Seconds())
					}
				}
			}
			for _, r := range runs {
				b.logf("  %-26s latency p50 %s p99 %s", r.path, summarize(lats[echoKey{path: r.path, isLatency: true, percentile: 50}]).format(dur),
					summarize(lats[echoKey{path: r.path, isLatency: true, percentile: 99}]).format(dur))
			}
		}
		for _, r := range runs {
			if err := r.stop(); err != nil {
				b.logf("%s, %d tasks: job ended with %v", r.path, n, err)
			}
		}
		if st := cluster.Stats(); st.FrameworkMsgsDropped > st0.FrameworkMsgsDropped {
			b.logf("  localmesos dropped %d framework messages", st.FrameworkMsgsDropped-st0.FrameworkMsgsDropped)
		}
	}

	// Throughput table.
	s := &section{
		title: "1. Echo throughput (scheduler → N tasks → scheduler)",
		intro: fmt.Sprintf("Messages echoed per second, measured over %v after %v of warm-up, with at most min(256·N, 4096) messages outstanding; "+
			"the four paths run side by side and their repetitions alternate (each followed by waiting for the outstanding echoes). "+
			"The fake cluster and localmesos have %d agents; localmesos executors are real child processes (`bench/internal/benchexec`). "+
			"*vs baseline*: mesosgot/fake as cost per message ÷ plain channels' (target ≤ 5x); mesosgot/localmesos as msgs/s ÷ raw SendFrameworkMessage's (target ≥ 20x). "+
			"Loss: messages sent and never echoed over all repetitions of the row (the raw path is best-effort; mesosgot retransmits). "+
			"*frames/echo*: framework messages (SendFrameworkMessage calls, both directions) per echoed message over the row — 2.00 means no batching.",
			cfg.dur, cfg.warm, echoAgents),
		header: []string{"Size", "N", "Path", "msgs/s", "loss", "frames/echo", "vs baseline"},
	}
	maxN := cfg.ns[len(cfg.ns)-1]
	for _, size := range cfg.sizes {
		for _, n := range cfg.ns {
			med := func(p string) float64 { return summarize(rates[echoKey{path: p, size: size, n: n}]).med }
			for _, path := range echoPaths {
				k := echoKey{path: path, size: size, n: n}
				vs := ""
				switch path {
				case pathFake:
					vs = fmt.Sprintf("%.2fx cost", med(pathPlain)/med(pathFake))
				case pathLocal:
					vs = fmt.Sprintf("%.1fx msgs/s", med(pathLocal)/med(pathRaw))
				}
				fr := ""
				if path != pathPlain {
					fr = fmt.Sprintf("%.3f", frames[k])
				}
				s.rows = append(s.rows, []string{sizeName(size), fmt.Sprint(n), path,
					summarize(rates[k]).format(rate), summarize(losses[k]).format(pct), fr, vs})
			}
		}
	}
	b.sections = append(b.sections, s)

	// Latency table.
	ls := &section{
		title:  "2. Round-trip latency, one 16 B message at a time (N = 1)",
		intro:  fmt.Sprintf("%d round trips per repetition; p50 and p99 of each repetition, then median (min–max) over repetitions.", cfg.latSamples),
		header: []string{"Path", "p50", "p99", "lost", "p50 vs baseline"},
	}
	for _, path := range echoPaths {
		p50 := summarize(lats[echoKey{path: path, isLatency: true, percentile: 50}])
		p99 := summarize(lats[echoKey{path: path, isLatency: true, percentile: 99}])
		vs := ""
		switch path {
		case pathFake:
			vs = fmt.Sprintf("%.1fx plain", p50.med/summarize(lats[echoKey{path: pathPlain, isLatency: true, percentile: 50}]).med)
		case pathLocal:
			vs = fmt.Sprintf("%.2fx raw", p50.med/summarize(lats[echoKey{path: pathRaw, isLatency: true, percentile: 50}]).med)
		}
		ls.rows = append(ls.rows, []string{path, p50.format(dur), p99.format(dur),
			fmt.Sprintf("%d/%d", latLost[path], latCount[path]), vs})
	}
	b.sections = append(b.sections, ls)

	// Headline and targets: 16 B, the largest N.
	med := func(p string, size, n int) float64 { return summarize(rates[echoKey{path: p, size: size, n: n}]).med }
	b.localSpeedup = med(pathLocal, 16, maxN) / med(pathRaw, 16, maxN)
	b.fakeOverhead = med(pathPlain, 16, maxN) / med(pathFake, 16, maxN)
	worstLocal, worstFake := math.Inf(1), 0.0
	var worstLocalAt, worstFakeAt string
	for _, size := range cfg.sizes {
		for _, n := range cfg.ns {
			if r := med(pathLocal, size, n) / med(pathRaw, size, n); r < worstLocal {
				worstLocal, worstLocalAt = r, fmt.Sprintf("%s N=%d", sizeName(size), n)
			}
			if r := med(pathPlain, size, n) / med(pathFake, size, n); r > worstFake {
				worstFake, worstFakeAt = r, fmt.Sprintf("%s N=%d", sizeName(size), n)
			}
		}
	}
	b.targets = append(b.targets,
		target{fmt.Sprintf("mesosgot/localmesos ≥ 20x raw SendFrameworkMessage msgs/s (16 B, N=%d)", maxN),
			fmt.Sprintf("%.2fx (worst row: %.2fx at %s)", b.localSpeedup, worstLocal, worstLocalAt), b.localSpeedup >= 20},
		target{fmt.Sprintf("mesosgot/localmesos ≥ 200,000 msgs/s echo (16 B, N=%d)", maxN),
			rate(med(pathLocal, 16, maxN)) + " msgs/s", med(pathLocal, 16, maxN) >= 200000},
		target{fmt.Sprintf("mesosgot/fake ≤ 5x plain channel cost per message (16 B, N=%d)", maxN),
			fmt.Sprintf("%.2fx (worst row: %.2fx at %s)", b.fakeOverhead, worstFake, worstFakeAt), b.fakeOverhead <= 5},
	)
}

func sizeName(size int) string {
	if size >= 1024 && size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

// jobStartSection measures Run() -> all tasks RUNNING over localmesos.
func (b *bench) jobStartSection() {
	cfg := b.cfg
	s := &section{
		title: "3. Job start: Run() → all tasks RUNNING (mesosgot / localmesos)",
		intro: "From the call of `GoTaskScheduler.Run` to the app scheduler seeing the last `TaskRunning` event. " +
			"Each configuration gets its own localmesos cluster (started before Run), whose agents each hold ⌈tasks/agents⌉ tasks plus the executor, " +
			"so 100 tasks on 10 agents start 10 executor processes (each fetched from the artifact server into its sandbox).",
		header: []string{"Agents", "Tasks", "Run() → all RUNNING", "executors started"},
	}
	var target100 summary
	for _, agents := range cfg.startAgents {
		for _, tasks := range cfg.startTasks {
			per := (tasks + agents - 1) / agents
			res := fmt.Sprintf("cpus:%g;mem:%g;disk:1000;ports:[31000-32000]",
				float64(per)*0.1+0.1+0.01, float64(per)*16+32+1)
			c, err := localmesos.Start(localmesos.Config{Agents: agents, Resources: res, ExecutorShutdownGrace: 2 * time.Second})
			check(err)
			var times, execs []float64
			for rep := 0; rep < cfg.startReps; rep++ {
				before := c.Stats().ExecutorsLaunched
				conf := localConf(c, b.execPath)
				sch := mesosgot.NewGoTaskScheduler("", conf, nil)
				sch.SpawnTask("echo", tasks, map[string]float64{"cpus": 0.1, "mem": 16})
				var runningAt time.Time
				sch.RegisterSchedFunc(func(_ <-chan mesosgot.GoTaskMsg, _ chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
					waitRunning(schedevent, tasks, func() { runningAt = time.Now() })
				})
				t0 := time.Now()
				err := sch.Run()
				if err != nil || runningAt.IsZero() {
					b.logf("job start %d tasks / %d agents: %v (running: %v)", tasks, agents, err, !runningAt.IsZero())
					continue
				}
				times = append(times, runningAt.Sub(t0).Seconds())
				execs = append(execs, float64(c.Stats().ExecutorsLaunched-before))
				waitExecutorsGone(c, 10*time.Second)
			}
			check(c.Close())
			sm := summarize(times)
			if agents == 10 && tasks == 100 {
				target100 = sm
			}
			b.logf("job start %d tasks / %d agents: %s", tasks, agents, sm.format(dur))
			s.rows = append(s.rows, []string{fmt.Sprint(agents), fmt.Sprint(tasks), sm.format(dur), summarize(execs).format(num)})
		}
	}
	b.sections = append(b.sections, s)
	if target100.n > 0 {
		b.targets = append(b.targets, target{"100 tasks on 10 agents RUNNING within 2 s of Run()", target100.format(dur), target100.med <= 2})
	}
}

// waitExecutorsGone waits until no executor of c runs (so the next
// repetition does not share the CPU with exiting ones).
func waitExecutorsGone(c *localmesos.Cluster, max time.Duration) {
	end := time.Now().Add(max)
	for time.Now().Before(end) {
		st := c.Stats()
		if st.ExecutorsExited >= st.ExecutorsLaunched {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

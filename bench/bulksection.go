package main

import (
	"fmt"
	"time"

	"github.com/mesosgot/mesosgot"
)

// bulkSizes are the message sizes of the bulk rows.
var bulkSizes = []int{64 << 10, 1 << 20, 16 << 20}

// bulkOnly, when set (-bulkrows), names the parts of the bulk rows to run.
var bulkOnly map[string]bool

// bulkWant reports whether part of the bulk rows runs.
func bulkWant(part string) bool { return bulkOnly == nil || bulkOnly[part] }

// bulkInflight bounds the bytes an echo row has outstanding.
const bulkInflight = 64 << 20

// bulkSection measures large messages: the HTTP POST loop (one libprocess
// hop), one-way (tasks → scheduler) and echo MB/s over localmesos.
func (b *bench) bulkSection() {
	cfg := b.cfg
	c, err := startLocal(echoAgents)
	check(err)
	defer c.Close()
	s := &section{
		title: "6. Bulk data: MB/s of large messages (mesosgot / localmesos) beside one HTTP hop",
		intro: fmt.Sprintf("*POST loop*: a sequential loop of HTTP POSTs of the message size over loopback to a server that reads each body into memory and answers 202 (one libprocess hop, no Mesos), for %v. "+
			"*one-way*: %d tasks on %d agents each send %s ÷ %d of messages to the app scheduler, from its request to the last byte received. "+
			"*echo*: the scheduler sends to %d echo tasks round-robin with at most %d MiB outstanding, MB/s of echoed data over %v after %v of warm-up (16 MiB: 3 s after 1 s). "+
			"*CPU s/GB*: CPU seconds (user and system) per GB moved: of the POST loop (client and server), and of all processes of the one-way and echo rows (the scheduler, localmesos and the executors) over their measured windows (echo: warm-up included; per GB echoed, which crossed the cluster twice); the load of the shared machine changes MB/s much more than it. "+
			"MB = 10⁶ bytes, GB = 10⁹ bytes; each figure is the median (min–max) of %d repetitions, the rows of one size alternating.",
			cfg.dur, bulkTasks, echoAgents, mibBytes(cfg.bulkTotal), bulkTasks, bulkTasks, bulkInflight>>20, cfg.dur, cfg.warm, cfg.reps),
		header: []string{"Size", "POST loop MB/s", "one-way MB/s", "one-way ÷ POST", "echo MB/s", "echo ÷ POST", "POST CPU s/GB", "one-way CPU s/GB", "echo CPU s/GB"},
	}
	for _, size := range bulkSizes {
		var posts, ones, echoes, postCPU, oneCPU, echoCPU []float64
		h := newHarness(bulkTasks, max(1, min(256*bulkTasks, bulkInflight/size)))
		j, err := startEchoJob(h, func(s *mesosgot.GoTaskScheduler) error { return s.Run() }, localConf(c, b.execPath))
		check(err)
		for rep := 0; rep < cfg.reps; rep++ {
			var p, pc, o, oc, rate, ec float64
			if bulkWant("post") {
				p, pc, err = postLoop(size, cfg.dur)
				check(err)
				posts, postCPU = append(posts, p), append(postCPU, pc)
			}
			if bulkWant("oneway") {
				o, oc, err = oneWay(c, b.execPath, size, cfg.bulkTotal)
				if err != nil {
					b.logf("one-way %s: %v", sizeName(size), err)
				} else {
					ones, oneCPU = append(ones, o), append(oneCPU, oc)
				}
			}
			if !bulkWant("echo") {
				b.logf("bulk %s rep %d: POST %.0f MB/s (%.2f CPU s/GB), one-way %.1f MB/s (%.2f CPU s/GB)", sizeName(size), rep, p, pc, o, oc)
				continue
			}
			s0, r0 := h.counts()
			warm, d := cfg.warm, cfg.dur
			if size >= 16<<20 {
				warm, d = max(warm, time.Second), max(d, 3*time.Second) // an echo takes longer than the short window
			}
			c0 := cpuSeconds()
			rate = h.throughput(size, warm, d, 30*time.Second)
			ec = (cpuSeconds() - c0) / (float64(h.recvd.Load()-r0) * float64(size) / 1e9)
			h.settleSince(s0, r0, 30*time.Second)
			echoes, echoCPU = append(echoes, rate*float64(size)/1e6), append(echoCPU, ec)
			b.logf("bulk %s rep %d: POST %.0f MB/s (%.2f CPU s/GB), one-way %.1f MB/s (%.2f CPU s/GB), echo %.1f MB/s (%.2f CPU s/GB)", sizeName(size), rep, p, pc, lastOr(ones), lastOr(oneCPU), rate*float64(size)/1e6, ec)
		}
		if err := j.stop(); err != nil {
			b.logf("bulk echo %s: job ended with %v", sizeName(size), err)
		}
		waitExecutorsGone(c, 10*time.Second)
		ps, os, es := summarize(posts), summarize(ones), summarize(echoes)
		pcs, ocs, ecs := summarize(postCPU), summarize(oneCPU), summarize(echoCPU)
		s.rows = append(s.rows, []string{sizeName(size), ps.format(num), os.format(num1), num2(os.med / ps.med), es.format(num1), num2(es.med / ps.med),
			pcs.format(num2), ocs.format(num2), ecs.format(num2)})
		if size == 1<<20 {
			b.bulkRatio = os.med / ps.med
			b.echo1M = es.med
		}
	}
	// 16 MiB: the scheduler's RSS in a process of its own.
	big := bulkSizes[len(bulkSizes)-1]
	if !bulkWant("rss") {
		b.logf("bulk RSS: not measured (-bulkrows)")
	} else if rr, err := b.bulkRSS(big, 3*time.Second); err != nil {
		b.logf("bulk RSS: %v", err)
	} else {
		growth := (rr.HWMKB - rr.StartKB) * 1024
		ratio := growth / float64(rr.Inflight)
		b.logf("bulk RSS %s: start %s, HWM %s, in flight %d MiB, growth ÷ in flight %.2f, echo %.1f MB/s", sizeName(big), mib(rr.StartKB), mib(rr.HWMKB), rr.Inflight>>20, ratio, rr.MBps)
		s.notes = append(s.notes, fmt.Sprintf("Scheduler RSS during a %s echo (the scheduler alone in a child process, %d MiB outstanding, 3 s): "+
			"RSS with the tasks RUNNING %s, peak (VmHWM) %s; growth %.0f MiB = %.2fx the data in flight (target ≤ 4x); echo %.1f MB/s.",
			sizeName(big), rr.Inflight>>20, mib(rr.StartKB), mib(rr.HWMKB), growth/(1<<20), ratio, rr.MBps))
		b.targets = append(b.targets, target{fmt.Sprintf("%s messages: scheduler RSS growth ≤ 4x the data in flight", sizeName(big)), fmt.Sprintf("%.2fx", ratio), ratio <= 4})
	}
	b.sections = append(b.sections, s)
	b.targets = append(b.targets,
		target{"bulk-ratio: one-way 1 MiB MB/s ÷ POST loop 1 MiB MB/s ≥ 0.4", num2(b.bulkRatio), b.bulkRatio >= 0.4},
		target{"1 MiB echo over localmesos ≥ 10x the MB/s before this work (issue 12: ~12 MB/s at 64 KiB)", num1(b.echo1M) + " MB/s", b.echo1M >= 120},
	)
}

// helloSection measures a 1-task, 1-message job's Run() on a started
// local cluster, ending through mesosgot's stop and through mesos-go's Stop.
func (b *bench) helloSection() {
	cfg := b.cfg
	c, err := startLocal(1)
	check(err)
	defer c.Close()
	var fast, slow []float64
	for rep := 0; rep < cfg.reps; rep++ {
		for _, mg := range []bool{false, true} {
			d, err := helloJob(c, b.execPath, mg)
			if err != nil {
				b.logf("hello job (mesos-go stop %v): %v", mg, err)
				continue
			}
			if mg {
				slow = append(slow, d.Seconds())
			} else {
				fast = append(fast, d.Seconds())
			}
			waitExecutorsGone(c, 10*time.Second)
		}
	}
	f, sl := summarize(fast), summarize(slow)
	b.helloMs = f.med * 1000
	b.logf("hello job: %s (mesos-go Stop: %s)", f.format(dur), sl.format(dur))
	b.sections = append(b.sections, &section{
		title: "7. Job end to end: a 1-task, 1-message job's Run()",
		intro: "A started localmesos cluster of one agent; the app scheduler sends one message to its echo task, takes the echo and returns; the figure is `Run()` from call to return " +
			"(artifact server, registration, offer, executor fetch and start, the message, the end). *mesos-go Stop*: the same job on a driver built from `DriverConfig` without mesosgot's messenger, which ends through mesos-go's `Stop(false)` (unregister, then a fixed 2 s sleep).",
		header: []string{"Job end through", "Run() time"},
		rows:   [][]string{{"mesosgot (unregistration accepted by the master, then Stop without the sleep)", f.format(dur)}, {"mesos-go Stop(false)", sl.format(dur)}},
	})
	b.targets = append(b.targets, target{"hello-ms: a 1-task job's Run() ≤ 300 ms", fmt.Sprintf("%.0f ms", b.helloMs), b.helloMs <= 300})
}

func lastOr(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)-1]
}

func num1(v float64) string { return fmt.Sprintf("%.1f", v) }

func mibBytes(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

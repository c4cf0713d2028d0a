package main

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mesosgot/mesosgot"
)

// harness drives one echo path: a sender goroutine hands messages to the
// path (send may block: that is the path's back-pressure) with at most
// window messages outstanding, and the path calls echo for every message
// that comes back.
type harness struct {
	n    int
	send func(task int, data string)

	sem   chan struct{} // one token per outstanding message
	sent  atomic.Int64
	recvd atomic.Int64

	latMode atomic.Bool
	lat     chan uint64 // latency mode: the sequence numbers echoed
}

func newHarness(n, window int) *harness {
	return &harness{n: n, sem: make(chan struct{}, window), lat: make(chan uint64, 16)}
}

// echo is called by the path for every echo received.
func (h *harness) echo(data string) {
	h.recvd.Add(1)
	select {
	case <-h.sem:
	default:
	}
	if h.latMode.Load() && len(data) >= 8 {
		select {
		case h.lat <- binary.LittleEndian.Uint64([]byte(data[:8])):
		default:
		}
	}
}

// payload returns a message of size bytes (at least 8) starting with seq.
func payload(size int, seq uint64) string {
	b := make([]byte, max(size, 8))
	binary.LittleEndian.PutUint64(b, seq)
	for i := 8; i < len(b); i++ {
		b[i] = 'x'
	}
	return string(b)
}

// throughput sends size-byte messages round-robin to the n tasks for
// warm+dur and returns the echo rate over the last dur. stall is how long a
// full window may wait for an echo before its tokens are written off
// (lossy paths). Echoes still outstanding at the end count for the next
// call (see settle and lossSince).
func (h *harness) throughput(size int, warm, dur, stall time.Duration) float64 {
	data := payload(size, 0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for i := 0; !stop.Load(); i++ {
			select {
			case h.sem <- struct{}{}:
			default:
				timer.Reset(stall)
				select {
				case h.sem <- struct{}{}:
				case <-timer.C:
					h.resetWindow()
					h.sem <- struct{}{}
				}
				timer.Stop()
			}
			h.send(i%h.n, data)
			h.sent.Add(1)
		}
	}()
	time.Sleep(warm)
	c0, t0 := h.recvd.Load(), time.Now()
	time.Sleep(dur)
	c1, t1 := h.recvd.Load(), time.Now()
	stop.Store(true)
	wg.Wait()
	return float64(c1-c0) / t1.Sub(t0).Seconds()
}

// counts returns the messages sent and echoes received so far.
func (h *harness) counts() (sent, recvd int64) { return h.sent.Load(), h.recvd.Load() }

// settleSince settles (see settle), writes off what is still outstanding,
// and returns the messages sent and echoes received since (sent0, recvd0).
func (h *harness) settleSince(sent0, recvd0 int64, quiet time.Duration) (sent, recvd int64) {
	h.settle(quiet)
	sent, recvd = h.sent.Load()-sent0, h.recvd.Load()-recvd0
	h.resetWindow()
	return sent, recvd
}

// settle waits until every message sent has come back, or until nothing
// came back for quiet (lost messages), at most 20 s.
func (h *harness) settle(quiet time.Duration) {
	end := time.Now().Add(20 * time.Second)
	last, lastAt := h.recvd.Load(), time.Now()
	for h.recvd.Load() < h.sent.Load() && time.Now().Before(end) {
		time.Sleep(time.Millisecond)
		if r := h.recvd.Load(); r != last {
			last, lastAt = r, time.Now()
		} else if time.Since(lastAt) > quiet {
			return
		}
	}
}

// resetWindow writes off every outstanding message.
func (h *harness) resetWindow() {
	for {
		select {
		case <-h.sem:
		default:
			return
		}
	}
}

// latency sends one message at a time, count times, and returns the round
// trips (sorted) and how many were lost (no echo within timeout).
func (h *harness) latency(size, count int, timeout time.Duration, seqBase uint64) (rtts []time.Duration, lost int) {
	h.latMode.Store(true)
	defer h.latMode.Store(false)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := 0; k < count; k++ {
		seq := seqBase + uint64(k) + 1
		data := payload(size, seq)
		t := time.Now()
		h.send(k%h.n, data)
		h.sent.Add(1)
		timer.Reset(timeout)
	wait:
		for {
			select {
			case got := <-h.lat:
				if got == seq {
					rtts = append(rtts, time.Since(t))
					break wait
				}
			case <-timer.C:
				lost++
				break wait
			}
		}
		timer.Stop()
	}
	h.resetWindow()
	slices.Sort(rtts)
	return rtts, lost
}

// percentile returns the p-th percentile (0..1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	return sorted[min(i, len(sorted)-1)]
}

// taskNames returns "echo-0" .. "echo-(n-1)".
func taskNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("echo-%d", i)
	}
	return names
}

// plainEcho is the in-process limit: the scheduler sends on each task's in
// channel, the task goroutine echoes on a shared out channel, with the
// channel sizes mesosgot gives the app.
type plainEcho struct {
	ins   []chan mesosgot.GoTaskMsg
	out   chan mesosgot.GoTaskMsg
	names []string
	wg    sync.WaitGroup
}

func startPlainEcho(h *harness) *plainEcho {
	p := &plainEcho{out: make(chan mesosgot.GoTaskMsg, mesosgot.DefTaskChanLen), names: taskNames(h.n)}
	for i := 0; i < h.n; i++ {
		in := make(chan mesosgot.GoTaskMsg, mesosgot.DefTaskChanLen)
		p.ins = append(p.ins, in)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for m := range in {
				p.out <- m
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range p.out {
			h.echo(m.MessageData)
		}
	}()
	h.send = func(task int, data string) {
		p.ins[task] <- mesosgot.GoTaskMsg{TaskName: p.names[task], MessageData: data}
	}
	go func() {
		p.wg.Wait()
		close(p.out)
	}()
	_ = done
	return p
}

func (p *plainEcho) close() {
	for _, in := range p.ins {
		close(in)
	}
	p.wg.Wait()
}

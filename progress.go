package mesosgot

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// publishEvery is how often the job goroutine refreshes its snapshot.
	publishEvery = 250 * time.Millisecond
	// rateWindow is the shortest window the message rates are taken over.
	rateWindow = time.Second
	// progressTTYEvery and progressLogEvery are the progress line's period
	// on a terminal (redrawn in place) and elsewhere (one line each time).
	progressTTYEvery = 500 * time.Millisecond
	progressLogEvery = 5 * time.Second
)

// monitor makes a job visible: the job goroutine publishes snapshots of it
// (tick, final), the monitor's goroutine prints the progress line from
// them, and the status server (statuspage.go) serves them.
type monitor struct {
	master  string
	started time.Time
	w       io.Writer // where the job's own lines go (stderr)
	lines   bool      // print the progress line
	tty     bool      // w is a terminal: redraw the line in place
	every   time.Duration

	// Owned by the job goroutine.
	lastPub         time.Time
	rateAt          time.Time
	rateIn, rateOut uint64
	inPS, outPS     float64

	cur atomic.Pointer[jobStatus]

	srv      *http.Server
	srvDone  chan struct{}
	url      string
	stop     chan struct{}
	stopOnce sync.Once
	exited   chan struct{}
	mu       sync.Mutex // serializes writes to w
	drawn    bool       // a line was redrawn in place and not ended (under mu)
}

// startMonitor starts the progress line and the status server as the
// config asks (none, either, or both) and stops them at the job's end.
func (schd *GoTaskScheduler) startMonitor(w io.Writer) error {
	c := schd.conf
	if !c.Progress && c.StatusAddress == "" {
		return nil
	}
	m := &monitor{
		master:  schd.drvConf.Master,
		started: time.Now(),
		w:       w,
		lines:   c.Progress,
		tty:     isTerminal(w),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	if isLocalMaster(c.Master) && m.master != c.Master {
		m.master = c.Master + " (" + m.master + ")"
	}
	m.every = progressLogEvery
	if m.tty {
		m.every = progressTTYEvery
	}
	if c.StatusAddress != "" {
		if err := m.serve(c.StatusAddress); err != nil {
			return err
		}
		m.above("mesosgot: status page at " + m.url)
	}
	schd.mon = m
	go m.run()
	schd.addCleanup(m.close)
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// tick publishes a fresh snapshot every publishEvery; it runs on the job
// goroutine, m may be nil.
func (m *monitor) tick(j *schedJob) {
	if m == nil {
		return
	}
	if now := time.Now(); now.Sub(m.lastPub) >= publishEvery {
		m.publish(j, now)
	}
}

// final publishes the job's last snapshot; it runs on the job goroutine at
// the job's end, before the cleanups. m may be nil.
func (m *monitor) final(j *schedJob) {
	if m == nil {
		return
	}
	m.publish(j, time.Now())
}

// publish takes a snapshot of j and updates the message rates.
func (m *monitor) publish(j *schedJob, now time.Time) {
	st := j.status(m.master, m.started, m.srv != nil)
	m.lastPub = now
	if m.rateAt.IsZero() {
		m.rateAt, m.rateIn, m.rateOut = now, st.MsgsIn, st.MsgsOut
	} else if d := now.Sub(m.rateAt); d >= rateWindow {
		m.inPS = float64(st.MsgsIn-m.rateIn) / d.Seconds()
		m.outPS = float64(st.MsgsOut-m.rateOut) / d.Seconds()
		m.rateAt, m.rateIn, m.rateOut = now, st.MsgsIn, st.MsgsOut
	}
	st.MsgsInPerSec, st.MsgsOutPerSec = m.inPS, m.outPS
	m.cur.Store(st)
}

// snapshot returns the last published status, or one saying the framework
// is registering when the job has not started.
func (m *monitor) snapshot() *jobStatus {
	if st := m.cur.Load(); st != nil {
		return st
	}
	return &jobStatus{
		Phase:          "registering",
		Master:         m.master,
		Started:        m.started,
		ElapsedSeconds: time.Since(m.started).Seconds(),
		Tasks:          []taskStatus{},
		Links:          []linkStatus{},
	}
}

// live is the last snapshot with the clock brought up to now (the snapshot
// may be older than publishEvery while the job goroutine is busy).
func (m *monitor) live() *jobStatus {
	st := m.snapshot()
	if st.Phase == "finished" || st.Phase == "failed" {
		return st
	}
	cp := *st
	cp.ElapsedSeconds = time.Since(m.started).Seconds()
	return &cp
}

// run prints the progress line until close.
func (m *monitor) run() {
	defer close(m.exited)
	var tick <-chan time.Time
	if m.lines {
		t := time.NewTicker(m.every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			m.print(progressLine(m.live(), false))
		case <-m.stop:
			if m.lines && m.cur.Load() != nil {
				m.print(progressLine(m.cur.Load(), true))
			}
			m.mu.Lock()
			if m.drawn {
				fmt.Fprintln(m.w)
				m.drawn = false
			}
			m.mu.Unlock()
			return
		}
	}
}

// print writes the progress line: in place on a terminal, as a line of its
// own elsewhere.
func (m *monitor) print(line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tty {
		fmt.Fprintf(m.w, "\r%s\x1b[K", line)
		m.drawn = true
		return
	}
	fmt.Fprintln(m.w, line)
}

// above writes one of the job's own lines (not the progress line) to w:
// on a terminal it replaces the progress line drawn in place, which the
// next tick draws again below it.
func (m *monitor) above(line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drawn {
		fmt.Fprint(m.w, "\r\x1b[K")
		m.drawn = false
	}
	fmt.Fprintln(m.w, line)
}

// close prints the final line and stops the status server; it is a job
// cleanup, so the final snapshot is published by then.
func (m *monitor) close() {
	m.stopOnce.Do(func() {
		close(m.stop)
		<-m.exited
		m.closeServer()
	})
}

// progressLine is the one-line progress of st; final says the job ended.
func progressLine(st *jobStatus, final bool) string {
	var b strings.Builder
	elapsed := time.Duration(st.ElapsedSeconds * float64(time.Second))
	if elapsed < time.Minute {
		elapsed = elapsed.Round(100 * time.Millisecond)
	} else {
		elapsed = elapsed.Round(time.Second)
	}
	c := st.Counts
	phase := st.Phase
	switch {
	case final:
		phase = "job " + phase + " after"
	case phase == "waiting":
		phase = "waiting for offers"
	}
	fmt.Fprintf(&b, "mesosgot: %s %v", phase, elapsed)
	if st.Phase == "registering" {
		fmt.Fprintf(&b, " | master %s", st.Master)
		return b.String()
	}
	b.WriteString(" | tasks:")
	if c.Waiting > 0 {
		fmt.Fprintf(&b, " %d waiting,", c.Waiting)
	}
	fmt.Fprintf(&b, " %d staging, %d running, %d finished,", c.Staging, c.Running, c.Finished)
	if c.Stopped > 0 {
		fmt.Fprintf(&b, " %d stopped,", c.Stopped)
	}
	fmt.Fprintf(&b, " %d failed (of %d)", c.Failed, c.Total)
	if final {
		fmt.Fprintf(&b, " | msgs in %d out %d", st.MsgsIn, st.MsgsOut)
	} else {
		fmt.Fprintf(&b, " | msgs/s in %.0f out %.0f", st.MsgsInPerSec, st.MsgsOutPerSec)
	}
	fmt.Fprintf(&b, " | retransmits %d", st.Retransmits)
	return b.String()
}

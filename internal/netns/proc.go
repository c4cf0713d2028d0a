package netns

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Proc is a process running inside a host, started by Start. Its combined
// output is kept; the Net stops it at cleanup if it is still running.
type Proc struct {
	Name string // host name and command, for messages
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // set before done closes
}

// Start runs name with args inside the host, in a process group of its
// own, keeping its output. env is added to the test's environment.
func (h *Host) Start(env []string, name string, args ...string) (*Proc, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(cmd.Environ(), env...)
	// Children that keep the output open (executors in process groups of
	// their own) must not keep Wait from returning once the process exited.
	cmd.WaitDelay = 2 * time.Second
	p := &Proc{Name: h.Name + ":" + name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netns: starting %s in %s: %w", name, h.NS, err)
	}
	h.net.mu.Lock()
	h.net.procs = append(h.net.procs, p)
	h.net.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error once Done is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Output returns what the process has written so far.
func (p *Proc) Output() string { return p.out.String() }

// Wait waits up to timeout for the process to exit and returns its exit
// error; on timeout it kills the process and says so.
func (p *Proc) Wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		p.Stop(time.Second)
		return fmt.Errorf("netns: %s still running after %v: killed", p.Name, timeout)
	}
}

// WaitFor waits up to timeout for the output to match re and returns the
// first match's submatches. It fails if the process exits first.
func (p *Proc) WaitFor(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			return m, nil
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.Output()); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("netns: %s exited (%v) before printing %q", p.Name, p.err, re)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("netns: %s did not print %q within %v", p.Name, re, timeout)
		}
	}
}

// Stop sends SIGTERM to the process group, and SIGKILL after grace if it
// has not exited; it returns once the process has exited.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(b)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

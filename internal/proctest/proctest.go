// Package proctest runs the project's commands as real processes in tests:
// it builds them, starts them, waits for lines of their output and makes
// sure none outlives its test.
package proctest

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds the Go package pkg (an import path or ./dir) into dir/name
// and returns the binary's path.
func Build(t testing.TB, dir, name, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Proc is a running command whose output lines (stdout and stderr) are
// collected.
type Proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd

	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced on each new line
	eof   bool

	done    chan struct{} // closed once the process has been waited for
	waitErr error
}

// Start starts path with args, in its own process group. The group is
// killed at the end of the test if still there.
func Start(t testing.TB, path string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, name: filepath.Base(path), more: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	go p.read(pr)
	go func() {
		p.waitErr = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

func (p *Proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.more)
		p.more = make(chan struct{})
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
	p.mu.Lock()
	p.eof = true
	close(p.more)
	p.mu.Unlock()
}

// Pid returns the process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// WaitLine waits up to timeout for an output line matching re and returns
// its submatches.
func (p *Proc) WaitLine(re string, timeout time.Duration) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	seen := 0
	for {
		p.mu.Lock()
		for ; seen < len(p.lines); seen++ {
			if m := rx.FindStringSubmatch(p.lines[seen]); m != nil {
				p.mu.Unlock()
				return m
			}
		}
		more, eof := p.more, p.eof
		p.mu.Unlock()
		if eof {
			p.t.Fatalf("%s exited without printing a line matching %q:\n%s", p.name, re, p.Output())
		}
		select {
		case <-more:
		case <-deadline:
			p.t.Fatalf("%s printed no line matching %q within %v:\n%s", p.name, re, timeout, p.Output())
		}
	}
}

// Output returns what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Errorf("signal %s: %v", p.name, err)
	}
}

// Wait waits up to timeout for the process to exit and returns its error
// (nil for exit status 0).
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %v", p.name, timeout)
	}
}

// Main runs a test binary's tests with glog writing into a temporary
// directory (removed afterwards) rather than into the system's; call it
// from TestMain.
func Main(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "proctest-glog-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	_ = flag.Set("log_dir", dir)
	return m.Run()
}

package clustertest

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/mesosgot/mesosgot/internal/netns"
)

// dialFrom returns a dialer that connects from inside host h's network
// namespace: the test process lives in the machine's own namespace, from
// which the hosts' subnet cannot be reached. The socket is made on an OS
// thread moved into the namespace for that one call (a socket stays in the
// namespace it was made in); the thread is moved back afterwards, or, if
// that fails, left locked so that it ends with its goroutine.
func dialFrom(h *netns.Host) func(network, addr string, timeout time.Duration) (net.Conn, error) {
	return func(network, addr string, timeout time.Duration) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			c, restored, err := dialInNS(h.NS, network, addr, timeout)
			if restored {
				runtime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// dialInNS dials from namespace ns on the current (locked) thread and says
// whether the thread is back in its own namespace.
func dialInNS(ns, network, addr string, timeout time.Duration) (c net.Conn, restored bool, err error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
	if err != nil {
		return nil, true, fmt.Errorf("own network namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return nil, true, fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer target.Close()
	if err := setns(target); err != nil {
		return nil, true, fmt.Errorf("entering namespace %s: %w", ns, err)
	}
	c, err = net.DialTimeout(network, addr, timeout)
	if err != nil {
		err = fmt.Errorf("dialing %s from namespace %s: %w", addr, ns, err)
	}
	return c, setns(self) == nil, err
}

// setnsCall is the setns system call's number per architecture (the
// syscall package has no name for it).
var setnsCall = map[string]uintptr{"amd64": 308, "arm64": 268, "riscv64": 268, "386": 346, "arm": 375, "ppc64le": 350, "s390x": 339}

// setns moves the current thread into the network namespace of f.
func setns(f *os.File) error {
	nr, ok := setnsCall[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: system call number unknown on %s", runtime.GOARCH)
	}
	if _, _, errno := syscall.RawSyscall(nr, f.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
		return errno
	}
	return nil
}

// Package netns builds a small multi-host network out of Linux network
// namespaces for tests: each host is a namespace with its own loopback and
// one interface (eth0) on a private subnet, joined through veth pairs to a
// bridge that lives in a namespace of its own, so nothing is added to the
// machine's own network. Processes run inside a host with
// `ip netns exec`, see only that host's addresses, and a host's link can
// be cut mid-test.
//
// Everything a Net makes is removed in t.Cleanup, even when the test fails:
// its processes and every other process left in its namespaces are killed,
// then the namespaces are deleted. Namespaces are named
// "mgt<test pid>-<host>", so New also removes namespaces left by earlier
// test processes that died before their cleanup ran.
//
// It needs root and the ip command of iproute2; Available says whether
// both are there.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Prefix starts the name of every namespace this package makes.
const Prefix = "mgt"

// Net is a set of hosts on one subnet, joined by a bridge.
type Net struct {
	t      testing.TB
	tag    string // Prefix + pid
	bridge string // the bridge's namespace
	subnet *net.IPNet

	mu    sync.Mutex
	hosts []*Host
	procs []*Proc
}

// Host is one network namespace with an address on the Net's subnet.
type Host struct {
	Name string // as given to New
	NS   string // the namespace's name
	IP   net.IP // the address of its eth0
	port string // its veth end on the bridge
	net  *Net
}

// Available returns nil when namespaces can be made here (root and a
// working `ip netns`), else what is missing.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("no ip command (iproute2): %w", err)
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns list: %v: %s", err, bytes.TrimSpace(out))
	}
	// Try what New does, in a namespace of our own: a container may lack
	// the privileges, or the kernel the veth or bridge drivers.
	probe := Prefix + strconv.Itoa(os.Getpid()) + "-probe"
	defer func() { _ = deleteNS(probe) }()
	for _, args := range [][]string{
		{"netns", "add", probe},
		{"-n", probe, "link", "add", "br0", "type", "bridge"},
		{"-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"-n", probe, "link", "set", "v0", "master", "br0", "up"},
	} {
		if err := run("ip", args...); err != nil {
			return fmt.Errorf("cannot make network namespaces here: %w", err)
		}
	}
	return nil
}

// New makes one namespace per name in hosts, addressed from cidr (for
// example "10.233.0.0/24": hosts get .1, .2, ... in order), joined by a
// bridge. It fails the test if they cannot be made.
func New(t testing.TB, cidr string, hosts ...string) *Net {
	t.Helper()
	_, subnet, err := net.ParseCIDR(cidr)
	if err != nil || subnet.IP.To4() == nil {
		t.Fatalf("netns: subnet %q: want an IPv4 CIDR", cidr)
	}
	ones, bits := subnet.Mask.Size()
	if len(hosts) == 0 || len(hosts) > (1<<(bits-ones))-2 {
		t.Fatalf("netns: %d hosts do not fit in %s", len(hosts), cidr)
	}
	removeStale(t)
	n := &Net{t: t, tag: Prefix + strconv.Itoa(os.Getpid()), subnet: subnet}
	n.bridge = n.tag + "-br"
	t.Cleanup(n.cleanup)

	n.must("ip", "netns", "add", n.bridge)
	n.must("ip", "-n", n.bridge, "link", "set", "lo", "up")
	n.must("ip", "-n", n.bridge, "link", "add", "br0", "type", "bridge")
	n.must("ip", "-n", n.bridge, "link", "set", "br0", "up")
	for i, name := range hosts {
		if !validHostName(name) {
			t.Fatalf("netns: host name %q: want 1-8 of [a-z0-9]", name)
		}
		ip := make(net.IP, 4)
		copy(ip, subnet.IP.To4())
		ip[3] += byte(i + 1)
		h := &Host{Name: name, NS: n.tag + "-" + name, IP: ip, port: "h" + strconv.Itoa(i), net: n}
		n.mu.Lock()
		n.hosts = append(n.hosts, h)
		n.mu.Unlock()
		n.must("ip", "netns", "add", h.NS)
		n.must("ip", "-n", n.bridge, "link", "add", h.port, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		n.must("ip", "-n", n.bridge, "link", "set", h.port, "master", "br0", "up")
		n.must("ip", "-n", h.NS, "link", "set", "lo", "up")
		n.must("ip", "-n", h.NS, "addr", "add", fmt.Sprintf("%s/%d", ip, ones), "dev", "eth0")
		n.must("ip", "-n", h.NS, "link", "set", "eth0", "up")
	}
	return n
}

// validHostName keeps namespace and log names short and plain.
var validHostName = regexp.MustCompile(`^[a-z0-9]{1,8}$`).MatchString

// Host returns the host called name.
func (n *Net) Host(name string) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, h := range n.hosts {
		if h.Name == name {
			return h
		}
	}
	n.t.Fatalf("netns: no host %q", name)
	return nil
}

// Cut takes the host's link down at the bridge, as if its cable were
// pulled: its packets and those sent to it are dropped from now on, and
// nothing tells its peers.
func (n *Net) Cut(h *Host) error {
	return run("ip", "-n", n.bridge, "link", "set", h.port, "down")
}

// Restore brings a cut link back up.
func (n *Net) Restore(h *Host) error {
	return run("ip", "-n", n.bridge, "link", "set", h.port, "up")
}

// must runs a setup command and fails the test if it fails.
func (n *Net) must(name string, args ...string) {
	n.t.Helper()
	if err := run(name, args...); err != nil {
		n.t.Fatalf("netns: %v", err)
	}
}

// run runs a command and returns its output in the error if it fails.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// cleanup stops the processes, kills whatever else is left in the
// namespaces and deletes them. Problems are reported, not fatal, so that
// every step runs.
func (n *Net) cleanup() {
	n.mu.Lock()
	procs := append([]*Proc(nil), n.procs...)
	hosts := append([]*Host(nil), n.hosts...)
	n.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(5 * time.Second)
	}
	names := []string{n.bridge}
	for _, h := range hosts {
		names = append(names, h.NS)
	}
	for _, ns := range names {
		if err := deleteNS(ns); err != nil {
			n.t.Errorf("netns cleanup: %v", err)
		}
	}
}

// deleteNS kills every process in namespace ns, waits until they are gone
// and deletes ns. A namespace that does not exist is not an error.
func deleteNS(ns string) error {
	if !exists(ns) {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := nsPids(ns)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s: processes %v survive SIGKILL", ns, pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond) // polling for the kernel to reap them
	}
	return run("ip", "netns", "delete", ns)
}

// nsPids lists the processes in namespace ns.
func nsPids(ns string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		if !exists(ns) {
			return nil, nil
		}
		return nil, fmt.Errorf("ip netns pids %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// list returns the names of the machine's named namespaces.
func list() ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

func exists(ns string) bool {
	_, err := os.Stat("/run/netns/" + ns)
	return err == nil
}

// staleName matches this package's namespaces and captures the pid of the
// test process that made them.
var staleName = regexp.MustCompile(`^` + Prefix + `([0-9]+)-[a-z0-9]+$`)

// removeStale deletes namespaces made by test processes that are gone
// (their cleanup never ran: a crash or a killed test binary). Namespaces
// of live test processes, this one's included, are left alone.
func removeStale(t testing.TB) {
	names, err := list()
	if err != nil {
		t.Logf("netns: listing namespaces: %v", err)
		return
	}
	for _, ns := range names {
		m := staleName.FindStringSubmatch(ns)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || alive(pid) {
			continue
		}
		t.Logf("netns: removing namespace %s left by test process %d", ns, pid)
		if err := deleteNS(ns); err != nil {
			t.Logf("netns: removing stale namespace: %v", err)
		}
	}
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

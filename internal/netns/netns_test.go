package netns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/testenv"
)

// helperEnv makes the test binary a helper process inside a namespace:
// "addrs" prints its interface addresses, "listen:<addr>" serves TCP on
// addr, "dial:<addr>" connects once and prints the result.
const helperEnv = "NETNS_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(helper(h))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	switch {
	case mode == "addrs":
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		for _, a := range addrs {
			fmt.Println("addr", a.String())
		}
		return 0
	case strings.HasPrefix(mode, "listen:"):
		ln, err := net.Listen("tcp4", strings.TrimPrefix(mode, "listen:"))
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("listening on", ln.Addr())
		for {
			c, err := ln.Accept()
			if err != nil {
				return 1
			}
			_, _ = c.Write([]byte("hello\n"))
			_ = c.Close()
		}
	case strings.HasPrefix(mode, "dial:"):
		c, err := net.DialTimeout("tcp4", strings.TrimPrefix(mode, "dial:"), time.Second)
		if err != nil {
			fmt.Println("dial failed:", err)
			return 2
		}
		b := make([]byte, 6)
		_, err = c.Read(b)
		_ = c.Close()
		fmt.Printf("dial ok: %q %v\n", b, err)
		return 0
	}
	fmt.Println("unknown helper mode", mode)
	return 1
}

func requireNetns(t *testing.T) {
	if err := Available(); err != nil {
		testenv.Missing(t, "network namespaces (root + ip netns)", err.Error()+"; run as root on Linux with iproute2 (make installs it with apt-get)")
	}
}

// ours lists the namespaces of this test process.
func ours(t *testing.T) []string {
	names, err := list()
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, Prefix+strconv.Itoa(os.Getpid())+"-") {
			out = append(out, n)
		}
	}
	return out
}

func TestHostsSeeOnlyTheirAddressAndReachEachOther(t *testing.T) {
	requireNetns(t)
	t.Run("net", func(t *testing.T) {
		t0 := time.Now()
		n := New(t, "10.233.250.0/24", "a", "b", "c")
		t.Logf("New took %v", time.Since(t0))
		assert.Len(t, ours(t), 4, "three hosts and the bridge")
		self, err := os.Executable()
		require.NoError(t, err)
		for i, name := range []string{"a", "b", "c"} {
			h := n.Host(name)
			assert.Equal(t, fmt.Sprintf("10.233.250.%d", i+1), h.IP.String())
			p, err := h.Start([]string{helperEnv + "=addrs"}, self)
			require.NoError(t, err)
			require.NoError(t, p.Wait(10*time.Second), p.Output())
			addrs := regexp.MustCompile(`addr (\S+)`).FindAllStringSubmatch(p.Output(), -1)
			var got []string
			for _, a := range addrs {
				if ip, _, err := net.ParseCIDR(a[1]); err == nil && ip.To4() != nil {
					got = append(got, ip.String())
				}
			}
			assert.ElementsMatch(t, []string{"127.0.0.1", h.IP.String()}, got, "host %s sees only its own IPv4 addresses", name)
		}

		a, b := n.Host("a"), n.Host("b")
		srv, err := a.Start([]string{helperEnv + "=listen:" + a.IP.String() + ":7000"}, self)
		require.NoError(t, err)
		_, err = srv.WaitFor(regexp.MustCompile(`listening on`), 10*time.Second)
		require.NoError(t, err)

		dial := func() (string, error) {
			p, err := b.Start([]string{helperEnv + "=dial:" + a.IP.String() + ":7000"}, self)
			require.NoError(t, err)
			err = p.Wait(10 * time.Second)
			return p.Output(), err
		}
		out, err := dial()
		require.NoError(t, err, out)
		assert.Contains(t, out, `dial ok: "hello\n"`)

		require.NoError(t, n.Cut(a))
		out, err = dial()
		assert.Error(t, err, "a cut host is unreachable")
		assert.Contains(t, out, "dial failed")

		require.NoError(t, n.Restore(a))
		out, err = dial()
		require.NoError(t, err, out)
		assert.Contains(t, out, "dial ok")
		// srv is still running: the cleanup must stop it.
	})
	assert.Empty(t, ours(t), "cleanup deleted every namespace")
}

func TestStaleNamespacesAreRemoved(t *testing.T) {
	requireNetns(t)
	// a pid that is surely gone: a process that has exited and been reaped
	c := exec.Command("true")
	require.NoError(t, c.Run())
	dead := c.ProcessState.Pid()
	require.False(t, alive(dead))
	stale := fmt.Sprintf("%s%d-x", Prefix, dead)
	require.NoError(t, run("ip", "netns", "add", stale))
	t.Cleanup(func() { _ = deleteNS(stale) })
	// a namespace that is not ours by name is never touched
	other := "mesosgot-other-" + strconv.Itoa(os.Getpid())
	require.NoError(t, run("ip", "netns", "add", other))
	t.Cleanup(func() { _ = deleteNS(other) })

	New(t, "10.233.251.0/24", "a")
	assert.False(t, exists(stale), "stale namespace %s removed", stale)
	assert.True(t, exists(other), "foreign namespace %s kept", other)
}

package mesosgot

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeNet is a resolver and routing table for chooseAddresses.
type fakeNet struct {
	hosts  map[string][]string // name -> IPs
	routes map[string]string   // destination IP -> local IP
	routed []string            // destinations asked for
}

func (f *fakeNet) resolve(host string) ([]net.IP, error) {
	ips, ok := f.hosts[host]
	if !ok {
		return nil, fmt.Errorf("no such host %s", host)
	}
	var out []net.IP
	for _, s := range ips {
		out = append(out, net.ParseIP(s))
	}
	return out, nil
}

func (f *fakeNet) route(dst net.IP) (net.IP, error) {
	f.routed = append(f.routed, dst.String())
	if l, ok := f.routes[dst.String()]; ok {
		return net.ParseIP(l), nil
	}
	return nil, errors.New("network is unreachable")
}

func TestChooseAddresses(t *testing.T) {
	fn := func() *fakeNet {
		return &fakeNet{
			hosts: map[string][]string{
				"mesos-master": {"2001:db8::1", "10.1.0.5"},
				"zk1":          {"10.2.0.1"},
				"me":           {"10.9.0.3"},
				"localhost":    {"127.0.0.1"},
				"v6only":       {"2001:db8::2"},
			},
			routes: map[string]string{
				"10.1.0.5":    "10.1.0.77",
				"10.2.0.1":    "10.2.0.77",
				"192.168.5.1": "192.168.5.20",
				"10.3.0.1":    "2001:db8::99",
			},
		}
	}
	tests := []struct {
		name             string
		in               addrInput
		env              map[string]string
		bind, adv        string
		port             uint16
		routed           []string // destinations the route lookup was asked for
		errLike, whyLike string
		warnLike         string
	}{
		{name: "loopback -address toward a remote master: works, with a warning",
			in:   addrInput{Master: "192.168.5.1:5050", Address: "127.0.0.1"},
			bind: "127.0.0.1", adv: "127.0.0.1", warnLike: "cannot reach it"},
		{name: "ip master: the interface that routes to it",
			in:   addrInput{Master: "192.168.5.1:5050"},
			bind: "192.168.5.20", adv: "192.168.5.20", routed: []string{"192.168.5.1"},
			whyLike: "routes to master 192.168.5.1"},
		{name: "host name master resolves, IPv4 preferred",
			in:   addrInput{Master: "mesos-master:5050"},
			bind: "10.1.0.77", adv: "10.1.0.77", routed: []string{"10.1.0.5"}},
		{name: "master@host:port form",
			in:   addrInput{Master: "master@mesos-master:5050"},
			bind: "10.1.0.77", adv: "10.1.0.77", routed: []string{"10.1.0.5"}},
		{name: "master without port",
			in:   addrInput{Master: "192.168.5.1"},
			bind: "192.168.5.20", adv: "192.168.5.20"},
		{name: "zk: the first ZooKeeper host",
			in:   addrInput{Master: "zk://zk1:2181,10.1.0.5:2181/mesos"},
			bind: "10.2.0.77", adv: "10.2.0.77", routed: []string{"10.2.0.1"}},
		{name: "zk with credentials",
			in:   addrInput{Master: "zk://user:pw@zk1:2181/mesos"},
			bind: "10.2.0.77", adv: "10.2.0.77"},
		{name: "loopback master: 127.0.0.1, no route lookup",
			in:   addrInput{Master: "127.0.0.1:5050"},
			bind: "127.0.0.1", adv: "127.0.0.1", whyLike: "on this host"},
		{name: "localhost master",
			in:   addrInput{Master: "localhost:5050"},
			bind: "127.0.0.1", adv: "127.0.0.1"},
		{name: "local master",
			in:   addrInput{Master: "local"},
			bind: "127.0.0.1", adv: "127.0.0.1"},
		{name: "local:3 master",
			in:   addrInput{Master: "local:3"},
			bind: "127.0.0.1", adv: "127.0.0.1"},
		{name: "-address binds and advertises, no route lookup",
			in:   addrInput{Master: "192.168.5.1:5050", Address: "10.9.0.3"},
			bind: "10.9.0.3", adv: "10.9.0.3"},
		{name: "-address host name",
			in:   addrInput{Master: "192.168.5.1:5050", Address: "me"},
			bind: "10.9.0.3", adv: "10.9.0.3"},
		{name: "-address 0.0.0.0 binds all, advertises the route",
			in:   addrInput{Master: "192.168.5.1:5050", Address: "0.0.0.0"},
			bind: "0.0.0.0", adv: "192.168.5.20", routed: []string{"192.168.5.1"}},
		{name: "LIBPROCESS_IP when -address is unset",
			in:   addrInput{Master: "192.168.5.1:5050"},
			env:  map[string]string{"LIBPROCESS_IP": "10.9.0.4"},
			bind: "10.9.0.4", adv: "10.9.0.4", whyLike: "LIBPROCESS_IP"},
		{name: "-address wins over LIBPROCESS_IP",
			in:   addrInput{Master: "192.168.5.1:5050", Address: "10.9.0.3"},
			env:  map[string]string{"LIBPROCESS_IP": "10.9.0.4"},
			bind: "10.9.0.3", adv: "10.9.0.3"},
		{name: "LIBPROCESS_ADVERTISE_IP alone: bind all, advertise it",
			in:   addrInput{Master: "192.168.5.1:5050"},
			env:  map[string]string{"LIBPROCESS_ADVERTISE_IP": "203.0.113.9"},
			bind: "0.0.0.0", adv: "203.0.113.9", whyLike: "LIBPROCESS_ADVERTISE_IP"},
		{name: "LIBPROCESS_IP and LIBPROCESS_ADVERTISE_IP",
			in:   addrInput{Master: "192.168.5.1:5050"},
			env:  map[string]string{"LIBPROCESS_IP": "10.9.0.4", "LIBPROCESS_ADVERTISE_IP": "203.0.113.9"},
			bind: "10.9.0.4", adv: "203.0.113.9"},
		{name: "-advertise_ip wins over LIBPROCESS_ADVERTISE_IP",
			in:   addrInput{Master: "192.168.5.1:5050", AdvertiseIP: "203.0.113.10"},
			env:  map[string]string{"LIBPROCESS_ADVERTISE_IP": "203.0.113.9"},
			bind: "0.0.0.0", adv: "203.0.113.10"},
		{name: "-driver_port",
			in:   addrInput{Master: "127.0.0.1:5050", DriverPort: 40100},
			bind: "127.0.0.1", adv: "127.0.0.1", port: 40100},
		{name: "LIBPROCESS_PORT",
			in:   addrInput{Master: "127.0.0.1:5050"},
			env:  map[string]string{"LIBPROCESS_PORT": "40200"},
			bind: "127.0.0.1", adv: "127.0.0.1", port: 40200},
		{name: "-driver_port wins over LIBPROCESS_PORT",
			in:   addrInput{Master: "127.0.0.1:5050", DriverPort: 40100},
			env:  map[string]string{"LIBPROCESS_PORT": "40200"},
			bind: "127.0.0.1", adv: "127.0.0.1", port: 40100},
		{name: "LIBPROCESS_ADVERTISE_PORT equal to the port is fine",
			in:   addrInput{Master: "127.0.0.1:5050"},
			env:  map[string]string{"LIBPROCESS_PORT": "40200", "LIBPROCESS_ADVERTISE_PORT": "40200"},
			bind: "127.0.0.1", adv: "127.0.0.1", port: 40200},

		{name: "LIBPROCESS_ADVERTISE_PORT differing from the port",
			in:      addrInput{Master: "127.0.0.1:5050"},
			env:     map[string]string{"LIBPROCESS_PORT": "40200", "LIBPROCESS_ADVERTISE_PORT": "40300"},
			errLike: "advertises the port it listens on"},
		{name: "LIBPROCESS_ADVERTISE_PORT without a fixed port",
			in:      addrInput{Master: "127.0.0.1:5050"},
			env:     map[string]string{"LIBPROCESS_ADVERTISE_PORT": "40300"},
			errLike: "LIBPROCESS_ADVERTISE_PORT=40300"},
		{name: "bad LIBPROCESS_PORT",
			in:      addrInput{Master: "127.0.0.1:5050"},
			env:     map[string]string{"LIBPROCESS_PORT": "http"},
			errLike: "LIBPROCESS_PORT=http: not a port number"},
		{name: "port out of range",
			in:      addrInput{Master: "127.0.0.1:5050", DriverPort: 70000},
			errLike: "-driver_port=70000"},
		{name: "no route to the master",
			in:      addrInput{Master: "172.16.0.1:5050"},
			errLike: "routes to master 172.16.0.1"},
		{name: "unknown master host",
			in:      addrInput{Master: "nowhere:5050"},
			errLike: `master host "nowhere"`},
		{name: "IPv6-only master",
			in:      addrInput{Master: "v6only:5050"},
			errLike: "no IPv4 address"},
		{name: "route leaves from an IPv6 address",
			in:      addrInput{Master: "10.3.0.1:5050"},
			errLike: "not an IPv4 address"},
		{name: "unresolvable -address",
			in:      addrInput{Master: "127.0.0.1:5050", Address: "nowhere"},
			errLike: "-address=nowhere"},
		{name: "IPv6 LIBPROCESS_IP",
			in:      addrInput{Master: "127.0.0.1:5050"},
			env:     map[string]string{"LIBPROCESS_IP": "::1"},
			errLike: "LIBPROCESS_IP=::1"},
		{name: "unspecified advertise IP",
			in:      addrInput{Master: "127.0.0.1:5050", AdvertiseIP: "0.0.0.0"},
			errLike: "must name one host"},
		{name: "empty master",
			in:      addrInput{Master: ""},
			errLike: "-master is empty"},
		{name: "unknown master scheme",
			in:      addrInput{Master: "http://m:5050"},
			errLike: "want host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fn()
			in := tc.in
			in.Resolve, in.Route = f.resolve, f.route
			in.Getenv = func(k string) string { return tc.env[k] }
			p, err := chooseAddresses(in)
			if tc.errLike != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.errLike)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.bind, p.BindIP.String(), "bind")
			assert.Equal(t, tc.adv, p.AdvertiseIP.String(), "advertise")
			assert.Equal(t, tc.port, p.DriverPort, "port")
			assert.Len(t, p.BindIP, net.IPv4len, "IPs are 4-byte")
			assert.Len(t, p.AdvertiseIP, net.IPv4len, "IPs are 4-byte")
			if tc.routed != nil {
				assert.Equal(t, tc.routed, f.routed)
			}
			if tc.whyLike != "" {
				assert.Contains(t, p.Why, tc.whyLike)
			}
			if tc.warnLike != "" {
				assert.Contains(t, p.Warning, tc.warnLike)
			} else {
				assert.Empty(t, p.Warning)
			}
			assert.NotEmpty(t, p.Why)
		})
	}
}

// TestRouteIPLoopback checks the real route lookup: loopback routes from
// loopback, and nothing is sent (UDP connect only).
func TestRouteIPLoopback(t *testing.T) {
	ip, err := routeIP(net.IPv4(127, 0, 0, 1))
	require.NoError(t, err)
	assert.True(t, ip.IsLoopback(), "got %v", ip)
}

func TestSystemAddressesFileMaster(t *testing.T) {
	p := filepath.Join(t.TempDir(), "master")
	require.NoError(t, os.WriteFile(p, []byte("127.0.0.1:5050\n"), 0o600))
	c := DefaultSchedulerConfig()
	c.Master = "file://" + p
	got, err := systemAddresses(c)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", got.AdvertiseIP.String())

	c.Master = "file://" + filepath.Join(t.TempDir(), "missing")
	_, err = systemAddresses(c)
	assert.ErrorContains(t, err, "reading -master=file://")
}

func TestExecutorAddresses(t *testing.T) {
	f := &fakeNet{routes: map[string]string{"10.1.0.5": "10.1.0.5"}}
	tests := []struct {
		name      string
		env       map[string]string
		ok        bool
		bind, adv string
		errLike   string
	}{
		{name: "not under an agent", env: map[string]string{}},
		{name: "the interface that routes to the agent",
			env: map[string]string{"MESOS_SLAVE_PID": "slave(1)@10.1.0.5:5051", "LIBPROCESS_PORT": "0"},
			ok:  true, bind: "10.1.0.5", adv: "10.1.0.5"},
		{name: "an agent on loopback",
			env: map[string]string{"MESOS_SLAVE_PID": "slave(1)@127.0.0.1:5051"},
			ok:  true, bind: "127.0.0.1", adv: "127.0.0.1"},
		{name: "LIBPROCESS_IP from the agent",
			env: map[string]string{"MESOS_SLAVE_PID": "slave(1)@10.1.0.5:5051", "LIBPROCESS_IP": "10.1.0.6"},
			ok:  true, bind: "10.1.0.6", adv: "10.1.0.6"},
		{name: "bad LIBPROCESS_IP",
			env:     map[string]string{"MESOS_SLAVE_PID": "slave(1)@10.1.0.5:5051", "LIBPROCESS_IP": "nowhere"},
			errLike: "executor address (agent slave(1)@10.1.0.5:5051)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok, err := executorAddresses(func(k string) string { return tc.env[k] }, f.resolve, f.route)
			if tc.errLike != "" {
				assert.ErrorContains(t, err, tc.errLike)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, tc.bind, p.BindIP.String())
				assert.Equal(t, tc.adv, p.AdvertiseIP.String())
			}
		})
	}
}

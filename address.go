package mesosgot

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// The scheduler's network addresses. Agents and the master connect back to
// the scheduler (its libprocess driver, and the artifact server that ships
// the executor binary), so the scheduler must advertise an address they can
// reach. As libprocess does, mesosgot separates the address it binds to
// from the address it advertises:
//
//   - bind IP: -address, else LIBPROCESS_IP, else 0.0.0.0 when an advertised
//     IP is given, else the advertised IP;
//   - advertised IP: -advertise_ip, else LIBPROCESS_ADVERTISE_IP, else the
//     bind IP when it names one interface, else the IP of the local interface
//     that routes to the master (127.0.0.1 for a master on this host and for
//     -master=local);
//   - driver port: -driver_port, else LIBPROCESS_PORT, else any free port.

// Environment variables a libprocess program reads for its addresses.
const (
	envLibprocessIP            = "LIBPROCESS_IP"
	envLibprocessPort          = "LIBPROCESS_PORT"
	envLibprocessAdvertiseIP   = "LIBPROCESS_ADVERTISE_IP"
	envLibprocessAdvertisePort = "LIBPROCESS_ADVERTISE_PORT"
)

// addrInput is everything the address choice depends on.
type addrInput struct {
	Master      string // the master spec, as -master takes it
	Address     string // -address ("" unset)
	AdvertiseIP string // -advertise_ip ("" unset)
	DriverPort  int    // -driver_port (0 unset)
	// Getenv reads the LIBPROCESS_* variables; nil reads none.
	Getenv func(string) string
	// Resolve looks a host name up (net.LookupIP).
	Resolve func(host string) ([]net.IP, error)
	// Route returns the local IP of the interface that routes to dst.
	Route func(dst net.IP) (net.IP, error)
}

// addrPlan is the chosen addresses.
type addrPlan struct {
	BindIP      net.IP // the driver and the artifact server listen here
	AdvertiseIP net.IP // in the driver's UPID and the artifact URL
	DriverPort  uint16 // 0: any free port
	Why         string // how AdvertiseIP was chosen, for the log
	Warning     string // a likely mistake, for the log ("" if none)
}

// chooseAddresses picks the bind and advertised addresses from the flags,
// the LIBPROCESS_* environment and the route to the master. It does no I/O
// of its own: name lookups and routing go through in.Resolve and in.Route.
func chooseAddresses(in addrInput) (addrPlan, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var p addrPlan

	port, err := choosePort(in.DriverPort, getenv)
	if err != nil {
		return p, err
	}
	p.DriverPort = port

	bindSpec, bindFrom := in.Address, "-address"
	if bindSpec == "" {
		bindSpec, bindFrom = getenv(envLibprocessIP), envLibprocessIP
	}
	advSpec, advFrom := in.AdvertiseIP, "-advertise_ip"
	if advSpec == "" {
		advSpec, advFrom = getenv(envLibprocessAdvertiseIP), envLibprocessAdvertiseIP
	}

	if bindSpec != "" {
		if p.BindIP, err = resolveIPv4(bindSpec, in.Resolve); err != nil {
			return p, fmt.Errorf("mesosgot: %s=%s: %w", bindFrom, bindSpec, err)
		}
	}
	switch {
	case advSpec != "":
		if p.AdvertiseIP, err = resolveIPv4(advSpec, in.Resolve); err != nil {
			return p, fmt.Errorf("mesosgot: %s=%s: %w", advFrom, advSpec, err)
		}
		if p.AdvertiseIP.IsUnspecified() {
			return p, fmt.Errorf("mesosgot: %s=%s: an advertised address must name one host", advFrom, advSpec)
		}
		p.Why = advFrom
	case p.BindIP != nil && !p.BindIP.IsUnspecified():
		p.AdvertiseIP, p.Why = p.BindIP, bindFrom
	default:
		if p.AdvertiseIP, p.Why, err = routeToMaster(in.Master, in.Resolve, in.Route); err != nil {
			return p, err
		}
	}
	if p.AdvertiseIP.IsLoopback() && !isLocalMaster(in.Master) {
		if host, err := masterHost(in.Master); err == nil {
			if ip, err := resolveIPv4(host, in.Resolve); err == nil && !ip.IsLoopback() {
				p.Warning = fmt.Sprintf("the scheduler advertises %s (%s) to master %s on another host: the master and the agents cannot reach it", p.AdvertiseIP, p.Why, ip)
			}
		}
	}
	if p.BindIP == nil {
		if advSpec != "" {
			// An advertised address may be a NAT's, not one of ours.
			p.BindIP = net.IPv4zero.To4()
		} else {
			p.BindIP = p.AdvertiseIP
		}
	}
	return p, nil
}

// choosePort reads the driver's port from the flag or LIBPROCESS_PORT and
// checks LIBPROCESS_ADVERTISE_PORT against it.
func choosePort(flagPort int, getenv func(string) string) (uint16, error) {
	port, from := flagPort, "-driver_port"
	if port == 0 {
		if s := getenv(envLibprocessPort); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return 0, fmt.Errorf("mesosgot: %s=%s: not a port number", envLibprocessPort, s)
			}
			port, from = n, envLibprocessPort
		}
	}
	if port < 0 || port > 65535 {
		return 0, fmt.Errorf("mesosgot: %s=%d: want a port in 0..65535", from, port)
	}
	if s := getenv(envLibprocessAdvertisePort); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("mesosgot: %s=%s: not a port number", envLibprocessAdvertisePort, s)
		}
		if n != port {
			// mesos-go's HTTP transport puts the port it listens on into the
			// UPID; it cannot advertise another one.
			return 0, fmt.Errorf("mesosgot: %s=%d but the scheduler driver listens on %s: mesos-go's driver advertises the port it listens on, so set -driver_port or %s to %d as well",
				envLibprocessAdvertisePort, n, portString(uint16(port)), envLibprocessPort, n)
		}
	}
	return uint16(port), nil
}

// routeToMaster returns the local IP of the interface that routes to the
// master, or 127.0.0.1 for a master on this host.
func routeToMaster(master string, resolve func(string) ([]net.IP, error), route func(net.IP) (net.IP, error)) (net.IP, string, error) {
	if isLocalMaster(master) {
		return net.IPv4(127, 0, 0, 1).To4(), "-master=" + master + " runs in this process", nil
	}
	host, err := masterHost(master)
	if err != nil {
		return nil, "", err
	}
	ip, err := resolveIPv4(host, resolve)
	if err != nil {
		return nil, "", fmt.Errorf("mesosgot: master host %q of -master=%s: %w", host, master, err)
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return net.IPv4(127, 0, 0, 1).To4(), "master " + ip.String() + " is on this host", nil
	}
	if route == nil {
		return nil, "", errors.New("mesosgot: no route lookup to find the address toward the master")
	}
	local, err := route(ip)
	if err != nil {
		return nil, "", fmt.Errorf("mesosgot: finding the local address that routes to master %s (-master=%s): %w; set -address or %s", ip, master, err, envLibprocessIP)
	}
	if l4 := local.To4(); l4 != nil {
		local = l4
	} else {
		return nil, "", fmt.Errorf("mesosgot: the route to master %s leaves from %s, not an IPv4 address (libprocess is IPv4 only); set -address or %s", ip, local, envLibprocessIP)
	}
	return local, "the interface that routes to master " + ip.String(), nil
}

// masterHost is the host a master spec names: the host of host:port or
// master@host:port, the first ZooKeeper host of zk://h1:p1,h2:p2/path.
func masterHost(master string) (string, error) {
	spec := strings.TrimSpace(master)
	if spec == "" {
		return "", errors.New("mesosgot: -master is empty")
	}
	if strings.HasPrefix(spec, "zk://") {
		u, err := url.Parse(spec)
		if err != nil {
			return "", fmt.Errorf("mesosgot: -master=%s: %w", master, err)
		}
		first := strings.Split(u.Host, ",")[0]
		if first == "" {
			return "", fmt.Errorf("mesosgot: -master=%s: no ZooKeeper host", master)
		}
		return hostOf(first), nil
	}
	if strings.Contains(spec, "://") {
		return "", fmt.Errorf("mesosgot: -master=%s: want host:port, zk://host:port/path or local[:N]", master)
	}
	if i := strings.LastIndex(spec, "@"); i >= 0 {
		spec = spec[i+1:]
	}
	h := hostOf(spec)
	if h == "" {
		return "", fmt.Errorf("mesosgot: -master=%s: no host", master)
	}
	return h, nil
}

// hostOf drops a port from host:port (and brackets from [v6]:port).
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// resolveIPv4 parses an IP or looks a host up, preferring IPv4 (libprocess
// and mesos-go's transport are IPv4 only).
func resolveIPv4(host string, resolve func(string) ([]net.IP, error)) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		if ip4 := ip.To4(); ip4 != nil {
			return ip4, nil
		}
		return nil, fmt.Errorf("%s is not an IPv4 address (libprocess is IPv4 only)", host)
	}
	if resolve == nil {
		return nil, fmt.Errorf("cannot resolve %q", host)
	}
	ips, err := resolve(host)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve %q: %w", host, err)
	}
	for _, ip := range ips {
		if ip4 := ip.To4(); ip4 != nil {
			return ip4, nil
		}
	}
	return nil, fmt.Errorf("%q has no IPv4 address (libprocess is IPv4 only)", host)
}

// routeIP returns the local address the kernel picks to reach dst: a UDP
// "connect" sets the socket's route without sending anything.
func routeIP(dst net.IP) (net.IP, error) {
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: dst, Port: 5050})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP, nil
}

// systemAddresses chooses the addresses for conf from the real environment,
// resolver and routing table. A file:// master is read as the driver reads it.
func systemAddresses(conf *GoTaskSchedConfig) (addrPlan, error) {
	master := conf.Master
	if strings.HasPrefix(master, "file://") {
		b, err := os.ReadFile(strings.TrimPrefix(master, "file://"))
		if err != nil {
			return addrPlan{}, fmt.Errorf("mesosgot: reading -master=%s: %w", master, err)
		}
		master = strings.TrimSpace(string(b))
	}
	return chooseAddresses(addrInput{
		Master:      master,
		Address:     conf.Address,
		AdvertiseIP: conf.AdvertiseIP,
		DriverPort:  conf.DriverPort,
		Getenv:      os.Getenv,
		Resolve:     net.LookupIP,
		Route:       routeIP,
	})
}

// portString shows a port, 0 as "any free port".
func portString(p uint16) string {
	if p == 0 {
		return "any free port"
	}
	return "port " + strconv.Itoa(int(p))
}

// executorAddresses chooses the executor driver's addresses as a
// libprocess executor does: LIBPROCESS_IP (which a Mesos agent passes its
// executors), LIBPROCESS_PORT and LIBPROCESS_ADVERTISE_IP, else the IP of
// the interface that routes to the agent (MESOS_SLAVE_PID). ok is false
// outside an agent (no MESOS_SLAVE_PID): the driver's defaults apply.
func executorAddresses(getenv func(string) string, resolve func(string) ([]net.IP, error), route func(net.IP) (net.IP, error)) (p addrPlan, ok bool, err error) {
	agent := getenv("MESOS_SLAVE_PID")
	if agent == "" {
		return addrPlan{}, false, nil
	}
	p, err = chooseAddresses(addrInput{Master: agent, Getenv: getenv, Resolve: resolve, Route: route})
	if err != nil {
		return addrPlan{}, false, fmt.Errorf("mesosgot: executor address (agent %s): %w", agent, err)
	}
	return p, true, nil
}

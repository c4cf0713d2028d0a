// Command mesos-master runs a Mesos master — the master of localmesos,
// speaking the Mesos v0 libprocess protocol — on its own, for agents
// started with mesos-agent on this or other hosts. Point any v0
// framework's -master at its address. SIGINT or SIGTERM stops it; its
// agents keep their executors and re-register with the next master at the
// same address.
//
// Usage:
//
//	mesos-master [-ip 127.0.0.1] [-port 5050] [-work_dir DIR]
//	             [-credentials FILE] [-agent_ping_timeout 15secs]
//	             [-max_agent_ping_timeouts 5] [-cluster_secret_file FILE]
//	             [-zk zk://host:port/mesos] [-zk_session_timeout 10secs]
//
// With -zk the master contends for leadership in that ZooKeeper group, as
// Mesos masters do: the lowest member leads; a standby drops every message
// until it is elected; a leader that loses its leadership (its session
// expired) exits with status 1 so that it can be restarted as a standby.
//
// Flags are Mesos' own; durations take Mesos' form (15secs, 100ms, 2mins)
// or Go's (15s). The credentials file holds one "principal secret" pair per
// line (or Mesos' JSON form); when given, frameworks must authenticate with
// SASL CRAM-MD5. The cluster secret file holds a secret the master and its
// agents share: messages between them carry it and are refused without
// it, so that no other process can pose as an agent or as the master.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mesosgot/mesosgot/internal/mesosflag"
	"github.com/mesosgot/mesosgot/localmesos"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if err := run(os.Args[1:], os.Stdout, sig); err != nil {
		fmt.Fprintln(os.Stderr, "mesos-master:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer, sig <-chan os.Signal) error {
	fs := flag.NewFlagSet("mesos-master", flag.ContinueOnError)
	var (
		ip         = fs.String("ip", "127.0.0.1", "IPv4 address to listen on and advertise")
		port       = fs.Int("port", 5050, "port to listen on (0 = any free port)")
		workDir    = fs.String("work_dir", "", "directory for the master's files; created if missing (this master keeps no registry there)")
		secretFile = fs.String("cluster_secret_file", "", "file holding the secret agents must share (given to each mesos-agent as its -cluster_secret_file); without one, any process that reaches the master may register as an agent")
		credsFile  = fs.String("credentials", "", `file of "principal secret" lines (or Mesos' JSON credentials); when set, frameworks must authenticate`)
		noCheck    = fs.Bool("no_sender_check", false, "accept messages whose sender pid names another host than the connection comes from (peers behind NAT)")
		maxPings   = fs.Int("max_agent_ping_timeouts", 5, "unanswered pings in a row after which an agent is removed (its tasks become TASK_LOST)")
		pingTO     = mesosflag.Duration{D: 15 * time.Second}
		allocIvl   = mesosflag.Duration{D: time.Second}
		zk         = fs.String("zk", "", "ZooKeeper URL zk://host:port[,host:port...]/path of the masters' group (leader election)")
		zkTimeout  = mesosflag.Duration{D: 10 * time.Second}
	)
	fs.Var(&zkTimeout, "zk_session_timeout", "ZooKeeper session timeout (e.g. 10secs)")
	fs.Var(&pingTO, "agent_ping_timeout", "how long the master waits for an agent's answer to each ping (e.g. 15secs)")
	fs.Var(&allocIvl, "allocation_interval", "period of the allocation pass (e.g. 1secs)")
	// glog's flags (-v, -log_dir, -logtostderr, ...) too; as in Mesos,
	// logs go to stderr unless -log_dir is given.
	flag.CommandLine.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	_ = fs.Set("logtostderr", "true")
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f := fs.Lookup("log_dir"); f != nil && f.Value.String() != "" {
		_ = fs.Set("logtostderr", "false")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *maxPings <= 0 || pingTO.D <= 0 {
		return fmt.Errorf("-agent_ping_timeout and -max_agent_ping_timeouts must be positive")
	}
	cfg := localmesos.MasterConfig{
		IP:                   *ip,
		Port:                 *port,
		AgentPingTimeout:     pingTO.D,
		MaxAgentPingTimeouts: *maxPings,
		AllocationInterval:   allocIvl.D,
		ZK:                   *zk,
		ZKSessionTimeout:     zkTimeout.D,
		NoSenderCheck:        *noCheck,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(out, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		},
	}
	if *workDir != "" {
		if err := os.MkdirAll(*workDir, 0o755); err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
	}
	if *secretFile != "" {
		secret, err := mesosflag.ReadSecretFile(*secretFile)
		if err != nil {
			return err
		}
		cfg.ClusterSecret = secret
	}
	if *credsFile != "" {
		creds, err := mesosflag.ReadCredentials(*credsFile)
		if err != nil {
			return err
		}
		cfg.Credentials = creds
	}
	m, err := localmesos.StartMaster(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "mesos-master: listening on %s (pid %s); agents are removed after %d unanswered pings of %s\n",
		m.Addr(), m.PID(), *maxPings, mesosflag.FormatDuration(pingTO.D))
	if *zk != "" {
		fmt.Fprintf(out, "mesos-master: contending for leadership at %s (session timeout %s)\n", *zk, mesosflag.FormatDuration(zkTimeout.D))
	}
	var s os.Signal
	select {
	case s = <-sig:
	case <-m.LeadershipLost():
		err := m.LeadershipErr()
		fmt.Fprintf(out, "mesos-master: %v: exiting\n", err)
		_ = m.Close()
		return fmt.Errorf("lost leadership: %w", err)
	}
	fmt.Fprintf(out, "mesos-master: %v: shutting down\n", s)
	if err := m.Close(); err != nil {
		return err
	}
	st := m.Stats()
	fmt.Fprintf(out, "mesos-master: done: %d framework(s), %d task(s) launched, %d agent(s) known\n",
		st.FrameworksRegistered, st.TasksLaunched, len(m.Agents()))
	return nil
}

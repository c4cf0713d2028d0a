// Command mesos-agent runs a Mesos agent — the agent of localmesos — on its
// own: it registers with the master given by -master (retrying until the
// master answers, and again whenever it stops hearing the master's pings),
// runs executors as child processes in sandboxes under -work_dir and relays
// their status updates and messages. SIGINT or SIGTERM shuts its executors
// down, unregisters it from the master and stops it.
//
// Usage:
//
//	mesos-agent -master HOST:PORT [-ip 127.0.0.1] [-port 5051]
//	            [-work_dir DIR] [-resources "cpus:4;mem:4096"]
//	            [-attributes "rack:r1"] [-hostname NAME]
//	            [-cluster_secret_file FILE]
//	            [-recover reconnect|cleanup] [-strict=true]
//	            [-recovery_timeout 15mins] [-executor_reregistration_timeout 2secs]
//
// Flags are Mesos' own; durations take Mesos' form (5secs, 100ms) or Go's
// (5s). With a -work_dir of its own the agent keeps its ID there and
// re-registers under it after a restart; without one it uses a temporary
// directory, removed at exit.
//
// With a -work_dir of its own the agent also checkpoints, for frameworks
// that set FrameworkInfo.checkpoint, what it needs to recover their
// executors, which then outlive it: restarted on the same -work_dir and
// -port after a crash (kill -9, say), it reconnects to those still running
// (they have -executor_reregistration_timeout to re-register, and are
// killed, their tasks TASK_LOST, if they do not), re-registers with the
// master with their tasks and resends the status updates the scheduler had
// not acknowledged. -recover=cleanup shuts them down and exits instead.
// Executors of frameworks that do not checkpoint die with the agent.
package main

import (
	"context"
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
		fmt.Fprintln(os.Stderr, "mesos-agent:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer, sig <-chan os.Signal) error {
	fs := flag.NewFlagSet("mesos-agent", flag.ContinueOnError)
	var (
		master     = fs.String("master", "", "the master's HOST:PORT, or zk://host:port[,...]/path to follow the leading master (required)")
		ip         = fs.String("ip", "127.0.0.1", "IPv4 address to listen on and advertise")
		port       = fs.Int("port", 5051, "port to listen on (0 = any free port)")
		hostname   = fs.String("hostname", "", "hostname offers name for this agent (default: -ip)")
		workDir    = fs.String("work_dir", "", "root of the executors' sandboxes, kept at exit (default: a temporary directory, removed at exit)")
		resources  = fs.String("resources", localmesos.DefaultResources, "the agent's resources, e.g. \"cpus:4;mem:4096;ports:[31000-32000]\"")
		noCheck    = fs.Bool("no_sender_check", false, "accept messages whose sender pid names another host than the connection comes from (peers behind NAT)")
		secretFile = fs.String("cluster_secret_file", "", "file holding the master's cluster secret, if it has one")
		attributes = fs.String("attributes", "", "the agent's attributes, e.g. \"rack:r1;level:2\"")
		recoverFl  = fs.String("recover", localmesos.RecoverReconnect, "after a restart on the same -work_dir: reconnect (to the executors of checkpointing frameworks still running) or cleanup (shut them down and exit)")
		strict     = fs.Bool("strict", true, "fail the start on any error in the checkpointed state (false: recover what can be)")
		recTimeout = mesosflag.Duration{D: 15 * time.Minute}
		reregTO    = mesosflag.Duration{D: 2 * time.Second}
		grace      = mesosflag.Duration{D: 3 * time.Second}
		regTimeout = mesosflag.Duration{D: time.Minute}
		backoff    = mesosflag.Duration{D: time.Second}
	)
	fs.Var(&grace, "executor_shutdown_grace_period", "time an executor has to exit after shutdown before it is killed")
	fs.Var(&regTimeout, "executor_registration_timeout", "time a started executor has to register before it is killed")
	fs.Var(&backoff, "registration_backoff_factor", "first back-off between registration attempts (doubling up to 1mins)")
	fs.Var(&recTimeout, "recovery_timeout", "how long executors of checkpointing frameworks wait for a restarted agent before they shut down (MESOS_RECOVERY_TIMEOUT)")
	fs.Var(&reregTO, "executor_reregistration_timeout", "time a recovered executor has to re-register after a restart before it is killed")
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
	if *master == "" {
		return fmt.Errorf("-master HOST:PORT or zk://host:port/path is required")
	}
	var secret string
	if *secretFile != "" {
		var err error
		if secret, err = mesosflag.ReadSecretFile(*secretFile); err != nil {
			return err
		}
	}
	a, err := localmesos.StartAgent(localmesos.AgentConfig{
		ClusterSecret:                 secret,
		NoSenderCheck:                 *noCheck,
		Master:                        *master,
		IP:                            *ip,
		Port:                          *port,
		Hostname:                      *hostname,
		WorkDir:                       *workDir,
		Resources:                     *resources,
		Attributes:                    *attributes,
		ExecutorShutdownGrace:         grace.D,
		ExecutorRegistrationTimeout:   regTimeout.D,
		RegistrationBackoffFactor:     backoff.D,
		Recover:                       *recoverFl,
		NonStrictRecovery:             !*strict,
		RecoveryTimeout:               recTimeout.D,
		ExecutorReregistrationTimeout: reregTO.D,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(out, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		return err
	}
	if *recoverFl == localmesos.RecoverCleanup {
		fmt.Fprintf(out, "mesos-agent: %s: cleanup done; exiting\n", a.PID())
		return a.Close()
	}
	fmt.Fprintf(out, "mesos-agent: %s registering with master %s; work dir %s\n", a.PID(), *master, a.WorkDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Report a master that does not answer, once, without giving up.
		wait, stop := context.WithTimeout(ctx, time.Minute)
		defer stop()
		if err := a.WaitRegistered(wait); err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "mesos-agent: still not registered after 1 minute: is the master at %s? retrying\n", *master)
		}
	}()
	s := <-sig
	cancel()
	fmt.Fprintf(out, "mesos-agent: %v: shutting down executors and unregistering\n", s)
	if err := a.Close(); err != nil {
		return err
	}
	st := a.Stats()
	fmt.Fprintf(out, "mesos-agent: done: %d executor(s) launched, %d framework message(s) carried\n", st.ExecutorsLaunched, st.FrameworkMessages)
	return nil
}

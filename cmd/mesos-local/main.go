// Command mesos-local runs a local Mesos cluster — a master and agents on one
// host speaking the Mesos v0 libprocess protocol — as a process, like
// Mesos's own mesos-local. Point any v0 framework's -master at the address
// it prints. SIGINT or SIGTERM shuts it down, taking its executors with it.
//
// Usage:
//
//	mesos-local [-ip 127.0.0.1] [-port 5050] [-num_slaves 1]
//	            [-resources "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"]
//	            [-work_dir DIR] [-credentials FILE] [-drop P] [-dup P]
//	            [-agent_ping_timeout 15secs] [-max_agent_ping_timeouts 5]
//
// The agents are the same as mesos-agent's and register with the master
// over loopback (or -ip) as separate agents would. Durations take Mesos'
// form (15secs, 100ms) or Go's (15s).
//
// The credentials file holds one "principal secret" pair per line (or Mesos'
// JSON form {"credentials":[{"principal":..,"secret":..}]}); when given,
// frameworks must authenticate with SASL CRAM-MD5.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mesosgot/mesosgot/internal/mesosflag"
	"github.com/mesosgot/mesosgot/localmesos"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mesos-local:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		ip        = flag.String("ip", "127.0.0.1", "IPv4 address to listen on")
		port      = flag.Int("port", 5050, "master port (0 = any free port)")
		slaves    = flag.Int("num_slaves", 1, "number of agents")
		resources = flag.String("resources", localmesos.DefaultResources, "resources of each agent")
		workDir   = flag.String("work_dir", "", "sandboxes root (default: a temporary directory, removed at exit)")
		credsFile = flag.String("credentials", "", `file of "principal secret" lines; when set, authentication is required`)
		drop      = flag.Float64("drop", 0, "probability of dropping each framework message")
		dup       = flag.Float64("dup", 0, "probability of duplicating each framework message")
		maxPings  = flag.Int("max_agent_ping_timeouts", 5, "unanswered pings in a row after which an agent is removed")
		grace     = mesosflag.Duration{D: 3 * time.Second}
		pingTO    = mesosflag.Duration{D: 15 * time.Second}
	)
	// As in Mesos, logs go to stderr unless -log_dir is given.
	_ = flag.Set("logtostderr", "true")
	flag.Var(&grace, "executor_shutdown_grace_period", "time an executor has to exit after shutdown before it is killed (e.g. 3secs)")
	flag.Var(&pingTO, "agent_ping_timeout", "how long the master waits for an agent's answer to each ping (e.g. 15secs)")
	flag.Parse()
	if f := flag.Lookup("log_dir"); f != nil && f.Value.String() != "" {
		_ = flag.Set("logtostderr", "false")
	}

	cfg := localmesos.Config{
		Agents:                *slaves,
		Resources:             *resources,
		WorkDir:               *workDir,
		IP:                    *ip,
		Port:                  *port,
		ExecutorShutdownGrace: grace.D,
		AgentPingTimeout:      pingTO.D,
		MaxAgentPingTimeouts:  *maxPings,
		Logf: func(format string, args ...any) {
			fmt.Printf("%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		},
	}
	if *drop > 0 || *dup > 0 {
		cfg.Faults = &localmesos.Faults{Drop: *drop, Dup: *dup}
	}
	if *credsFile != "" {
		creds, err := mesosflag.ReadCredentials(*credsFile)
		if err != nil {
			return err
		}
		cfg.Credentials = creds
	}

	// Signals are ours from before the start: one that comes while the
	// cluster starts still shuts it down (and removes its work directory).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	c, err := localmesos.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("mesos-local: master %s (pid %s), %d agent(s), work dir %s\n", c.MasterAddr(), c.MasterPID(), *slaves, c.WorkDir())

	s := <-sig
	fmt.Printf("mesos-local: %v: shutting down\n", s)
	closed := make(chan struct{})
	go func() { // further signals do not cut the shutdown short
		for {
			select {
			case s := <-sig:
				fmt.Printf("mesos-local: %v: already shutting down (executors get %s to exit, then SIGKILL)\n", s, grace.D)
			case <-closed:
				return
			}
		}
	}()
	err = c.Close()
	close(closed)
	if err != nil {
		return err
	}
	st := c.Stats()
	fmt.Printf("mesos-local: done: %d framework(s), %d task(s) launched, %d framework message(s) carried, %d dropped, %d duplicated\n",
		st.FrameworksRegistered, st.TasksLaunched, st.FrameworkMessages, st.FrameworkMsgsDropped, st.FrameworkMsgsDuped)
	return nil
}

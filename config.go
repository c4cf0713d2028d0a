package mesosgot

import (
	"flag"
	"io"
	"sync"
	"time"
)

// GoTaskSchedConfig holds the GoTask scheduler/framework config parameters.
// DefaultSchedulerConfig gives the defaults; RegisterSchedulerFlags and
// LoadSchedulerConfig fill it from command-line flags.
type GoTaskSchedConfig struct {
	// Address is the IP (or host name) the scheduler's driver and artifact
	// server bind to, and advertise unless AdvertiseIP is set. Empty (the
	// default) means LIBPROCESS_IP if set, else the IP of the local
	// interface that routes to the master (127.0.0.1 for a master on this
	// host or Master "local"), so that agents on other hosts can reach the
	// scheduler. "0.0.0.0" binds every interface and advertises that
	// routing IP.
	Address string
	// ArtifactPort is the port of the HTTP server that ships the executor
	// binary to agents (on the bind IP; its URL uses the advertised IP);
	// 0 picks a free port. Fix it to open a firewall for it.
	ArtifactPort int
	// AuthProvider is the authentication provider; default "SASL" (CRAM-MD5).
	AuthProvider string
	// Master is the master's host:port (default 127.0.0.1:5050), or
	// zk://host:port,.../path for masters elected through ZooKeeper; "local"
	// or "local:N" runs an embedded local cluster (N agents) in the
	// scheduler process.
	Master string
	// ExecutorPath is the app executor binary: a local path, served to the
	// agents by the artifact server, or a URL (http, https, hdfs, s3) they
	// fetch it from.
	ExecutorPath string
	// MesosAuthPrincipal is the principal the framework authenticates as;
	// empty means no authentication.
	MesosAuthPrincipal string
	// MesosAuthSecretFile holds the principal's secret (a trailing newline
	// is dropped).
	MesosAuthSecretFile string
	// TaskRefuseSeconds is the refuse_seconds filter of offers declined
	// because the round could not hold the whole job.
	TaskRefuseSeconds float64

	// AdvertiseIP is the IP put in the driver's address and the artifact
	// URL, for a scheduler behind NAT; empty means LIBPROCESS_ADVERTISE_IP
	// if set, else the bind IP (see Address). When it is set, the bind IP
	// defaults to 0.0.0.0.
	AdvertiseIP string
	// DriverPort is the port the scheduler driver listens on (libprocess
	// messages from the master and agents arrive there); 0 means
	// LIBPROCESS_PORT if set, else a free port. mesos-go's driver advertises
	// the port it listens on, so LIBPROCESS_ADVERTISE_PORT, if set, must
	// equal it.
	DriverPort int
	// User is the framework's user: the OS user the agents run executors
	// as (when an agent runs as root with --switch_user, Mesos' default),
	// so it must exist on every agent. When set it takes precedence over
	// the userName given to NewGoTaskScheduler; when both are empty the
	// mesos-go driver fills in the OS user running the scheduler.
	User string

	// FrameworkName is the Mesos framework name; default "mesosgot".
	FrameworkName string
	// ExecutorArgs are passed to the executor binary on its command line.
	ExecutorArgs []string
	// ExecutorResources are the executor's own resources, counted once per
	// agent that runs tasks of the job; default cpus 0.1, mem 32.
	ExecutorResources map[string]float64
	// FailoverTimeout is the framework's failover_timeout; 0 means Mesos' default.
	FailoverTimeout time.Duration
	// RegistrationTimeout bounds the wait for the framework's registration
	// (an unreachable master); 0 waits forever. Default 2 minutes.
	RegistrationTimeout time.Duration
	// MasterLostTimeout bounds how long a running job goes on without a
	// master: after the master has been unreachable (or the driver
	// disconnected and not re-registered) this long, the job fails with an
	// error naming the master. A single host:port master that restarts
	// forgets the framework; the job notices the new master (its id in
	// the master's /state) and re-registers the framework with it, and
	// fails after this long if that does not succeed. 0 waits forever.
	// Default 60 seconds.
	MasterLostTimeout time.Duration
	// Checkpoint sets the framework's checkpoint flag, so that agents
	// checkpoint its executors and tasks and can recover them after an
	// agent restart. Default true.
	Checkpoint bool
	// PlacementTimeout fails the job, with the explanation of what is short,
	// when no round of offers could hold the whole job within it; 0 waits.
	PlacementTimeout time.Duration
	// LocalCapacityFactor bounds the embedded cluster of Master "local":
	// it is sized to the job, but to at most this many times the machine's
	// cpus and memory (0 means the default, 4). A job asking for more fails
	// at once, saying what is short.
	LocalCapacityFactor float64
	// DiagOutput receives the job's own lines (admission warnings, where
	// the logs are, a kept sandbox); nil means os.Stderr.
	DiagOutput io.Writer
	// LinkTimeout is how long the scheduler and an executor wait for each
	// other to answer (idle links exchange heartbeats): a silent executor
	// fails the job, a silent scheduler ends the executor. 0 waits forever.
	// Default 30 seconds.
	LinkTimeout time.Duration
	// LinkCleartext, when true, sends task messages authenticated but not
	// encrypted; by default they are also encrypted. Either way frames
	// from outside the job are refused.
	LinkCleartext bool

	// Progress prints a one-line progress of the job on stderr: redrawn in
	// place on a terminal, every few seconds elsewhere, and a last line at
	// the job's end. Default true.
	Progress bool
	// StatusAddress, when set (host:port; port 0 picks one), serves the
	// job's status while it runs: /status as JSON and / as a web page that
	// shows it. The URL is printed on stderr.
	StatusAddress string
}

// DefaultSchedulerConfig returns the defaults, with no flag read.
func DefaultSchedulerConfig() *GoTaskSchedConfig {
	return &GoTaskSchedConfig{
		Address:           "",
		ArtifactPort:      0,
		AuthProvider:      "SASL",
		Master:            "127.0.0.1:5050",
		ExecutorPath:      "./executor",
		TaskRefuseSeconds: 1,
		FrameworkName:     "mesosgot",
		ExecutorResources: map[string]float64{"cpus": 0.1, "mem": 32},

		RegistrationTimeout: 2 * time.Minute,
		MasterLostTimeout:   60 * time.Second,
		Checkpoint:          true,
		LinkTimeout:         30 * time.Second,
		Progress:            true,
	}
}

// RegisterSchedulerFlags defines the scheduler's flags on fs and returns
// the config they write into when fs is parsed. Flag names are those of
// mesos-go's example scheduler: -master, -address, -artifactPort,
// -executor, -mesos_authentication_provider,
// -mesos_authentication_principal, -mesos_authentication_secret_file, plus
// -advertise_ip, -driver_port, -user, -task_refuse_seconds,
// -registration_timeout, -placement_timeout, -local_capacity_factor,
// -link_timeout, -link_cleartext, -master_lost_timeout, -checkpoint,
// -progress and -status_address.
func RegisterSchedulerFlags(fs *flag.FlagSet) *GoTaskSchedConfig {
	c := DefaultSchedulerConfig()
	fs.StringVar(&c.Address, "address", c.Address, "IP or host name the scheduler driver and the artifact server bind to and advertise (default: $LIBPROCESS_IP, else the IP of the interface that routes to the master; 0.0.0.0 binds all interfaces)")
	fs.StringVar(&c.AdvertiseIP, "advertise_ip", c.AdvertiseIP, "IP advertised to the master and agents instead of the bind IP, e.g. behind NAT (default: $LIBPROCESS_ADVERTISE_IP)")
	fs.IntVar(&c.DriverPort, "driver_port", c.DriverPort, "Port the scheduler driver listens on (default: $LIBPROCESS_PORT, else any free port)")
	fs.IntVar(&c.ArtifactPort, "artifactPort", c.ArtifactPort, "Port of the artifact server that ships the executor binary to agents (0: any free port)")
	fs.StringVar(&c.User, "user", c.User, "User the agents run the executor as; must exist on every agent (default: the OS user running the scheduler)")
	fs.StringVar(&c.AuthProvider, "mesos_authentication_provider", c.AuthProvider, "Authentication provider to use, default is SASL that supports mechanisms: [CRAM-MD5]")
	fs.StringVar(&c.Master, "master", c.Master, "Master address <ip:port>, zk://host:port/mesos, or local[:N] for an embedded local cluster of N agents")
	fs.StringVar(&c.ExecutorPath, "executor", c.ExecutorPath, "Path to the app executor binary, which the scheduler serves to the agents, or an http(s)://, hdfs:// or s3:// URL they fetch it from")
	fs.StringVar(&c.MesosAuthPrincipal, "mesos_authentication_principal", c.MesosAuthPrincipal, "Mesos authentication principal; when set the framework authenticates (SASL CRAM-MD5) and registers with this principal")
	fs.StringVar(&c.MesosAuthSecretFile, "mesos_authentication_secret_file", c.MesosAuthSecretFile, "File holding the principal's secret (trailing newlines are dropped)")
	fs.Float64Var(&c.TaskRefuseSeconds, "task_refuse_seconds", c.TaskRefuseSeconds, "Seconds to refuse offers declined because they could not hold the whole job")
	fs.DurationVar(&c.RegistrationTimeout, "registration_timeout", c.RegistrationTimeout, "How long to wait for the framework to register with the master (0: forever)")
	fs.DurationVar(&c.MasterLostTimeout, "master_lost_timeout", c.MasterLostTimeout, "How long a running job goes on without a reachable master before it fails (0: forever); use -master=zk://... with several masters to survive a master's loss")
	fs.BoolVar(&c.Checkpoint, "checkpoint", c.Checkpoint, "Ask agents to checkpoint the framework's executors and tasks (recovery after an agent restart)")
	fs.DurationVar(&c.PlacementTimeout, "placement_timeout", c.PlacementTimeout, "Fail the job, saying which resource is short, when no round of offers can hold all its tasks within this time (0: wait)")
	fs.Float64Var(&c.LocalCapacityFactor, "local_capacity_factor", c.LocalCapacityFactor, "With -master=local, the embedded cluster holds at most this many times the machine's cpus and memory (0: 4)")
	fs.DurationVar(&c.LinkTimeout, "link_timeout", c.LinkTimeout, "How long the scheduler and an executor wait for each other to answer before giving up (0: forever)")
	fs.BoolVar(&c.LinkCleartext, "link_cleartext", c.LinkCleartext, "Send task messages authenticated but not encrypted")
	fs.BoolVar(&c.Progress, "progress", c.Progress, "Print the job's progress on stderr (redrawn in place on a terminal, every 5s otherwise); -progress=false turns it off")
	fs.StringVar(&c.StatusAddress, "status_address", c.StatusAddress, "Serve the job's status on host:port while it runs: /status as JSON, / as a web page (empty: no server)")
	return c
}

var (
	cmdLineOnce   sync.Once
	cmdLineConfig *GoTaskSchedConfig
)

// defineCommandLineFlags puts the scheduler flags on flag.CommandLine once.
// It runs at init so that a main calling flag.Parse itself knows them; it
// never parses.
func defineCommandLineFlags() *GoTaskSchedConfig {
	cmdLineOnce.Do(func() { cmdLineConfig = RegisterSchedulerFlags(flag.CommandLine) })
	return cmdLineConfig
}

func init() { defineCommandLineFlags() }

// LoadSchedulerConfig loads scheduler config parameters from default
// settings and command line flags. The flags are defined on
// flag.CommandLine when the package loads (so a program importing mesosgot
// must not define flags of the same names itself; use
// RegisterSchedulerFlags on a FlagSet of its own to avoid the command line
// entirely); if the program has not called flag.Parse yet,
// LoadSchedulerConfig does. It returns a copy, so later changes to it do
// not touch the flags.
func LoadSchedulerConfig() (config *GoTaskSchedConfig) {
	c := defineCommandLineFlags()
	if !flag.Parsed() {
		flag.Parse()
	}
	cp := *c
	cp.ExecutorArgs = append([]string(nil), c.ExecutorArgs...)
	cp.ExecutorResources = make(map[string]float64, len(c.ExecutorResources))
	for k, v := range c.ExecutorResources {
		cp.ExecutorResources[k] = v
	}
	return &cp
}

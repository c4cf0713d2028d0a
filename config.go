package mesosgot

import (
	"flag"
	"io"
	"sync"
	"time"
)

// GoTaskSchedConfig holds the GoTask scheduler/framework config parameters.
// The seed's fields come first; the rest are additions with defaults that
// DefaultSchedulerConfig fills in.
type GoTaskSchedConfig struct {
	//Binding address for artifact server
	Address string
	//Binding port for artifact server; 0 picks a free port
	ArtifactPort int
	//Authentication provider
	AuthProvider string
	//Master address, default 127.0.0.1:5050; "local" or "local:N" runs an
	//embedded local cluster (N agents) in the scheduler process
	Master string
	//Path to app framework executor
	ExecutorPath string
	//Mesos authentication principal
	MesosAuthPrincipal string
	//Mesos authentication secret file
	MesosAuthSecretFile string
	// TaskRefuseSeconds is the refuse_seconds filter of offers declined
	// because the round could not hold the whole job.
	TaskRefuseSeconds float64

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
	// error naming the master. 0 waits forever. Default 60 seconds.
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
}

// DefaultSchedulerConfig returns the defaults, with no flag read.
func DefaultSchedulerConfig() *GoTaskSchedConfig {
	return &GoTaskSchedConfig{
		Address:           "127.0.0.1",
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
	}
}

// RegisterSchedulerFlags defines the scheduler's flags on fs and returns
// the config they write into when fs is parsed. Flag names are those of
// mesos-go's example scheduler: -master, -address, -artifactPort,
// -executor, -mesos_authentication_provider,
// -mesos_authentication_principal, -mesos_authentication_secret_file, plus
// -task_refuse_seconds, -registration_timeout, -placement_timeout,
// -local_capacity_factor, -master_lost_timeout and -checkpoint.
func RegisterSchedulerFlags(fs *flag.FlagSet) *GoTaskSchedConfig {
	c := DefaultSchedulerConfig()
	fs.StringVar(&c.Address, "address", c.Address, "Binding address for artifact server")
	fs.IntVar(&c.ArtifactPort, "artifactPort", c.ArtifactPort, "Binding port for artifact server (0: any free port)")
	fs.StringVar(&c.AuthProvider, "mesos_authentication_provider", c.AuthProvider, "Authentication provider to use, default is SASL that supports mechanisms: [CRAM-MD5]")
	fs.StringVar(&c.Master, "master", c.Master, "Master address <ip:port>, zk://host:port/mesos, or local[:N] for an embedded local cluster of N agents")
	fs.StringVar(&c.ExecutorPath, "executor", c.ExecutorPath, "Path to app executor binary")
	fs.StringVar(&c.MesosAuthPrincipal, "mesos_authentication_principal", c.MesosAuthPrincipal, "Mesos authentication principal.")
	fs.StringVar(&c.MesosAuthSecretFile, "mesos_authentication_secret_file", c.MesosAuthSecretFile, "Mesos authentication secret file.")
	fs.Float64Var(&c.TaskRefuseSeconds, "task_refuse_seconds", c.TaskRefuseSeconds, "Seconds to refuse offers declined because they could not hold the whole job")
	fs.DurationVar(&c.RegistrationTimeout, "registration_timeout", c.RegistrationTimeout, "How long to wait for the framework to register with the master (0: forever)")
	fs.DurationVar(&c.MasterLostTimeout, "master_lost_timeout", c.MasterLostTimeout, "How long a running job goes on without a reachable master before it fails (0: forever); use -master=zk://... with several masters to survive a master's loss")
	fs.BoolVar(&c.Checkpoint, "checkpoint", c.Checkpoint, "Ask agents to checkpoint the framework's executors and tasks (recovery after an agent restart)")
	fs.DurationVar(&c.PlacementTimeout, "placement_timeout", c.PlacementTimeout, "Fail the job, saying which resource is short, when no round of offers can hold all its tasks within this time (0: wait)")
	fs.Float64Var(&c.LocalCapacityFactor, "local_capacity_factor", c.LocalCapacityFactor, "With -master=local, the embedded cluster holds at most this many times the machine's cpus and memory (0: 4)")
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

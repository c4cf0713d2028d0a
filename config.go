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
		LinkTimeout:         30 * time.Second,
	}
}

// RegisterSchedulerFlags defines the scheduler's flags on fs and returns
// the config they write into when fs is parsed. Flag names are those of
// mesos-go's example scheduler: -master, -address, -artifactPort,
// -executor, -mesos_authentication_provider,
// -mesos_authentication_principal, -mesos_authentication_secret_file, plus
// -task_refuse_seconds, -registration_timeout, -placement_timeout,
// -local_capacity_factor, -link_timeout and -link_cleartext.
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
	fs.DurationVar(&c.PlacementTimeout, "placement_timeout", c.PlacementTimeout, "Fail the job, saying which resource is short, when no round of offers can hold all its tasks within this time (0: wait)")
	fs.Float64Var(&c.LocalCapacityFactor, "local_capacity_factor", c.LocalCapacityFactor, "With -master=local, the embedded cluster holds at most this many times the machine's cpus and memory (0: 4)")
	fs.DurationVar(&c.LinkTimeout, "link_timeout", c.LinkTimeout, "How long the scheduler and an executor wait for each other to answer before giving up (0: forever)")
	fs.BoolVar(&c.LinkCleartext, "link_cleartext", c.LinkCleartext, "Send task messages authenticated but not encrypted")
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

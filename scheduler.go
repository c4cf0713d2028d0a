package mesosgot

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/auth"
	"github.com/mesos/mesos-go/api/v0/auth/sasl"
	"github.com/mesos/mesos-go/api/v0/detector"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"

	"github.com/mesosgot/mesosgot/localmesos"
)

// GoTaskScheduler is the GoTask scheduler: it implements mesos-go's
// sched.Scheduler, places the job's tasks on agents (all or nothing),
// forwards messages between the app scheduler and the tasks, and ends the
// job. One GoTaskScheduler runs one job.
//
// Driver callbacks never block: each hands its work to the job's own
// goroutine, which owns all job state.
type GoTaskScheduler struct {
	user string
	conf *GoTaskSchedConfig
	app  AppTaskScheduler

	prepOnce sync.Once
	prepErr  error
	drvConf  sched.DriverConfig

	executorURI   string              // where agents fetch the executor binary
	executorCache bool                // executorURI names one version of the binary: agents may cache it
	local         *localmesos.Cluster // the embedded cluster of -master=local, if any
	localWorkDir  string              // its work directory (the sandboxes)
	keepSandbox   bool                // an executor failed: keep the work directory
	keptSandbox   string              // the work directory kept after a failed job

	cleanupMu sync.Mutex
	cleanups  []func()

	registeredOnce  sync.Once
	registeredCh    chan struct{} // closed on the first Registered callback
	startFailOnce   sync.Once
	startFail       chan struct{} // closed when the job cannot start (see noteStartFailure)
	startFailReason string

	// the driver's messenger (see jobMessenger)
	detMu           sync.Mutex
	dets            []detector.Master // master detectors of drivers built from DriverConfig (detectorstop.go)
	msgrMu          sync.Mutex
	msgr            *jobMessenger // the messenger of the last driver built from DriverConfig
	masterErr       string        // the error message the master sent, if any
	msgrStopped     chan struct{} // closed when the driver stops its messenger
	msgrStoppedOnce sync.Once
	runDriverActive atomic.Bool   // RunDriver runs the driver (and watches its start)
	selfStop        atomic.Bool   // the job asked the driver to stop
	stopCall        chan struct{} // closed when the job's Stop/Abort call returned; set before done closes

	diagMu sync.Mutex // serializes the job's own lines on DiagOutput

	startOnce  sync.Once
	notStarted bool // set in startOnce when the driver stopped before any callback
	inbox      *inbox[func()]
	done       chan struct{} // closed when the job's goroutine has ended
	job        *schedJob     // owned by the job goroutine
	result     error         // written before done is closed

	// linkCfg configures the links to executors (tests may shrink it).
	linkCfg linkConfig
	// timing of the job's end (tests may shrink it).
	timing jobTiming
	// mon shows the job's progress and status (nil when neither is asked
	// for); set before the driver starts.
	mon *monitor
	// reconTiming is the backoff of reconciliation after re-registration.
	reconTiming reconcileTiming
	// reconciledTasks counts tasks whose state a reconciliation brought (for tests).
	reconciledTasks atomic.Int64
	// masterPoke wakes the master probe on a network error toward the master.
	masterPoke chan struct{}
	// probeMaster is set once a driver built from DriverConfig made its
	// messenger: only then is there a real master to probe.
	probeMaster atomic.Bool
	// watchedMsgr is the driver's messenger (a messenger.Messenger) once
	// the master watch wrapped it (masterwatch.go).
	watchedMsgr atomic.Value
	// masterRecheck asks the master probe to read the master's /state on
	// each probe: a restarted master is waited on (masterrestart.go).
	masterRecheck atomic.Bool

	// sigMu guards signal, the first signal that interrupted Run (signals.go).
	sigMu  sync.Mutex
	signal os.Signal
}

// NewGoTaskScheduler creates a new Go Task Scheduler to be used with a
// Mesos scheduler driver. If an AppTaskScheduler is given, it provides the
// tasks' resource requirements and the app scheduling; otherwise a
// DefAppTaskScheduler is used. userName is the framework's user, whom
// agents run the executor as (it must exist on every agent); conf.User
// (-user), when set, overrides it, and when both are empty the mesos-go
// driver fills in the OS user running the scheduler. A nil conf means
// DefaultSchedulerConfig().
//
// Problems with the config (an unreadable secret file, a bad address, a busy
// artifact port) are reported by Err, DriverConfig's caller via Err, and Run.
func NewGoTaskScheduler(userName string, conf *GoTaskSchedConfig, aps AppTaskScheduler) (sched *GoTaskScheduler) {
	if conf == nil {
		conf = DefaultSchedulerConfig()
	}
	if aps == nil {
		aps = NewDefAppTaskScheduler()
	}
	return &GoTaskScheduler{
		user:  userName,
		conf:  conf,
		app:   aps,
		inbox: newInbox[func()](),
		done:  make(chan struct{}),

		registeredCh: make(chan struct{}),
		msgrStopped:  make(chan struct{}),
		startFail:    make(chan struct{}),
		linkCfg:      defaultLinkConfig(),
		timing:       defaultJobTiming(),
		reconTiming:  defaultReconcileTiming(),
	}
}

// SpawnTask asks for count tasks named name-0 .. name-(count-1) in the
// cluster, each with the resources res ("cpus", "mem", ...). Call it before
// the driver starts.
//
// Each task's name is also its Mesos TaskID, so the names must pass Mesos'
// task ID validation: name-(count-1) at most 255 bytes, and name not empty
// and free of control characters, '/' and '\'. A name that does not is
// logged here, and the job does not start: Err (after DriverConfig) and Run
// return an error saying why.
func (sched *GoTaskScheduler) SpawnTask(name string, count int, res map[string]float64) {
	noteSpawnError([]*AppTaskResourceInfo{{Name: name, Count: count}})
	sched.app.SpawnTask(name, count, res)
}

// SpawnTasks asks for a set of tasks, with their Args and Env. Names are
// checked as SpawnTask checks them.
func (sched *GoTaskScheduler) SpawnTasks(tasks []*AppTaskResourceInfo) {
	noteSpawnError(tasks)
	sched.app.SpawnTasks(tasks)
}

// RegisterSchedFunc registers the app scheduler func to run in a goroutine.
func (sched *GoTaskScheduler) RegisterSchedFunc(schedF AppSchedulerFunc) {
	sched.app.RegisterSchedFunc(schedF)
}

// RegisterSchedTask registers the app scheduler task to run in a goroutine.
func (sched *GoTaskScheduler) RegisterSchedTask(schedT AppSchedulerTask) {
	sched.app.RegisterSchedTask(schedT)
}

// Err returns the error of preparing the scheduler (reading the secret
// file, starting the artifact server or the local cluster) once
// DriverConfig or Run has been called; nil before.
func (schd *GoTaskScheduler) Err() error {
	return schd.prepErr
}

// DriverConfig returns the Mesos scheduler driver config for this
// scheduler: framework info, master, and the SASL credential and auth
// context when a principal is configured. The first call also starts the
// artifact server that ships the executor binary (and, with Master "local",
// the embedded cluster); check Err afterwards.
//
// A driver built from this config runs the job to its end: when the
// preparation failed, its Run returns at once with an error (the cause is
// logged at ERROR); when the job fails, the driver is aborted (Run returns
// DRIVER_ABORTED; Result has the error naming the task and the cause, which
// is also logged at ERROR); either way Run returns only once the job's
// teardown (last events, embedded cluster, sandbox) has completed.
func (schd *GoTaskScheduler) DriverConfig() (drvConfig sched.DriverConfig) {
	schd.prepOnce.Do(func() {
		schd.prepErr = schd.prepare()
		schd.installMessenger(&schd.drvConf)
		schd.watchMaster(&schd.drvConf) // wraps the job's messenger
		if schd.prepErr != nil {
			log.Errorf("%v", schd.prepErr)
			schd.runCleanups()
		}
	})
	return schd.drvConf
}

// prepare builds the driver config and starts the artifact server.
func (schd *GoTaskScheduler) prepare() error {
	c := schd.conf
	user := schd.user
	if c.User != "" {
		user = c.User
	}
	fw := &mesos.FrameworkInfo{
		User: proto.String(user),
		Name: proto.String(c.FrameworkName),
	}
	if c.Checkpoint {
		fw.Checkpoint = proto.Bool(true)
	}
	if c.FailoverTimeout > 0 {
		fw.FailoverTimeout = proto.Float64(c.FailoverTimeout.Seconds())
	}
	// A driver can be built from the config even when preparing fails
	// below; it then refuses to start (see refusingMessenger).
	schd.drvConf = sched.DriverConfig{
		Scheduler: schd,
		Framework: fw,
		Master:    c.Master,
	}
	if err := validateTasks(schd.app.TasksResourceInfo()); err != nil {
		return err
	}
	addrs, err := systemAddresses(c)
	if err != nil {
		return err
	}
	bindIP := addrs.BindIP
	if addrs.Warning != "" {
		log.Warningf("mesosgot: %s", addrs.Warning)
	}
	log.Infof("mesosgot: scheduler binds %s, advertises %s (%s), driver on %s", bindIP, addrs.AdvertiseIP, addrs.Why, portString(addrs.DriverPort))
	schd.drvConf.BindingAddress = bindIP
	schd.drvConf.BindingPort = addrs.DriverPort
	schd.drvConf.PublishedAddress = addrs.AdvertiseIP
	if bindIP.IsUnspecified() {
		// mesos-go would otherwise resolve the host name for its UPID.
		schd.drvConf.HostnameOverride = addrs.AdvertiseIP.String()
	}
	if c.MesosAuthPrincipal != "" {
		fw.Principal = proto.String(c.MesosAuthPrincipal)
		cred := &mesos.Credential{Principal: proto.String(c.MesosAuthPrincipal)}
		if c.MesosAuthSecretFile != "" {
			secret, err := readSecretFile(c.MesosAuthSecretFile)
			if err != nil {
				return err
			}
			cred.Secret = proto.String(secret)
		}
		provider := c.AuthProvider
		schd.drvConf.Credential = cred
		schd.drvConf.WithAuthContext = func(ctx context.Context) context.Context {
			ctx = auth.WithLoginProvider(ctx, provider)
			return sasl.WithBindingAddress(ctx, bindIP)
		}
	}
	if err := schd.prepareMaster(); err != nil {
		return err
	}
	if err := schd.prepareArtifacts(bindIP, addrs.AdvertiseIP); err != nil {
		return err
	}
	return schd.startMonitor(schd.diagOut())
}

// Registered is the mesos-go callback for a successful registration.
func (sched *GoTaskScheduler) Registered(driver sched.SchedulerDriver, frameworkId *mesos.FrameworkID, masterInfo *mesos.MasterInfo) {
	log.Infof("mesosgot: framework registered with ID %s", frameworkId.GetValue())
	sched.registeredOnce.Do(func() { close(sched.registeredCh) })
	sched.call(driver, func(j *schedJob) {
		if id := frameworkId.GetValue(); j.frameworkID != "" && id == j.frameworkID {
			// A Mesos master that took over after a failover answers a
			// re-registering framework with FrameworkRegisteredMessage
			// (MESOS-786): for the job it is a re-registration.
			j.masterReregistered(masterInfo.GetId())
			return
		}
		j.registered(frameworkId.GetValue(), masterInfo.GetId())
	})
}

// Reregistered is the mesos-go callback for re-registration with a (new) master.
func (sched *GoTaskScheduler) Reregistered(driver sched.SchedulerDriver, masterInfo *mesos.MasterInfo) {
	log.Infof("mesosgot: framework re-registered with master %s", masterInfo.GetId())
	sched.call(driver, func(j *schedJob) { j.masterReregistered(masterInfo.GetId()) })
}

// Disconnected is the mesos-go callback for losing the master.
func (sched *GoTaskScheduler) Disconnected(driver sched.SchedulerDriver) {
	log.Warningf("mesosgot: disconnected from master")
	sched.call(driver, func(j *schedJob) { j.masterDisconnected() })
}

// ResourceOffers is the mesos-go callback for offers: it launches the whole
// job when this round of offers can hold every task, and declines every
// offer it does not use.
func (sched *GoTaskScheduler) ResourceOffers(driver sched.SchedulerDriver, offers []*mesos.Offer) {
	sched.call(driver, func(j *schedJob) { j.resourceOffers(offers) })
}

// OfferRescinded is the mesos-go callback for a rescinded offer.
func (sched *GoTaskScheduler) OfferRescinded(driver sched.SchedulerDriver, offerID *mesos.OfferID) {
	sched.call(driver, func(j *schedJob) { j.emit(OfferRescinded, offerID.GetValue()) })
}

// StatusUpdate is the mesos-go callback for a task's status.
func (sched *GoTaskScheduler) StatusUpdate(driver sched.SchedulerDriver, status *mesos.TaskStatus) {
	sched.call(driver, func(j *schedJob) { j.statusUpdate(status) })
}

// FrameworkMessage forwards messages from tasks at agents to the app scheduler.
func (sched *GoTaskScheduler) FrameworkMessage(driver sched.SchedulerDriver, execid *mesos.ExecutorID, slaveid *mesos.SlaveID, rawMsg string) {
	owned := isToken(rawMsg) // the data taken back is the request body's, read by nothing else
	rawMsg, ok := sched.frameworkData(rawMsg)
	if !ok {
		log.Warningf("mesosgot: framework message from executor %s on agent %s names data the messenger does not hold; dropped", execid.GetValue(), slaveid.GetValue())
		return
	}
	sched.call(driver, func(j *schedJob) { j.frameworkMessage(execid.GetValue(), slaveid.GetValue(), rawMsg, owned) })
}

// SlaveLost is the mesos-go callback for a lost agent; losing an agent
// that runs tasks of the job ends the job.
func (sched *GoTaskScheduler) SlaveLost(driver sched.SchedulerDriver, slaveId *mesos.SlaveID) {
	log.Warningf("mesosgot: agent %s lost", slaveId.GetValue())
	sched.call(driver, func(j *schedJob) { j.slaveLost(slaveId.GetValue()) })
}

// ExecutorLost is the mesos-go callback for an exited executor; losing an
// executor with unfinished tasks ends the job.
func (sched *GoTaskScheduler) ExecutorLost(driver sched.SchedulerDriver, execID *mesos.ExecutorID, agentID *mesos.SlaveID, status int) {
	status = exitCodeOf(status)
	log.Warningf("mesosgot: executor %s on agent %s exited with status %d", execID.GetValue(), agentID.GetValue(), status)
	sched.call(driver, func(j *schedJob) { j.executorLost(execID.GetValue(), agentID.GetValue(), status) })
}

// Error is the mesos-go callback for a fatal driver error; it ends the job
// (the job's failure is logged once, by fail).
func (sched *GoTaskScheduler) Error(driver sched.SchedulerDriver, err string) {
	sched.call(driver, func(j *schedJob) {
		j.emit(Error, fmt.Errorf("mesosgot: driver error: %s", err))
		j.fail(&JobError{Cause: "driver error: " + err})
	})
}

// exitCodeOf turns the status of an ExecutorLost callback, the raw wait
// status Mesos reports (35072 for an exit with code 137), into an exit
// code: an exit becomes its code, death by a signal 128 plus the signal.
// Anything else (negative: the executor never started) is kept.
func exitCodeOf(status int) int {
	if status < 0 || status > 0xffff {
		return status
	}
	ws := syscall.WaitStatus(status)
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return status
}

// call starts the job goroutine on the first callback and hands it f.
func (sched *GoTaskScheduler) call(driver sched.SchedulerDriver, f func(j *schedJob)) {
	sched.start(driver)
	sched.inbox.push(func() { f(sched.job) })
}

// start starts the job goroutine once, with the driver of the first callback.
func (sched *GoTaskScheduler) start(driver sched.SchedulerDriver) {
	sched.startOnce.Do(func() {
		sched.job = newSchedJob(sched, driver, rand.Uint64())
		go sched.job.loop()
	})
}

// Done returns a channel closed when the job has ended (its driver stopped
// and the app channels closed), or when its driver stopped before the job
// started.
func (sched *GoTaskScheduler) Done() <-chan struct{} {
	return sched.done
}

// Result returns the job's outcome once Done is closed: nil for a normal
// end, else an error naming the task and the cause (a *JobError), or why
// the job never started (the driver stopped first, the registration timed
// out, the authentication was refused).
func (sched *GoTaskScheduler) Result() error {
	select {
	case <-sched.done:
		return sched.result
	default:
		return nil
	}
}

// Package localmesos is an embedded, small but real Apache Mesos: a master
// and agents on loopback that speak the Mesos v0 libprocess wire protocol
// (HTTP POSTs of serialized protobufs to /<process-id>/mesos.internal.<Name>
// with a Libprocess-From header, answered 202), so that unmodified mesos-go
// v0 scheduler and executor drivers — or any v0 framework — run against it
// exactly as against Mesos 1.x. It is the Go counterpart of Mesos's own
// mesos-local, and is meant to be used from tests the way net/http/httptest
// is:
//
//	c, err := localmesos.Start(localmesos.Config{Agents: 2})
//	if err != nil { ... }
//	defer c.Close()
//	driver, err := scheduler.NewMesosSchedulerDriver(scheduler.DriverConfig{
//		Master: c.MasterAddr(), ...})
//
// The master (process "master") registers frameworks (optionally after SASL
// CRAM-MD5 authentication), offers each agent's free resources, validates
// launches against the offers they name, routes status updates and
// framework messages, answers reconciliation and honours offer filters and
// revives. Each agent (process "slave(N)") runs executors as real child
// processes, each in its own process group and sandbox directory under
// Config.WorkDir (slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<n>,
// with the files stdout and stderr), fetching CommandInfo URIs first (http
// and https URLs, file:// URLs and local paths). Tasks with a CommandInfo and
// no ExecutorInfo are run by the agent itself as a command executor. Status
// updates are retried by the agent until the scheduler acknowledges them.
//
// Every process is served by mesos-go's own HTTP messenger. MasterAddr is a
// small HTTP front end: GET /state reports the master's libprocess pid as
// "leader" (which is how mesos-go's standalone detector finds the master),
// and every other request is passed on to the master process.
//
// Only Unix is supported (process groups and signals).
package localmesos

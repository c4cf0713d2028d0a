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
// Every process is a mesos-go messenger (handler registry, decoding and
// dispatch) over a small libprocess HTTP transport of this package, which
// stands in for mesos-go's HTTPTransporter because that one panics or
// stalls when a peer races with Stop. The master's address, MasterAddr,
// also serves GET /state, whose "leader" field is how mesos-go's standalone
// detector finds the master.
//
// Not implemented: the v1 HTTP API (so the driver's AcceptOffers, which
// sends a v1 Call, is not served; LaunchTasks and DeclineOffer are),
// reservations and persistent volumes, roles and quota (every framework is
// offered every resource), agent registration over the wire and agent
// restarts (agents are in-process; LoseAgent simulates a lost one),
// checkpointing and executor re-registration after an agent restart,
// health checks, containerizers and resource isolation.
//
// Only Unix is supported (process groups and signals).
package localmesos

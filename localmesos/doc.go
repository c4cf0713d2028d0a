// Package localmesos is an embedded, small but real Apache Mesos: a master
// and agents that speak the Mesos v0 libprocess wire protocol (HTTP POSTs
// of serialized protobufs to /<process-id>/mesos.internal.<Name> with a
// Libprocess-From header, answered 202), so that unmodified mesos-go v0
// scheduler and executor drivers — or any v0 framework — run against it
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
// The same master and agents also run as separate processes, on one host or
// many: StartMaster starts a master alone and StartAgent an agent that
// registers with a master at a given address (the mesos-master and
// mesos-agent commands wrap them, with Mesos' flag names). Start runs both
// in one process, its agents registering with its master over loopback
// exactly as separate agents do.
//
// The master (process "master") registers frameworks (optionally after SASL
// CRAM-MD5 authentication), offers each agent's free resources, validates
// launches against the offers they name, routes status updates, answers
// reconciliation and honours offer filters and revives.
//
// Agents (process "slave(N)") register with the master
// (RegisterSlaveMessage, answered with the agent's ID), retrying with
// randomized, doubling back-off until it answers, and re-register
// (ReregisterSlaveMessage, with the tasks and executors they run) when
// they stop hearing the master's pings — after a master restart, say — or
// when restarted on the same work directory, where they keep their ID. The
// master pings every agent each AgentPingTimeout; one that leaves
// MaxAgentPingTimeouts pings in a row unanswered (by default 5 × 15 s, as
// in Mesos) is removed as Mesos removes it: its tasks become TASK_LOST with
// REASON_SLAVE_REMOVED (TASK_UNREACHABLE for frameworks that declare the
// PARTITION_AWARE capability, which mesos-go v0 frameworks cannot), its
// offers are rescinded and every framework gets LostSlaveMessage. An agent
// that comes back is re-admitted with its tasks, which the master reports
// again with REASON_SLAVE_REREGISTERED. LoseAgent, PartitionAgent and
// HealAgent inject these faults into a Cluster.
//
// Each agent runs executors as real child processes, each in its own
// process group and sandbox directory under its work directory
// (slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<n>,
// with the files stdout and stderr), fetching CommandInfo URIs first (http
// and https URLs, file:// URLs and local paths). Tasks with a CommandInfo
// and no ExecutorInfo are run by the agent itself as a command executor.
// An agent started on a work directory of its own (StartAgent with
// AgentConfig.WorkDir, mesos-agent -work_dir) checkpoints there, as Mesos
// does, the state of frameworks that set FrameworkInfo.checkpoint; their
// executors outlive the agent, and an agent restarted on the same
// directory and port reconnects to them (ReconnectExecutorMessage), kills
// those that do not re-register within ExecutorReregistrationTimeout
// (their tasks TASK_LOST), re-registers with the master and resends the
// status updates not yet acknowledged (see AgentConfig.Recover).
// Executors of other frameworks die with their agent.
// Status updates go through the master and are retried by the agent until
// the scheduler acknowledges them; executors' framework messages go from
// the agent straight to the scheduler's pid, as in Mesos, so agents need a
// network path to schedulers.
//
// Every process is a mesos-go messenger (handler registry, decoding and
// dispatch) over the project's own libprocess HTTP transport, which stands
// in for mesos-go's HTTPTransporter because that one panics or stalls when
// a peer races with Stop. The transport refuses message bodies over 17 MiB
// and messages whose Libprocess-From host is not the address the
// connection comes from, and bounds each destination's send queue. The
// master and its agents can share a secret (Config.ClusterSecret, which
// Start picks itself) that their messages to each other must carry, so that
// no other process can pose as an agent or as the master. The
// master's address, MasterAddr, also serves GET /state, whose "leader"
// field is how mesos-go's standalone detector finds the master.
//
// Not implemented: the v1 HTTP API (so the driver's AcceptOffers, which
// sends a v1 Call, is not served; LaunchTasks and DeclineOffer are),
// reservations and persistent volumes, roles and quota (every framework is
// offered every resource), SASL authentication of agents (the cluster
// secret stands in for it), a registry (a restarted
// master knows only what re-registering agents and frameworks tell it),
// recovery of command tasks, HTTP executors and anything but the latest
// run after an agent restart, health checks, containerizers and resource
// isolation.
//
// Only Unix is supported (process groups and signals).
package localmesos

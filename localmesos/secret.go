package localmesos

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// The cluster secret guards the messages only the master may send an agent
// and only an agent may send the master: with Config.ClusterSecret set, the
// master attaches it to the first kind and refuses the second without it,
// and agents do the reverse. Messages from schedulers and executors
// (framework messages, executor registration and status updates) never
// carry it, so it never leaves the cluster's own processes.
var (
	masterToAgent = []string{
		"mesos.internal.SlaveRegisteredMessage",
		"mesos.internal.SlaveReregisteredMessage",
		"mesos.internal.PingSlaveMessage",
		"mesos.internal.ShutdownMessage",
		"mesos.internal.RunTaskMessage",
		"mesos.internal.KillTaskMessage",
		"mesos.internal.ShutdownFrameworkMessage",
		"mesos.internal.UpdateFrameworkMessage",
		"mesos.internal.StatusUpdateAcknowledgementMessage",
	}
	agentToMaster = []string{
		"mesos.internal.RegisterSlaveMessage",
		"mesos.internal.ReregisterSlaveMessage",
		"mesos.internal.UnregisterSlaveMessage",
		"mesos.internal.PongSlaveMessage",
		"mesos.internal.StatusUpdateMessage",
		"mesos.internal.ExitedExecutorMessage",
	}
)

func masterSecret(secret string) libprocess.Option {
	return libprocess.WithSecret(secret, masterToAgent, agentToMaster)
}

func agentSecret(secret string) libprocess.Option {
	return libprocess.WithSecret(secret, agentToMaster, masterToAgent)
}

// NewClusterSecret returns a random secret for Config.ClusterSecret, 32
// hex digits.
func NewClusterSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

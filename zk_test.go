package mesosgot

import (
	"testing"

	"github.com/mesos/mesos-go/api/v0/detector"
	"github.com/stretchr/testify/assert"
)

// TestZooKeeperMastersAreUnderstood checks that a zk:// master goes to
// mesos-go's ZooKeeper detector, not to the host:port one.
func TestZooKeeperMastersAreUnderstood(t *testing.T) {
	_, ok := detector.MatchingPlugin("zk://10.0.0.1:2181,10.0.0.2:2181/mesos")
	assert.True(t, ok, "a detector is registered for zk://")
}

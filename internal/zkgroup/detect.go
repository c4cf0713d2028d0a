package zkgroup

import (
	"github.com/mesos/mesos-go/api/v0/detector"
	"github.com/mesos/mesos-go/api/v0/detector/zoo"
)

// NewDetector returns mesos-go's ZooKeeper leader detector for zkURL (the
// one the scheduler driver uses for -master=zk://...), after checking the
// URL: mesos-go's constructor exits the process on an unparsable one.
// Detect on it reports each new leader's MasterInfo, and nil while there is
// none.
func NewDetector(zkURL string) (detector.Master, error) {
	if _, _, err := ParseURL(zkURL); err != nil {
		return nil, err
	}
	return zoo.NewMasterDetector(zkURL)
}

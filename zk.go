package mesosgot

// A master given as zk://host:port[,host:port...]/path is found through
// ZooKeeper by mesos-go's own detector, which registers itself for zk://
// when imported.
import _ "github.com/mesos/mesos-go/api/v0/detector/zoo"

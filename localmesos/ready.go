package localmesos

import (
	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// gatedMessenger holds back every handler installed through it until ready
// is closed. A process' messenger starts, and may receive messages, inside
// libprocess.New, before the master or agent it serves has its process and
// pid set; a peer that is already sending (an agent retrying registration)
// must not be handled before then.
type gatedMessenger struct {
	messenger.Messenger
	ready <-chan struct{}
}

// Install installs h for msg's type, run once ready is closed.
func (g gatedMessenger) Install(h messenger.MessageHandler, msg proto.Message) error {
	return g.Messenger.Install(func(from *upid.UPID, pb proto.Message) {
		<-g.ready
		h(from, pb)
	}, msg)
}

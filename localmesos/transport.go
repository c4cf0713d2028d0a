package localmesos

import (
	"net"
	"time"

	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// stopSafeTransport is mesos-go's HTTP transporter with one fix: mesos-go's
// messenger panics ("unexpected transport error: HTTP transport is
// terminated") when its receive loop polls the transporter in the window
// between the transporter stopping and the messenger closing its own stop
// channel, which happens when a message handler is running at Stop. In that
// window Recv returns an inert message (no handler is bound to its name) so
// the loop goes round once more and sees the messenger stopped.
type stopSafeTransport struct {
	*messenger.HTTPTransporter
}

// Recv implements messenger.Transporter.
func (t stopSafeTransport) Recv() (*messenger.Message, error) {
	msg, err := t.HTTPTransporter.Recv()
	if err != nil && err.Error() == "HTTP transport is terminated" {
		time.Sleep(time.Millisecond)
		self := t.UPID()
		return &messenger.Message{UPID: &self, Name: "localmesos.transport-stopped"}, nil
	}
	return msg, err
}

// newSafeMessenger returns a mesos-go HTTP messenger for pid bound to ip,
// using stopSafeTransport.
func newSafeMessenger(pid upid.UPID, ip net.IP) *messenger.MesosMessenger {
	return messenger.New(stopSafeTransport{messenger.NewHTTPTransporter(pid, ip)})
}

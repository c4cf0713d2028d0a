package localmesos

import (
	"net"
	"os/user"
	"testing"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// startDriverWith starts a real mesos-go scheduler driver with framework
// info fi (its name defaults to the test's); it is aborted at the end of
// the test.
func startDriverWith(t *testing.T, c *Cluster, s *testSched, fi *mesos.FrameworkInfo) *sched.MesosSchedulerDriver {
	t.Helper()
	return startDriverOn(t, c.MasterAddr(), s, fi)
}

// startDriverOn is startDriverWith for the master at addr.
func startDriverOn(t *testing.T, addr string, s *testSched, fi *mesos.FrameworkInfo) *sched.MesosSchedulerDriver {
	t.Helper()
	if fi.Name == nil {
		fi.Name = proto.String(t.Name())
	}
	if fi.User == nil {
		fi.User = proto.String("")
	}
	d, err := sched.NewMesosSchedulerDriver(sched.DriverConfig{
		Scheduler:      s,
		Framework:      fi,
		Master:         addr,
		BindingAddress: net.ParseIP("127.0.0.1"),
		NewMessenger: func() (messenger.Messenger, error) {
			ip := net.ParseIP("127.0.0.1").To4()
			return messenger.New(libprocess.NewTransport(upid.UPID{ID: process.New("scheduler").Label(), Host: ip.String(), Port: "0"}, ip)), nil
		},
	})
	require.NoError(t, err)
	st, err := d.Start()
	require.NoError(t, err)
	require.Equal(t, mesos.Status_DRIVER_RUNNING, st)
	t.Cleanup(func() {
		if d.Running() {
			_, _ = d.Abort()
		}
	})
	return d
}

// rawSched is a scheduler speaking the v0 protocol by hand: unlike the
// mesos-go driver it acknowledges status updates only when told to, and
// can re-register as it likes.
type rawSched struct {
	t      *testing.T
	proc   *libprocess.Process
	master upid.UPID

	registered   chan *mesos.FrameworkRegisteredMessage
	reregistered chan *mesos.FrameworkReregisteredMessage
	offers       chan *mesos.Offer
	rescinded    chan string
	updates      chan *mesos.StatusUpdate
	errors       chan string
}

func newRawSched(t *testing.T, c *Cluster) *rawSched {
	t.Helper()
	r := &rawSched{
		t:            t,
		master:       c.master.pid,
		registered:   make(chan *mesos.FrameworkRegisteredMessage, 16),
		reregistered: make(chan *mesos.FrameworkReregisteredMessage, 16),
		offers:       make(chan *mesos.Offer, 1024),
		rescinded:    make(chan string, 1024),
		updates:      make(chan *mesos.StatusUpdate, 1024),
		errors:       make(chan string, 16),
	}
	proc, err := libprocess.New(process.New("rawsched").Label(), net.ParseIP("127.0.0.1").To4(), 0, nil, func(ms messenger.Messenger) error {
		for _, err := range []error{
			handle(ms, func(_ *upid.UPID, m *mesos.FrameworkRegisteredMessage) { r.registered <- m }),
			handle(ms, func(_ *upid.UPID, m *mesos.FrameworkReregisteredMessage) { r.reregistered <- m }),
			handle(ms, func(_ *upid.UPID, m *mesos.ResourceOffersMessage) {
				for _, o := range m.GetOffers() {
					r.offers <- o
				}
			}),
			handle(ms, func(_ *upid.UPID, m *mesos.RescindResourceOfferMessage) { r.rescinded <- m.GetOfferId().GetValue() }),
			handle(ms, func(_ *upid.UPID, m *mesos.StatusUpdateMessage) { r.updates <- m.GetUpdate() }),
			handle(ms, func(_ *upid.UPID, m *mesos.FrameworkErrorMessage) { r.errors <- m.GetMessage() }),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	r.proc = proc
	t.Cleanup(proc.Stop)
	return r
}

func (r *rawSched) send(msg proto.Message) { r.proc.Send(&r.master, msg) }

// register registers a new framework and returns its ID.
func (r *rawSched) register() *mesos.FrameworkID {
	r.t.Helper()
	me, err := user.Current()
	require.NoError(r.t, err)
	r.send(&mesos.RegisterFrameworkMessage{Framework: &mesos.FrameworkInfo{User: proto.String(me.Username), Name: proto.String(r.t.Name())}})
	return recv(r.t, r.registered, "registration").GetFrameworkId()
}

// launch launches tasks on offer o.
func (r *rawSched) launch(fid *mesos.FrameworkID, o *mesos.Offer, tasks ...*mesos.TaskInfo) {
	r.send(&mesos.LaunchTasksMessage{FrameworkId: fid, OfferIds: []*mesos.OfferID{o.Id}, Tasks: tasks, Filters: noRefuse()})
}

// ack acknowledges u.
func (r *rawSched) ack(u *mesos.StatusUpdate) {
	r.send(&mesos.StatusUpdateAcknowledgementMessage{
		SlaveId: u.GetSlaveId(), FrameworkId: u.GetFrameworkId(), TaskId: u.GetStatus().GetTaskId(), Uuid: u.GetStatus().GetUuid(),
	})
}

// reconcile asks for the state of the given tasks (none: all).
func (r *rawSched) reconcile(fid *mesos.FrameworkID, statuses ...*mesos.TaskStatus) {
	r.send(&mesos.ReconcileTasksMessage{FrameworkId: fid, Statuses: statuses})
}

// update waits for the next status update of task id in state.
func (r *rawSched) update(id string, state mesos.TaskState) *mesos.StatusUpdate {
	r.t.Helper()
	return recvUntil(r.t, r.updates, "task "+id+" "+state.String(), func(u *mesos.StatusUpdate) bool {
		return u.GetStatus().GetTaskId().GetValue() == id && u.GetStatus().GetState() == state
	})
}

// commandTask is a command task running cmd with a little of o's resources.
func commandTask(id, cmd string, o *mesos.Offer) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    util.NewTaskID(id),
		SlaveId:   o.SlaveId,
		Command:   &mesos.CommandInfo{Value: proto.String(cmd)},
		Resources: []*mesos.Resource{util.NewScalarResource("cpus", 0.1), util.NewScalarResource("mem", 16)},
	}
}

package localmesos

import (
	"net"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/mesosutil/process"
	"github.com/mesos/mesos-go/api/v0/messenger"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/libprocess"
	"github.com/mesosgot/mesosgot/internal/zktest"
)

// haSched is a testSched that also reports re-registrations and disconnections.
type haSched struct {
	*testSched
	rereg chan string
	disc  chan struct{}
	regs  int // Registered callbacks so far (the driver serializes them)
}

func newHASched() *haSched {
	return &haSched{testSched: newTestSched(), rereg: make(chan string, 16), disc: make(chan struct{}, 16)}
}

func (s *haSched) Reregistered(_ sched.SchedulerDriver, mi *mesos.MasterInfo) { s.rereg <- mi.GetPid() }

// Registered records the framework ID, and the master's pid as a
// re-registration when it comes again: after a master failover Mesos
// answers the re-registering driver with FrameworkRegisteredMessage
// (MESOS-786), which mesos-go reports as Registered.
func (s *haSched) Registered(_ sched.SchedulerDriver, id *mesos.FrameworkID, mi *mesos.MasterInfo) {
	select {
	case s.testSched.registered <- id:
	default:
	}
	s.regs++
	if s.regs > 1 {
		s.rereg <- mi.GetPid()
	}
}
func (s *haSched) Disconnected(sched.SchedulerDriver) { s.disc <- struct{}{} }

// startDriverAt starts a real mesos-go scheduler driver with -master=master.
func startDriverAt(t *testing.T, master string, s sched.Scheduler) *sched.MesosSchedulerDriver {
	t.Helper()
	d, err := sched.NewMesosSchedulerDriver(sched.DriverConfig{
		Scheduler:      s,
		Framework:      &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String(t.Name()), FailoverTimeout: proto.Float64(60)},
		Master:         master,
		BindingAddress: net.ParseIP("127.0.0.1"),
		NewMessenger: func() (messenger.Messenger, error) {
			ip := net.ParseIP("127.0.0.1").To4()
			return messenger.New(libprocess.NewTransport(upid.UPID{ID: process.New("scheduler").Label(), Host: ip.String(), Port: "0"}, ip)), nil
		},
	})
	require.NoError(t, err)
	_, err = d.Start()
	require.NoError(t, err)
	t.Cleanup(func() {
		if d.Running() {
			_, _ = d.Abort()
		}
	})
	return d
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// Two masters in one group: the first leads and takes both clusters'
// agents and the framework; the standby drops what it is sent (a framework
// registering with it directly). When the leader's master stops, the
// standby leads, the agents re-register with it and the scheduler driver,
// following the group, re-registers too.
func TestElectedMasterLeadsStandbyDropsAndTakesOver(t *testing.T) {
	zs := zktest.Start(t)
	url := zs.URL("/mesos")
	cfg := Config{ZK: url, ZKSessionTimeout: 2 * time.Second, RegistrationBackoffFactor: 100 * time.Millisecond, ClusterSecret: NewClusterSecret()}
	a := startCluster(t, cfg)
	eventually(t, "first master elected", a.master.elected)
	b := startCluster(t, cfg)
	eventually(t, "every agent registers with the leader", func() bool { return len(a.Agents()) == 2 })
	assert.False(t, b.master.elected())
	assert.Empty(t, b.Agents())
	eventually(t, "the standby knows the leader", func() bool { return b.master.ha.elect.Load().leader() == a.MasterPID() })

	direct := newHASched()
	dd := startDriverAt(t, b.MasterAddr(), direct)
	eventually(t, "the standby drops a registration", func() bool { return b.master.ha.dropped.Load() > 0 })
	none(t, direct.registered, 500*time.Millisecond, "registration with a standby")
	_, _ = dd.Abort() // else it registers once b leads

	s := newHASched()
	startDriverAt(t, url, s)
	fwID := recv(t, s.registered, "registration through ZooKeeper")
	require.Len(t, a.Frameworks(), 1)
	assert.Empty(t, b.Frameworks())

	gone := time.Now()
	a.StopMaster()
	eventually(t, "standby elected", b.master.elected)
	elected := time.Since(gone)
	pid := recv(t, s.rereg, "re-registration with the new leader")
	assert.Equal(t, b.MasterPID(), pid)
	t.Logf("leader stopped -> standby elected %v -> framework re-registered %v", elected.Round(time.Millisecond), time.Since(gone).Round(time.Millisecond))
	var ids []string
	for _, fw := range b.Frameworks() {
		ids = append(ids, fw.ID)
	}
	assert.Contains(t, ids, fwID.GetValue(), "the new leader knows the re-registered framework")
	eventually(t, "the agents re-register with the new leader", func() bool { return len(b.Agents()) == 2 })
}

func TestMasterDoesNotStartWithoutZooKeeper(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = Start(Config{ZK: "zk://" + addr + "/mesos", ZKSessionTimeout: time.Second})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "contending at zk://"+addr+"/mesos")
}

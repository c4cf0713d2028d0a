package zkgroup

import (
	"encoding/binary"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/mesos/mesos-go/api/v0/detector"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/samuel/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/zktest"
)

// masterInfo is a MasterInfo as a Mesos master at 127.0.0.1:port writes it.
func masterInfo(id string, port uint32) *mesos.MasterInfo {
	ip := binary.LittleEndian.Uint32(net.ParseIP("127.0.0.1").To4()) // network order in memory, as Mesos stores it
	return &mesos.MasterInfo{
		Id: proto.String(id), Ip: proto.Uint32(ip), Port: proto.Uint32(port),
		Pid:      proto.String("master@127.0.0.1:" + itoa(port)),
		Hostname: proto.String("localhost"), Version: proto.String("1.11.0"),
		Address: &mesos.Address{Hostname: proto.String("localhost"), Ip: proto.String("127.0.0.1"), Port: proto.Int32(int32(port))},
	}
}

func itoa(p uint32) string { return strconv.FormatUint(uint64(p), 10) }

func join(t *testing.T, url string, info *mesos.MasterInfo, timeout time.Duration) *Member {
	t.Helper()
	m, err := Join(url, info, timeout)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

func waitClosed(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestLowestSequenceLeadsAndTheNextTakesOver(t *testing.T) {
	zs := zktest.Start(t)
	url := zs.URL("/mesos/ha")
	a := join(t, url, masterInfo("a", 5050), 0)
	waitClosed(t, a.Leading(), 20*time.Second, "first member leads")
	b := join(t, url, masterInfo("b", 5051), 0)

	name := regexp.MustCompile(`^json\.info_\d{10}$`)
	assert.Regexp(t, name, a.Node())
	assert.Regexp(t, name, b.Node())
	assert.Less(t, a.Node(), b.Node())

	// b sees a as the leader and does not lead.
	deadline := time.Now().Add(20 * time.Second)
	for b.Leader().GetId() != "a" {
		require.True(t, time.Now().Before(deadline), "b never read a as leader (has %v)", b.Leader())
		time.Sleep(20 * time.Millisecond)
	}
	assert.False(t, isClosed(b.Leading()), "standby leads while a is there")

	// The znode holds the MasterInfo JSON with the protobuf field names.
	c, _, err := zk.Connect([]string{zs.Addr}, 5*time.Second, zk.WithLogger(glogger{}))
	require.NoError(t, err)
	defer c.Close()
	data, _, err := c.Get("/mesos/ha/" + a.Node())
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"a","ip":16777343,"port":5050,"pid":"master@127.0.0.1:5050","hostname":"localhost","version":"1.11.0","address":{"hostname":"localhost","ip":"127.0.0.1","port":5050}}`, string(data))

	a.Close()
	assert.Error(t, a.Err())
	waitClosed(t, b.Leading(), 20*time.Second, "b leads after a left")
	assert.NoError(t, b.Err())
}

// mesos-go's detector (the scheduler driver's) reads our members.
func TestMesosGoDetectorFollowsTheGroup(t *testing.T) {
	zs := zktest.Start(t)
	url := zs.URL("/mesos")
	a := join(t, url, masterInfo("a", 5050), 0)
	b := join(t, url, masterInfo("b", 5051), 0)

	d, err := NewDetector(url)
	require.NoError(t, err)
	seen := make(chan *mesos.MasterInfo, 16)
	require.NoError(t, d.Detect(detector.OnMasterChanged(func(mi *mesos.MasterInfo) { seen <- mi })))
	t.Cleanup(func() {
		d.Cancel()
		<-d.Done()
	})
	next := func() *mesos.MasterInfo {
		select {
		case mi := <-seen:
			return mi
		case <-time.After(30 * time.Second):
			t.Fatal("detector reported nothing within 30s")
			return nil
		}
	}
	mi := next()
	require.NotNil(t, mi)
	assert.Equal(t, "a", mi.GetId())
	assert.Equal(t, "master@127.0.0.1:5050", mi.GetPid())
	assert.Equal(t, uint32(5050), mi.GetPort())
	assert.Equal(t, "127.0.0.1", mi.GetAddress().GetIp())
	assert.Equal(t, masterInfo("a", 5050).GetIp(), mi.GetIp())

	a.Close()
	mi = next()
	for mi == nil { // a "no leader" report may come between
		mi = next()
	}
	assert.Equal(t, "master@127.0.0.1:5051", mi.GetPid())
	_ = b
}

// Without ZooKeeper for longer than the session timeout, a member (even the
// leader) is no longer one.
func TestMembershipLostWhenZooKeeperGoes(t *testing.T) {
	zs := zktest.Start(t)
	a := join(t, zs.URL("/mesos"), masterInfo("a", 5050), 2*time.Second)
	waitClosed(t, a.Leading(), 20*time.Second, "a leads")
	zs.Stop()
	waitClosed(t, a.Lost(), 20*time.Second, "membership lost after ZooKeeper went away")
	assert.ErrorContains(t, a.Err(), "session timeout")
}

func TestJoinFailsWithoutZooKeeper(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = Join("zk://"+addr+"/mesos", masterInfo("a", 5050), time.Second)
	assert.ErrorContains(t, err, "no session within")
}

func TestParseURL(t *testing.T) {
	s, p, err := ParseURL("zk://h1:2181,h2:2182/mesos/")
	require.NoError(t, err)
	assert.Equal(t, []string{"h1:2181", "h2:2182"}, s)
	assert.Equal(t, "/mesos", p)
	for _, bad := range []string{"h:2181/mesos", "zk://h:2181", "zk:///mesos", "http://h/mesos", "zk://h:%zz/x"} {
		_, _, err := ParseURL(bad)
		assert.Error(t, err, bad)
	}
	_, err = NewDetector("zk://h:2181")
	assert.Error(t, err)
}

func TestMembersOrder(t *testing.T) {
	assert.Equal(t, []string{"info_0000000001", "json.info_0000000002", "json.info_0000000010"},
		Members([]string{"json.info_0000000010", "log_replicas", "json.info_0000000002", "info_0000000001", "json.info_x"}))
}

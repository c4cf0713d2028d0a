// Package zkgroup is Mesos' master group in ZooKeeper: masters contend for
// leadership by joining the group, and agents and schedulers find the
// leader through it.
//
// A master joins by creating an ephemeral sequential znode named
// "json.info_" followed by a 10-digit sequence under the group's path,
// holding its MasterInfo as JSON with the protobuf field names, as Mesos 1.x
// does; the member with the lowest sequence leads. mesos-go's
// detector/zoo (used by the scheduler driver and, through NewDetector, by
// agents) reads exactly these znodes.
package zkgroup

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/samuel/go-zookeeper/zk"
)

// DefaultSessionTimeout is Mesos' default --zk_session_timeout.
const DefaultSessionTimeout = 10 * time.Second

// NodePrefix is the name prefix of a member's znode (Mesos' "json.info"
// label and the sequence separator).
const NodePrefix = "json.info_"

// legacyPrefix is the znode prefix of Mesos masters before 0.24 (protobuf
// data); such members take part in the ordering.
const legacyPrefix = "info_"

// ParseURL splits a zk://host1:port1,host2:port2/path URL into its servers
// and path.
func ParseURL(zkURL string) (servers []string, path string, err error) {
	u, err := url.Parse(zkURL)
	if err != nil {
		return nil, "", fmt.Errorf("zkgroup: bad ZooKeeper URL %q: %w", zkURL, err)
	}
	if u.Scheme != "zk" {
		return nil, "", fmt.Errorf("zkgroup: bad ZooKeeper URL %q: want zk://host:port[,host:port...]/path", zkURL)
	}
	if u.Host == "" {
		return nil, "", fmt.Errorf("zkgroup: bad ZooKeeper URL %q: no server", zkURL)
	}
	path = strings.TrimRight(u.Path, "/")
	if path == "" {
		return nil, "", fmt.Errorf("zkgroup: bad ZooKeeper URL %q: no path (e.g. zk://%s/mesos)", zkURL, u.Host)
	}
	return strings.Split(u.Host, ","), path, nil
}

// MarshalInfo encodes info as a member's znode data: JSON with the protobuf
// field names, as Mesos writes it and mesos-go's detector reads it.
func MarshalInfo(info *mesos.MasterInfo) ([]byte, error) {
	b, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("zkgroup: encoding MasterInfo: %w", err)
	}
	return b, nil
}

// Member is one master's membership in the group. Its channels tell the
// master when it leads and when it must stop acting as a master.
type Member struct {
	conn           *zk.Conn
	path, node     string // group path; own znode's name (not the full path)
	sessionID      int64
	sessionTimeout time.Duration

	leading   chan struct{}
	leadOnce  sync.Once
	lost      chan struct{}
	lostOnce  sync.Once
	lostWhy   error
	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu     sync.Mutex
	leader *mesos.MasterInfo // the leader's info as last read
}

// Join connects to ZooKeeper at zkURL and enters info into the group there.
// sessionTimeout is the ZooKeeper session timeout (0: DefaultSessionTimeout);
// Join waits at most that long for a session.
func Join(zkURL string, info *mesos.MasterInfo, sessionTimeout time.Duration) (*Member, error) {
	servers, path, err := ParseURL(zkURL)
	if err != nil {
		return nil, err
	}
	if sessionTimeout <= 0 {
		sessionTimeout = DefaultSessionTimeout
	}
	data, err := MarshalInfo(info)
	if err != nil {
		return nil, err
	}
	conn, events, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(glogger{}))
	if err != nil {
		return nil, fmt.Errorf("zkgroup: connecting to %v: %w", servers, err)
	}
	if err := waitSession(events, sessionTimeout); err != nil {
		conn.Close()
		return nil, fmt.Errorf("zkgroup: connecting to ZooKeeper %v: %w", servers, err)
	}
	if err := ensurePath(conn, path); err != nil {
		conn.Close()
		return nil, err
	}
	full, err := conn.Create(path+"/"+NodePrefix, data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("zkgroup: joining the group at %s: %w", path, err)
	}
	m := &Member{
		conn: conn, path: path, node: full[strings.LastIndex(full, "/")+1:],
		sessionID: conn.SessionID(), sessionTimeout: sessionTimeout,
		leading: make(chan struct{}), lost: make(chan struct{}), quit: make(chan struct{}),
	}
	log.Infof("zkgroup: joined the group at %s%s as %s (session %#x)", strings.Join(servers, ","), path, m.node, m.sessionID)
	m.wg.Add(2)
	go m.watchSession(events)
	go m.watchGroup()
	return m, nil
}

// waitSession waits for the first session, or fails after timeout.
func waitSession(events <-chan zk.Event, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return errors.New("connection closed")
			}
			if ev.State == zk.StateHasSession {
				return nil
			}
			if ev.State == zk.StateAuthFailed {
				return errors.New("authentication failed")
			}
		case <-t.C:
			return fmt.Errorf("no session within %v", timeout)
		}
	}
}

// ensurePath creates path and its parents as persistent znodes if missing.
func ensurePath(conn *zk.Conn, path string) error {
	cur := ""
	for _, part := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		cur += "/" + part
		_, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("zkgroup: creating %s: %w", cur, err)
		}
	}
	return nil
}

// Node returns the member's znode name (json.info_NNNNNNNNNN).
func (m *Member) Node() string { return m.node }

// Leading is closed once this member leads the group.
func (m *Member) Leading() <-chan struct{} { return m.leading }

// Lost is closed when the membership has ended: the session expired (or
// stayed disconnected past the session timeout), the znode went away, or
// Close was called. A master must then stop acting as one, as a Mesos
// master aborts.
func (m *Member) Lost() <-chan struct{} { return m.lost }

// Err says why the membership was lost; nil while it is not.
func (m *Member) Err() error {
	select {
	case <-m.lost:
		return m.lostWhy
	default:
		return nil
	}
}

// Leader returns the leader's MasterInfo as last read from the group (nil
// before it was read).
func (m *Member) Leader() *mesos.MasterInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader
}

// Close leaves the group (the znode goes with the session) and stops the
// member's goroutines.
func (m *Member) Close() {
	m.closeOnce.Do(func() {
		m.lose(errors.New("zkgroup: membership closed"))
		close(m.quit)
		m.conn.Close()
		m.wg.Wait()
	})
}

func (m *Member) lose(why error) {
	m.lostOnce.Do(func() {
		m.lostWhy = why
		close(m.lost)
		select {
		case <-m.quit:
		default:
			log.Errorf("%v", why)
		}
	})
}

// watchSession turns session events into the loss of membership: expiry,
// a new session, or disconnection longer than the session timeout.
func (m *Member) watchSession(events <-chan zk.Event) {
	defer m.wg.Done()
	var expire <-chan time.Time
	var timer *time.Timer
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, expire = nil, nil
		}
	}
	defer stopTimer()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Type != zk.EventSession {
				continue
			}
			switch ev.State {
			case zk.StateExpired:
				m.lose(fmt.Errorf("zkgroup: ZooKeeper session %#x expired: %s is no longer a member", m.sessionID, m.node))
			case zk.StateDisconnected:
				if timer == nil {
					timer = time.NewTimer(m.sessionTimeout)
					expire = timer.C
				}
			case zk.StateHasSession:
				stopTimer()
				if id := m.conn.SessionID(); id != m.sessionID {
					m.lose(fmt.Errorf("zkgroup: ZooKeeper session %#x replaced by %#x: %s is no longer a member", m.sessionID, id, m.node))
				}
			}
		case <-expire:
			stopTimer()
			m.lose(fmt.Errorf("zkgroup: disconnected from ZooKeeper for longer than the session timeout %v: %s is no longer a member", m.sessionTimeout, m.node))
		}
	}
}

// watchGroup follows the group's children: who leads, and whether this
// member is still in it.
func (m *Member) watchGroup() {
	defer m.wg.Done()
	leaderNode := ""
	for {
		children, _, ev, err := m.conn.ChildrenW(m.path)
		if err != nil {
			if errors.Is(err, zk.ErrClosing) {
				return
			}
			log.Warningf("zkgroup: watching %s: %v (retrying)", m.path, err)
			select {
			case <-m.quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		members := Members(children)
		present := false
		for _, c := range members {
			present = present || c == m.node
		}
		if !present {
			m.lose(fmt.Errorf("zkgroup: own znode %s/%s is gone: no longer a member", m.path, m.node))
		} else if members[0] == m.node {
			m.leadOnce.Do(func() {
				log.Infof("zkgroup: %s leads the group at %s", m.node, m.path)
				close(m.leading)
			})
		}
		if len(members) > 0 && members[0] != leaderNode {
			leaderNode = members[0]
			m.readLeader(leaderNode)
		}
		select {
		case <-m.quit:
			return
		case <-ev:
		}
	}
}

// readLeader stores the leader's MasterInfo.
func (m *Member) readLeader(node string) {
	data, _, err := m.conn.Get(m.path + "/" + node)
	if err != nil {
		log.Warningf("zkgroup: reading leader %s: %v", node, err)
		return
	}
	info := &mesos.MasterInfo{}
	if !strings.HasPrefix(node, NodePrefix) {
		return // a legacy protobuf member: ordered, not read
	}
	if err := json.Unmarshal(data, info); err != nil {
		log.Warningf("zkgroup: leader %s: bad MasterInfo JSON: %v", node, err)
		return
	}
	m.mu.Lock()
	m.leader = info
	m.mu.Unlock()
}

// Members returns the group members among children (znodes named
// json.info_N or info_N), lowest sequence first: the first one leads.
func Members(children []string) []string {
	type mem struct {
		name string
		seq  uint64
	}
	var ms []mem
	for _, c := range children {
		s := strings.TrimPrefix(c, NodePrefix)
		if s == c {
			s = strings.TrimPrefix(c, legacyPrefix)
			if s == c {
				continue
			}
		}
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			continue
		}
		ms = append(ms, mem{c, seq})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
	out := make([]string, len(ms))
	for i, x := range ms {
		out[i] = x.name
	}
	return out
}

// glogger sends the ZooKeeper client's log to glog.
type glogger struct{}

func (glogger) Printf(format string, args ...interface{}) {
	log.V(1).Infof("zk: "+format, args...)
}

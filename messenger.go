package mesosgot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"

	"github.com/mesosgot/mesosgot/internal/libprocess"
)

// driverMessenger is the messenger mesosgot hands both mesos-go drivers
// through their DriverConfig.NewMessenger hook: mesos-go's messenger
// interface over the project's libprocess transport, instead of mesos-go's
// HTTPTransporter (which panics when stopped with messages in flight and
// blocks a send 10 s on a dead peer). It
//   - checks every message's sender before decoding it (policy.accept) and
//     counts and logs (rate-limited) what it refuses;
//   - sends through one queue per destination, so that a slow peer delays
//     only its own messages, and can send a message at once and report
//     when the peer accepted it (sendWait);
//   - lets its policy rewrite a decoded message before the driver's handler
//     sees it (the scheduler's large framework messages, see
//     messenger_sched.go).
type driverMessenger struct {
	role   string // "scheduler" or "executor", for the log
	tr     *libprocess.Transport
	policy msgPolicy

	mu       sync.RWMutex
	pid      upid.UPID
	handlers map[string]msgBinding

	qmu     sync.Mutex
	queues  map[string]*msgQueue
	stopped bool
	senders sync.WaitGroup

	stop     chan struct{}
	stopOnce sync.Once

	refused     atomic.Uint64
	lastRefusal atomic.Int64 // unix nanos of the last refusal logged
	quiet       atomic.Uint64
}

// msgPolicy is what a driver's role adds to the messenger.
type msgPolicy interface {
	// accept reports whether a message named name from from may reach the
	// driver (checked before decoding); reason says why not.
	accept(from *upid.UPID, name string) (ok bool, reason string)
	// received sees a decoded message before the driver's handler does and
	// may refuse it (a reason) or change it.
	received(from *upid.UPID, msg proto.Message) (reason string)
	// routed sees a message the driver routes to itself.
	routed(msg proto.Message)
	// sending sees a message the driver sends; it may change it, and
	// returns what to call once the message is written (or nil).
	sending(to *upid.UPID, msg proto.Message) (release func())
	// stopped is called once when the messenger stops.
	stopped()
}

type msgBinding struct {
	typ     reflect.Type
	handler messenger.MessageHandler
}

// msgQueue is the send queue toward one destination, and its connection.
type msgQueue struct {
	key, addr string
	msgs      []*libprocess.Outgoing
	running   bool                 // a drain goroutine serves the queue
	pc        *libprocess.PipeConn // nil until the first send
}

// refusalLogEvery is the least time between two refusal log lines.
const refusalLogEvery = time.Second

// newDriverMessenger returns a stopped messenger for process id on
// bindIP:port (all addresses when nil), whose pid names host.
func newDriverMessenger(role, id string, bindIP net.IP, port uint16, host string, policy msgPolicy) *driverMessenger {
	if bindIP == nil {
		bindIP = net.IPv4zero
	}
	tr := libprocess.NewTransport(upid.UPID{ID: id, Host: host, Port: strconv.Itoa(int(port))}, bindIP)
	return &driverMessenger{
		role:     role,
		tr:       tr,
		policy:   policy,
		handlers: map[string]msgBinding{},
		queues:   map[string]*msgQueue{},
		stop:     make(chan struct{}),
	}
}

// messageName is the libprocess name of msg (as mesos-go names it).
func messageName(msg proto.Message) string {
	return "mesos.internal." + reflect.TypeOf(msg).Elem().Name()
}

// Install implements messenger.Messenger.
func (m *driverMessenger) Install(handler messenger.MessageHandler, msg proto.Message) error {
	t := reflect.TypeOf(msg)
	if t.Kind() != reflect.Ptr {
		return fmt.Errorf("mesosgot: messenger: message %T is not a pointer", msg)
	}
	name := messageName(msg)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.handlers[name]; ok {
		return fmt.Errorf("mesosgot: messenger: message %s is already installed", name)
	}
	m.handlers[name] = msgBinding{typ: t.Elem(), handler: handler}
	m.tr.Install(name)
	return nil
}

// Send implements messenger.Messenger: msg is queued for to and sent in
// order with the other messages to to; a failed send is logged.
func (m *driverMessenger) Send(ctx context.Context, to *upid.UPID, msg proto.Message) error {
	return m.send(to, msg)
}

// sendWait sends msg to to at once, beside the queue of messages to to
// (so it does not wait behind them, nor keeps order with them), and
// returns a channel that receives the result of its send (nil once the
// peer accepted it).
func (m *driverMessenger) sendWait(to *upid.UPID, msg proto.Message) (<-chan error, error) {
	if to == nil {
		return nil, errors.New("mesosgot: messenger: send to no pid")
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("mesosgot: messenger: encoding %T: %w", msg, err)
	}
	dst := *to
	out := &messenger.Message{UPID: &dst, Name: messageName(msg), ProtoMessage: msg, Bytes: b}
	done := make(chan error, 1)
	m.qmu.Lock()
	defer m.qmu.Unlock()
	if m.stopped {
		return nil, errors.New("mesosgot: messenger stopped")
	}
	m.senders.Add(1)
	go func() {
		defer m.senders.Done()
		done <- m.tr.Send(context.Background(), out)
	}()
	return done, nil
}

func (m *driverMessenger) send(to *upid.UPID, msg proto.Message) error {
	if to == nil {
		return errors.New("mesosgot: messenger: send to no pid")
	}
	if *to == m.UPID() {
		return fmt.Errorf("mesosgot: messenger: send %T to self", msg)
	}
	release := m.policy.sending(to, msg)
	o, err := outgoing(*to, msg)
	if err != nil {
		if release != nil {
			release()
		}
		return err
	}
	o.Release = release
	dst := o.To
	m.qmu.Lock()
	defer m.qmu.Unlock()
	if m.stopped {
		o.Done()
		return errors.New("mesosgot: messenger stopped")
	}
	key := dst.String()
	q := m.queues[key]
	if q == nil {
		q = &msgQueue{key: key, addr: net.JoinHostPort(dst.Host, dst.Port)}
		m.queues[key] = q
	}
	q.msgs = append(q.msgs, o)
	if !q.running {
		q.running = true
		m.senders.Add(1)
		go m.drain(q)
	}
	return nil
}

// doneAll releases what the messages of batch refer to (written or dropped).
func doneAll(batch []*libprocess.Outgoing) {
	for _, o := range batch {
		o.Done()
	}
}

// outgoing encodes msg to to. A framework message's data is not copied:
// it is written from the message (libprocess.FrameworkParts).
func outgoing(to upid.UPID, msg proto.Message) (*libprocess.Outgoing, error) {
	var body net.Buffers
	switch fm := msg.(type) {
	case *mesos.ExecutorToFrameworkMessage:
		body = frameworkParts(fm.SlaveId, fm.FrameworkId, fm.ExecutorId, fm.Data, fm.XXX_unrecognized)
	case *mesos.FrameworkToExecutorMessage:
		body = frameworkParts(fm.SlaveId, fm.FrameworkId, fm.ExecutorId, fm.Data, fm.XXX_unrecognized)
	}
	if body == nil {
		b, err := proto.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("mesosgot: messenger: encoding %T: %w", msg, err)
		}
		body = net.Buffers{b}
	}
	return &libprocess.Outgoing{To: to, Name: messageName(msg), Body: body}, nil
}

// frameworkParts encodes a framework message in parts, nil (encode it
// whole) unless it is made of exactly the four fields with plain IDs.
func frameworkParts(slave *mesos.SlaveID, fw *mesos.FrameworkID, ex *mesos.ExecutorID, data, unrec []byte) net.Buffers {
	if slave == nil || fw == nil || ex == nil || slave.Value == nil || fw.Value == nil || ex.Value == nil ||
		data == nil || len(unrec) > 0 || len(slave.XXX_unrecognized)+len(fw.XXX_unrecognized)+len(ex.XXX_unrecognized) > 0 {
		return nil
	}
	return libprocess.FrameworkParts(*slave.Value, *fw.Value, *ex.Value, data)
}

// drain sends q's messages, pipelined on q's connection (libprocess.PipeConn),
// until the queue is empty. Messages of a batch that cannot be sent (the
// peer is unreachable or the connection broke) are dropped and logged.
func (m *driverMessenger) drain(q *msgQueue) {
	defer m.senders.Done()
	self := m.UPID()
	from := self.String()
	for {
		m.qmu.Lock()
		if len(q.msgs) == 0 || m.stopped {
			q.running = false
			m.qmu.Unlock()
			return
		}
		batch := q.msgs
		q.msgs = nil
		pc := q.pc
		m.qmu.Unlock()
		if pc != nil {
			select {
			case <-pc.Failed():
				pc = nil
			default:
			}
		}
		if pc == nil {
			var err error
			if pc, err = libprocess.DialPipe(q.addr, self.Host, &m.senders, "mesosgot: "+m.role+" messenger"); err != nil {
				log.Warningf("mesosgot: %s messenger: %d messages to %s dropped: %v", m.role, len(batch), q.key, err)
				doneAll(batch)
				continue
			}
			m.qmu.Lock()
			q.pc = pc
			if m.stopped {
				pc.Fail()
			}
			m.qmu.Unlock()
		}
		if err := pc.Write(from, batch); err != nil {
			log.Warningf("mesosgot: %s messenger: sending %d messages to %s: %v (connection closed)", m.role, len(batch), q.key, err)
			pc.Fail()
		}
		doneAll(batch) // Write keeps no reference to the messages
	}
}

// relink drops the connection to pid, if any: the next message to pid goes
// on a new one. Messages being written on the old one are dropped (and
// logged), as on any broken connection.
func (m *driverMessenger) relink(pid string) {
	m.qmu.Lock()
	defer m.qmu.Unlock()
	if q := m.queues[pid]; q != nil && q.pc != nil {
		q.pc.Fail()
		q.pc = nil
	}
}

// Route implements messenger.Messenger: a message to this process goes to
// its handler (as mesos-go's messenger does, on a goroutine of its own),
// any other is sent.
func (m *driverMessenger) Route(ctx context.Context, from *upid.UPID, msg proto.Message) error {
	if from == nil {
		return errors.New("mesosgot: messenger: route from no pid")
	}
	if *from != m.UPID() {
		return m.Send(ctx, from, msg)
	}
	name := messageName(msg)
	m.mu.RLock()
	b, ok := m.handlers[name]
	m.mu.RUnlock()
	if !ok {
		return fmt.Errorf("mesosgot: messenger: no handler for %s", name)
	}
	m.policy.routed(msg)
	go b.handler(from, msg)
	return nil
}

// Start implements messenger.Messenger.
func (m *driverMessenger) Start() error {
	pid, errc := m.tr.Start()
	if pid == (upid.UPID{}) {
		return fmt.Errorf("mesosgot: %s messenger: starting the transport: %w", m.role, <-errc)
	}
	m.mu.Lock()
	m.pid = pid
	m.mu.Unlock()
	go m.recvLoop()
	go func() {
		select {
		case err := <-errc:
			if err != nil {
				log.Errorf("mesosgot: %s messenger: transport stopped: %v", m.role, err)
			}
			_ = m.Stop()
		case <-m.stop:
		}
	}()
	return nil
}

// Stop implements messenger.Messenger: unsent messages are dropped (those
// waited for report an error), the transport stops, and Stop waits for the
// senders.
func (m *driverMessenger) Stop() error {
	var err error
	m.stopOnce.Do(func() {
		m.qmu.Lock()
		m.stopped = true
		for _, q := range m.queues {
			if q.pc != nil {
				q.pc.Fail()
			}
		}
		m.qmu.Unlock()
		close(m.stop)
		err = m.tr.Stop(true)
		m.senders.Wait()
		// The receive loop is not waited for: it may be inside a driver
		// handler waiting for the driver's lock, which the driver holds
		// while it stops this messenger. It ends after that handler.
		m.policy.stopped()
		if n := m.refused.Load(); n > 0 {
			log.Infof("mesosgot: %s messenger: refused %d messages in all", m.role, n)
		}
	})
	return err
}

// UPID implements messenger.Messenger.
func (m *driverMessenger) UPID() upid.UPID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pid
}

// refusedCount returns how many messages were refused so far.
func (m *driverMessenger) refusedCount() uint64 { return m.refused.Load() }

// recvLoop checks, decodes and dispatches received messages, one at a
// time, in arrival order.
func (m *driverMessenger) recvLoop() {
	for {
		select {
		case <-m.stop:
			return
		default:
		}
		in, err := m.tr.Recv()
		if err != nil {
			log.Errorf("mesosgot: %s messenger: receive: %v", m.role, err)
			continue
		}
		select {
		case <-m.stop:
			return
		default:
		}
		m.dispatch(in)
	}
}

// dispatch hands one received message to its handler if its sender may send it.
func (m *driverMessenger) dispatch(in *messenger.Message) {
	m.mu.RLock()
	b, ok := m.handlers[in.Name]
	m.mu.RUnlock()
	if !ok {
		return // the transport's inert messages after Stop, or an uninstalled name
	}
	if ok, reason := m.policy.accept(in.UPID, in.Name); !ok {
		m.refuse(in.UPID, in.Name, reason)
		return
	}
	msg := reflect.New(b.typ).Interface().(proto.Message)
	var err error
	switch fm := msg.(type) {
	case *mesos.ExecutorToFrameworkMessage:
		err = decodeFrameworkMessage(in.Bytes, fm) // messenger_decode.go: the data is not copied
	case *mesos.FrameworkToExecutorMessage:
		err = decodeExecutorMessage(in.Bytes, fm)
	default:
		err = proto.Unmarshal(in.Bytes, msg)
	}
	if err != nil {
		m.refuse(in.UPID, in.Name, "undecodable: "+err.Error())
		return
	}
	in.Bytes = nil
	if reason := m.policy.received(in.UPID, msg); reason != "" {
		m.refuse(in.UPID, in.Name, reason)
		return
	}
	b.handler(in.UPID, msg)
}

// refuse counts a refused message and logs it, at most once a second
// (with how many went unlogged).
func (m *driverMessenger) refuse(from *upid.UPID, name, reason string) {
	m.refused.Add(1)
	now := time.Now().UnixNano()
	last := m.lastRefusal.Load()
	if now-last < int64(refusalLogEvery) || !m.lastRefusal.CompareAndSwap(last, now) {
		m.quiet.Add(1)
		return
	}
	more := ""
	if q := m.quiet.Swap(0); q > 0 {
		more = fmt.Sprintf(" (and %d more refused since the last report)", q)
	}
	log.Warningf("mesosgot: %s messenger: refused %s from %s: %s%s", m.role, name, from, reason, more)
}

// pidHost is the host a messenger's pid names, as mesos-go's messenger
// chooses it: the published address, else the bound address, else the
// hostname's IPv4 address.
func pidHost(hostname string, bindIP, published net.IP) (string, error) {
	if published != nil {
		return messenger.UPIDBindingAddress(hostname, published)
	}
	return messenger.UPIDBindingAddress(hostname, bindIP)
}

// executorBindIP is the address an executor's messenger listens on: the
// driver config's, else LIBPROCESS_IP (which agents set), else all.
func executorBindIP(cfg net.IP) net.IP {
	if cfg != nil {
		return cfg
	}
	if ip := net.ParseIP(os.Getenv("LIBPROCESS_IP")); ip != nil {
		return ip
	}
	return nil
}

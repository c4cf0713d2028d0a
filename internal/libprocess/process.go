// Package libprocess is the project's libprocess HTTP transport: the Mesos v0
// wire protocol (one HTTP POST per message, answered 202 Accepted) under
// mesos-go's messenger. localmesos' master and agents run on it.
package libprocess

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// MaxQueuedPerDestination bounds each destination's send queue: a message
// sent while its destination already has this many waiting is dropped,
// with a log line, as libprocess drops messages to a peer it cannot reach.
const MaxQueuedPerDestination = 10000

// Process is one libprocess process (a Mesos master or agent): a messenger
// (handler registry, decoding, dispatch; mesos-go's messenger interface,
// dispatch.go) over a Transport, with
// one bounded send queue and one pipelined connection (PipeConn) per
// destination, so that a peer that stopped answering only delays, and then
// loses, its own messages.
type Process struct {
	msgr *dispatcher
	tr   *Transport
	pid  upid.UPID

	mu     sync.Mutex
	queues map[string]*sendQueue
	closed bool
	wg     sync.WaitGroup
}

type sendQueue struct {
	key, addr string
	msgs      []*Outgoing
	running   bool      // a drain goroutine serves the queue
	pc        *PipeConn // the queue's pipelined connection (pipe.go), nil until the first send
	dropped   int       // messages dropped for the bound
}

// Option configures a process' transport before it starts listening.
type Option func(*Transport)

// WithSecret makes the process share a cluster secret (Transport.SetSecret).
func WithSecret(secret string, send, require []string) Option {
	return func(t *Transport) { t.SetSecret(secret, send, require) }
}

// WithCheckFrom sets whether messages whose sender pid names another host
// than the connection's source are refused (Transport.SetCheckFrom;
// default true).
func WithCheckFrom(on bool) Option {
	return func(t *Transport) { t.SetCheckFrom(on) }
}

// New starts process id on ip:port (0 = any free port) with the
// handlers that install puts on its messenger; routes adds plain HTTP
// endpoints (such as the master's /state).
func New(id string, ip net.IP, port int, routes map[string]http.HandlerFunc, install func(messenger.Messenger) error, opts ...Option) (*Process, error) {
	tr := NewTransport(upid.UPID{ID: id, Host: ip.String(), Port: strconv.Itoa(port)}, ip)
	for _, o := range opts {
		o(tr)
	}
	for path, h := range routes {
		tr.mux.HandleFunc(path, h)
	}
	p := &Process{tr: tr, queues: map[string]*sendQueue{}}
	p.msgr = newDispatcher(p)
	if err := install(p.msgr); err != nil {
		return nil, fmt.Errorf("libprocess: %s: install handlers: %w", id, err)
	}
	if err := p.msgr.Start(); err != nil {
		return nil, fmt.Errorf("libprocess: %s: start messenger: %w", id, err)
	}
	p.pid = p.msgr.UPID()
	return p, nil
}

// PID returns the process' own pid (its port resolved once started).
func (p *Process) PID() upid.UPID { return p.pid }

// Messenger returns the messenger the process runs on.
func (p *Process) Messenger() messenger.Messenger { return p.msgr }

// Transport returns the transport the process runs on.
func (p *Process) Transport() *Transport { return p.tr }

// bodyMessage is a message whose parts are slices of a received Body.
type bodyMessage interface {
	body() *Body
}

// partsMessage is a message that encodes itself in parts written as they
// lie (FrameworkFields.Parts): its data is not copied into one buffer.
type partsMessage interface {
	proto.Message
	Parts() net.Buffers
}

func (p *Process) message(to *upid.UPID, msg proto.Message) (*Outgoing, error) {
	name := "mesos.internal." + reflect.TypeOf(msg).Elem().Name()
	if pm, ok := msg.(partsMessage); ok {
		o := &Outgoing{To: *to, Name: name, Body: pm.Parts()}
		if bm, ok := msg.(bodyMessage); ok {
			if b := bm.body(); b != nil {
				o.src = b.ref() // released once written (Outgoing.Done)
			}
		}
		return o, nil
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("libprocess: %s: marshal %T: %w", p.pid, msg, err)
	}
	return NewOutgoing(*to, name, b), nil
}

// Send queues msg for to; messages to one destination leave in order.
// Messages to a destination that has MaxQueuedPerDestination waiting are
// dropped.
func (p *Process) Send(to *upid.UPID, msg proto.Message) {
	if to == nil {
		return
	}
	m, err := p.message(to, msg)
	if err != nil {
		log.Error(err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	key := m.To.String()
	q := p.queues[key]
	if q == nil {
		q = &sendQueue{key: key, addr: net.JoinHostPort(m.To.Host, m.To.Port)}
		p.queues[key] = q
	}
	if len(q.msgs) >= MaxQueuedPerDestination {
		if q.dropped%1000 == 0 {
			log.Warningf("libprocess: %s: dropping %s to %s: %d messages already queued for it", p.pid, m.Name, key, len(q.msgs))
		}
		q.dropped++
		return
	}
	q.msgs = append(q.msgs, m)
	if !q.running {
		q.running = true
		p.wg.Add(1)
		go p.drain(q)
	}
}

// SendNow sends msg to to at once, bypassing the queue, and returns when the
// peer has accepted it (or ctx ends).
func (p *Process) SendNow(ctx context.Context, to *upid.UPID, msg proto.Message) error {
	m, err := p.message(to, msg)
	if err != nil {
		return err
	}
	b := bytes.Join(m.Body, nil)
	m.Done()
	return p.tr.Send(ctx, &messenger.Message{UPID: &m.To, Name: m.Name, ProtoMessage: msg, Bytes: b})
}

// drain sends q's messages pipelined on q's connection until q is empty
// (pipe.go: one POST after the other without waiting for each answer). A
// peer that cannot be reached loses the batch at hand at once (libprocess
// loses what was queued on a broken socket); the next message sent tries
// afresh.
func (p *Process) drain(q *sendQueue) {
	defer p.wg.Done()
	from := p.pid.String()
	for {
		p.mu.Lock()
		if len(q.msgs) == 0 || p.closed {
			q.running = false
			p.mu.Unlock()
			return
		}
		batch := q.msgs
		q.msgs = nil
		pc := q.pc
		p.mu.Unlock()
		if pc != nil {
			select {
			case <-pc.Failed():
				pc = nil
			default:
			}
		}
		if pc == nil {
			var err error
			if pc, err = DialPipe(q.addr, p.pid.Host, &p.wg, "libprocess: "+p.pid.String()); err != nil {
				log.Warningf("libprocess: %s: %d message(s) to %s dropped: %v", p.pid, len(batch), q.key, err)
				doneAll(batch)
				continue
			}
			pc.Secret = p.tr.secretFor
			p.mu.Lock()
			q.pc = pc
			if p.closed {
				pc.Fail()
			}
			p.mu.Unlock()
		}
		if err := pc.Write(from, batch); err != nil {
			log.Warningf("libprocess: %s: send %d message(s) to %s: %v", p.pid, len(batch), q.key, err)
			pc.Fail()
		}
		doneAll(batch) // Write keeps no reference to the bodies
	}
}

// Relink drops the connection to to, if any, so that the next message to it
// goes on a new one, as libprocess' link(pid, RemoteConnection::RECONNECT)
// does when a peer may have restarted on the same address: messages being
// written on the old connection are lost, as on any broken socket.
func (p *Process) Relink(to *upid.UPID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q := p.queues[to.String()]; q != nil && q.pc != nil {
		q.pc.Fail()
		q.pc = nil
	}
}

// Stop drops unsent messages, stops the messenger and waits for the senders.
// It is safe to call more than once.
func (p *Process) Stop() {
	p.mu.Lock()
	was := p.closed
	p.closed = true
	for _, q := range p.queues {
		if q.pc != nil {
			q.pc.Fail()
		}
	}
	p.mu.Unlock()
	if !was {
		_ = p.msgr.Stop()
	}
	p.wg.Wait()
}

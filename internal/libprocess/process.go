// Package libprocess is the project's libprocess HTTP transport: the Mesos v0
// wire protocol (one HTTP POST per message, answered 202 Accepted) under
// mesos-go's messenger. localmesos' master and agents run on it.
package libprocess

import (
	"context"
	"errors"
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

// Process is one libprocess process (a Mesos master or agent): a mesos-go
// messenger (handler registry, decoding, dispatch) over a Transport, with
// one bounded send queue per destination so that a peer that stopped
// answering only delays, and then loses, its own messages.
type Process struct {
	msgr *messenger.MesosMessenger
	tr   *Transport
	pid  upid.UPID

	mu     sync.Mutex
	queues map[string]*sendQueue
	closed bool
	wg     sync.WaitGroup
}

type sendQueue struct {
	key     string
	msgs    []*messenger.Message
	dropped int // messages dropped since the last log line
}

// Option configures a process' transport before it starts listening.
type Option func(*Transport)

// WithSecret makes the process share a cluster secret (Transport.SetSecret).
func WithSecret(secret string, send, require []string) Option {
	return func(t *Transport) { t.SetSecret(secret, send, require) }
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
	p := &Process{msgr: messenger.New(tr), tr: tr, queues: map[string]*sendQueue{}}
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

// Messenger returns the mesos-go messenger the process runs on.
func (p *Process) Messenger() messenger.Messenger { return p.msgr }

// Transport returns the transport the process runs on.
func (p *Process) Transport() *Transport { return p.tr }

func (p *Process) message(to *upid.UPID, msg proto.Message) (*messenger.Message, error) {
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("libprocess: %s: marshal %T: %w", p.pid, msg, err)
	}
	dst := *to
	return &messenger.Message{UPID: &dst, Name: "mesos.internal." + reflect.TypeOf(msg).Elem().Name(), ProtoMessage: msg, Bytes: b}, nil
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
	key := m.UPID.String()
	q := p.queues[key]
	if q == nil {
		q = &sendQueue{key: key}
		p.queues[key] = q
		p.wg.Add(1)
		go p.drain(q)
	}
	if len(q.msgs) >= MaxQueuedPerDestination {
		if q.dropped%1000 == 0 {
			log.Warningf("libprocess: %s: dropping %s to %s: %d messages already queued for it", p.pid, m.Name, key, len(q.msgs))
		}
		q.dropped++
		return
	}
	q.msgs = append(q.msgs, m)
}

// SendNow sends msg to to at once, bypassing the queue, and returns when the
// peer has accepted it (or ctx ends).
func (p *Process) SendNow(ctx context.Context, to *upid.UPID, msg proto.Message) error {
	m, err := p.message(to, msg)
	if err != nil {
		return err
	}
	return p.tr.Send(ctx, m)
}

// drain sends q's messages one at a time. When a send fails the peer is
// taken as gone: the messages queued behind it are dropped (libprocess
// loses what was queued on a broken socket) rather than each waiting out
// its own timeout, and the next message sent starts afresh.
func (p *Process) drain(q *sendQueue) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(q.msgs) == 0 || p.closed {
			delete(p.queues, q.key)
			p.mu.Unlock()
			return
		}
		m := q.msgs[0]
		q.msgs[0] = nil
		q.msgs = q.msgs[1:]
		p.mu.Unlock()
		if err := p.tr.Send(context.Background(), m); err != nil {
			var se *StatusError
			if errors.As(err, &se) {
				// The peer is there and refused this one message.
				log.Warningf("libprocess: %s: send %s to %s: %v", p.pid, m.Name, m.UPID, err)
				continue
			}
			p.mu.Lock()
			n := len(q.msgs)
			q.msgs = nil
			p.mu.Unlock()
			if n > 0 {
				log.Warningf("libprocess: %s: send %s to %s: %v; dropping %d more queued for it", p.pid, m.Name, m.UPID, err, n)
			} else {
				log.V(1).Infof("libprocess: %s: send %s to %s: %v", p.pid, m.Name, m.UPID, err)
			}
		}
	}
}

// Stop drops unsent messages, stops the messenger and waits for the senders.
// It is safe to call more than once.
func (p *Process) Stop() {
	p.mu.Lock()
	was := p.closed
	p.closed = true
	p.mu.Unlock()
	if !was {
		_ = p.msgr.Stop()
	}
	p.wg.Wait()
}

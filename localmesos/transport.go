package localmesos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// libprocess is one libprocess process of the cluster (the master or an
// agent). mesos-go's messenger and HTTP transporter receive messages and
// dispatch them to the installed handlers. Messages go out as libprocess
// POSTs from one queue per destination, with a cancellable request: the
// messenger's own Send uses one queue for all peers, and its transporter
// cancels requests with http.Transport.CancelRequest, which no longer works,
// so a single peer that stopped answering (a stopped mesos-go driver keeps
// its kept-alive connections open and never replies) would hold up every
// message, and Close, for the 10 s HTTP timeout.
type libprocess struct {
	msgr   *messenger.MesosMessenger
	pid    upid.UPID
	client *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	queues map[string]*sendQueue
	closed bool
	wg     sync.WaitGroup
}

type sendQueue struct {
	key  string
	msgs []*messenger.Message
}

// newLibprocess starts process id on ip (any free port) with the handlers
// that install puts on its messenger.
func newLibprocess(id string, ip net.IP, install func(messenger.Messenger) error) (*libprocess, error) {
	tr := messenger.NewHTTPTransporter(upid.UPID{ID: id, Host: ip.String(), Port: "0"}, ip)
	p := &libprocess{
		msgr: messenger.New(stopSafeTransport{tr}),
		client: &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 5 * time.Second,
		}},
		queues: map[string]*sendQueue{},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if err := install(p.msgr); err != nil {
		return nil, fmt.Errorf("localmesos: %s: install handlers: %w", id, err)
	}
	if err := p.msgr.Start(); err != nil {
		return nil, fmt.Errorf("localmesos: %s: start messenger: %w", id, err)
	}
	p.pid = p.msgr.UPID()
	return p, nil
}

// send queues msg for to; messages to one destination leave in order.
func (p *libprocess) send(to *upid.UPID, msg proto.Message) {
	if to == nil {
		return
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		log.Errorf("localmesos: %s: marshal %T: %v", p.pid, msg, err)
		return
	}
	dst := *to
	m := &messenger.Message{UPID: &dst, Name: "mesos.internal." + reflect.TypeOf(msg).Elem().Name(), ProtoMessage: msg, Bytes: b}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	key := dst.String()
	q := p.queues[key]
	if q == nil {
		q = &sendQueue{key: key}
		p.queues[key] = q
		p.wg.Add(1)
		go p.drain(q)
	}
	q.msgs = append(q.msgs, m)
}

func (p *libprocess) drain(q *sendQueue) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(q.msgs) == 0 || p.closed {
			delete(p.queues, q.key)
			p.mu.Unlock()
			return
		}
		m := q.msgs[0]
		q.msgs = q.msgs[1:]
		p.mu.Unlock()
		if err := p.post(m); err != nil {
			log.V(1).Infof("localmesos: %s: send %s to %s: %v", p.pid, m.Name, m.UPID, err)
		}
	}
}

// post delivers one message the libprocess way: a POST to
// /<process id>/<message name> with the sender in Libprocess-From, answered
// 202 Accepted.
func (p *libprocess) post(m *messenger.Message) error {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(m.UPID.Host, m.UPID.Port) + "/" + m.UPID.ID + "/" + m.Name
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(m.Bytes))
	if err != nil {
		return err
	}
	req.Header.Set("Libprocess-From", p.pid.String())
	req.Header.Set("Content-Type", "application/x-protobuf")
	// mesos-go's receiver keeps the connection open only when asked to.
	req.Header.Set("Connection", "Keep-Alive")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", m.UPID, resp.Status)
	}
	return nil
}

// stop drops unsent messages, stops the messenger and waits for the senders.
func (p *libprocess) stop() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	_ = p.msgr.Stop()
	p.wg.Wait()
	p.client.CloseIdleConnections()
}

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

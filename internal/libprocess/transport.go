// Package libprocess is the project's libprocess HTTP transport: the Mesos v0
// wire protocol (one HTTP POST per message, answered 202 Accepted) under
// mesos-go's messenger. localmesos' master and agents run on it.
package libprocess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// Process is one libprocess process (a Mesos master or agent): a mesos-go
// messenger (handler registry, decoding, dispatch) over
// a Transport, with one send queue per destination so that a peer that
// stopped answering only delays its own messages.
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
	key  string
	msgs []*messenger.Message
}

// New starts process id on ip:port (0 = any free port) with the
// handlers that install puts on its messenger; routes adds plain HTTP
// endpoints (such as the master's /state).
func New(id string, ip net.IP, port int, routes map[string]http.HandlerFunc, install func(messenger.Messenger) error) (*Process, error) {
	tr := NewTransport(upid.UPID{ID: id, Host: ip.String(), Port: strconv.Itoa(port)}, ip)
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

// Send queues msg for to; messages to one destination leave in order.
func (p *Process) Send(to *upid.UPID, msg proto.Message) {
	if to == nil {
		return
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		log.Errorf("libprocess: %s: marshal %T: %v", p.pid, msg, err)
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
		q.msgs = q.msgs[1:]
		p.mu.Unlock()
		if err := p.tr.Send(context.Background(), m); err != nil {
			log.V(1).Infof("libprocess: %s: send %s to %s: %v", p.pid, m.Name, m.UPID, err)
		}
	}
}

// Stop drops unsent messages, stops the messenger and waits for the senders.
func (p *Process) Stop() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.msgr.Stop()
	p.wg.Wait()
}

// Transport implements mesos-go's messenger.Transporter: libprocess
// messages are HTTP POSTs to /<process id>/<message name> with the sender's
// pid in Libprocess-From (or, from old peers, User-Agent: libprocess/<pid>),
// answered 202 Accepted.
//
// It stands in for mesos-go's HTTPTransporter, which takes the process down
// or stalls it when a peer races with Stop: its messenger's receive loop
// panics on the transporter's "terminated" error, its connection hijack
// panics when a request arrives during Stop, and its request cancellation
// (http.Transport.CancelRequest) no longer works, so a send to a stopped
// peer's kept-alive connection blocks for the 10 s timeout.
type Transport struct {
	ip     net.IP
	mux    *http.ServeMux
	client *http.Client
	in     chan *messenger.Message
	quit   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.RWMutex
	pid       upid.UPID
	installed map[string]bool
	ln        net.Listener
	srv       *http.Server
	stopped   bool
}

// NewTransport returns a stopped transport for process pid that listens on
// ip (pid.Port "0" picks a free port when started).
func NewTransport(pid upid.UPID, ip net.IP) *Transport {
	t := &Transport{
		ip:  ip,
		mux: http.NewServeMux(),
		client: &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 5 * time.Second,
		}},
		in:        make(chan *messenger.Message, 1024),
		quit:      make(chan struct{}),
		pid:       pid,
		installed: map[string]bool{},
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mux.HandleFunc("/", t.serveMessage)
	return t
}

// Install implements messenger.Transporter.
func (t *Transport) Install(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.installed[name] = true
}

// UPID implements messenger.Transporter.
func (t *Transport) UPID() upid.UPID {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.pid
}

// Start implements messenger.Transporter.
func (t *Transport) Start() (upid.UPID, <-chan error) {
	errc := make(chan error, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	ln, err := net.Listen("tcp4", net.JoinHostPort(t.ip.String(), t.pid.Port))
	if err != nil {
		errc <- err
		return upid.UPID{}, errc
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	t.pid.Port = port
	t.ln = ln
	t.srv = &http.Server{Handler: t.mux, ReadHeaderTimeout: 10 * time.Second}
	srv := t.srv
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	return t.pid, errc
}

// Stop implements messenger.Transporter.
func (t *Transport) Stop(bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return nil
	}
	t.stopped = true
	close(t.quit)
	t.cancel()
	t.client.CloseIdleConnections()
	if t.srv != nil {
		return t.srv.Close()
	}
	return nil
}

// Recv implements messenger.Transporter. Once stopped it returns inert
// messages (bound to no handler) until the messenger's receive loop notices
// the stop: any error would make that loop panic.
func (t *Transport) Recv() (*messenger.Message, error) {
	select {
	case m := <-t.in:
		return m, nil
	case <-t.quit:
		time.Sleep(time.Millisecond)
		self := t.UPID()
		return &messenger.Message{UPID: &self, Name: "libprocess.stopped"}, nil
	}
}

// Send implements messenger.Transporter: one libprocess POST.
func (t *Transport) Send(ctx context.Context, m *messenger.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()
	url := "http://" + net.JoinHostPort(m.UPID.Host, m.UPID.Port) + m.RequestURI()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(m.Bytes))
	if err != nil {
		return err
	}
	req.Header.Set("Libprocess-From", t.UPID().String())
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Connection", "Keep-Alive") // mesos-go peers close the connection otherwise
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s to %s", m.UPID, resp.Status, m.Name)
	}
	return nil
}

// serveMessage receives one libprocess message.
func (t *Transport) serveMessage(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	t.mu.RLock()
	ok := len(parts) == 2 && parts[0] == t.pid.ID && t.installed[parts[1]]
	t.mu.RUnlock()
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	from := r.Header.Get("Libprocess-From")
	if ua := r.Header.Get("User-Agent"); strings.HasPrefix(ua, "libprocess/") {
		from = strings.TrimPrefix(ua, "libprocess/")
	}
	pid, err := upid.Parse(from)
	if err != nil {
		http.Error(w, "not a libprocess message", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case t.in <- &messenger.Message{UPID: pid, Name: parts[1], Bytes: body}:
		w.WriteHeader(http.StatusAccepted)
	case <-t.quit:
		http.Error(w, "stopped", http.StatusServiceUnavailable)
	}
}

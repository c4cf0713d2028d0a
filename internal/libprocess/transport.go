package libprocess

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

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
//
// What it accepts is bounded: a message body over MaxMessageBytes is
// refused with 413 Request Entity Too Large without being read, and a
// message whose sender pid names another host than the connection comes
// from is refused with 403 (SetCheckFrom(false) allows it, for peers
// behind NAT that advertise an address of their own).
type Transport struct {
	ip     net.IP
	mux    *http.ServeMux
	client *http.Client
	in     chan inMessage
	quit   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.RWMutex
	pid       upid.UPID
	installed map[string]bool
	ln        net.Listener
	srv       *http.Server
	stopped   bool
	pol       policy
	secretOut map[string]bool // message names sent with the secret
}

// Timeouts of one send: connecting, and the whole exchange.
const (
	DialTimeout = 3 * time.Second
	SendTimeout = 5 * time.Second
)

// NewTransport returns a stopped transport for process pid that listens on
// ip (pid.Port "0" picks a free port when started).
func NewTransport(pid upid.UPID, ip net.IP) *Transport {
	t := &Transport{
		ip:  ip,
		mux: http.NewServeMux(),
		client: &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: SendTimeout,
		}},
		in:        make(chan inMessage, 1024),
		quit:      make(chan struct{}),
		pid:       pid,
		installed: map[string]bool{},
		pol:       policy{checkFrom: true},
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mux.HandleFunc("/", t.serveMessage)
	return t
}

// SetCheckFrom sets whether a message is refused when its Libprocess-From
// host is not the address the connection comes from (default true).
func (t *Transport) SetCheckFrom(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pol.checkFrom = on
}

// SetSecret makes the transport share a cluster secret: messages it sends
// whose names are in send carry it (in SecretHeader), and messages it
// receives whose names are in require are refused with 401 unless they
// carry it. An empty secret turns both off.
func (t *Transport) SetSecret(secret string, send, require []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pol.secret, t.pol.secretFor, t.secretOut = "", nil, nil
	if secret == "" {
		return
	}
	t.pol.secret = secret
	t.pol.secretFor, t.secretOut = map[string]bool{}, map[string]bool{}
	for _, n := range require {
		t.pol.secretFor[n] = true
	}
	for _, n := range send {
		t.secretOut[n] = true
	}
}

// inMessage is a received message and its body.
type inMessage struct {
	m    *messenger.Message
	body *Body
}

// setPooled makes the bodies of messages named name be read into pooled
// buffers (Body), which the receiver hands back (Process does).
func (t *Transport) setPooled(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pooled := map[string]bool{name: true} // copied: requests being served read the old map
	for n := range t.pol.pooled {
		pooled[n] = true
	}
	t.pol.pooled = pooled
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
	t.srv = &http.Server{Handler: t.mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
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
	case in := <-t.in:
		return in.m, nil
	case <-t.quit:
		time.Sleep(time.Millisecond)
		self := t.UPID()
		return &messenger.Message{UPID: &self, Name: "libprocess.stopped"}, nil
	}
}

// recvBody returns the next message and its body (one reference, the
// caller's), or false once the transport stopped.
func (t *Transport) recvBody() (*messenger.Message, *Body, bool) {
	select {
	case in := <-t.in:
		return in.m, in.body, true
	case <-t.quit:
		return nil, nil, false
	}
}

// Send implements messenger.Transporter: one libprocess POST. A send on a
// kept-alive connection that the peer had closed is made once more on a
// new one.
func (t *Transport) Send(ctx context.Context, m *messenger.Message) error {
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()
	for attempt := 0; ; attempt++ {
		reused, err := t.post(ctx, m)
		if err == nil || !reused || attempt > 0 || ctx.Err() != nil {
			return err
		}
		var se *StatusError
		if errors.As(err, &se) {
			return err
		}
	}
}

// post makes one POST of m and reports whether it went on a reused
// connection.
func (t *Transport) post(ctx context.Context, m *messenger.Message) (reused bool, err error) {
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	url := "http://" + net.JoinHostPort(m.UPID.Host, m.UPID.Port) + m.RequestURI()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, bytes.NewReader(m.Bytes))
	if err != nil {
		return false, err
	}
	t.mu.RLock()
	from, secret := t.pid.String(), ""
	if t.secretOut[m.Name] {
		secret = t.pol.secret
	}
	t.mu.RUnlock()
	req.Header.Set("Libprocess-From", from)
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Connection", "Keep-Alive") // mesos-go peers close the connection otherwise
	resp, err := t.client.Do(req)
	if err != nil {
		return reused, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return reused, &StatusError{Peer: m.UPID.String(), Message: m.Name, Status: resp.Status}
	}
	return reused, nil
}

// StatusError is a peer's refusal of one message: it answered, with a
// status other than 202 Accepted.
type StatusError struct {
	Peer, Message, Status string
}

// Error describes the refusal.
func (e *StatusError) Error() string {
	return e.Peer + " answered " + e.Status + " to " + e.Message
}

// serveMessage receives one libprocess message.
func (t *Transport) serveMessage(w http.ResponseWriter, r *http.Request) {
	t.mu.RLock()
	self, pol := t.pid, t.pol
	t.mu.RUnlock()
	m, body, status, err := parseRequestBody(r, self, t.isInstalled, pol)
	if err != nil {
		if status != http.StatusNotFound {
			log.Warningf("libprocess: %s: refusing %s %s from %s (Libprocess-From %q): %v",
				self, r.Method, r.URL.Path, r.RemoteAddr, r.Header.Get("Libprocess-From"), err)
		}
		http.Error(w, err.Error(), status)
		return
	}
	select {
	case t.in <- inMessage{m, body}:
		w.WriteHeader(http.StatusAccepted)
	case <-t.quit:
		http.Error(w, "stopped", http.StatusServiceUnavailable)
	case <-r.Context().Done():
	}
}

// secretFor returns the secret to send with a message named name, or "".
func (t *Transport) secretFor(name string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.secretOut[name] {
		return t.pol.secret
	}
	return ""
}

func (t *Transport) isInstalled(name string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.installed[name]
}

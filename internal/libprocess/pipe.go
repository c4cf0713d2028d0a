package libprocess

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// PipeConn is a pipelined HTTP/1.1 connection to one libprocess peer, as
// libprocess itself keeps one: messages are written as POSTs back to back
// without waiting for each 202 Accepted, and a reader takes the answers in
// order. A sequential POST loop (mesos-go's messenger, Go's http.Client)
// pays a round trip per message, which caps a scheduler at a few thousand
// messages per second to its master (status acknowledgements, kills) and
// leaves the link idle between large messages. At most pipeDepth requests
// are unanswered; a peer that does not answer within pipeAnswerTimeout, or
// a broken connection, closes it, losing what was unanswered (libprocess
// messages are best effort; the drivers and mesosgot's links retry).
type PipeConn struct {
	// Secret, when set before the first Write, returns the cluster secret
	// to send with a message of the given name, or "" (Transport.SetSecret).
	Secret func(name string) string

	conn   net.Conn
	buf    []byte        // request heads and small bodies not yet written
	mark   int           // buf[:mark] is already in iov
	iov    net.Buffers   // what the next write writes, in order
	sent   chan string   // names of requests written and not yet answered
	failed chan struct{} // closed when the connection broke
	once   sync.Once
}

const (
	// pipeDepth is the most unanswered requests on one connection.
	pipeDepth = 256
	// pipeAnswerTimeout bounds the wait for the answer to a request.
	pipeAnswerTimeout = 10 * time.Second
	// pipeWriteTimeout bounds one write of requests.
	pipeWriteTimeout = 10 * time.Second
	// pipeDialTimeout bounds connecting to a peer.
	pipeDialTimeout = 5 * time.Second
)

// DialPipe connects to addr from the address of the sender's pid (so that
// the peer sees the connection come from the host the pid names) and starts
// the connection's answer reader, counted in wg.
func DialPipe(addr, fromHost string, wg *sync.WaitGroup, role string) (*PipeConn, error) {
	d := net.Dialer{Timeout: pipeDialTimeout}
	if ip := net.ParseIP(fromHost); ip != nil && !ip.IsUnspecified() {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	conn, err := d.Dial("tcp", addr)
	var opErr *net.OpError
	if err != nil && d.LocalAddr != nil && errors.As(err, &opErr) && opErr.Op == "dial" && isBindError(err) {
		// the pid names an address this host cannot send from (a published address)
		d.LocalAddr = nil
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	p := &PipeConn{conn: conn, buf: make([]byte, 0, writeChunk+4<<10), sent: make(chan string, pipeDepth), failed: make(chan struct{})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.readAnswers(role, addr)
	}()
	return p, nil
}

// isBindError reports whether err is the local address being unusable.
func isBindError(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EINVAL)
}

// Fail closes the connection once; unanswered requests are lost.
func (p *PipeConn) Fail() {
	p.once.Do(func() {
		close(p.failed)
		_ = p.conn.Close()
	})
}

// readAnswers reads one answer per request written, in order.
func (p *PipeConn) readAnswers(role, addr string) {
	br := bufio.NewReader(p.conn)
	for {
		var name string
		select {
		case name = <-p.sent:
		case <-p.failed:
			return
		}
		_ = p.conn.SetReadDeadline(time.Now().Add(pipeAnswerTimeout))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			select {
			case <-p.failed:
			default:
				log.Warningf("%s: no answer from %s to %s: %v (connection closed)", role, addr, name, err)
			}
			p.Fail()
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
			log.Warningf("%s: %s answered %s to %s", role, addr, resp.Status, name)
		}
	}
}

// Failed is closed once the connection broke or was closed.
func (p *PipeConn) Failed() <-chan struct{} { return p.failed }

// Outgoing is one message to send: a POST named Name to the process To,
// whose body is Body's parts in order. The parts must not change until the
// message is written.
type Outgoing struct {
	// To is the destination process.
	To upid.UPID
	// Name is the message name (the last element of the request path).
	Name string
	// Body is the message body, in parts (written without joining them).
	Body net.Buffers

	// Release, when set, is called by Done: the parts' memory may then be
	// reused.
	Release func()

	src *Body // the received body Body's parts are slices of, if any
}

// Done releases what m refers to, once m is written or dropped (the
// senders call it); m must not be written after.
func (m *Outgoing) Done() {
	if m.src != nil {
		m.src.unref()
		m.src = nil
	}
	if m.Release != nil {
		m.Release()
		m.Release = nil
	}
	m.Body = nil
}

// doneAll calls Done on each message of msgs.
func doneAll(msgs []*Outgoing) {
	for _, m := range msgs {
		m.Done()
	}
}

// NewOutgoing returns the message named name to to of body b.
func NewOutgoing(to upid.UPID, name string, b []byte) *Outgoing {
	return &Outgoing{To: to, Name: name, Body: net.Buffers{b}}
}

// bodyLen is the length of m's body.
func (m *Outgoing) bodyLen() int {
	n := 0
	for _, b := range m.Body {
		n += len(b)
	}
	return n
}

const (
	// directPart is the size from which a body part is handed to the
	// kernel where it lies (writev) instead of being copied into the
	// connection's write buffer.
	directPart = 16 << 10
	// writeChunk is how much the write buffer collects before a write.
	writeChunk = 64 << 10
	// maxIovecs bounds the parts of one write.
	maxIovecs = 256
)

// Write writes msgs as POSTs from pid from, pipelined: request heads and
// small bodies are collected in the connection's buffer, large body parts
// are written from where they lie, both with one writev per batch of up to
// writeChunk buffered bytes.
func (p *PipeConn) Write(from string, msgs []*Outgoing) error {
	_ = p.conn.SetWriteDeadline(time.Now().Add(pipeWriteTimeout))
	for _, m := range msgs {
		select {
		case p.sent <- m.Name:
		default:
			// pipeDepth unanswered: let the peer see what is written, then wait.
			if err := p.flush(); err != nil {
				return err
			}
			select {
			case p.sent <- m.Name:
			case <-p.failed:
				return errors.New("connection closed")
			}
			_ = p.conn.SetWriteDeadline(time.Now().Add(pipeWriteTimeout))
		}
		secret := ""
		if p.Secret != nil {
			if s := p.Secret(m.Name); s != "" {
				secret = SecretHeader + ": " + s + "\r\n"
			}
		}
		b := p.buf
		b = append(b, "POST /"...)
		b = append(b, m.To.ID...)
		b = append(b, '/')
		b = append(b, m.Name...)
		b = append(b, " HTTP/1.1\r\nHost: "...)
		b = append(b, net.JoinHostPort(m.To.Host, m.To.Port)...)
		b = append(b, "\r\nLibprocess-From: "...)
		b = append(b, from...)
		b = append(b, "\r\n"...)
		b = append(b, secret...)
		b = append(b, "Content-Type: application/x-protobuf\r\nConnection: Keep-Alive\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(m.bodyLen()), 10)
		b = append(b, "\r\n\r\n"...)
		for _, part := range m.Body {
			if len(part) < directPart {
				b = append(b, part...)
				continue
			}
			if len(b) > p.mark {
				p.iov = append(p.iov, b[p.mark:])
			}
			p.iov = append(p.iov, part)
			p.mark = len(b)
		}
		p.buf = b
		if len(p.buf) >= writeChunk || len(p.iov) >= maxIovecs {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	return p.flush()
}

// flush writes what Write collected, with one writev.
func (p *PipeConn) flush() error {
	if len(p.buf) > p.mark {
		p.iov = append(p.iov, p.buf[p.mark:])
	}
	var err error
	if len(p.iov) > 0 {
		bufs := p.iov // WriteTo consumes its receiver
		_, err = bufs.WriteTo(p.conn)
	}
	clear(p.iov) // drop the references to the written bodies
	p.iov, p.mark = p.iov[:0], 0
	if cap(p.buf) > 2*writeChunk {
		p.buf = nil // a large head or body once: do not keep its buffer
	}
	p.buf = p.buf[:0]
	return err
}

package libprocess

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// MaxMessageBytes bounds a message body: Mesos' 16 MiB message limit plus
// room for framing. A larger body is refused with 413 without being read.
const MaxMessageBytes = 17 << 20

// SecretHeader carries a cluster's shared secret on the messages that
// require it (see Transport.SetSecret).
const SecretHeader = "Mesosgot-Cluster-Secret"

// policy is what a transport demands of incoming messages.
type policy struct {
	checkFrom bool            // the sender pid's host must be the connection's source
	secret    string          // the cluster secret, if any
	secretFor map[string]bool // message names that must carry it
	pooled    map[string]bool // message names whose bodies are read into pooled buffers (Body)
}

// parseRequest checks one incoming HTTP request against the libprocess
// message form and returns the message, or the HTTP status to refuse it
// with and why. The request must be a POST to /<self.ID>/<name> of an
// installed message name, carry its sender's pid in Libprocess-From (or
// User-Agent: libprocess/<pid>) and have a body of at most MaxMessageBytes.
// With pol.checkFrom, the pid's host must be the address the connection
// comes from; messages named in pol.secretFor must carry pol.secret.
func parseRequest(r *http.Request, self upid.UPID, installed func(string) bool, pol policy) (*messenger.Message, int, error) {
	m, _, status, err := parseRequestBody(r, self, installed, pol)
	return m, status, err
}

// parseRequestBody is parseRequest that also returns the body as a Body:
// in a pooled buffer for the names in pol.pooled.
func parseRequestBody(r *http.Request, self upid.UPID, installed func(string) bool, pol policy) (*messenger.Message, *Body, int, error) {
	id, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || id != self.ID || name == "" || !installed(name) {
		return nil, nil, http.StatusNotFound, fmt.Errorf("no process %q or no handler for %q", id, name)
	}
	if r.Method != http.MethodPost {
		return nil, nil, http.StatusMethodNotAllowed, fmt.Errorf("method %s, want POST", r.Method)
	}
	from := r.Header.Get("Libprocess-From")
	if ua := r.Header.Get("User-Agent"); strings.HasPrefix(ua, "libprocess/") {
		from = strings.TrimPrefix(ua, "libprocess/")
	}
	pid, err := upid.Parse(from)
	if err != nil || pid.ID == "" || pid.Host == "" || pid.Port == "" {
		return nil, nil, http.StatusBadRequest, fmt.Errorf("not a libprocess message: sender pid %q", from)
	}
	if pol.checkFrom {
		if err := sameHost(pid.Host, r.RemoteAddr); err != nil {
			return nil, nil, http.StatusForbidden, err
		}
	}
	if pol.secretFor[name] {
		got := r.Header.Get(SecretHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(pol.secret)) != 1 {
			return nil, nil, http.StatusUnauthorized, fmt.Errorf("%s without the cluster secret", name)
		}
	}
	if r.ContentLength > MaxMessageBytes {
		return nil, nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body of %d bytes exceeds the %d byte limit", r.ContentLength, MaxMessageBytes)
	}
	body, err := readBody(r, MaxMessageBytes+1, pol.pooled[name]) // body.go
	if err != nil {
		return nil, nil, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err)
	}
	if len(body.buf) > MaxMessageBytes {
		return nil, nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body exceeds the %d byte limit", MaxMessageBytes)
	}
	return &messenger.Message{UPID: pid, Name: name, Bytes: body.buf}, body, 0, nil
}

// sameHost checks that a sender pid's host is the connection's source
// address.
func sameHost(pidHost, remoteAddr string) error {
	src, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return fmt.Errorf("connection address %q: %w", remoteAddr, err)
	}
	srcIP := net.ParseIP(src)
	if srcIP == nil {
		return fmt.Errorf("connection address %q is not an IP", remoteAddr)
	}
	if ip := net.ParseIP(pidHost); ip != nil {
		if ip.Equal(srcIP) {
			return nil
		}
		return fmt.Errorf("sender pid host %s is not the connection's source %s", pidHost, src)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", pidHost)
	if err != nil {
		return fmt.Errorf("sender pid host %s: %w", pidHost, err)
	}
	for _, ip := range ips {
		if ip.Equal(srcIP) {
			return nil
		}
	}
	return errors.New("sender pid host " + pidHost + " does not resolve to the connection's source " + src)
}

package libprocess

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mesos/mesos-go/api/v0/upid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var self = upid.UPID{ID: "master", Host: "127.0.0.1", Port: "5050"}

func installedOnly(names ...string) func(string) bool {
	return func(n string) bool {
		for _, x := range names {
			if x == n {
				return true
			}
		}
		return false
	}
}

// endless is a body that never ends, to show a refused body is not read.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	e.read += len(p)
	return len(p), nil
}

func TestParseRequest(t *testing.T) {
	const msg = "mesos.internal.PingSlaveMessage"
	const secretMsg = "mesos.internal.RunTaskMessage"
	type req struct {
		method, path, from, ua, remote, secret string
		body                                   io.Reader
		length                                 int64 // -1: unknown (chunked)
	}
	ok := req{method: "POST", path: "/master/" + msg, from: "slave(1)@127.0.0.1:5051", remote: "127.0.0.1:40000", body: strings.NewReader("x")}
	with := func(f func(*req)) req { r := ok; f(&r); return r }
	tests := []struct {
		name      string
		req       req
		checkFrom bool
		status    int // 0: accepted
		wantFrom  string
		wantName  string // default msg
	}{
		{name: "accepted", req: ok, checkFrom: true, wantFrom: "slave(1)@127.0.0.1:5051"},
		{name: "user agent form", req: with(func(r *req) { r.from, r.ua = "", "libprocess/scheduler(1)@127.0.0.1:6000" }), checkFrom: true, wantFrom: "scheduler(1)@127.0.0.1:6000"},
		{name: "other process", req: with(func(r *req) { r.path = "/slave(1)/" + msg }), status: http.StatusNotFound},
		{name: "not installed", req: with(func(r *req) { r.path = "/master/mesos.internal.Nope" }), status: http.StatusNotFound},
		{name: "no message name", req: with(func(r *req) { r.path = "/master/" }), status: http.StatusNotFound},
		{name: "root", req: with(func(r *req) { r.path = "/" }), status: http.StatusNotFound},
		{name: "GET", req: with(func(r *req) { r.method = "GET" }), status: http.StatusMethodNotAllowed},
		{name: "no sender", req: with(func(r *req) { r.from = "" }), status: http.StatusBadRequest},
		{name: "bad sender", req: with(func(r *req) { r.from = "nonsense" }), status: http.StatusBadRequest},
		{name: "sender without id", req: with(func(r *req) { r.from = "@127.0.0.1:1" }), status: http.StatusBadRequest},
		{name: "spoofed host", req: with(func(r *req) { r.remote = "10.1.2.3:4000" }), checkFrom: true, status: http.StatusForbidden},
		{name: "spoofed host allowed when unchecked", req: with(func(r *req) { r.remote = "10.1.2.3:4000" }), wantFrom: "slave(1)@127.0.0.1:5051"},
		{name: "declared too large", req: with(func(r *req) { r.body, r.length = &endless{}, MaxMessageBytes+1 }), status: http.StatusRequestEntityTooLarge},
		{name: "chunked too large", req: with(func(r *req) { r.body, r.length = io.LimitReader(&endless{}, MaxMessageBytes+10), -1 }), status: http.StatusRequestEntityTooLarge},
		{name: "at the limit", req: with(func(r *req) { r.body = bytes.NewReader(make([]byte, MaxMessageBytes)) }), wantFrom: "slave(1)@127.0.0.1:5051"},
		{name: "empty body", req: with(func(r *req) { r.body = strings.NewReader("") }), wantFrom: "slave(1)@127.0.0.1:5051"},
		{name: "secret", req: with(func(r *req) { r.path, r.secret = "/master/"+secretMsg, "s3" }), wantFrom: "slave(1)@127.0.0.1:5051", wantName: secretMsg},
		{name: "no secret", req: with(func(r *req) { r.path = "/master/" + secretMsg }), status: http.StatusUnauthorized},
		{name: "wrong secret", req: with(func(r *req) { r.path, r.secret = "/master/"+secretMsg, "s4" }), status: http.StatusUnauthorized},
		{name: "secret not needed", req: with(func(r *req) { r.secret = "whatever" }), wantFrom: "slave(1)@127.0.0.1:5051"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.req.method, tc.req.path, tc.req.body)
			if tc.req.length != 0 {
				r.ContentLength = tc.req.length
			}
			if tc.req.from != "" {
				r.Header.Set("Libprocess-From", tc.req.from)
			}
			if tc.req.ua != "" {
				r.Header.Set("User-Agent", tc.req.ua)
			}
			if tc.req.secret != "" {
				r.Header.Set(SecretHeader, tc.req.secret)
			}
			r.RemoteAddr = tc.req.remote
			m, status, err := parseRequest(r, self, installedOnly(msg, secretMsg), policy{checkFrom: tc.checkFrom, secret: "s3", secretFor: map[string]bool{secretMsg: true}})
			if tc.status != 0 {
				require.Error(t, err)
				assert.Equal(t, tc.status, status)
				assert.Nil(t, m)
				return
			}
			require.NoError(t, err)
			want := msg
			if tc.wantName != "" {
				want = tc.wantName
			}
			assert.Equal(t, want, m.Name)
			assert.Equal(t, tc.wantFrom, m.UPID.String())
		})
	}
}

func TestParseRequestDoesNotReadRefusedBody(t *testing.T) {
	body := &endless{}
	r := httptest.NewRequest("POST", "/master/m", body)
	r.ContentLength = 1 << 40
	r.Header.Set("Libprocess-From", "slave(1)@127.0.0.1:5051")
	r.RemoteAddr = "127.0.0.1:1"
	_, status, err := parseRequest(r, self, installedOnly("m"), policy{checkFrom: true})
	require.Error(t, err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Zero(t, body.read)
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		host, remote string
		ok           bool
	}{
		{"127.0.0.1", "127.0.0.1:1", true},
		{"127.0.0.1", "127.0.0.2:1", false},
		{"localhost", "127.0.0.1:1", true},
		{"10.0.0.1", "[::1]:1", false},
		{"127.0.0.1", "garbage", false},
		{"127.0.0.1", "host:1", false},
	} {
		err := sameHost(tc.host, tc.remote)
		assert.Equal(t, tc.ok, err == nil, "%s from %s: %v", tc.host, tc.remote, err)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add("POST", "/master/m", "slave(1)@127.0.0.1:5051", "", "127.0.0.1:1", []byte("x"), true, "")
	f.Add("POST", "/master/s", "slave(1)@127.0.0.1:5051", "", "127.0.0.1:1", []byte("x"), true, "right")
	f.Add("POST", "/master/s", "slave(1)@127.0.0.1:5051", "", "127.0.0.1:1", []byte("x"), false, "righ")
	f.Add("GET", "/", "", "libprocess/a@b:c", "1.2.3.4:5", []byte{}, false, "")
	f.Add("POST", "/master//m", "@:", "libprocess/", "[::1]:80", []byte{0, 1}, true, "x")
	f.Fuzz(func(t *testing.T, method, path, from, ua, remote string, body []byte, check bool, secret string) {
		r, err := http.NewRequest(method, "http://127.0.0.1:5050/", bytes.NewReader(body))
		if err != nil {
			return
		}
		r.URL.Path = path
		r.Header.Set("Libprocess-From", from)
		r.Header.Set("User-Agent", ua)
		r.RemoteAddr = remote
		r.Header.Set(SecretHeader, secret)
		m, status, err := parseRequest(r, self, installedOnly("m", "s"), policy{checkFrom: check, secret: "right", secretFor: map[string]bool{"s": true}})
		if err != nil {
			if m != nil || status < 400 || status > 499 {
				t.Fatalf("refusal with message %v, status %d", m, status)
			}
			return
		}
		if m == nil || m.UPID == nil || (m.Name != "m" && m.Name != "s") || !bytes.Equal(m.Bytes, body) {
			t.Fatalf("accepted a malformed message: %+v", m)
		}
		if m.Name == "s" && secret != "right" {
			t.Fatalf("accepted %q without the secret (%q)", m.Name, secret)
		}
	})
}

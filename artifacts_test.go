package mesosgot

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var loopback = net.IPv4(127, 0, 0, 1)

// writeTempFile writes content to dir/name and returns its path.
func writeTempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
	return p
}

// noKeepAliveClient leaves no idle connection (and goroutine) behind.
func noKeepAliveClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func doRequest(t *testing.T, c *http.Client, method, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestArtifactServerServesOneFile(t *testing.T) {
	checkNoLeak(t)
	content := "#!/bin/sh\necho executor\n\x00\xff binary tail"
	file := writeTempFile(t, "app-executor", content)
	a, err := startArtifactServer(loopback, nil, 0, file)
	require.NoError(t, err)
	defer a.close()

	u, err := url.Parse(a.url)
	require.NoError(t, err)
	assert.Equal(t, "http", u.Scheme)
	assert.Equal(t, "127.0.0.1", u.Hostname())
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	assert.NotZero(t, port, "port 0 picks a free port")
	st, err := os.Stat(file)
	require.NoError(t, err)
	ver := "/" + artifactVersion(st)
	assert.Regexp(t, `^/v[0-9a-f]+-[0-9a-f]+$`, ver)
	assert.Equal(t, ver+"/app-executor", u.Path, "the path names the binary's version, then the binary")
	assert.Equal(t, "http://127.0.0.1:"+u.Port()+ver+"/app-executor", a.url)

	c := noKeepAliveClient()
	base := "http://" + u.Host
	tests := []struct {
		method string
		path   string
		code   int
		body   string
	}{
		{http.MethodGet, ver + "/app-executor", http.StatusOK, content},
		{http.MethodHead, ver + "/app-executor", http.StatusOK, ""},
		{http.MethodGet, "/", http.StatusNotFound, ""},
		{http.MethodGet, "/app-executor", http.StatusNotFound, ""},
		{http.MethodGet, "/other", http.StatusNotFound, ""},
		{http.MethodGet, ver + "/app-executor/", http.StatusNotFound, ""},
		{http.MethodGet, ver + "/app-executor2", http.StatusNotFound, ""},
		{http.MethodGet, "/v0-0/app-executor", http.StatusNotFound, ""},
		{http.MethodGet, "/" + filepath.Base(filepath.Dir(file)) + "/app-executor", http.StatusNotFound, ""},
		{http.MethodPost, ver + "/app-executor", http.StatusMethodNotAllowed, ""},
		{http.MethodPut, ver + "/app-executor", http.StatusMethodNotAllowed, ""},
		{http.MethodDelete, ver + "/app-executor", http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, body := doRequest(t, c, tc.method, base+tc.path)
			assert.Equal(t, tc.code, code)
			if tc.code == http.StatusOK {
				assert.Equal(t, tc.body, body)
			}
		})
	}

	t.Run("HEAD has the length", func(t *testing.T) {
		resp, err := c.Head(a.url)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, int64(len(content)), resp.ContentLength)
	})
}

func TestArtifactServerFixedPort(t *testing.T) {
	checkNoLeak(t)
	// Find a free port, release it, then ask for it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	a, err := startArtifactServer(loopback, nil, port, writeTempFile(t, "exe", "x"))
	require.NoError(t, err)
	defer a.close()
	assert.Regexp(t, `^http://127\.0\.0\.1:`+strconv.Itoa(port)+`/v[0-9a-f]+-[0-9a-f]+/exe$`, a.url)
}

func TestArtifactServerBusyPort(t *testing.T) {
	checkNoLeak(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	a, err := startArtifactServer(loopback, nil, port, writeTempFile(t, "exe", "x"))
	require.Error(t, err)
	assert.Nil(t, a)
	assert.Contains(t, err.Error(), "artifact server")
}

func TestArtifactServerBadFile(t *testing.T) {
	checkNoLeak(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		file string
	}{
		{"missing file", filepath.Join(dir, "no-such-executor")},
		{"missing dir", filepath.Join(dir, "no", "such", "executor")},
		{"a directory", dir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := startArtifactServer(loopback, nil, 0, tc.file)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.Contains(t, err.Error(), "executor binary")
		})
	}
}

func TestArtifactServerClose(t *testing.T) {
	checkNoLeak(t)
	file := writeTempFile(t, "exe", "bin")
	a, err := startArtifactServer(loopback, nil, 0, file)
	require.NoError(t, err)

	c := noKeepAliveClient()
	code, body := doRequest(t, c, http.MethodGet, a.url)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "bin", body)

	a.close()
	select {
	case <-a.done:
	default:
		t.Fatal("close returned before the server goroutine ended")
	}
	_, err = c.Get(a.url)
	assert.Error(t, err, "GET after close fails")
}

func TestIsURL(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"http://host:8080/executor", true},
		{"https://host/executor", true},
		{"hdfs://namenode/bin/executor", true},
		{"s3://bucket/executor", true},
		{"./executor", false},
		{"/usr/local/bin/executor", false},
		{"executor", false},
		{"", false},
		{"http:/executor", false},
		{"bin/http://x", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, isURL(tc.in))
		})
	}
}

func TestURLBase(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"http://127.0.0.1:5051/app-executor", "app-executor"},
		{"http://host/dir/sub/exe", "exe"},
		{"https://host/exe?version=2#frag", "exe"},
		{"hdfs://namenode:9000/apps/my.exe", "my.exe"},
		{"s3://bucket/key/exe", "exe"},
		{"http://host/a%20b", "a b"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, urlBase(tc.in))
		})
	}
}

func TestShellQuoteTable(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"simple", "simple"},
		{"-flag=value", "-flag=value"},
		{"a/b.c:d,e_f", "a/b.c:d,e_f"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{`back\slash`, `'back\slash'`},
		{"*", "'*'"},
		{"~", "'~'"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, shellQuote(tc.in))
		})
	}
}

func TestShellQuoteRoundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	tricky := []string{
		"", "plain", "a b", "  lead and trail  ", "it's", "''", `"double"`, `'"mixed"'`,
		"$HOME", "${PATH}", "$(echo pwned)", "`echo pwned`", `back\slash`, `\\`, `\'`,
		"a;b", "a&&b", "a|b", "a>b", "<a", "!bang", "#hash", "*", "?", "[a-z]", "~", "~/x",
		"tab\there", "new\nline", "日本語", "%s%d", "-n", "-e", "a=b", "--",
	}
	for _, s := range tricky {
		t.Run(strconv.Quote(s), func(t *testing.T) {
			out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(s)).Output()
			require.NoError(t, err)
			assert.Equal(t, s, string(out))
		})
	}
	// Several quoted words stay separate words.
	words := []string{"a b", "", "it's", "$x"}
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, shellQuote(w))
	}
	out, err := exec.Command(sh, "-c", `for w in `+strings.Join(quoted, " ")+`; do printf '<%s>' "$w"; done`).Output()
	require.NoError(t, err)
	assert.Equal(t, "<a b><><it's><$x>", string(out))
}

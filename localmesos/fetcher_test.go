package localmesos

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileServer serves files by path and counts the GETs of each; chunked
// paths are sent without a Content-Length.
type fileServer struct {
	*httptest.Server
	files   map[string][]byte
	chunked map[string]bool
	gets    sync.Map // path -> *atomic.Int64
}

func newFileServer(t *testing.T, files map[string][]byte) *fileServer {
	fs := &fileServer{files: files, chunked: map[string]bool{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := fs.gets.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		data, ok := fs.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if fs.chunked[r.URL.Path] {
			w.(http.Flusher).Flush() // headers out before the body: no Content-Length
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fileServer) count(path string) int64 {
	n, ok := fs.gets.Load(path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func cachedURI(u string, executable bool) *mesos.CommandInfo_URI {
	return &mesos.CommandInfo_URI{Value: proto.String(u), Executable: proto.Bool(executable), Cache: proto.Bool(true)}
}

func newTestFetcher(t *testing.T, capacity int64) *fetcher {
	f, err := newFetcher(filepath.Join(t.TempDir(), "fetch"), capacity)
	require.NoError(t, err)
	return f
}

// cacheFiles lists the files in the cache directory (not the temporary
// ones).
func cacheFiles(t *testing.T, f *fetcher) []string {
	var out []string
	_ = filepath.Walk(f.dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(f.dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestFetcherCacheDownloadsOnceForConcurrentSandboxes(t *testing.T) {
	content := bytes.Repeat([]byte("executor binary "), 4096)
	srv := newFileServer(t, map[string][]byte{"/v1/my-executor": content})
	f := newTestFetcher(t, 0)
	const n = 8
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range dirs {
		dirs[i] = t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{cachedURI(srv.URL+"/v1/my-executor", true)}, dirs[i], "")
		}()
	}
	wg.Wait()
	for i, dir := range dirs {
		require.NoError(t, errs[i])
		got, err := os.ReadFile(filepath.Join(dir, "my-executor"))
		require.NoError(t, err)
		assert.Equal(t, content, got)
		st, err := os.Stat(filepath.Join(dir, "my-executor"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "executable in the sandbox")
	}
	assert.EqualValues(t, 1, srv.count("/v1/my-executor"), "competing requests wait for the first download")
	files := cacheFiles(t, f)
	require.Len(t, files, 1)
	assert.Equal(t, "c1-my-executor", files[0], "Mesos' cache file name: c<serial>-<basename>")
	st, err := os.Stat(filepath.Join(f.dir, files[0]))
	require.NoError(t, err)
	assert.Zero(t, st.Mode().Perm()&0o111, "the cache file itself is not made executable")
	assert.EqualValues(t, len(content), f.used)

	// A later request copies from the cache without downloading.
	dir := t.TempDir()
	require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{cachedURI(srv.URL+"/v1/my-executor", true)}, dir, ""))
	assert.EqualValues(t, 1, srv.count("/v1/my-executor"))
}

func TestFetcherWithoutCacheFieldDownloadsEveryTime(t *testing.T) {
	srv := newFileServer(t, map[string][]byte{"/exe": []byte("x")})
	f := newTestFetcher(t, 0)
	for i := 0; i < 3; i++ {
		u := &mesos.CommandInfo_URI{Value: proto.String(srv.URL + "/exe"), Executable: proto.Bool(true)}
		require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{u}, t.TempDir(), ""))
	}
	assert.EqualValues(t, 3, srv.count("/exe"), "cache unset: bypassed")
	assert.Empty(t, cacheFiles(t, f))
}

func TestFetcherCacheKeyedByUser(t *testing.T) {
	srv := newFileServer(t, map[string][]byte{"/exe": []byte("x")})
	f := newTestFetcher(t, 0)
	for _, user := range []string{"", "alice", "bob", "alice"} {
		require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{cachedURI(srv.URL+"/exe", true)}, t.TempDir(), user))
	}
	assert.EqualValues(t, 3, srv.count("/exe"), "one download per user")
	assert.ElementsMatch(t, []string{"c1-exe", filepath.Join("alice", "c2-exe"), filepath.Join("bob", "c3-exe")}, cacheFiles(t, f))
}

func TestFetcherCacheBypassedWithoutSize(t *testing.T) {
	srv := newFileServer(t, map[string][]byte{"/exe": []byte("streamed")})
	srv.chunked["/exe"] = true
	f := newTestFetcher(t, 0)
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{cachedURI(srv.URL+"/exe", true)}, dir, ""))
		got, err := os.ReadFile(filepath.Join(dir, "exe"))
		require.NoError(t, err)
		assert.Equal(t, "streamed", string(got))
	}
	assert.EqualValues(t, 2, srv.count("/exe"), "one GET per fetch")
	assert.Empty(t, cacheFiles(t, f), "a URI of unknown size is not cached")
	assert.Zero(t, f.used)
}

func TestFetcherCacheEvictsLeastRecentlyUsed(t *testing.T) {
	srv := newFileServer(t, map[string][]byte{"/a": bytes.Repeat([]byte("a"), 600), "/b": bytes.Repeat([]byte("b"), 600), "/big": bytes.Repeat([]byte("c"), 2000)})
	f := newTestFetcher(t, 1000) // room for one of a and b
	fetch := func(path string) {
		t.Helper()
		dir := t.TempDir()
		require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{cachedURI(srv.URL+path, false)}, dir, ""))
		got, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(path, "/")))
		require.NoError(t, err)
		assert.Equal(t, srv.files[path], got)
	}
	fetch("/a")
	fetch("/b")
	assert.Equal(t, []string{"c2-b"}, cacheFiles(t, f), "a was evicted to make room for b")
	fetch("/b")
	assert.EqualValues(t, 1, srv.count("/b"))
	fetch("/a")
	assert.EqualValues(t, 2, srv.count("/a"), "evicted: downloaded again")
	fetch("/big")
	fetch("/big")
	assert.EqualValues(t, 2, srv.count("/big"), "larger than the cache: bypassed, one GET each")
	assert.Equal(t, []string{"c3-a"}, cacheFiles(t, f))
	assert.EqualValues(t, 600, f.used)
}

func TestFetcherCacheFailedDownloadIsRetried(t *testing.T) {
	srv := newFileServer(t, map[string][]byte{})
	f := newTestFetcher(t, 0)
	u := cachedURI(srv.URL+"/later", true)
	err := f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{u}, t.TempDir(), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "404")
	assert.Contains(t, err.Error(), srv.URL+"/later", "the error names the URI")
	srv.files["/later"] = []byte("now")
	dir := t.TempDir()
	require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{u}, dir, ""), "a failed download is not cached")
	got, err := os.ReadFile(filepath.Join(dir, "later"))
	require.NoError(t, err)
	assert.Equal(t, "now", string(got))
}

func TestFetcherCacheExtractsArchiveFromTheCache(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "bin/tool", Mode: 0o755, Size: 4, Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte("tool"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	srv := newFileServer(t, map[string][]byte{"/pkg.tar.gz": buf.Bytes()})
	f := newTestFetcher(t, 0)
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{cachedURI(srv.URL+"/pkg.tar.gz", false)}, dir, ""))
		got, err := os.ReadFile(filepath.Join(dir, "bin", "tool"))
		require.NoError(t, err)
		assert.Equal(t, "tool", string(got))
		_, err = os.Stat(filepath.Join(dir, "pkg.tar.gz"))
		assert.True(t, os.IsNotExist(err), "extracted from the cache: only the result is in the sandbox")
	}
	assert.EqualValues(t, 1, srv.count("/pkg.tar.gz"))
	assert.Equal(t, []string{"c1-pkg.tar.gz"}, cacheFiles(t, f), "the cache file keeps the extension")
}

func TestFetcherCacheLocalFileAndLongName(t *testing.T) {
	src := filepath.Join(t.TempDir(), "a-rather-long-executor-name.bin")
	require.NoError(t, os.WriteFile(src, []byte("local"), 0o644))
	f := newTestFetcher(t, 0)
	dir := t.TempDir()
	require.NoError(t, f.fetchURIs(context.Background(), []*mesos.CommandInfo_URI{cachedURI("file://"+src, false)}, dir, ""))
	got, err := os.ReadFile(filepath.Join(dir, "a-rather-long-executor-name.bin"))
	require.NoError(t, err)
	assert.Equal(t, "local", string(got))
	assert.Equal(t, []string{"c1-a-rather-l_r-name.bin"}, cacheFiles(t, f), "a prefix and a suffix of a long base name")
}

func TestNewFetcherClearsTheCacheDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fetch")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "alice"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alice", "c7-old"), []byte("stale"), 0o644))
	f, err := newFetcher(dir, 0)
	require.NoError(t, err)
	assert.Empty(t, cacheFiles(t, f), "the agent clears its cache directory at start")
	assert.EqualValues(t, DefaultFetcherCacheSize, f.capacity)
}

package localmesos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// DefaultFetcherCacheSize is the fetcher cache's capacity when
// Config.FetcherCacheSize is not set: Mesos' --fetcher_cache_size default,
// 2 GB.
const DefaultFetcherCacheSize = 2 << 30

// fetcher is the Mesos fetcher of an agent (src/slave/containerizer/
// fetcher.cpp, src/launcher/fetcher.cpp, docs/fetcher.md): it fetches an
// executor's URIs into its sandbox, through its cache for URIs with
// cache=true. A cached URI is downloaded at most once per user while its
// cache file is resident: the first request downloads it into the cache
// directory, concurrent requests for the same URI wait for that download,
// and every request then copies the cache file into its sandbox (an archive
// to extract is extracted from the cache file instead). Space is reserved
// before a download from the URI's size (HTTP Content-Length, a local
// file's size); when the size is unknown or the cache cannot make room by
// evicting files not in use (least recently used first), the fetch falls
// back to bypassing the cache, with a warning, as Mesos' does.
type fetcher struct {
	dir      string // the cache directory; per-user subdirectories
	capacity int64

	mu      sync.Mutex
	entries map[string]*cacheEntry // by cacheKey
	serial  int                    // names cache files c<serial>-<basename>
	used    int64                  // bytes reserved by resident and downloading files
	clock   int64                  // counts uses, for least-recently-used eviction
}

// cacheEntry is one cache file, resident or being downloaded.
type cacheEntry struct {
	key, path string
	size      int64         // bytes reserved
	done      chan struct{} // closed when the download ended
	err       error         // the download's error, set before done closes
	bypass    bool          // no room or no size: requests fetch directly
	refs      int           // requests using the entry
	lastUse   int64         // f.clock at the last use
	evicted   bool          // out of the map; the file goes when refs is 0
}

// newFetcher returns the fetcher for cache directory dir, which it clears
// first (Mesos' agent clears its --fetcher_cache_dir at start).
func newFetcher(dir string, capacity int64) (*fetcher, error) {
	if capacity <= 0 {
		capacity = DefaultFetcherCacheSize
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("localmesos: clearing the fetcher cache directory %s: %w", dir, err)
	}
	return &fetcher{dir: dir, capacity: capacity, entries: map[string]*cacheEntry{}}, nil
}

// cacheKey is Mesos' cache key: the URI, prefixed by the user when there
// is one.
func cacheKey(user, uri string) string {
	if user == "" {
		return uri
	}
	return user + "@" + uri
}

// fetchURIs fetches every URI into the sandbox dir, in order, for the
// executor's user ("" is the agent's own).
func (f *fetcher) fetchURIs(ctx context.Context, uris []*mesos.CommandInfo_URI, dir, user string) error {
	for _, u := range uris {
		var err error
		if u.GetCache() && f != nil {
			err = f.fetchThroughCache(ctx, u, dir, user)
		} else {
			err = fetchURI(ctx, u, dir)
		}
		if err != nil {
			return fmt.Errorf("fetch %q: %w", u.GetValue(), err)
		}
	}
	return nil
}

// fetchThroughCache fetches u into dir through the cache.
func (f *fetcher) fetchThroughCache(ctx context.Context, u *mesos.CommandInfo_URI, dir, user string) error {
	key := cacheKey(user, u.GetValue())
	f.mu.Lock()
	e := f.entries[key]
	if e != nil {
		e.refs++
		f.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			f.release(e)
			return ctx.Err()
		}
	} else {
		e = f.create(key, u, user)
		f.mu.Unlock()
		if name, rc := f.download(ctx, e, u); rc != nil {
			// Bypassed: what was opened to learn the size goes straight
			// into the sandbox.
			f.release(e)
			return fetchOpened(u, name, rc, dir)
		}
	}
	defer f.release(e)
	switch {
	case e.err != nil:
		return e.err
	case e.bypass:
		return fetchURI(ctx, u, dir)
	}
	log.V(1).Infof("localmesos: fetching %s from the cache (%s)", u.GetValue(), e.path)
	return fromCache(u, e.path, dir)
}

// create adds the entry of a URI not in the cache, used by its creator.
// Called with f.mu held.
func (f *fetcher) create(key string, u *mesos.CommandInfo_URI, user string) *cacheEntry {
	f.serial++
	base := uriBase(u.GetValue())
	if len(base) > 20 {
		// As Mesos names cache files: a prefix and a suffix of the base
		// name, keeping the extension.
		base = base[:10] + "_" + base[len(base)-10:]
	}
	dir := f.dir
	if user != "" {
		dir = filepath.Join(dir, user)
	}
	e := &cacheEntry{key: key, path: filepath.Join(dir, fmt.Sprintf("c%d-%s", f.serial, base)), done: make(chan struct{}), refs: 1}
	f.entries[key] = e
	return e
}

// download fills e's cache file from u, or marks e to be bypassed and
// returns u opened (as name) for its caller to fetch directly; it closes
// e.done.
func (f *fetcher) download(ctx context.Context, e *cacheEntry, u *mesos.CommandInfo_URI) (name string, bypass io.ReadCloser) {
	defer close(e.done)
	name, rc, size, err := openURI(ctx, u.GetValue())
	if err != nil {
		f.fail(e, err)
		return "", nil
	}
	if size <= 0 {
		log.Warningf("localmesos: fetching %s bypassing the cache: its size is unknown", u.GetValue())
		f.drop(e)
		return name, rc
	}
	if !f.reserve(e, size) {
		log.Warningf("localmesos: fetching %s bypassing the cache: no room for %d bytes in %d (%s)", u.GetValue(), size, f.capacity, f.dir)
		f.drop(e)
		return name, rc
	}
	defer rc.Close()
	n, err := writeCacheFile(e.path, rc)
	if err != nil {
		f.fail(e, err)
		return "", nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case n > size:
		// Mesos deletes a cache file larger than expected once it has
		// been delivered, so that the excess does not accumulate.
		log.Warningf("localmesos: cache file of %s is %d bytes, %d expected: it goes once delivered", u.GetValue(), n, size)
		f.evict(e)
	case n < size:
		f.used -= size - n
		e.size = n
	}
	return "", nil
}

// writeCacheFile writes r to path (through a temporary file, renamed
// into place when complete) and returns its size.
func writeCacheFile(path string, r io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fetch-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), path)
}

// reserve makes room for size bytes for e, evicting resident files not in
// use, least recently used first; false if there is no room even so.
func (f *fetcher) reserve(e *cacheEntry, size int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size > f.capacity {
		return false
	}
	if f.used+size > f.capacity {
		var idle []*cacheEntry
		for _, o := range f.entries {
			if o != e && o.refs == 0 && o.err == nil && !o.bypass && closed(o.done) {
				idle = append(idle, o)
			}
		}
		sort.Slice(idle, func(i, j int) bool { return idle[i].lastUse < idle[j].lastUse })
		for _, o := range idle {
			if f.used+size <= f.capacity {
				break
			}
			f.evict(o)
		}
		if f.used+size > f.capacity {
			return false
		}
	}
	f.used += size
	e.size = size
	return true
}

// evict takes e out of the cache; its file is removed now or, if in use,
// when its last user is done. Called with f.mu held.
func (f *fetcher) evict(e *cacheEntry) {
	if f.entries[e.key] == e {
		delete(f.entries, e.key)
	}
	if e.evicted {
		return
	}
	e.evicted = true
	f.used -= e.size
	if e.refs == 0 {
		removeCacheFile(e.path)
	}
}

// fail records a failed download: its requests fail, and the next request
// for the URI downloads again.
func (f *fetcher) fail(e *cacheEntry, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.err = err
	f.evict(e)
}

// drop takes e out of the cache before anything was downloaded: its
// requests fetch directly.
func (f *fetcher) drop(e *cacheEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.bypass = true
	f.evict(e)
}

// release ends one request's use of e.
func (f *fetcher) release(e *cacheEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.refs--
	f.clock++
	e.lastUse = f.clock
	if e.evicted && e.refs == 0 {
		removeCacheFile(e.path)
	}
}

func removeCacheFile(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warningf("localmesos: removing cache file %s: %v", path, err)
	}
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// fromCache delivers the cache file src of u into the sandbox dir as
// Mesos' fetchFromCache does: an executable is copied and made executable
// (the cache file keeps its mode); an archive to extract is extracted from
// the cache file (only the result is in the sandbox); anything else is
// copied.
func fromCache(u *mesos.CommandInfo_URI, src, dir string) error {
	name := uriBase(u.GetValue())
	if name == "" || name == "." || name == "/" {
		return errors.New("cannot name the fetched file")
	}
	extractIt := !u.GetExecutable() && (u.Extract == nil || u.GetExtract()) && isArchive(name)
	if extractIt {
		return extractAs(src, name, dir)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dst := filepath.Join(dir, name)
	if err := writeFile(dst, in, 0o644); err != nil {
		return err
	}
	if u.GetExecutable() {
		return os.Chmod(dst, 0o755)
	}
	return nil
}

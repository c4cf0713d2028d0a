package mesosgot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	log "github.com/golang/glog"
)

// artifactServer ships the executor binary to agents over HTTP: one file,
// on its own ServeMux, at /<version>/<file name>, the version naming the
// file's size and modification time. The URL changes whenever the binary
// does, so agents may keep it in their fetcher cache (Mesos' advice for
// cached URIs: a fresh URI for new content).
type artifactServer struct {
	srv  *http.Server
	url  string
	done chan struct{}
}

// startArtifactServer serves file on ip:port (port 0 picks a free one),
// with a URL naming advertise (ip when nil). A busy port or a missing file
// is an error here, not a log line later.
func startArtifactServer(ip, advertise net.IP, port int, file string) (*artifactServer, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("mesosgot: executor binary: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("mesosgot: executor binary %s is a directory", file)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("mesosgot: executor binary: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("mesosgot: artifact server: %w", err)
	}
	name := filepath.Base(abs)
	urlPath := "/" + artifactVersion(st) + "/" + name
	mux := http.NewServeMux()
	mux.HandleFunc(urlPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		log.V(1).Infof("mesosgot: serving executor binary %s to %s", abs, r.RemoteAddr)
		http.ServeFile(w, r, abs)
	})
	host := ip.String()
	if advertise != nil {
		host = advertise.String()
	} else if ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	addr := ln.Addr().(*net.TCPAddr)
	a := &artifactServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		url:  (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(addr.Port)), Path: urlPath}).String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Errorf("mesosgot: artifact server stopped: %v", err)
		}
	}()
	log.Infof("mesosgot: serving executor binary %s at %s", abs, a.url)
	return a, nil
}

// artifactVersion names the version of the file st describes: "v" and
// its size and modification time in hex.
func artifactVersion(st os.FileInfo) string {
	return fmt.Sprintf("v%x-%x", st.Size(), st.ModTime().UnixNano())
}

// close stops the server and waits for it.
func (a *artifactServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close()
	}
	<-a.done
}

// isURL reports whether the executor path is already a URL agents can fetch.
func isURL(p string) bool {
	return strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "hdfs://") || strings.HasPrefix(p, "s3://")
}

// urlBase is the file name at the end of a URL.
func urlBase(u string) string {
	if pu, err := url.Parse(u); err == nil {
		return path.Base(pu.Path)
	}
	return path.Base(u)
}

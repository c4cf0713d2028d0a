package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/internal/zktest"
)

// syncBuf is an io.Writer safe for the command's goroutines and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A leading master that loses ZooKeeper for longer than its session
// timeout exits with an error, as a Mesos master "commits suicide"
// (Master::lostCandidacy) so that it can come back as a standby.
func TestLeaderExitsWhenItLosesLeadership(t *testing.T) {
	zs := zktest.Start(t)
	out := &syncBuf{}
	sig := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"-port=0", "-zk=" + zs.URL("/mesos"), "-zk_session_timeout=2secs"}, out, sig)
	}()
	deadline := time.Now().Add(wait)
	for !strings.Contains(out.String(), "elected as the leading master") {
		select {
		case err := <-done:
			t.Fatalf("mesos-master ended early: %v\n%s", err, out)
		default:
		}
		require.True(t, time.Now().Before(deadline), "not elected:\n%s", out)
		time.Sleep(20 * time.Millisecond) // polling the output with a deadline
	}
	assert.Contains(t, out.String(), "contending for leadership at "+zs.URL("/mesos")+" (session timeout 2secs)")
	zs.Stop()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "lost leadership")
		assert.Contains(t, err.Error(), "session timeout 2s")
	case <-time.After(wait):
		sig <- os.Interrupt
		t.Fatalf("mesos-master still running after ZooKeeper went away:\n%s", out)
	}
}

func TestBadZooKeeperURL(t *testing.T) {
	err := run([]string{"-port=0", "-zk=zk://127.0.0.1:1"}, &syncBuf{}, make(chan os.Signal))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no path")
}

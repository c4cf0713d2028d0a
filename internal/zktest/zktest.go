// Package zktest runs a private Apache ZooKeeper server for tests.
//
// Start launches the server of Debian's zookeeper package (its jar and a
// Java runtime) on a free loopback port with its own data directory in a
// temporary directory, waits until it answers the "ruok" command, and stops
// it and removes the directory when the test ends (also when it fails).
// StartWith places the server elsewhere: on another address, or inside a
// network namespace. Where ZooKeeper is not installed, both end the test
// through testenv.Missing.
package zktest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mesosgot/mesosgot/internal/testenv"
)

// ClasspathEnv overrides the Java classpath of the server (default: the
// jar of Debian's zookeeper package, whose manifest names its dependencies,
// plus slf4j-simple for its log when present).
const ClasspathEnv = "MESOSGOT_ZOOKEEPER_CLASSPATH"

// debianJar is where Debian's zookeeper package puts the server jar.
const debianJar = "/usr/share/java/zookeeper.jar"

// mainClass runs a standalone server from a config file.
const mainClass = "org.apache.zookeeper.server.ZooKeeperServerMain"

// StartTimeout bounds the wait for the server to answer; a JVM on a loaded
// machine can take several seconds.
var StartTimeout = 90 * time.Second

// Options place the server elsewhere than on this host's loopback, e.g.
// inside a network namespace; the zero value is Start's default.
type Options struct {
	// IP is the address the server binds and is reached at (default
	// 127.0.0.1).
	IP string
	// Port is the client port; 0 picks a free port of this host's loopback
	// (give one when the server runs in another network namespace, where
	// any port is free).
	Port int
	// Wrap is put before the server's command line, e.g. ip netns exec NS
	// to run it in a network namespace.
	Wrap []string
	// Dial connects to the server for the readiness check and Command
	// (default net.DialTimeout), e.g. from inside its namespace.
	Dial func(network, addr string, timeout time.Duration) (net.Conn, error)
}

// Server is a running private ZooKeeper server.
type Server struct {
	// Addr is the client address, host:port.
	Addr string
	opts Options
	dir  string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit error, set before done closes
}

// URL returns a zk:// URL of the server with the given path (e.g. "/mesos").
func (s *Server) URL(path string) string {
	return "zk://" + s.Addr + path
}

// Start starts a private server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with the server placed by opts.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Dial == nil {
		opts.Dial = net.DialTimeout
	}
	java, cp, why := locate()
	if why != "" {
		testenv.Missing(t, "ZooKeeper", why)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before the JVM binds it
		s, err := start(t, java, cp, opts)
		if err == nil {
			return s
		}
		lastErr = err
		t.Logf("zktest: attempt %d: %v", attempt+1, err)
	}
	t.Fatalf("zktest: cannot start ZooKeeper: %v", lastErr)
	return nil
}

// locate finds java and the server classpath; why says what is missing.
func locate() (java, cp, why string) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", "", "no java on PATH (apt-get install zookeeper pulls in a JRE; make test does it as root)"
	}
	if cp = os.Getenv(ClasspathEnv); cp != "" {
		return java, cp, ""
	}
	if _, err := os.Stat(debianJar); err != nil {
		return "", "", debianJar + " not found (apt-get install zookeeper; make test does it as root), or set " + ClasspathEnv
	}
	cp = debianJar
	if _, err := os.Stat("/usr/share/java/slf4j-simple.jar"); err == nil {
		cp += ":/usr/share/java/slf4j-simple.jar"
	}
	return java, cp, ""
}

func start(t testing.TB, java, cp string, opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "mesosgot-zk-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s := &Server{Addr: net.JoinHostPort(opts.IP, fmt.Sprint(port)), opts: opts, dir: dir, log: filepath.Join(dir, "zookeeper.log"), done: make(chan struct{})}
	cfg := strings.Join([]string{
		"tickTime=500",
		"initLimit=10",
		"syncLimit=5",
		"dataDir=" + filepath.Join(dir, "data"),
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=" + opts.IP,
		"maxClientCnxns=0",
		"minSessionTimeout=1000",
		"maxSessionTimeout=60000",
		"admin.enableServer=false",
		"4lw.commands.whitelist=ruok,srvr,stat,cons",
		"",
	}, "\n")
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("writing %s: %w", cfgPath, err)
	}
	logf, err := os.Create(s.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating %s: %w", s.log, err)
	}
	argv := append(append([]string(nil), opts.Wrap...), java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.admin.enableServer=false", "-cp", cp, mainClass, cfgPath)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", java, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		tail := s.logTail()
		s.stop()
		return nil, fmt.Errorf("%w; server log:\n%s", err, tail)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("zktest: server log:\n%s", s.logTail())
		}
		s.stop()
	})
	t.Logf("zktest: ZooKeeper at %s (dir %s)", s.Addr, dir)
	return s, nil
}

// waitReady polls "srvr" until the server says it serves (its mode), the
// process exits, or StartTimeout. ("ruok" answers "imok" before the
// database is loaded, while sessions are still refused.)
func (s *Server) waitReady() error {
	deadline := time.Now().Add(StartTimeout)
	for {
		reply, err := s.Command("srvr")
		if err == nil && strings.Contains(reply, "Mode: ") {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("server exited before answering: %v", s.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server at %s did not say it serves (srvr) within %v (last: %q, %v)", s.Addr, StartTimeout, reply, err)
		}
	}
}

// Command sends a four-letter-word command (ruok, srvr, stat, cons) and
// returns the reply.
func (s *Server) Command(cmd string) (string, error) {
	c, err := s.opts.Dial("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && buf.Len() == 0 {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}

// Stop kills the server (as a crash would) and waits for it; a test may
// call it to take ZooKeeper away. It is also run at the test's end.
func (s *Server) Stop() { s.stop() }

func (s *Server) stop() {
	select {
	case <-s.done:
	default:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	_ = os.RemoveAll(s.dir)
}

// logTail returns the last lines of the server's log.
func (s *Server) logTail() string {
	f, err := os.Open(s.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 40 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

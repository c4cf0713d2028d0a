package attack

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/stretchr/testify/require"
)

// The attacker's tools: raw libprocess POSTs, a listener to hear answers,
// what /proc and the master's /state show anyone on the host.

// client sends the forged messages; one connection per message, as a
// stranger's would be.
var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// post sends a libprocess message named name to the process id at addr
// (host:port), claiming to come from from, with body as its protobuf
// encoding, and returns the HTTP status (0 with err when the connection
// failed or was cut).
func post(addr, id, name, from string, body io.Reader, length int64) (int, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/"+id+"/"+name, body)
	if err != nil {
		return 0, fmt.Errorf("request %s to %s: %w", name, addr, err)
	}
	req.ContentLength = length
	req.Header.Set("Libprocess-From", from)
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s to %s/%s: %w", name, addr, id, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// postMsg sends msg to the process pid ("id@host:port") as from.
func postMsg(t *testing.T, pid, from string, msg proto.Message) int {
	t.Helper()
	id, addr := splitPid(t, pid)
	b, err := proto.Marshal(msg)
	require.NoError(t, err)
	code, err := post(addr, id, messageName(msg), from, bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err, "the POST itself goes through")
	t.Logf("%s to %s as %s: HTTP %d", messageName(msg), pid, from, code)
	return code
}

// messageName is the libprocess name of one of Mesos' internal messages.
func messageName(msg proto.Message) string {
	return "mesos.internal." + reflect.TypeOf(msg).Elem().Name()
}

// splitPid splits "id@host:port" into id and host:port.
func splitPid(t *testing.T, pid string) (id, addr string) {
	t.Helper()
	id, addr, ok := strings.Cut(pid, "@")
	require.True(t, ok, "pid %q", pid)
	return id, addr
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// postHuge sends n bytes of zeros as one message body to pid, with a
// Content-Length when sized, chunked otherwise. It returns the status, or
// 0 when the target cut the connection (a refusal too).
func postHuge(t *testing.T, pid, from, name string, n int64, sized bool) int {
	t.Helper()
	id, addr := splitPid(t, pid)
	length := int64(-1)
	if sized {
		length = n
	}
	code, err := post(addr, id, name, from, io.LimitReader(zeros{}, n), length)
	t.Logf("%d MB POST of %s to %s (sized %v): HTTP %d, err %v", n>>20, name, pid, sized, code, err)
	return code
}

// memory is a process's resident set and its high-water mark, in bytes.
type memory struct{ RSS, HWM int64 }

func (m memory) String() string { return fmt.Sprintf("RSS %d MiB, HWM %d MiB", m.RSS>>20, m.HWM>>20) }

// readMemory reads VmRSS and VmHWM of an OS process.
func readMemory(t *testing.T, pid int) memory {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = kb << 10
		case "VmHWM":
			m.HWM = kb << 10
		}
	}
	require.NoError(t, sc.Err())
	return m
}

// processesOf returns the live processes whose program (argv[0]) has
// base name exe.
func processesOf(exe string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if err != nil || filepath.Base(string(argv0)) != exe {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// listenPorts returns the TCP ports an OS process listens on, found as
// `ss -ltnp` finds them: its socket inodes matched against /proc/net/tcp.
func listenPorts(t *testing.T, pid int) []int {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			p, err := strconv.ParseUint(hexPort, 16, 16)
			if err == nil {
				ports = append(ports, int(p))
			}
		}
	}
	return ports
}

// masterState is what the master's /state shows anyone who asks.
type masterState struct {
	PID        string `json:"pid"`
	Frameworks []struct {
		ID    string `json:"id"`
		PID   string `json:"pid"`
		Tasks []struct {
			TaskID     string
			AgentID    string
			ExecutorID string
		} `json:"tasks"`
	} `json:"frameworks"`
	Slaves []struct {
		ID  string `json:"id"`
		PID string `json:"pid"`
	} `json:"slaves"`
}

// readState reads the master's /state.
func readState(t *testing.T, master string) masterState {
	t.Helper()
	resp, err := client.Get("http://" + master + "/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	var st masterState
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// listener is the attacker's own libprocess port: it records the names of
// the messages sent to it (the master's answers to forged requests).
type listener struct {
	pid  string
	got  chan string
	srv  *http.Server
	done chan struct{}
}

func listen(t *testing.T) *listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	l := &listener{pid: "attacker(1)@" + ln.Addr().String(), got: make(chan string, 64), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/attacker(1)/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.WriteHeader(http.StatusAccepted)
		select {
		case l.got <- strings.TrimPrefix(r.URL.Path, "/attacker(1)/"):
		default:
		}
	})
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(l.done)
		_ = l.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = l.srv.Close()
		<-l.done
	})
	return l
}

// waitFor waits up to d for a message named name to reach the listener.
func (l *listener) waitFor(name string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case n := <-l.got:
			if n == name {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// linkFrame is a cleartext link frame as mesosgot's link encodes it
// (version 2): a new source epoch (a restarted peer, as a forger would
// claim), destination epoch unknown, one message record on stream with
// data.
func linkFrame(epoch uint64, stream, data string) []byte {
	b := []byte{2, 0}
	b = binary.LittleEndian.AppendUint64(b, epoch)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.AppendUvarint(b, 1) // ack
	b = binary.AppendUvarint(b, 1) // base
	b = binary.AppendUvarint(b, 0) // no SACKs
	b = binary.AppendUvarint(b, 1) // one record
	b = append(b, 1)               // recMsg
	b = binary.AppendUvarint(b, 0) // seq = base
	b = binary.AppendUvarint(b, uint64(len(stream)))
	b = append(b, stream...)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

package mesosgot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/mesosgot/mesosgot/internal/testenv"
)

// chromium returns the path of a Chromium binary, or ends the test loudly.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "Chromium", "no chromium on PATH; `apt-get install chromium` (make test does it as root)")
	return ""
}

// runChromium runs headless Chromium with args (after the common ones) in
// a fresh profile and returns its stdout. Its processes are killed when it
// is done or the test ends.
func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--disable-breakpad", "--disable-crash-reporter", "--user-data-dir=" + t.TempDir(),
	}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left in the group, if any
	}
	require.NoError(t, err, "chromium %v:\n%s", args, stderr.String())
	return stdout.String()
}

// text returns the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// byID finds the element with id in the tree under n.
func byID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := byID(c, id); f != nil {
			return f
		}
	}
	return nil
}

// tableRows returns the cells' texts of each row of a tbody.
func tableRows(tbody *html.Node) [][]string {
	var rows [][]string
	for tr := tbody.FirstChild; tr != nil; tr = tr.NextSibling {
		if tr.Type != html.ElementNode || tr.Data != "tr" {
			continue
		}
		var cells []string
		for td := tr.FirstChild; td != nil; td = td.NextSibling {
			if td.Type == html.ElementNode {
				cells = append(cells, text(td))
			}
		}
		rows = append(rows, cells)
	}
	return rows
}

// TestStatusPageInChromium loads the status page of a running job in
// headless Chromium and checks what the page displays once its script ran.
func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	checkNoLeak(t)
	const tasks, msgs = 3, 7
	w := newWatchedJob(t, tasks, msgs, false)
	res := make(chan error, 1)
	go func() { res <- w.f.run() }()
	defer func() {
		close(w.release)
		require.NoError(t, <-res)
	}()
	pollStatus(t, w.url, "every answer received", func(st *jobStatus) bool {
		return st.Counts.Running == tasks && st.MsgsIn == tasks*msgs
	})

	dom := runChromium(t, bin, "--virtual-time-budget=3000", "--dump-dom", w.url)
	doc, err := html.Parse(strings.NewReader(dom))
	require.NoError(t, err)
	get := func(id string) string {
		n := byID(doc, id)
		require.NotNil(t, n, "element #%s in the page:\n%s", id, dom)
		return text(n)
	}
	assert.Equal(t, "running", get("phase"))
	assert.Equal(t, "fake-master", get("master"))
	assert.Equal(t, fmt.Sprint(tasks), get("c-total"))
	assert.Equal(t, fmt.Sprint(tasks), get("c-running"))
	assert.Equal(t, "0", get("c-failed"))
	assert.Equal(t, fmt.Sprintf("%d / %d", tasks*msgs, tasks*msgs), get("m-total"))
	assert.Contains(t, get("conn"), "updated")
	rows := tableRows(byID(doc, "tasks"))
	require.Len(t, rows, tasks, dom)
	for i, r := range rows {
		require.Len(t, r, 6)
		assert.Equal(t, fmt.Sprintf("echo-%d", i), r[0])
		assert.Equal(t, "TASK_RUNNING", r[1])
		assert.True(t, strings.HasPrefix(r[2], "agent-"), r[2])
		assert.Equal(t, fmt.Sprint(msgs), r[3], "msgs in of %s", r[0])
		assert.Equal(t, fmt.Sprint(msgs), r[4], "msgs out of %s", r[0])
	}
	assert.NotEmpty(t, tableRows(byID(doc, "links")))

	shot := filepath.Join(t.TempDir(), "status.png")
	runChromium(t, bin, "--virtual-time-budget=3000", "--window-size=1100,700", "--screenshot="+shot, w.url)
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "a PNG screenshot")
}

// TestStatusPageShowsAFailure renders a failing job's status (as /status
// serves it while the job stops) and checks that the page shows the error
// and the failed task, with task names shown as text, never as HTML.
func TestStatusPageShowsAFailure(t *testing.T) {
	bin := chromium(t)
	checkNoLeak(t)
	m := &monitor{master: "10.0.0.1:5050", started: time.Now()}
	m.cur.Store(&jobStatus{
		Phase: "stopping", Master: m.master, FrameworkID: "fw-1",
		Error:  "mesosgot: job failed: task bad-0: TASK_FAILED: out of cheese",
		Counts: taskCounts{Total: 2, Running: 1, Failed: 1},
		Tasks: []taskStatus{
			{Name: "<b>ok</b>-0", State: "TASK_RUNNING", Agent: "a1"},
			{Name: "bad-0", State: "TASK_FAILED", Agent: "a2"},
		},
	})
	require.NoError(t, m.serve("127.0.0.1:0"))
	defer m.closeServer()

	dom := runChromium(t, bin, "--virtual-time-budget=2000", "--dump-dom", m.url)
	doc, err := html.Parse(strings.NewReader(dom))
	require.NoError(t, err)
	assert.Equal(t, "stopping", text(byID(doc, "phase")))
	assert.Equal(t, "mesosgot: job failed: task bad-0: TASK_FAILED: out of cheese", text(byID(doc, "error")))
	assert.Equal(t, "1", text(byID(doc, "c-failed")))
	rows := tableRows(byID(doc, "tasks"))
	require.Len(t, rows, 2, dom)
	assert.Equal(t, []string{"<b>ok</b>-0", "TASK_RUNNING"}, rows[0][:2])
	assert.Equal(t, []string{"bad-0", "TASK_FAILED"}, rows[1][:2])
	assert.Empty(t, tableRows(byID(doc, "links")))
}

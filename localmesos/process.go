package localmesos

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// sandboxDir is where an executor run lives, laid out like a Mesos agent's
// work directory.
func sandboxDir(workDir, agentID, frameworkID, executorID string, run int) string {
	return filepath.Join(workDir, "slaves", agentID, "frameworks", frameworkID,
		"executors", executorID, "runs", fmt.Sprint(run))
}

// fetchURIs fetches every URI into dir, like the Mesos fetcher: http(s)
// URLs are downloaded, file:// URLs and local paths are copied; files
// marked executable get mode 0755; archives are extracted unless extract is
// false.
func fetchURIs(ctx context.Context, uris []*mesos.CommandInfo_URI, dir string) error {
	for _, u := range uris {
		if err := fetchURI(ctx, u, dir); err != nil {
			return fmt.Errorf("fetch %q: %w", u.GetValue(), err)
		}
	}
	return nil
}

func fetchURI(ctx context.Context, u *mesos.CommandInfo_URI, dir string) error {
	value := u.GetValue()
	var name string
	var open func() (io.ReadCloser, error)
	switch {
	case strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://"):
		pu, err := url.Parse(value)
		if err != nil {
			return err
		}
		name = path.Base(pu.Path)
		open = func() (io.ReadCloser, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, value, nil)
			if err != nil {
				return nil, err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				return nil, fmt.Errorf("HTTP %s", resp.Status)
			}
			return resp.Body, nil
		}
	case strings.HasPrefix(value, "file://") || !strings.Contains(value, "://"):
		p := strings.TrimPrefix(value, "file://")
		if p == "" {
			return errors.New("empty path")
		}
		name = filepath.Base(p)
		open = func() (io.ReadCloser, error) { return os.Open(p) }
	default:
		return errors.New("unsupported URI scheme")
	}
	if name == "" || name == "." || name == "/" {
		return errors.New("cannot name the fetched file")
	}
	dst := filepath.Join(dir, name)
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// Download next to the target, then copy into place while no process
	// can be forked: a child forked while the target is open for writing
	// would keep it open until it execs, and exec'ing the target in that
	// window fails with "text file busy".
	tmp, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, rc); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := writeFile(dst, tmp, 0o644); err != nil {
		return err
	}
	if u.GetExecutable() {
		return os.Chmod(dst, 0o755)
	}
	if u.Extract == nil || u.GetExtract() {
		return extract(dst, dir)
	}
	return nil
}

// extract unpacks dst into dir if its name says it is an archive.
func extract(dst, dir string) error {
	lower := strings.ToLower(dst)
	switch {
	case strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz"):
		f, err := os.Open(dst)
		if err != nil {
			return err
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		return untar(gz, dir)
	case strings.HasSuffix(lower, ".tar"):
		f, err := os.Open(dst)
		if err != nil {
			return err
		}
		defer f.Close()
		return untar(f, dir)
	case strings.HasSuffix(lower, ".zip"):
		zr, err := zip.OpenReader(dst)
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		defer zr.Close()
		for _, zf := range zr.File {
			target, err := within(dir, zf.Name)
			if err != nil {
				return err
			}
			if zf.FileInfo().IsDir() {
				if err := os.MkdirAll(target, 0o755); err != nil {
					return err
				}
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			err = writeFile(target, rc, zf.Mode())
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		target, err := within(dir, h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, os.FileMode(h.Mode)); err != nil {
				return err
			}
		}
	}
}

// within joins name to dir, refusing names that escape dir.
func within(dir, name string) (string, error) {
	target := filepath.Join(dir, name)
	if target != dir && !strings.HasPrefix(target, dir+string(filepath.Separator)) {
		return "", fmt.Errorf("extract: %q escapes the sandbox", name)
	}
	return target, nil
}

// writeFile writes r to target holding syscall.ForkLock, so that no child
// process inherits the open file (see fetchURI).
func writeFile(target string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	f, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode.Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// executorCommand builds the executor's command: `sh -c value` when shell
// is true (the default), else value exec'd with arguments (arguments[0]
// being argv[0], as in Mesos). It runs in dir, in its own process group, as
// cred (nil: the agent's user), with env and stdout/stderr going to files in
// dir.
func executorCommand(ci *mesos.CommandInfo, dir string, env []string, cred *syscall.Credential, survive bool) (*exec.Cmd, func(), error) {
	var cmd *exec.Cmd
	if ci.Shell == nil || ci.GetShell() {
		if ci.GetValue() == "" {
			return nil, nil, errors.New("empty shell command")
		}
		cmd = exec.Command("/bin/sh", "-c", ci.GetValue())
	} else {
		if ci.GetValue() == "" {
			return nil, nil, errors.New("empty command value")
		}
		cmd = exec.Command(ci.GetValue())
		if args := ci.GetArguments(); len(args) > 0 {
			cmd.Args = args
		}
	}
	cmd.Dir = dir
	cmd.Env = env
	// Pdeathsig: the executor dies with this process, even by kill -9, so
	// none is left running when an embedded cluster's owner dies. Linux
	// sends it when the thread that forked exits; Go ends a thread only
	// when a goroutine locked to it returns, which the agent's goroutines
	// never are. A shell command should exec its executor (mesosgot's
	// does) so that the executor itself, not only the shell, gets it.
	// (Go sets it after the credentials, which would clear it.)
	// An executor the agent checkpoints (survive) has no Pdeathsig: it
	// outlives the agent and waits to be recovered by its next run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
	if survive {
		cmd.SysProcAttr.Pdeathsig = 0
	}
	stdout, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, err
	}
	stderr, err := os.OpenFile(filepath.Join(dir, "stderr"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		stdout.Close()
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, func() { stdout.Close(); stderr.Close() }, nil
}

// exitStatus returns the raw wait status (what Mesos puts in
// ExitedExecutorMessage.status) and a description of it in the words of
// Mesos' WSTRINGIFY ("exited with status 3", "terminated with signal
// Killed").
func exitStatus(ps *os.ProcessState) (int32, string) {
	if ps == nil {
		return -1, "did not start"
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return int32(ps.ExitCode()), ps.String()
	}
	switch {
	case ws.Exited():
		return int32(ws), fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		// As Mesos' WSTRINGIFY words it (strsignal: "Killed").
		desc := "terminated with signal " + capitalize(ws.Signal().String())
		if ws.CoreDump() {
			desc += " (core dumped)"
		}
		return int32(ws), desc
	}
	return int32(ws), ps.String()
}

// signalGroup signals the process group pgid; errors (e.g. already gone)
// are ignored.
func signalGroup(pgid int, sig syscall.Signal) {
	if pgid > 0 {
		_ = syscall.Kill(-pgid, sig)
	}
}

// capitalize upper-cases s's first letter (Go's signal names are strsignal's
// in lower case).
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

package localmesos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// runAs is the OS user an executor runs as.
type runAs struct {
	name     string
	uid, gid int
	groups   []uint32
}

// executorUser is the user Mesos' Framework::addExecutor picks under
// --switch_user: ExecutorInfo.command.user (a command task's own
// CommandInfo.user), else FrameworkInfo.user. "" means the agent's own user
// (NoSwitchUser). Called with a.mu held.
func (a *agent) executorUser(fw *agentFramework, ex *executor) string {
	if a.c.cfg.NoSwitchUser {
		return ""
	}
	if u := ex.info.GetCommand().GetUser(); u != "" {
		return u
	}
	return fw.info.GetUser()
}

// lookupUser resolves name as stout's os::chown does, with its messages.
func lookupUser(name string) (*runAs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("No such user '%s'", name)
		}
		return nil, fmt.Errorf("Failed to get user information for '%s': %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("Failed to get user information for '%s': uid %q gid %q", name, u.Uid, u.Gid)
	}
	r := &runAs{name: name, uid: uid, gid: gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				r.groups = append(r.groups, uint32(n))
			}
		}
	}
	return r, nil
}

// createSandbox creates dir as Mesos' paths::createSandboxDirectory does:
// mode 0750, owned by the executor's user when there is one.
func createSandbox(dir string, r *runAs) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("Failed to create directory: %w", err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return fmt.Errorf("Failed to chmod directory: %w", err)
	}
	if r != nil {
		if err := os.Lchown(dir, r.uid, r.gid); err != nil {
			_ = os.Remove(dir)
			return fmt.Errorf("Failed to chown directory to '%s': %w", r.name, err)
		}
	}
	return nil
}

// chownTree gives everything under dir (fetched files, stdout, stderr) to
// the executor's user, as the Mesos fetcher and container logger, which run
// as that user, leave them.
func chownTree(dir string, r *runAs) error {
	if r == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, r.uid, r.gid); err != nil {
			return fmt.Errorf("chown %s to '%s': %w", p, r.name, err)
		}
		return nil
	})
}

// credential is what the executor's process runs as: nil when that is the
// agent's own user (a non-root agent cannot set its groups).
func (r *runAs) credential() *syscall.Credential {
	if r == nil || (r.uid == os.Getuid() && r.gid == os.Getgid()) {
		return nil
	}
	return &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid), Groups: r.groups}
}

package localmesos

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	log "github.com/golang/glog"
)

// A cluster that makes its own work directory (localmesos-* in the temp
// dir) records its pid there, so that a later cluster can remove the
// directories of owners that died without cleaning up (kill -9).

// workDirPattern matches the work directories clusters make for themselves.
const workDirPattern = "localmesos-*"

// ownerFile is the file in a work directory that holds its owner's pid.
const ownerFile = "owner.pid"

// TempWorkDir makes a work directory localmesos-* in the temp dir and
// records this process as its owner, after removing the directories of
// owners that died without removing theirs (kill -9). Start uses it when
// Config.WorkDir is empty; a program that passes its own WorkDir can use it
// too. Remove the directory when done, or call KeepWorkDir to keep it.
func TempWorkDir() (string, error) {
	removeStaleWorkDirs(os.TempDir())
	dir, err := os.MkdirTemp("", "localmesos-")
	if err != nil {
		return "", err
	}
	if err := claimWorkDir(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// KeepWorkDir drops the owner record of a directory made by TempWorkDir,
// so that later clusters do not remove it once this process has ended.
func KeepWorkDir(dir string) error {
	err := os.Remove(filepath.Join(dir, ownerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// claimWorkDir records this process as the owner of dir.
func claimWorkDir(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// removeStaleWorkDirs removes the work directories in tmp whose recorded
// owner is no longer running. Directories without an owner file (made by
// an older version, or still being set up) are left alone.
func removeStaleWorkDirs(tmp string) {
	dirs, err := filepath.Glob(filepath.Join(tmp, workDirPattern))
	if err != nil {
		return
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warningf("localmesos: removing the stale work dir %s of dead process %d: %v", dir, pid, err)
			continue
		}
		log.Infof("localmesos: removed the stale work dir %s of dead process %d", dir, pid)
	}
}

// processAlive reports whether a process with this pid exists (one we may
// not signal counts as alive).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

package localmesos

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRemoveStaleWorkDirs(t *testing.T) {
	tmp := t.TempDir()
	// A pid that is surely dead: a child that has exited and been reaped.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := cmd.Process.Pid
	mk := func(name, owner string) string {
		dir := filepath.Join(tmp, name)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "slaves"), 0o755))
		if owner != "" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o644))
		}
		return dir
	}
	stale := mk("localmesos-dead", strconv.Itoa(dead))
	live := mk("localmesos-live", strconv.Itoa(os.Getppid()))
	mine := mk("localmesos-mine", strconv.Itoa(os.Getpid()))
	unowned := mk("localmesos-old", "")
	garbage := mk("localmesos-garbage", "not a pid")
	other := mk("other-dead", strconv.Itoa(dead))
	removeStaleWorkDirs(tmp)
	assert.NoDirExists(t, stale)
	for _, d := range []string{live, mine, unowned, garbage, other} {
		assert.DirExists(t, d)
	}
}

func TestTempWorkDirOwnedAndKept(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir, err := TempWorkDir()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b))
	require.NoError(t, KeepWorkDir(dir))
	assert.NoFileExists(t, filepath.Join(dir, ownerFile), "a kept directory has no owner to outlive")
	require.NoError(t, KeepWorkDir(dir), "twice is fine")
}

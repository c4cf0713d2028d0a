package examples_test

import (
	"flag"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot"
)

// TestReadmeJobIsTheHelloExample checks that the job the README shows is,
// byte for byte, the hello example that CI builds and runs: the README's
// code compiles as written.
func TestReadmeJobIsTheHelloExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```\n").FindAllSubmatch(readme, -1)
	files := []string{"hello/executor/main.go", "hello/scheduler/main.go"}
	require.Len(t, blocks, len(files), "the README's Go code blocks")
	for i, f := range files {
		want, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(blocks[i][1]), "README code block %d is %s", i+1, f)
	}
}

func TestHelloExampleOnLocalCluster(t *testing.T) {
	bins := build(t, t.TempDir(), "./hello/scheduler", "./hello/executor")
	out, err := runJob(t, bins[0], bins[1])
	t.Logf("%s", tail(out, 6))
	require.NoError(t, err, out)
	for _, task := range []string{"echo-0", "echo-1", "echo-2", "echo-3"} {
		assert.Contains(t, out, task+" says hello from "+task)
	}
}

// TestReadmeListsEveryFlag checks that the README's flag table has a row
// for every scheduler flag.
func TestReadmeListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	mesosgot.RegisterSchedulerFlags(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		assert.Contains(t, string(readme), "| `-"+f.Name+"` |", "README row for -%s", f.Name)
	})
	assert.NotZero(t, n)
}

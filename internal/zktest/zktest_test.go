package zktest

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerAnswersAndIsRemoved(t *testing.T) {
	var s *Server
	t.Run("server", func(t *testing.T) {
		s = Start(t)
		reply, err := s.Command("ruok")
		require.NoError(t, err)
		assert.Equal(t, "imok", reply)
		assert.Equal(t, "zk://"+s.Addr+"/mesos", s.URL("/mesos"))
	})
	if s == nil {
		return // skipped
	}
	_, err := os.Stat(s.dir)
	assert.True(t, os.IsNotExist(err), "data dir %s left behind", s.dir)
	select {
	case <-s.done:
	default:
		t.Fatal("server process still running after the test")
	}
}

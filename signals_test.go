package mesosgot

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExitCode(t *testing.T) {
	assert.Equal(t, 0, ExitCode(nil))
	assert.Equal(t, 1, ExitCode(errors.New("x")))
	assert.Equal(t, 1, ExitCode(&JobError{Cause: "TASK_FAILED"}))
	assert.Equal(t, 130, ExitCode(&JobError{Cause: "interrupted", Signal: syscall.SIGINT}))
	assert.Equal(t, 143, ExitCode(fmt.Errorf("wrapped: %w", &JobError{Signal: syscall.SIGTERM})))
}

func TestExitCodeOfWaitStatus(t *testing.T) {
	for _, tc := range []struct{ raw, want int }{
		{0, 0},
		{35072, 137}, // exited with 137 (a shell whose child was SIGKILLed)
		{1 << 8, 1},
		{9, 137},    // killed by SIGKILL
		{15, 143},   // killed by SIGTERM
		{0x86, 134}, // SIGABRT with a core dump
		{-1, -1},    // never started
	} {
		assert.Equal(t, tc.want, exitCodeOf(tc.raw), "raw %d", tc.raw)
	}
}

package mesosgot

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSchedEventTypeValuesAndNames(t *testing.T) {
	// The seed's order: the values are part of the API.
	tests := []struct {
		et    SchedEventType
		value int
		name  string
	}{
		{Registered, 0, "Registered"},
		{Reregistered, 1, "Reregistered"},
		{Disconnected, 2, "Disconnected"},
		{TaskLaunched, 3, "TaskLaunched"},
		{TaskRunning, 4, "TaskRunning"},
		{TaskFinished, 5, "TaskFinished"},
		{TaskFailed, 6, "TaskFailed"},
		{TaskKilled, 7, "TaskKilled"},
		{TaskLost, 8, "TaskLost"},
		{OfferRescinded, 9, "OfferRescinded"},
		{SlaveLost, 10, "SlaveLost"},
		{ExecutorLost, 11, "ExecutorLost"},
		{Shutdown, 12, "Shutdown"},
		{Error, 13, "Error"},
	}
	require.Len(t, tests, int(NumSchedEventTypes), "every event type is listed")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.value, int(tc.et))
			assert.Equal(t, tc.name, tc.et.String())
			assert.Equal(t, tc.name, fmt.Sprint(tc.et), "fmt uses String")
		})
	}
	// The 15th constant counts the others; it is not an event.
	assert.Equal(t, 14, int(NumSchedEventTypes))
	// Types added since follow it.
	assert.Equal(t, 15, int(JobNotAdmitted))
	assert.Equal(t, "JobNotAdmitted", JobNotAdmitted.String())
}

func TestSchedEventTypeStringOutOfRange(t *testing.T) {
	tests := []struct {
		et   SchedEventType
		want string
	}{
		{NumSchedEventTypes, "SchedEventType(14)"},
		{16, "SchedEventType(16)"},
		{1000, "SchedEventType(1000)"},
		{-1, "SchedEventType(-1)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			var got string
			require.NotPanics(t, func() { got = tc.et.String() })
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSchedEventTypeNamesUnique(t *testing.T) {
	seen := map[string]SchedEventType{}
	for et := SchedEventType(0); et < NumSchedEventTypes; et++ {
		name := et.String()
		require.NotEmpty(t, name)
		prev, dup := seen[name]
		require.False(t, dup, "%d and %d are both %q", prev, et, name)
		seen[name] = et
	}
}

func TestJobErrorError(t *testing.T) {
	tests := []struct {
		name string
		err  *JobError
		want string
	}{
		{"with task", &JobError{TaskName: "worker-3", Cause: "TASK_FAILED: boom"}, "mesosgot: job failed: task worker-3: TASK_FAILED: boom"},
		{"without task", &JobError{Cause: "agent a1 lost"}, "mesosgot: job failed: agent a1 lost"},
		{"empty cause", &JobError{TaskName: "t-0"}, "mesosgot: job failed: task t-0: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.err.Error())
			var err error = tc.err
			var je *JobError
			require.True(t, errors.As(fmt.Errorf("wrapped: %w", err), &je))
			assert.Same(t, tc.err, je)
		})
	}
}

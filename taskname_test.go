package mesosgot

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidateTaskName follows Mesos' common::validation::validateID
// (src/common/validation.cpp), which the master applies to every TaskID
// (validateTaskID, src/master/validation.cpp), on the IDs <name>-<index>.
func TestValidateTaskName(t *testing.T) {
	// name-9 is exactly 255 bytes with a 253-byte name.
	name253 := strings.Repeat("a", 253)
	tests := []struct {
		name    string
		count   int
		errLike string // "" = valid
	}{
		{"worker", 4, ""},
		{"a.b_c:d@e+f~g", 1, ""},
		{"élève", 2, ""}, // UTF-8 is fine: iscntrl is false for its bytes
		{".", 1, ""},     // its ID ".-0" is not "."
		{"..", 1, ""},    // nor is "..-0" ".."
		{"spaces ok", 1, ""},
		{name253, 1, ""},                          // name253-0: 255 bytes
		{name253, 10, ""},                         // name253-9: 255 bytes
		{name253, 0, ""},                          // no tasks, checked as name-0
		{name253, 11, "over Mesos' limit of 255"}, // name253-10: 256
		{strings.Repeat("b", 254), 1, "would be 256 bytes"},
		{"", 1, "task name is empty"},
		{"a/b", 1, `contains '/' at byte 1`},
		{`a\b`, 1, `contains '\\' at byte 1`},
		{"tab\there", 1, `contains '\t'`},
		{"nl\n", 1, `contains '\n'`},
		{"nul\x00", 1, `contains '\x00'`},
		{"del\x7f", 1, `contains '\x7f'`},
		{"esc\x1b[0m", 1, `contains '\x1b'`},
	}
	for _, tc := range tests {
		t.Run(abbrev(tc.name), func(t *testing.T) {
			err := validateTaskName(tc.name, tc.count)
			if tc.errLike == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.errLike)
		})
	}
}

func TestValidateTasksNegativeCount(t *testing.T) {
	err := validateTasks([]*AppTaskResourceInfo{nil, {Name: "ok", Count: 1}, {Name: "n", Count: -1}})
	assert.ErrorContains(t, err, `task "n": negative count -1`)
}

// TestBadTaskNameFailsBeforeTheJob checks that a name Mesos would refuse
// keeps the job from starting, with the reason, from Err and from Run.
func TestBadTaskNameFailsBeforeTheJob(t *testing.T) {
	for _, spawn := range []struct {
		name string
		do   func(s *GoTaskScheduler)
	}{
		{"SpawnTask", func(s *GoTaskScheduler) { s.SpawnTask("etl/extract", 2, nil) }},
		{"SpawnTasks", func(s *GoTaskScheduler) {
			s.SpawnTasks([]*AppTaskResourceInfo{{Name: "ok", Count: 1}, {Name: "etl/extract", Count: 2}})
		}},
	} {
		t.Run(spawn.name+" Err", func(t *testing.T) {
			checkNoLeak(t)
			s := newTestScheduler(t, "", testSchedConfig(t))
			spawn.do(s)
			s.DriverConfig()
			assert.ErrorContains(t, s.Err(), `task name "etl/extract" contains '/'`)
		})
		t.Run(spawn.name+" Run", func(t *testing.T) {
			checkNoLeak(t)
			s := newTestScheduler(t, "", testSchedConfig(t))
			spawn.do(s)
			err := s.Run()
			assert.ErrorContains(t, err, `task name "etl/extract" contains '/'`)
			assert.ErrorContains(t, err, "Mesos task IDs may not contain")
		})
	}
}

// TestBadTaskNameOnTheSeedPath: a driver built from DriverConfig despite
// Err still fails the job with the reason, before anything is launched.
func TestBadTaskNameOnTheSeedPath(t *testing.T) {
	checkNoLeak(t)
	f := newFakeJob(t, 1, func(e *GoTaskExecutor) {})
	f.sched.SpawnTask("bad\nname", 1, nil)
	f.sched.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		for range schedevent {
		}
	})
	err := f.run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `task name "bad\nname" contains '\n'`)
}

package localmesos

import (
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Follows Mesos' src/common/validation.cpp, validateID (through
// validation::task::internal::validateTaskID in src/master/validation.cpp):
// the master refuses such a task with TASK_ERROR, REASON_TASK_INVALID and
// validateID's message.
func TestConformanceTaskIDValidation(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")

	long := strings.Repeat("x", 256)
	want := map[string]string{
		"":          "ID must not be empty",
		long:        "ID must not be greater than 255 characters",
		".":         "'.' is disallowed",
		"..":        "'..' is disallowed",
		"a/b":       "'a/b' contains invalid characters",
		`a\b`:       `'a\b' contains invalid characters`,
		"tab\there": "'tab\there' contains invalid characters",
		"nul\x00":   "'nul\x00' contains invalid characters",
		"del\x7f":   "'del\x7f' contains invalid characters",
	}
	var tasks []*mesos.TaskInfo
	for id := range want {
		tasks = append(tasks, commandTask(id, "true", o))
	}
	okID := strings.Repeat("y", 255) // NAME_MAX is allowed, as are dots and spaces inside
	tasks = append(tasks, commandTask(okID, "true", o), commandTask("a.b c", "true", o))
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, tasks, noRefuse())
	require.NoError(t, err)

	got := map[string]*mesos.TaskStatus{}
	finished := 0
	for len(got) < len(want) || finished < 2 {
		st := recv(t, s.statuses, "status updates")
		switch st.GetState() {
		case mesos.TaskState_TASK_ERROR:
			got[st.GetTaskId().GetValue()] = st
		case mesos.TaskState_TASK_FINISHED:
			assert.Contains(t, []string{okID, "a.b c"}, st.GetTaskId().GetValue())
			finished++
		case mesos.TaskState_TASK_RUNNING:
		default:
			t.Fatalf("unexpected %s for %q: %s", st.GetState(), st.GetTaskId().GetValue(), st.GetMessage())
		}
	}
	for id, msg := range want {
		st := got[id]
		require.NotNil(t, st, "%q", id)
		assert.Equal(t, msg, st.GetMessage(), "%q", id)
		assert.Equal(t, mesos.TaskStatus_REASON_TASK_INVALID, st.GetReason(), "%q", id)
		assert.Equal(t, mesos.TaskStatus_SOURCE_MASTER, st.GetSource(), "%q", id)
	}
}

// Follows Mesos' src/master/validation.cpp, task::internal::validateResources:
// "Task uses no resources" looks at the task's own resources, not at those
// of the executor it would start.
func TestConformanceTaskUsesNoResources(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")

	e := testExecutorInfo("exec") // has resources of its own
	ti := newTask("bare", o, e, "run")
	ti.Resources = nil
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{ti}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "bare", mesos.TaskState_TASK_ERROR)
	assert.Equal(t, "Task uses no resources", st.GetMessage())
	assert.Equal(t, mesos.TaskStatus_REASON_TASK_INVALID, st.GetReason())
	assert.EqualValues(t, 0, c.Stats().ExecutorsLaunched)
}

// Follows Mesos' src/master/validation.cpp,
// executor::internal::validateShutdownGracePeriod: a negative
// ExecutorInfo.shutdown_grace_period is refused.
func TestConformanceNegativeShutdownGracePeriod(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Config{})
	s := newTestSched()
	d := startDriver(t, c, s, nil)
	recv(t, s.registered, "registration")
	o := recv(t, s.offers, "offer")
	e := testExecutorInfo("exec")
	SetShutdownGracePeriod(e, -time.Second)
	_, err := d.LaunchTasks([]*mesos.OfferID{o.Id}, []*mesos.TaskInfo{newTask("t", o, e, "run")}, noRefuse())
	require.NoError(t, err)
	st := waitState(t, s, "t", mesos.TaskState_TASK_ERROR)
	assert.Equal(t, "ExecutorInfo's 'shutdown_grace_period' must be non-negative", st.GetMessage())
}

// SetShutdownGracePeriod writes ExecutorInfo.shutdown_grace_period (field 13,
// a DurationInfo) so that a Mesos master reading the full protobuf sees it.
func TestShutdownGracePeriodWireFormat(t *testing.T) {
	e := &mesos.ExecutorInfo{ExecutorId: util.NewExecutorID("e"), Command: &mesos.CommandInfo{Value: proto.String("x")}}
	_, ok := shutdownGracePeriod(e)
	assert.False(t, ok)
	SetShutdownGracePeriod(e, time.Second)
	SetShutdownGracePeriod(e, 1500*time.Millisecond) // replaces, not appends
	b, err := proto.Marshal(e)
	require.NoError(t, err)
	var back mesos.ExecutorInfo
	require.NoError(t, proto.Unmarshal(b, &back))
	g, ok := shutdownGracePeriod(&back)
	require.True(t, ok)
	assert.Equal(t, 1500*time.Millisecond, g)
	// Tag 13, length 6, then DurationInfo{nanoseconds: 1.5e9} (tag 1, varint).
	assert.Equal(t, []byte{13<<3 | 2, 6, 1 << 3, 0x80, 0xde, 0xa0, 0xcb, 0x05}, back.XXX_unrecognized)
}

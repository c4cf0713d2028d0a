package localmesos

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// maxIDLength is NAME_MAX, the longest ID Mesos accepts (IDs name
// directories in the agent's work directory).
const maxIDLength = 255

// validateID checks a task or executor ID as Mesos'
// common::validation::validateID does, with its messages.
func validateID(id string) error {
	if id == "" {
		return errors.New("ID must not be empty")
	}
	if len(id) > maxIDLength {
		return fmt.Errorf("ID must not be greater than %d characters", maxIDLength)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("'%s' is disallowed", id)
	}
	if strings.ContainsFunc(id, func(r rune) bool { return r < 0x80 && unicode.IsControl(r) || r == '/' || r == '\\' }) {
		return fmt.Errorf("'%s' contains invalid characters", id)
	}
	return nil
}

// validateTask checks ti against the remaining offered resources in the
// order of Mesos' validation::task::validate (task fields first, then its
// executor) and returns the resources it consumes: its own, plus a new
// executor's.
func (m *master) validateTask(fw *framework, agentID string, ti *mesos.TaskInfo, remaining resSet, batch map[string]bool) (resSet, error) {
	id := ti.GetTaskId().GetValue()
	if err := validateID(id); err != nil {
		return resSet{}, err
	}
	if fw.tasks[id] != nil || batch[id] {
		return resSet{}, fmt.Errorf("Task has duplicate ID: %s", id)
	}
	if fw.unreachable[id] != nil {
		return resSet{}, fmt.Errorf("Task reuses the ID of an unreachable task: %s", id)
	}
	if ti.GetSlaveId().GetValue() != agentID {
		return resSet{}, fmt.Errorf("Task uses invalid agent %s while agent %s is expected", ti.GetSlaveId().GetValue(), agentID)
	}
	// Checked on the task's own resources, not with its executor's.
	if len(ti.GetResources()) == 0 {
		return resSet{}, errors.New("Task uses no resources")
	}
	for _, r := range ti.GetResources() {
		if err := validResource(r); err != nil {
			return resSet{}, fmt.Errorf("Task uses invalid resources: %w", err)
		}
	}

	e, cmd := ti.GetExecutor(), ti.GetCommand()
	if (e == nil) == (cmd == nil) {
		return resSet{}, errors.New("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	need := fromProto(ti.GetResources())
	if e != nil {
		eid := e.GetExecutorId().GetValue()
		if err := validateID(eid); err != nil {
			return resSet{}, err
		}
		if g, ok := shutdownGracePeriod(e); ok && g < 0 {
			return resSet{}, errors.New("ExecutorInfo's 'shutdown_grace_period' must be non-negative")
		}
		if e.GetCommand() == nil {
			return resSet{}, errors.New("'ExecutorInfo.command' must be set")
		}
		if fid := e.GetFrameworkId().GetValue(); fid != fw.id {
			return resSet{}, fmt.Errorf("ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)", fid, fw.id)
		}
		for _, r := range e.GetResources() {
			if err := validResource(r); err != nil {
				return resSet{}, fmt.Errorf("Executor uses invalid resources: %w", err)
			}
		}
		if old := fw.executors[agentID][eid]; old != nil {
			if !proto.Equal(e, old) {
				return resSet{}, errors.New("ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID")
			}
		} else {
			need = need.plus(fromProto(e.GetResources()))
		}
	} else if cmd.GetValue() == "" && !(cmd.Shell != nil && !cmd.GetShell()) {
		return resSet{}, errors.New("Task's `CommandInfo` is invalid: command value is empty")
	}
	if !remaining.contains(need) {
		return resSet{}, fmt.Errorf("Total resources %s required by task and its executor is more than available %s", need, remaining)
	}
	return need, nil
}

// validResource rejects what Mesos' Resources::validate rejects among the
// resources localmesos knows: an empty name and negative scalars.
func validResource(r *mesos.Resource) error {
	if r.GetName() == "" {
		return fmt.Errorf("empty resource name in %v", r)
	}
	if r.GetScalar().GetValue() < 0 {
		return fmt.Errorf("negative scalar in %v", r)
	}
	return nil
}

// shutdownGracePeriodField is ExecutorInfo.shutdown_grace_period (a
// DurationInfo), which mesos-go v0.0.11's protos predate: it travels in
// XXX_unrecognized.
const shutdownGracePeriodField = 13

// shutdownGracePeriod reads ExecutorInfo.shutdown_grace_period, if set.
func shutdownGracePeriod(e *mesos.ExecutorInfo) (time.Duration, bool) {
	b, ok := unknownField(e.XXX_unrecognized, shutdownGracePeriodField)
	if !ok {
		return 0, false
	}
	ns, ok := varintField(b, 1) // DurationInfo.nanoseconds
	if !ok {
		return 0, false
	}
	return time.Duration(int64(ns)), true
}

// SetShutdownGracePeriod sets ExecutorInfo.shutdown_grace_period (field 13
// of Mesos' ExecutorInfo, absent from mesos-go v0.0.11's generated type):
// the time the agent gives the executor between ShutdownExecutorMessage and
// killing it, instead of the agent's default.
func SetShutdownGracePeriod(e *mesos.ExecutorInfo, d time.Duration) {
	var dur []byte
	dur = append(dur, proto.EncodeVarint(1<<3|0)...)
	dur = append(dur, proto.EncodeVarint(uint64(d.Nanoseconds()))...)
	var out []byte
	rest := e.XXX_unrecognized
	for len(rest) > 0 {
		_, field, end, ok := nextField(rest)
		if !ok {
			break
		}
		if field != shutdownGracePeriodField {
			out = append(out, rest[:end]...)
		}
		rest = rest[end:]
	}
	out = append(out, proto.EncodeVarint(shutdownGracePeriodField<<3|2)...)
	out = append(out, proto.EncodeVarint(uint64(len(dur)))...)
	out = append(out, dur...)
	e.XXX_unrecognized = out
}

// unknownField returns the payload of the last length-delimited field
// number field in b.
func unknownField(b []byte, field int) ([]byte, bool) {
	var found []byte
	ok := false
	for len(b) > 0 {
		payload, f, end, good := nextField(b)
		if !good {
			return nil, false
		}
		if f == field {
			found, ok = payload, true
		}
		b = b[end:]
	}
	return found, ok
}

// varintField returns the value of the last varint field number field in b.
func varintField(b []byte, field int) (uint64, bool) {
	var v uint64
	ok := false
	for len(b) > 0 {
		key, n := proto.DecodeVarint(b)
		if n == 0 {
			return 0, false
		}
		if int(key>>3) == field && key&7 == 0 {
			x, m := proto.DecodeVarint(b[n:])
			if m == 0 {
				return 0, false
			}
			v, ok = x, true
		}
		_, _, end, good := nextField(b)
		if !good {
			return 0, false
		}
		b = b[end:]
	}
	return v, ok
}

// nextField parses the field at the start of b, returning the payload of a
// length-delimited field, its number and where it ends.
func nextField(b []byte) (payload []byte, field int, end int, ok bool) {
	key, n := proto.DecodeVarint(b)
	if n == 0 {
		return nil, 0, 0, false
	}
	field = int(key >> 3)
	switch key & 7 {
	case 0:
		_, m := proto.DecodeVarint(b[n:])
		if m == 0 {
			return nil, 0, 0, false
		}
		return nil, field, n + m, true
	case 1:
		if len(b) < n+8 {
			return nil, 0, 0, false
		}
		return nil, field, n + 8, true
	case 2:
		l, m := proto.DecodeVarint(b[n:])
		if m == 0 || uint64(len(b)-n-m) < l {
			return nil, 0, 0, false
		}
		start := n + m
		return b[start : start+int(l)], field, start + int(l), true
	case 5:
		if len(b) < n+4 {
			return nil, 0, 0, false
		}
		return nil, field, n + 4, true
	}
	return nil, 0, 0, false
}

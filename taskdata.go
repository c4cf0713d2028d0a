package mesosgot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// TaskInfo.Data as mesosgot writes it: a version byte, then
//
//	uvarint count, then that many strings: the task's args
//	uvarint count, then that many key, value string pairs: its env, by key
//	version 2 only, the task's link parameters:
//	  string  the job's link key (linkKeySize bytes)
//	  string  the link identity (the executor ID)
//	  byte    flags: bit 0 set means frames are encrypted
//	  uvarint the link timeout in milliseconds (0: none)
//
// where a string is a uvarint length and that many bytes. Version 1 (no
// link parameters) is still decoded; an executor refuses to run such a task.

// taskDataVersion1 is the first byte of TaskInfo.Data without link parameters.
const taskDataVersion1 byte = 1

// taskDataVersion2 is the first byte of TaskInfo.Data with link parameters.
const taskDataVersion2 byte = 2

// taskLinkFlagEncrypt marks encrypted link frames in the link flags byte.
const taskLinkFlagEncrypt byte = 1 << 0

// taskLinkParams is what an executor needs to join its link to the
// scheduler.
type taskLinkParams struct {
	// Key is the job's link key; nil in version 1 data.
	Key []byte
	// ExecutorID is the link's identity.
	ExecutorID string
	// Encrypt says whether frames are encrypted (else only authenticated).
	Encrypt bool
	// Timeout is how long a silent scheduler is waited for (0: forever).
	Timeout time.Duration
}

// taskData is a task's TaskInfo.Data, decoded.
type taskData struct {
	// Args and Env are the task's arguments and environment.
	Args []string
	Env  map[string]string
	// Link holds the link parameters (zero in version 1 data).
	Link taskLinkParams
}

// encodeTaskData packs a task's args and env into version 1 TaskInfo.Data
// (no link parameters). Any bytes round-trip.
func encodeTaskData(args []string, env map[string]string) []byte {
	return appendArgsEnv([]byte{taskDataVersion1}, args, env)
}

// encodeTaskInfoData packs td into version 2 TaskInfo.Data.
func encodeTaskInfoData(td taskData) []byte {
	buf := appendArgsEnv([]byte{taskDataVersion2}, td.Args, td.Env)
	buf = appendStr(buf, string(td.Link.Key))
	buf = appendStr(buf, td.Link.ExecutorID)
	var flags byte
	if td.Link.Encrypt {
		flags |= taskLinkFlagEncrypt
	}
	buf = append(buf, flags)
	return binary.AppendUvarint(buf, uint64(max(td.Link.Timeout, 0)/time.Millisecond))
}

// appendStr appends a length-prefixed string.
func appendStr(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// appendArgsEnv appends args and env (sorted by key).
func appendArgsEnv(buf []byte, args []string, env map[string]string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(args)))
	for _, a := range args {
		buf = appendStr(buf, a)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf = binary.AppendUvarint(buf, uint64(len(keys)))
	for _, k := range keys {
		buf = appendStr(buf, k)
		buf = appendStr(buf, env[k])
	}
	return buf
}

// decodeTaskData returns the args and env of TaskInfo.Data of either
// version. Empty data means no args and no env.
func decodeTaskData(data []byte) (args []string, env map[string]string, err error) {
	td, err := decodeTaskInfoData(data)
	if err != nil {
		return nil, nil, err
	}
	return td.Args, td.Env, nil
}

// taskDataReader reads TaskInfo.Data.
type taskDataReader struct {
	// rest is the unread input.
	rest []byte
}

// next reads a uvarint.
func (r *taskDataReader) next() (uint64, error) {
	n, k := binary.Uvarint(r.rest)
	if k <= 0 {
		return 0, errors.New("task data: truncated length")
	}
	r.rest = r.rest[k:]
	return n, nil
}

// str reads a length-prefixed string.
func (r *taskDataReader) str() (string, error) {
	n, err := r.next()
	if err != nil {
		return "", err
	}
	if n > uint64(len(r.rest)) {
		return "", fmt.Errorf("task data: string of %d bytes exceeds remaining %d", n, len(r.rest))
	}
	s := string(r.rest[:n])
	r.rest = r.rest[n:]
	return s, nil
}

// count reads an entry count, refusing one the rest cannot hold (every
// entry takes at least one byte), so garbage cannot make the decoder
// allocate beyond its input.
func (r *taskDataReader) count() (int, error) {
	n, err := r.next()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.rest)) {
		return 0, fmt.Errorf("task data: implausible count %d", n)
	}
	return int(n), nil
}

// decodeTaskInfoData reverses encodeTaskData and encodeTaskInfoData.
// Empty data means no args, no env and no link parameters.
func decodeTaskInfoData(data []byte) (taskData, error) {
	td := taskData{Env: map[string]string{}}
	if len(data) == 0 {
		return td, nil
	}
	version := data[0]
	if version != taskDataVersion1 && version != taskDataVersion2 {
		return taskData{}, fmt.Errorf("task data: unknown version byte 0x%02x", version)
	}
	r := &taskDataReader{rest: data[1:]}
	fail := func(err error) (taskData, error) { return taskData{}, err }
	na, err := r.count()
	if err != nil {
		return fail(err)
	}
	for i := 0; i < na; i++ {
		a, err := r.str()
		if err != nil {
			return fail(err)
		}
		td.Args = append(td.Args, a)
	}
	ne, err := r.count()
	if err != nil {
		return fail(err)
	}
	for i := 0; i < ne; i++ {
		k, err := r.str()
		if err != nil {
			return fail(err)
		}
		v, err := r.str()
		if err != nil {
			return fail(err)
		}
		td.Env[k] = v
	}
	if version == taskDataVersion2 {
		key, err := r.str()
		if err != nil {
			return fail(err)
		}
		if len(key) != linkKeySize {
			return fail(fmt.Errorf("task data: link key of %d bytes, want %d", len(key), linkKeySize))
		}
		id, err := r.str()
		if err != nil {
			return fail(err)
		}
		if len(r.rest) == 0 {
			return fail(errors.New("task data: truncated link flags"))
		}
		flags := r.rest[0]
		r.rest = r.rest[1:]
		ms, err := r.next()
		if err != nil {
			return fail(err)
		}
		if ms > uint64(24*time.Hour/time.Millisecond) {
			return fail(fmt.Errorf("task data: link timeout of %d ms, more than a day", ms))
		}
		td.Link = taskLinkParams{Key: []byte(key), ExecutorID: id,
			Encrypt: flags&taskLinkFlagEncrypt != 0, Timeout: time.Duration(ms) * time.Millisecond}
	}
	if len(r.rest) != 0 {
		return fail(fmt.Errorf("task data: %d trailing bytes", len(r.rest)))
	}
	return td, nil
}

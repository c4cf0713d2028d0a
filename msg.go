package mesosgot

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DefTaskChanLen is the buffer size of every channel handed to app code
// (schedin, schedout, schedevent, and each task's in and out).
const (
	//Default buffer size of channels for communication between scheduler and tasks.
	DefTaskChanLen = 256
)

// GoTaskMsg is a message between the app scheduler and one task.
//
// TaskName always names the task, whichever way the message goes: on
// schedout it is the destination task, on schedin it is the task that sent
// it (stamped by the executor, so a task cannot speak for another). Task
// names are "<name>-<index>", as given to SpawnTask. MessageData is opaque:
// any bytes round-trip.
type GoTaskMsg struct {
	TaskName    string
	MessageData string
}

// msgVersion1 is the first byte of a single message encoded by EncodeMsg.
const msgVersion1 byte = 1

// ErrMalformedMsg is wrapped by every error DecodeMsg returns for input
// that is not a message it can read (truncated, garbage, unknown version).
var ErrMalformedMsg = errors.New("mesosgot: malformed message")

// EncodeMsg encodes one message for the wire: a version byte, the task name's
// length as a uvarint, the task name, then the data. Any bytes in either field
// round-trip through DecodeMsg.
func EncodeMsg(m GoTaskMsg) (s string, e error) {
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+len(m.TaskName)+len(m.MessageData))
	buf = append(buf, msgVersion1)
	buf = binary.AppendUvarint(buf, uint64(len(m.TaskName)))
	buf = append(buf, m.TaskName...)
	buf = append(buf, m.MessageData...)
	return string(buf), nil
}

// DecodeMsg decodes a message encoded by EncodeMsg. Truncated or garbage
// input returns an error wrapping ErrMalformedMsg; it never panics.
func DecodeMsg(s string) (GoTaskMsg, error) {
	if len(s) == 0 {
		return GoTaskMsg{}, fmt.Errorf("%w: empty input", ErrMalformedMsg)
	}
	if s[0] != msgVersion1 {
		return GoTaskMsg{}, fmt.Errorf("%w: unknown version byte 0x%02x", ErrMalformedMsg, s[0])
	}
	n, k := binary.Uvarint([]byte(s[1:min(len(s), 1+binary.MaxVarintLen64)]))
	if k <= 0 {
		return GoTaskMsg{}, fmt.Errorf("%w: bad task name length", ErrMalformedMsg)
	}
	rest := s[1+k:]
	if n > uint64(len(rest)) {
		return GoTaskMsg{}, fmt.Errorf("%w: task name length %d exceeds remaining %d bytes", ErrMalformedMsg, n, len(rest))
	}
	return GoTaskMsg{TaskName: rest[:n], MessageData: rest[n:]}, nil
}

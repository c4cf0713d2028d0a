package mesosgot

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// decodeFrameworkMessage decodes an ExecutorToFrameworkMessage whose data
// stays in body (the generated decoder copies it): a received frame is
// copied once, out of the socket. body must not be reused by the caller.
func decodeFrameworkMessage(body []byte, msg *mesos.ExecutorToFrameworkMessage) error {
	var haveData bool
	for b := body; len(b) > 0; {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad field key")
		}
		field, wire := key>>3, key&7
		start := b
		b = b[n:]
		var payload []byte
		switch wire {
		case 0:
			_, n = binary.Uvarint(b)
			if n <= 0 {
				return errors.New("bad varint")
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errors.New("short fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return errors.New("short fixed32")
			}
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("bad length")
			}
			payload = b[n : n+int(l) : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("wire type %d", wire)
		}
		raw := start[:len(start)-len(b)]
		if wire != 2 || field < 1 || field > 4 {
			msg.XXX_unrecognized = append(msg.XXX_unrecognized, raw...)
			continue
		}
		var err error
		switch field {
		case 1:
			msg.SlaveId = &mesos.SlaveID{}
			err = proto.Unmarshal(payload, msg.SlaveId)
		case 2:
			msg.FrameworkId = &mesos.FrameworkID{}
			err = proto.Unmarshal(payload, msg.FrameworkId)
		case 3:
			msg.ExecutorId = &mesos.ExecutorID{}
			err = proto.Unmarshal(payload, msg.ExecutorId)
		case 4:
			msg.Data, haveData = payload, true
		}
		if err != nil {
			return fmt.Errorf("field %d: %w", field, err)
		}
	}
	if msg.SlaveId == nil || msg.FrameworkId == nil || msg.ExecutorId == nil || !haveData {
		return errors.New("a required field is missing")
	}
	if msg.Data == nil {
		msg.Data = []byte{}
	}
	return nil
}

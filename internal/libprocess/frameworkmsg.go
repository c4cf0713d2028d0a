package libprocess

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// Framework messages (mesos.internal.ExecutorToFrameworkMessage and
// FrameworkToExecutorMessage) carry a job's data: they are the only large
// messages of the protocol. Both have the same four required fields:
// slave_id = 1, framework_id = 2, executor_id = 3 (each a message whose
// required string value = 1) and bytes data = 4. The types here decode them
// with the data left in the received body and encode them with the data
// written from where it lies (Parts), so that an agent relaying a message
// copies its data only in and out of the socket.

// FrameworkFields are the fields of a framework message: the three IDs'
// values and the data.
type FrameworkFields struct {
	// SlaveID, FrameworkID and ExecutorID are the values of the IDs.
	SlaveID, FrameworkID, ExecutorID string
	// Data is the message data; after Unmarshal, a slice of the decoded
	// body (which must then not be reused). In a Process' handler, Data is
	// valid until the handler returns and the messages it sent of these
	// fields are written (its buffer is then reused): a handler that keeps
	// the message longer calls Detach.
	Data []byte

	src *Body // the pooled body Data is a slice of (Process)
}

// Detach makes f independent of the received body: Data becomes a copy.
func (f *FrameworkFields) Detach() {
	if f.src != nil {
		f.Data = append([]byte{}, f.Data...)
		f.src = nil
	}
}

func (f *FrameworkFields) keepBody(b *Body) { f.src = b }

func (f *FrameworkFields) body() *Body { return f.src }

// ExecutorToFrameworkMessage is mesos.internal.ExecutorToFrameworkMessage
// decoded without copying its data (a proto.Message a libprocess process
// can install a handler for in place of the generated type).
type ExecutorToFrameworkMessage struct{ FrameworkFields }

// FrameworkToExecutorMessage is mesos.internal.FrameworkToExecutorMessage
// decoded without copying its data.
type FrameworkToExecutorMessage struct{ FrameworkFields }

// Reset implements proto.Message.
func (m *ExecutorToFrameworkMessage) Reset() { m.FrameworkFields = FrameworkFields{} }

// ProtoMessage implements proto.Message.
func (*ExecutorToFrameworkMessage) ProtoMessage() {}

// String implements proto.Message; it names the IDs and the data's length,
// not its bytes.
func (m *ExecutorToFrameworkMessage) String() string { return m.describe() }

// Unmarshal implements proto.Unmarshaler; m.Data is a slice of b.
func (m *ExecutorToFrameworkMessage) Unmarshal(b []byte) error { return m.FrameworkFields.Unmarshal(b) }

// Marshal implements proto.Marshaler (one buffer; Parts avoids the copy).
func (m *ExecutorToFrameworkMessage) Marshal() ([]byte, error) { return m.marshal(), nil }

// Reset implements proto.Message.
func (m *FrameworkToExecutorMessage) Reset() { m.FrameworkFields = FrameworkFields{} }

// ProtoMessage implements proto.Message.
func (*FrameworkToExecutorMessage) ProtoMessage() {}

// String implements proto.Message; it names the IDs and the data's length,
// not its bytes.
func (m *FrameworkToExecutorMessage) String() string { return m.describe() }

// Unmarshal implements proto.Unmarshaler; m.Data is a slice of b.
func (m *FrameworkToExecutorMessage) Unmarshal(b []byte) error { return m.FrameworkFields.Unmarshal(b) }

// Marshal implements proto.Marshaler (one buffer; Parts avoids the copy).
func (m *FrameworkToExecutorMessage) Marshal() ([]byte, error) { return m.marshal(), nil }

func (f *FrameworkFields) describe() string {
	return fmt.Sprintf("slave_id:%q framework_id:%q executor_id:%q data:<%d bytes>", f.SlaveID, f.FrameworkID, f.ExecutorID, len(f.Data))
}

// Unmarshal decodes the protobuf encoding b of a framework message, as
// strictly as the generated decoder: every wire type checked, the four
// fields and each ID's value required; unknown fields are skipped (as
// Mesos' agent, which builds a new message of the four fields, drops them),
// except groups (a deprecated wire type no Mesos message uses), which are
// refused. Data is a slice of b.
func (f *FrameworkFields) Unmarshal(b []byte) error {
	*f = FrameworkFields{}
	var have [5]bool
	for len(b) > 0 {
		field, wire, payload, rest, err := nextField(b)
		if err != nil {
			return err
		}
		b = rest
		if field < 1 || field > 4 {
			continue
		}
		if wire != 2 {
			return fmt.Errorf("framework message field %d: wire type %d, want 2", field, wire)
		}
		have[field] = true
		if field == 4 {
			f.Data = payload
			continue
		}
		v, err := idValue(payload)
		if err != nil {
			return fmt.Errorf("framework message field %d: %w", field, err)
		}
		switch field {
		case 1:
			f.SlaveID = v
		case 2:
			f.FrameworkID = v
		case 3:
			f.ExecutorID = v
		}
	}
	for i, name := range [...]string{1: "slave_id", 2: "framework_id", 3: "executor_id", 4: "data"} {
		if i > 0 && !have[i] {
			return fmt.Errorf("framework message: required field %s missing", name)
		}
	}
	if f.Data == nil {
		f.Data = []byte{}
	}
	return nil
}

// idValue decodes an ID message (SlaveID, FrameworkID, ExecutorID):
// required string value = 1, unknown fields skipped.
func idValue(b []byte) (string, error) {
	var v string
	have := false
	for len(b) > 0 {
		field, wire, payload, rest, err := nextField(b)
		if err != nil {
			return "", err
		}
		b = rest
		if field != 1 {
			continue
		}
		if wire != 2 {
			return "", fmt.Errorf("ID value: wire type %d, want 2", wire)
		}
		v, have = string(payload), true
	}
	if !have {
		return "", errors.New("ID: required field value missing")
	}
	return v, nil
}

// nextField splits the first field off the protobuf encoding b: its number,
// wire type, payload (for wire type 2, capped at its end) and the rest.
func nextField(b []byte) (field uint64, wire uint64, payload, rest []byte, err error) {
	key, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, nil, nil, errors.New("bad field key")
	}
	field, wire = key>>3, key&7
	if field == 0 {
		return 0, 0, nil, nil, errors.New("field number 0")
	}
	b = b[n:]
	switch wire {
	case 0:
		if _, n = binary.Uvarint(b); n <= 0 {
			return 0, 0, nil, nil, errors.New("bad varint")
		}
		return field, wire, nil, b[n:], nil
	case 1:
		if len(b) < 8 {
			return 0, 0, nil, nil, errors.New("short fixed64")
		}
		return field, wire, nil, b[8:], nil
	case 5:
		if len(b) < 4 {
			return 0, 0, nil, nil, errors.New("short fixed32")
		}
		return field, wire, nil, b[4:], nil
	case 2:
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, 0, nil, nil, errors.New("bad length")
		}
		end := n + int(l)
		return field, wire, b[n:end:end], b[end:], nil
	}
	return 0, 0, nil, nil, fmt.Errorf("wire type %d", wire)
}

// Parts returns the encoding of f as two parts: the IDs and the data's key
// and length in a new buffer, then f.Data itself (not copied).
func (f *FrameworkFields) Parts() net.Buffers {
	return FrameworkParts(f.SlaveID, f.FrameworkID, f.ExecutorID, f.Data)
}

func (f *FrameworkFields) marshal() []byte {
	p := f.Parts()
	return append(p[0], p[1]...)
}

// FrameworkParts returns the protobuf encoding of a framework message of
// these fields as two parts: its head (the IDs, the data's key and length)
// and data itself, which is not copied. The head is the generated
// encoder's, so the concatenation is the same bytes proto.Marshal makes.
func FrameworkParts(slaveID, frameworkID, executorID string, data []byte) net.Buffers {
	n := 3*(2+2*binary.MaxVarintLen64) + len(slaveID) + len(frameworkID) + len(executorID) + 1 + binary.MaxVarintLen64
	head := make([]byte, 0, n)
	for i, v := range [...]string{slaveID, frameworkID, executorID} {
		head = append(head, byte((i+1)<<3|2))
		head = binary.AppendUvarint(head, uint64(1+uvarintLen(uint64(len(v)))+len(v)))
		head = append(head, 1<<3|2)
		head = binary.AppendUvarint(head, uint64(len(v)))
		head = append(head, v...)
	}
	head = append(head, 4<<3|2)
	head = binary.AppendUvarint(head, uint64(len(data)))
	return net.Buffers{head, data}
}

// uvarintLen is the length of the varint encoding of x.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

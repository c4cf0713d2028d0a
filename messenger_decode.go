package mesosgot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// decodeFrameworkMessage decodes an ExecutorToFrameworkMessage whose data
// stays in body (the generated decoder copies it): a received frame is
// copied once, out of the socket. body must not be reused by the caller.
func decodeFrameworkMessage(body []byte, msg *mesos.ExecutorToFrameworkMessage) error {
	return decodeFrameworkFields(body, &msg.SlaveId, &msg.FrameworkId, &msg.ExecutorId, &msg.Data, &msg.XXX_unrecognized)
}

// decodeExecutorMessage is decodeFrameworkMessage for the other direction
// (the same fields).
func decodeExecutorMessage(body []byte, msg *mesos.FrameworkToExecutorMessage) error {
	return decodeFrameworkFields(body, &msg.SlaveId, &msg.FrameworkId, &msg.ExecutorId, &msg.Data, &msg.XXX_unrecognized)
}

// decodeFrameworkFields decodes the four fields both framework message
// directions share: slave_id = 1, framework_id = 2, executor_id = 3, data = 4.
func decodeFrameworkFields(body []byte, slave **mesos.SlaveID, fw **mesos.FrameworkID, ex **mesos.ExecutorID, data, unrec *[]byte) error {
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
			*unrec = append(*unrec, raw...)
			continue
		}
		var err error
		switch field {
		case 1:
			*slave = &mesos.SlaveID{}
			err = proto.Unmarshal(payload, *slave)
		case 2:
			*fw = &mesos.FrameworkID{}
			err = proto.Unmarshal(payload, *fw)
		case 3:
			*ex = &mesos.ExecutorID{}
			err = proto.Unmarshal(payload, *ex)
		case 4:
			*data, haveData = payload, true
		}
		if err != nil {
			return fmt.Errorf("field %d: %w", field, err)
		}
	}
	if *slave == nil || *fw == nil || *ex == nil || !haveData {
		return errors.New("a required field is missing")
	}
	if *data == nil {
		*data = []byte{}
	}
	return nil
}

// tokenTable holds framework message data a messenger replaced by a token
// (see frameworkToken): the driver carries the token, the scheduler or
// executor takes the data back.
type tokenTable struct {
	mu     sync.Mutex
	data   map[uint64][]byte
	free   map[uint64]func() // what to call once a token's frame is written (put)
	next   uint64
	closed bool
	out    bool // a messenger exchanges tokens of messages sent (adopt)
}

func newTokenTable() *tokenTable { return &tokenTable{data: map[uint64][]byte{}} }

// newAdoptedTokenTable is newTokenTable for a messenger's own table.
func newAdoptedTokenTable() *tokenTable { return &tokenTable{data: map[uint64][]byte{}, out: true} }

// swap replaces *data by a token when it is worth one (large, or looking
// like a token itself, so that no sender can forge one).
func (t *tokenTable) swap(data *[]byte) {
	if len(*data) < tokenMinBytes && !bytes.HasPrefix(*data, []byte(frameworkToken)) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.next++
	t.data[t.next] = *data
	*data = []byte(frameworkToken + strconv.FormatUint(t.next, 10))
}

// take returns the data of a token (once) without copying it: nothing else
// holds the message's bytes.
func (t *tokenTable) take(token string) (string, bool) {
	id, err := strconv.ParseUint(strings.TrimPrefix(token, frameworkToken), 10, 64)
	if err != nil {
		return "", false
	}
	t.mu.Lock()
	d, ok := t.data[id]
	delete(t.data, id)
	t.mu.Unlock()
	if !ok {
		return "", false
	}
	return unsafe.String(unsafe.SliceData(d), len(d)), true
}

// adopt tells t that the driver sends through a messenger that exchanges
// tokens of messages sent (see put): until then put issues none.
func (t *tokenTable) adopt() {
	t.mu.Lock()
	t.out = true
	t.mu.Unlock()
}

// put holds data, a large framework message to send, for the driver to
// carry as the token it returns, which the messenger exchanges back
// (takeOut) when the driver sends the message: the driver then copies a
// token, not the data, into the message. It returns false when no
// messenger adopted the table, or it is closed. The caller drops the token
// after the driver's send returned (a message the driver did not send
// leaves it in the table).
func (t *tokenTable) put(data string, release func()) (string, bool) {
	if len(data) < tokenMinBytes {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || !t.out {
		return "", false
	}
	t.next++
	t.data[t.next] = unsafe.Slice(unsafe.StringData(data), len(data)) // only read
	if release != nil {
		if t.free == nil {
			t.free = map[uint64]func(){}
		}
		t.free[t.next] = release
	}
	return frameworkToken + strconv.FormatUint(t.next, 10), true
}

// takeOut replaces a token in *data by the data it stands for (see put),
// once, and returns what to call once that data is written (nil if
// nothing); other data is left as it is.
func (t *tokenTable) takeOut(data *[]byte) func() {
	if !bytes.HasPrefix(*data, []byte(frameworkToken)) {
		return nil
	}
	id, err := strconv.ParseUint(string((*data)[len(frameworkToken):]), 10, 64)
	if err != nil {
		return nil
	}
	t.mu.Lock()
	d, ok := t.data[id]
	release := t.free[id]
	delete(t.data, id)
	delete(t.free, id)
	t.mu.Unlock()
	if ok {
		*data = d
	}
	return release
}

// drop forgets a token put returned and reports whether it was still
// there (the messenger did not take it).
func (t *tokenTable) drop(token string) bool {
	id, err := strconv.ParseUint(strings.TrimPrefix(token, frameworkToken), 10, 64)
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.data[id]
	delete(t.data, id)
	delete(t.free, id) // not written by the messenger: the frame's buffer is left to the GC
	return ok
}

// sendFrame sends frame f through send, a driver's SendFrameworkMessage,
// as a token when t was adopted and f is large; release (if not nil) is
// called once the messenger wrote f, when it went as a token. A token that send returned
// without error and the messenger never took went another way (a driver
// not on mesosgot's messenger): t stops issuing tokens, and the frame is
// lost (the link sends it again).
func (t *tokenTable) sendFrame(f string, release func(), send func(data string) error) error {
	tok, ok := t.put(f, release)
	if !ok {
		return send(f)
	}
	err := send(tok)
	if t.drop(tok) && err == nil {
		t.mu.Lock()
		t.out = false
		t.mu.Unlock()
		log.Warningf("mesosgot: the driver sent a framework message without mesosgot's messenger; large frames now go to it whole")
	}
	return err
}

// close frees what the driver never took and stops issuing tokens.
func (t *tokenTable) close() {
	t.mu.Lock()
	t.closed = true
	t.data = map[uint64][]byte{}
	t.free = nil
	t.mu.Unlock()
}

// isToken reports whether a framework message's data is a token (see
// frameworkToken).
func isToken(data string) bool { return strings.HasPrefix(data, frameworkToken) }

// resolve returns the data a framework message stands for: data itself,
// or for a token the data it replaced (false if t does not know it).
func (t *tokenTable) resolve(data string) (string, bool) {
	if !strings.HasPrefix(data, frameworkToken) {
		return data, true
	}
	if t == nil {
		return "", false
	}
	return t.take(data)
}

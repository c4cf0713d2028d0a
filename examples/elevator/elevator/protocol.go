package elevator

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of a protocol message.
type Kind string

// The message kinds. The first two go from the dispatcher to an elevator,
// the others from an elevator to the dispatcher.
const (
	// KindAssign hands a request to an elevator: "assign <req> <from> <to>".
	KindAssign Kind = "assign"
	// KindStep tells an elevator to simulate logical step t: "step <t>".
	KindStep Kind = "step"
	// KindPos closes step t of an elevator (t = 0: the elevator is ready):
	// "pos <t> <floor> <dir> <riders> <waiting>".
	KindPos Kind = "pos"
	// KindPickup reports a passenger boarding in step t:
	// "pickup <t> <req> <floor>".
	KindPickup Kind = "pickup"
	// KindDeliver reports a passenger leaving at its floor in step t:
	// "deliver <t> <req> <floor>".
	KindDeliver Kind = "deliver"
)

// Dir is the direction an elevator is going next.
type Dir int

// The directions; their text form is "idle", "up", "down".
const (
	Idle Dir = 0
	Up   Dir = 1
	Down Dir = -1
)

// String returns "idle", "up" or "down".
func (d Dir) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	case Idle:
		return "idle"
	}
	return fmt.Sprintf("Dir(%d)", int(d))
}

// parseDir reads the text form of a Dir.
func parseDir(s string) (Dir, error) {
	switch s {
	case "up":
		return Up, nil
	case "down":
		return Down, nil
	case "idle":
		return Idle, nil
	}
	return Idle, fmt.Errorf("bad direction %q", s)
}

// Msg is one message of the elevator protocol, either way. It travels as
// GoTaskMsg.MessageData in a one-line text form: the kind, then its
// decimal fields separated by single spaces (see the Kind constants).
// Which fields a kind uses:
//
//	assign   Req, From, To
//	step     T
//	pos      T, Floor, Dir, Riders, Waiting
//	pickup   T, Req, Floor
//	deliver  T, Req, Floor
type Msg struct {
	// Kind is the message kind.
	Kind Kind
	// T is the logical step (step, pos, pickup, deliver).
	T int
	// Req is the request (passenger) ID (assign, pickup, deliver).
	Req int
	// From and To are the request's floors (assign).
	From, To int
	// Floor is the elevator's floor (pos, pickup, deliver).
	Floor int
	// Dir is where the elevator goes next (pos).
	Dir Dir
	// Riders is the number of passengers aboard, Waiting the number
	// assigned but not yet picked up (pos).
	Riders, Waiting int
}

// Encode returns the message's text form.
func (m Msg) Encode() string {
	switch m.Kind {
	case KindAssign:
		return fmt.Sprintf("assign %d %d %d", m.Req, m.From, m.To)
	case KindStep:
		return fmt.Sprintf("step %d", m.T)
	case KindPos:
		return fmt.Sprintf("pos %d %d %s %d %d", m.T, m.Floor, m.Dir, m.Riders, m.Waiting)
	case KindPickup, KindDeliver:
		return fmt.Sprintf("%s %d %d %d", m.Kind, m.T, m.Req, m.Floor)
	}
	return fmt.Sprintf("unknown-%s", m.Kind)
}

// ParseMsg parses the text form of a message. It checks the syntax only
// (kind, field count, integers); ranges are the receiver's business.
func ParseMsg(s string) (Msg, error) {
	f := strings.Split(s, " ")
	want := map[Kind]int{KindAssign: 4, KindStep: 2, KindPos: 6, KindPickup: 4, KindDeliver: 4}
	m := Msg{Kind: Kind(f[0])}
	n, ok := want[m.Kind]
	if !ok {
		return Msg{}, fmt.Errorf("elevator protocol: unknown message %q", s)
	}
	if len(f) != n {
		return Msg{}, fmt.Errorf("elevator protocol: %s message %q has %d fields, want %d", m.Kind, s, len(f), n)
	}
	ints := make([]int, 0, n-1)
	for i, x := range f[1:] {
		if m.Kind == KindPos && i == 2 {
			d, err := parseDir(x)
			if err != nil {
				return Msg{}, fmt.Errorf("elevator protocol: %q: %v", s, err)
			}
			m.Dir = d
			continue
		}
		v, err := strconv.Atoi(x)
		if err != nil {
			return Msg{}, fmt.Errorf("elevator protocol: %q: field %d is not an integer", s, i+1)
		}
		ints = append(ints, v)
	}
	switch m.Kind {
	case KindAssign:
		m.Req, m.From, m.To = ints[0], ints[1], ints[2]
	case KindStep:
		m.T = ints[0]
	case KindPos:
		m.T, m.Floor, m.Riders, m.Waiting = ints[0], ints[1], ints[2], ints[3]
	case KindPickup, KindDeliver:
		m.T, m.Req, m.Floor = ints[0], ints[1], ints[2]
	}
	return m, nil
}

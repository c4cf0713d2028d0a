package elevator

import (
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/mesosgot/mesosgot"
)

// passenger is a request as an elevator sees it.
type passenger struct{ req, from, to int }

// Car is one elevator's simulation, free of I/O: the elevator task feeds it
// assignments and steps and sends what Step returns.
//
// In one logical step a car either serves its floor (when a passenger
// aboard gets off there or an assigned passenger waits there: everyone
// leaving gets off, then everyone waiting gets on, whatever their
// direction), or moves one floor. It moves by the LOOK rule: keep going
// while there is a stop ahead, else turn to the stops behind, else stay
// idle. Capacity is unlimited.
type Car struct {
	floors  int
	floor   int
	dir     Dir // the last direction moved, LOOK's preference
	waiting []passenger
	riding  []passenger
	known   map[int]bool // every request ever assigned
	moves   int
	t       int // the last step done
}

// NewCar returns a car at floor start of a building with floors floors.
func NewCar(floors, start int) (*Car, error) {
	if floors < 2 {
		return nil, fmt.Errorf("a building needs at least 2 floors, not %d", floors)
	}
	if start < 0 || start >= floors {
		return nil, fmt.Errorf("start floor %d out of range 0..%d", start, floors-1)
	}
	return &Car{floors: floors, floor: start, known: map[int]bool{}}, nil
}

// Floor returns the car's floor.
func (c *Car) Floor() int { return c.floor }

// Moves returns the number of floors travelled so far.
func (c *Car) Moves() int { return c.moves }

// Assign gives the car request req from floor from to floor to. It fails
// for a floor outside the building, from == to, or a request ID assigned
// before.
func (c *Car) Assign(req, from, to int) error {
	switch {
	case from < 0 || from >= c.floors:
		return fmt.Errorf("request %d: from floor %d out of range 0..%d", req, from, c.floors-1)
	case to < 0 || to >= c.floors:
		return fmt.Errorf("request %d: to floor %d out of range 0..%d", req, to, c.floors-1)
	case from == to:
		return fmt.Errorf("request %d: from and to are the same floor %d", req, from)
	case c.known[req]:
		return fmt.Errorf("request %d assigned twice", req)
	}
	c.known[req] = true
	c.waiting = append(c.waiting, passenger{req, from, to})
	return nil
}

// Step simulates step t, which must be the step after the last one, and
// returns the step's pickup and deliver messages followed by its pos.
func (c *Car) Step(t int) ([]Msg, error) {
	if t != c.t+1 {
		return nil, fmt.Errorf("got step %d, want step %d", t, c.t+1)
	}
	c.t = t
	var out []Msg
	keep := c.riding[:0]
	for _, p := range c.riding {
		if p.to == c.floor {
			out = append(out, Msg{Kind: KindDeliver, T: t, Req: p.req, Floor: c.floor})
		} else {
			keep = append(keep, p)
		}
	}
	c.riding = keep
	keep = c.waiting[:0]
	for _, p := range c.waiting {
		if p.from == c.floor {
			out = append(out, Msg{Kind: KindPickup, T: t, Req: p.req, Floor: c.floor})
			c.riding = append(c.riding, p)
		} else {
			keep = append(keep, p)
		}
	}
	c.waiting = keep
	if len(out) == 0 { // nothing to serve here: move
		if d := c.next(); d != Idle {
			c.floor += int(d)
			c.dir = d
			c.moves++
		}
	}
	return append(out, c.pos()), nil
}

// pos is the car's state as a pos message for its last step.
func (c *Car) pos() Msg {
	return Msg{Kind: KindPos, T: c.t, Floor: c.floor, Dir: c.next(), Riders: len(c.riding), Waiting: len(c.waiting)}
}

// next is the direction of the car's next move by the LOOK rule.
func (c *Car) next() Dir {
	above, below := false, false
	for _, p := range c.riding {
		above = above || p.to > c.floor
		below = below || p.to < c.floor
	}
	for _, p := range c.waiting {
		above = above || p.from > c.floor
		below = below || p.from < c.floor
	}
	switch {
	case c.dir == Down && below:
		return Down
	case above:
		return Up
	case below:
		return Down
	}
	return Idle
}

// TaskName is the name the elevator task is registered under; the tasks
// are "elevator-0" .. "elevator-<n-1>".
const TaskName = "elevator"

// TaskArgs are the args every elevator task gets (AppTaskResourceInfo.Args):
// the building's floors and the number of elevators, from which a task
// computes its start floor, index*floors/elevators.
func TaskArgs(elevators, floors int) []string {
	return []string{"-floors=" + strconv.Itoa(floors), "-elevators=" + strconv.Itoa(elevators)}
}

// StartFloor is the floor elevator index starts at.
func StartFloor(index, elevators, floors int) int {
	return index * floors / elevators
}

// Task is the elevator task function. It reads TaskArgs from args[1:] (args[0]
// is the task's name) and its
// index from env["MESOSGOT_TASK_INDEX"], reports "pos 0 ..." when ready,
// then runs its Car: each assign message is validated and queued, each step
// message simulated and answered with the step's pickup and deliver
// messages and a closing pos message. It returns nil when in closes, and an
// error, which fails the job, for a malformed message, a bad floor, a
// request assigned twice or a step out of order.
func Task(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
	name := env["MESOSGOT_TASK_NAME"]
	if name == "" {
		name = TaskName
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	floors := fs.Int("floors", 8, "floors of the building")
	elevators := fs.Int("elevators", 4, "number of elevators")
	if len(args) == 0 {
		return fmt.Errorf("%s: no args: want the task's name and TaskArgs", name)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%s: bad args %q: %v", name, args[1:], err)
	}
	index, err := strconv.Atoi(env["MESOSGOT_TASK_INDEX"])
	if err != nil || index < 0 || *elevators < 1 || index >= *elevators {
		return fmt.Errorf("%s: task index %q is not one of %d elevators", name, env["MESOSGOT_TASK_INDEX"], *elevators)
	}
	car, err := NewCar(*floors, StartFloor(index, *elevators, *floors))
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return RunCar(car, name, in, out)
}

// RunCar runs car as an elevator task named name (used in error texts):
// the loop of Task after its setup, for tests that build their own Car.
func RunCar(car *Car, name string, in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg) error {
	out <- mesosgot.GoTaskMsg{MessageData: car.pos().Encode()}
	for gm := range in {
		m, err := ParseMsg(gm.MessageData)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		switch m.Kind {
		case KindAssign:
			if err := car.Assign(m.Req, m.From, m.To); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
		case KindStep:
			msgs, err := car.Step(m.T)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			for _, r := range msgs {
				out <- mesosgot.GoTaskMsg{MessageData: r.Encode()}
			}
		default:
			return fmt.Errorf("%s: unexpected %s message from the dispatcher", name, m.Kind)
		}
	}
	return nil
}

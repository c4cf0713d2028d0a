// Package elevator is the logic of the elevator example job, the simulation
// of mesosgot's original: a dispatcher (the job's scheduler function) and N
// elevator tasks "elevator-0" .. "elevator-<N-1>" serving a building of F
// floors (0 .. F-1), shared by the example's scheduler and executor
// binaries and by its tests.
//
// The dispatcher is the simulation's clock. It generates a deterministic,
// seeded stream of passenger requests (Requests), assigns each one as it
// arrives to the elevator with the least estimated cost (Choose: LOOK-aware
// travel to the passenger plus one per outstanding request, from the
// elevators' reported positions), and advances logical time one step at a
// time: "step t" to every elevator, then it waits for each one's report of
// that step. Each elevator (Task, simulating a Car) either serves its floor
// or moves one floor per step and reports pickups, deliveries and its
// position. The dispatcher checks that every request is picked up at its
// floor and delivered exactly once at its destination, prints progress, and
// returns when all are delivered; Result.Err reports any anomaly. An
// elevator given a bad assignment (a floor outside the building, from ==
// to, a request twice) or a step out of order returns an error, which fails
// the job.
//
// # Messages
//
// One protocol message per GoTaskMsg, as one line of text (Msg, ParseMsg):
//
//	dispatcher -> elevator
//	  assign <req> <from> <to>                  request req waits at floor from, wants floor to
//	  step <t>                                  simulate logical step t (1, 2, ...)
//	elevator -> dispatcher
//	  pickup <t> <req> <floor>                  req boarded in step t
//	  deliver <t> <req> <floor>                 req got off in step t
//	  pos <t> <floor> <up|down|idle> <riders> <waiting>
//	                                            end of step t (t = 0: ready)
//
// Time is logical: no wall clock is involved (the scheduler's -step flag
// only paces the run for watching), so a seed gives the same run, step for
// step, on any cluster.
//
// # Running
//
//	make elevator
//
// builds bin/elevator-scheduler and bin/elevator-executor and runs
//
//	bin/elevator-scheduler -master=local -executor=bin/elevator-executor
//
// with flags -elevators (4), -floors (8), -requests (200), -seed (1) and
// -step (0). The tests run whole jobs on mesosgot's in-process fake cluster:
//
//	go test ./examples/elevator/...
package elevator

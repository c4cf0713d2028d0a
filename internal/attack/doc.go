// Package attack holds the project's attack test suite: it starts
// mesos-local and a running pingpong job as real processes and attacks them
// as a process on the same host would, with nothing but HTTP POSTs to the
// ports it can find, then checks that every forged message was refused or
// dropped, that the job still completed with every message once and in
// order, that no forged command ran and that memory stayed bounded.
//
// The package has no code of its own besides its tests.
package attack

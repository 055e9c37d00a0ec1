// Package placement holds the submitter's decisions about where a task
// runs and when it is done, as deterministic state machines with the time
// passed in: the strategies that choose a provider among candidates
// (Pick), each provider's circuit breaker (Breaker) and the quorum tally
// of one task (Tally). It does no I/O, reads no clock and starts no
// goroutine; package compute feeds it what its directory, its attempts and
// its clock say, and carries out its choices.
//
// Pick is a pure function of its arguments (and of PickState's random
// source). A Breaker and a Tally are not safe for concurrent use; their
// owner guards them.
package placement

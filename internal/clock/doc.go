// Package clock is the time source fog's services are given instead of
// reading the time package themselves: Now for readings and NewTimer for
// waiting. The composition root (package node) chooses Real; a test may
// pass its own Clock, and tests that wait for protocol time run the real
// one inside a testing/synctest bubble, where time is virtual and moves
// only when every goroutine of the bubble is blocked, so that they never
// depend on how busy the machine is.
//
// # Concurrency
//
// Real is safe for concurrent use, and so must every Clock be. A Timer is
// used by one goroutine at a time, like a *time.Timer.
package clock

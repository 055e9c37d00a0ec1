// Package clocked reads the clock twice: coretest's own test checks that
// NoClock catches both calls.
package clocked

import "time"

// Late reads the clock and waits.
func Late() time.Time {
	<-time.After(time.Millisecond)
	return time.Now()
}

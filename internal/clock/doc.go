// Package clock is the one source of time for fog's components.
//
// Every component that reads the time or waits for it takes a Clock from its
// Config (or, for those built from Options, its Options) instead of calling
// the time package. Each DefaultConfig sets Real, and a nil Options.Clock
// means Real, so that a component built alone works; the composition root,
// node.Start, replaces them all with its Options.Clock (Real unless the
// caller gives another), so a node runs on one clock. Tests that wait for time run the
// component inside a testing/synctest bubble, where the time package, and so
// Real, runs on a fake clock that advances only when every goroutine of the
// bubble is blocked: a 24-hour TTL then expires at once, without a sleep. A
// simulator can supply its own Clock.
package clock

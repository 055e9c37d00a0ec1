// Package notify tells waiters that something changed, without polling:
// a Signal's Wait returns a channel that the next Notify closes. It is the
// one change notification that the node's components expose (compute's
// task changes, the queue's jobs, a task's live output, a p2p Server's
// streams) so that callers and tests wait on a change rather than on the
// clock.
package notify

import "sync"

// Signal is a broadcast of "something changed". The zero Signal is ready
// to use; it must not be copied after first use. It is safe for
// concurrent use, and Notify costs one uncontended lock when nobody waits.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns a channel closed at the next Notify. A caller checks its
// condition after Wait and before receiving, so that no change between
// the check and the receive is missed.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every waiter of the current Wait channel.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

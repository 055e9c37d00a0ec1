package compute

import "sync"

// changes tells waiters that something a Service reports changed: a task's
// state, attempts, refusals, waiting reason or live output, or this node's
// load. Changed's channel is closed at the next change and a new one made.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next change.
func (c *changes) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// signal closes the channel of the waiters, if any.
func (c *changes) signal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

package node

import (
	"context"
	"sync"
)

// AgentVersion is what the node announces to its peers through libp2p's
// identify protocol ("fog/0.1.0"), as kubo announces "kubo/0.x".
func AgentVersion() string { return "fog/" + Version }

// shutdownSignal is closed once a client asks the node to stop.
type shutdownSignal struct {
	once sync.Once
	ch   chan struct{}
}

func newShutdownSignal() *shutdownSignal { return &shutdownSignal{ch: make(chan struct{})} }

func (s *shutdownSignal) fire() { s.once.Do(func() { close(s.ch) }) }

// ShutdownRequested returns a channel closed once a client called
// node.shutdown (`fog shutdown`). The node does not stop by itself: the
// process that runs it (`fog run`) watches the channel and closes the node,
// as it does on SIGTERM.
func (n *Node) ShutdownRequested() <-chan struct{} { return n.shutdown.ch }

// ShutdownResult is node.shutdown's result.
type ShutdownResult struct {
	// Stopping is true: the node stops once the reply is sent.
	Stopping bool `json:"stopping"`
}

// registerAdminMethods adds node.shutdown.
func (n *Node) registerAdminMethods() error {
	return n.api.Register("node.shutdown", func(context.Context) (ShutdownResult, error) {
		n.log.Info("shutdown requested through the API")
		n.shutdown.fire()
		return ShutdownResult{Stopping: true}, nil
	})
}

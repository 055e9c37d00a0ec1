package gossip

import (
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Stats counts what this node's pubsub did with messages, over all topics.
type Stats struct {
	// Validated counts messages that entered validation (first copies
	// with a good signature).
	Validated uint64 `json:"validated"`
	// Delivered counts messages accepted and delivered (our own included).
	Delivered uint64 `json:"delivered"`
	// Duplicates counts copies of already seen messages that were dropped;
	// Duplicates/Delivered is the duplicate deliveries per message.
	Duplicates uint64 `json:"duplicates"`
	// Rejected counts messages refused, by pubsub's reason: "invalid
	// signature", "validation failed" (our chain rejected), "validation
	// ignored", "validation throttled", "validation queue full", ...
	Rejected map[string]uint64 `json:"rejected"`
	// Undeliverable counts deliveries dropped because a subscription's
	// handler fell behind (Config.SubscriptionBuffer).
	Undeliverable uint64 `json:"undeliverable"`
	// Throttled counts RPCs whose messages were skipped because the peer
	// gater throttled the sender.
	Throttled uint64 `json:"throttled"`
}

// statsTracer is the pubsub.RawTracer that feeds Stats.
type statsTracer struct {
	validated, delivered, duplicates, undeliverable, throttled atomic.Uint64

	mu       sync.Mutex
	rejected map[string]uint64
}

var _ pubsub.RawTracer = (*statsTracer)(nil)

func newStatsTracer() *statsTracer { return &statsTracer{rejected: map[string]uint64{}} }

func (t *statsTracer) snapshot() Stats {
	t.mu.Lock()
	rej := make(map[string]uint64, len(t.rejected))
	for k, v := range t.rejected {
		rej[k] = v
	}
	t.mu.Unlock()
	return Stats{
		Validated:     t.validated.Load(),
		Delivered:     t.delivered.Load(),
		Duplicates:    t.duplicates.Load(),
		Rejected:      rej,
		Undeliverable: t.undeliverable.Load(),
		Throttled:     t.throttled.Load(),
	}
}

func (t *statsTracer) ValidateMessage(*pubsub.Message) { t.validated.Add(1) }
func (t *statsTracer) DeliverMessage(*pubsub.Message)  { t.delivered.Add(1) }
func (t *statsTracer) DuplicateMessage(*pubsub.Message) {
	t.duplicates.Add(1)
}
func (t *statsTracer) RejectMessage(_ *pubsub.Message, reason string) {
	t.mu.Lock()
	t.rejected[reason]++
	t.mu.Unlock()
}
func (t *statsTracer) UndeliverableMessage(*pubsub.Message)                 { t.undeliverable.Add(1) }
func (t *statsTracer) ThrottlePeer(peer.ID)                                 { t.throttled.Add(1) }
func (t *statsTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *statsTracer) OnClosedOutboundStream(peer.ID)                       {}
func (t *statsTracer) Join(string)                                          {}
func (t *statsTracer) Leave(string)                                         {}
func (t *statsTracer) Graft(peer.ID, string)                                {}
func (t *statsTracer) Prune(peer.ID, string)                                {}
func (t *statsTracer) RecvRPC(*pubsub.RPC)                                  {}
func (t *statsTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (t *statsTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (t *statsTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}

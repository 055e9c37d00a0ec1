package lottery

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ServiceConfig configures one node's lottery: the network-wide lottery
// parameters (the embedded Config) and this node's part in it. A Node
// (the core) reads every field but FlushInterval, which is its shell's
// (package lotterysvc). The node's [relay] section maps onto it; Validate
// names fields the way that section spells them (relay.epoch_length,
// relay.candidates[2], ...).
//
// The zero value is not valid: start from DefaultServiceConfig or
// SimServiceConfig.
type ServiceConfig struct {
	// Config holds the parameters every node of the network must share:
	// NetworkID, Genesis, EpochLength, TargetRelays, Layers and the
	// windows. Genesis is how the nodes of one network agree on time: it
	// is a constant of the network, never "when this node started" (see
	// DefaultConfig and docs/lottery.md section 11).
	Config

	// Candidate makes this node stand for election: it announces its
	// candidacy every epoch (unless Candidates fixes the set), draws a
	// ticket, and publishes a claim when it wins. Off by default: a relay
	// carries other people's onion traffic, which costs bandwidth, so
	// standing is a choice. An observer still verifies every claim and
	// holds every directory.
	Candidate bool

	// Candidates, when not empty, fixes the candidate set for every epoch:
	// these peers (Ed25519 peer IDs) are the candidates, each with weight
	// 1, and candidacy announcements are not used. Every node of the
	// network must list the same peers. This suits small networks, devnets
	// and the simulator, and is the only Sybil-resistant mode without the
	// ledger's stake (on a node, a fixed list wins over the ledger's stake
	// oracle). Empty (the default): candidates announce themselves over
	// gossip (CandidateBook), unless a stake oracle gives the weights.
	Candidates []peer.ID

	// JoinQuorum is how many distinct claimants must carry a seed before a
	// node whose seed chain is not yet trusted (a node that joined after
	// genesis, or restarted across a window) adopts it or trusts its own.
	// 3: a lone claimant cannot steer a joining node, while a small network
	// with R = 30 still shows ten times as many honest claims per epoch.
	JoinQuorum int

	// MaxCandidates bounds the announced candidate set of one epoch (and
	// so the memory a Sybil flood of announcements can take). 10,000 is
	// far above the networks fog runs today; beyond it the keys of
	// smallest rank are kept (see CandidateBook), identically everywhere.
	MaxCandidates int

	// WarmUp is how long after the service starts the node counts itself
	// as listening: gossipsub needs a few heartbeats to build the meshes,
	// and a window that began before then may have been missed. 5 s is
	// five heartbeats of the default gossip config.
	WarmUp time.Duration

	// FlushInterval is how often messages received since the last flush
	// are written to the store. They are needed only to rebuild the state
	// exactly after a restart, so they are batched (one sync per flush);
	// this node's own claims are written and synced before they are
	// published, whatever this says. 1 s.
	FlushInterval time.Duration
}

// DefaultServiceConfig returns the parameters of the public network
// (DefaultConfig: 10-minute epochs, R = 30, genesis 2026-01-01 00:00 UTC)
// for an observer; set Candidate to stand.
func DefaultServiceConfig() ServiceConfig {
	return ServiceConfig{
		Config:        DefaultConfig(),
		JoinQuorum:    3,
		MaxCandidates: 10_000,
		WarmUp:        5 * time.Second,
		FlushInterval: time.Second,
	}
}

// SimServiceConfig returns parameters for the simulator and tests:
// SimConfig's 10-second epochs with a 4-second claim window, every node a
// candidate, and short warm-up and flush timers. The simulator sets Genesis
// to a moment shortly after its nodes start.
func SimServiceConfig() ServiceConfig {
	c := DefaultServiceConfig()
	c.Config = SimConfig()
	c.Candidate = true
	c.WarmUp = time.Second
	c.FlushInterval = 200 * time.Millisecond
	return c
}

// Validate checks every field and returns an error wrapping ErrConfig that
// names the first bad one as relay.<field>.
func (c ServiceConfig) Validate() error {
	if err := c.Config.validate("relay."); err != nil {
		return err
	}
	for i, p := range c.Candidates {
		if _, err := candidateKey(p); err != nil {
			return fmt.Errorf("%w: relay.candidates[%d] %q: %v", ErrConfig, i, p.String(), err)
		}
	}
	switch {
	case c.JoinQuorum < 1:
		return fmt.Errorf("%w: relay.join_quorum %d must be at least 1", ErrConfig, c.JoinQuorum)
	case c.MaxCandidates < 1:
		return fmt.Errorf("%w: relay.max_candidates %d must be at least 1", ErrConfig, c.MaxCandidates)
	case c.WarmUp < 0:
		return fmt.Errorf("%w: relay.warm_up %s is negative", ErrConfig, c.WarmUp)
	case c.FlushInterval <= 0:
		return fmt.Errorf("%w: relay.flush_interval %s must be positive", ErrConfig, c.FlushInterval)
	}
	return nil
}

// candidateKey returns the Ed25519 public key inside an identity peer ID.
func candidateKey(p peer.ID) ([]byte, error) {
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("no public key in peer ID: %w", err)
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("key type %s, want Ed25519", pk.Type())
	}
	raw, err := pk.Raw()
	if err != nil {
		return nil, err
	}
	return raw, nil
}

package lottery

import (
	"crypto/ed25519"
	"fmt"
	"sort"
	"sync"
)

// StakeOracle gives the lottery weight of candidates. Both answers must be
// fixed for an epoch and identical on every node, since they decide p and
// every claim's seats: take them from a snapshot frozen before the epoch's
// seed can be known, that is before its reveal phase (EpochStart(e) -
// RevealWindow - 2*MaxClockSkew); otherwise a candidate could move stake
// after learning its ticket. docs/lottery.md says what the wiring must
// provide. Implementations must be safe for concurrent use if shared.
type StakeOracle interface {
	// Weight returns the weight of the candidate with identity key pk in
	// epoch e, 0 if it is not a candidate.
	Weight(e uint64, pk ed25519.PublicKey) uint64
	// TotalWeight returns the sum of the weights of all candidates of
	// epoch e.
	TotalWeight(e uint64) uint64
}

// RelayTarget is implemented by a StakeOracle whose network changes the
// target number of seats (R) by epoch, as the token DAO does: the draw and
// every claim's check of epoch e use TargetRelays(e) instead of
// Config.TargetRelays. Like the weights, the answer must be fixed for an
// epoch and identical on every node before its seed can be known.
type RelayTarget interface {
	// TargetRelays returns R for epoch e; a value outside [1,
	// MaxTargetRelays] means Config.TargetRelays.
	TargetRelays(e uint64) int
}

// TargetRelays returns the target number of seats of epoch e: stake's
// answer if it is a RelayTarget with a valid one, else cfg.TargetRelays.
func TargetRelays(cfg Config, stake StakeOracle, e uint64) int {
	if t, ok := stake.(RelayTarget); ok {
		if r := t.TargetRelays(e); r >= 1 && r <= MaxTargetRelays {
			return r
		}
	}
	return cfg.TargetRelays
}

// UniformStake is the StakeOracle of a fixed candidate list, used when
// the ledger's stake does not weigh the lottery: every candidate weighs 1 and the total is the number of candidates.
// The candidate set changes only at epoch boundaries, through Set, so an
// epoch's answers never change once given. It is safe for concurrent use.
//
// With uniform weights one identity is one unit of weight, so the lottery is
// only as Sybil-resistant as admission to the candidate set; binomial
// sortition makes splitting *stake* useless, not creating identities.
type UniformStake struct {
	mu   sync.RWMutex
	sets []candidateSet // ascending by from
}

type candidateSet struct {
	from    uint64
	members map[[ed25519.PublicKeySize]byte]struct{}
}

// NewUniformStake returns a UniformStake whose candidates, from epoch 0 on,
// are the given keys (duplicates count once).
func NewUniformStake(candidates []ed25519.PublicKey) *UniformStake {
	u := &UniformStake{}
	_ = u.Set(0, candidates)
	return u
}

// Set makes candidates the candidate set from epoch from on. from must be
// later than the epoch of every earlier Set (the first may be 0), so that
// the answers for an epoch already queried stay frozen as long as the caller
// only sets epochs whose seed is not yet known. Keys that are not 32 bytes
// are an error.
func (u *UniformStake) Set(from uint64, candidates []ed25519.PublicKey) error {
	members := make(map[[ed25519.PublicKeySize]byte]struct{}, len(candidates))
	for i, pk := range candidates {
		if len(pk) != ed25519.PublicKeySize {
			return fmt.Errorf("lottery: candidate %d: key has %d bytes", i, len(pk))
		}
		members[[ed25519.PublicKeySize]byte(pk)] = struct{}{}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if n := len(u.sets); n > 0 && from <= u.sets[n-1].from {
		return fmt.Errorf("lottery: candidate set from epoch %d: already set from epoch %d", from, u.sets[n-1].from)
	}
	u.sets = append(u.sets, candidateSet{from: from, members: members})
	return nil
}

// Prune forgets candidate sets that no epoch at or after before uses.
func (u *UniformStake) Prune(before uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	i := u.index(before)
	if i > 0 {
		u.sets = append(u.sets[:0], u.sets[i:]...)
	}
}

// index returns the position of the set in force at epoch e, or -1.
func (u *UniformStake) index(e uint64) int {
	return sort.Search(len(u.sets), func(i int) bool { return u.sets[i].from > e }) - 1
}

func (u *UniformStake) set(e uint64) map[[ed25519.PublicKeySize]byte]struct{} {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if i := u.index(e); i >= 0 {
		return u.sets[i].members
	}
	return nil
}

// Weight returns 1 if pk is a candidate in epoch e, else 0.
func (u *UniformStake) Weight(e uint64, pk ed25519.PublicKey) uint64 {
	if len(pk) != ed25519.PublicKeySize {
		return 0
	}
	if _, ok := u.set(e)[[ed25519.PublicKeySize]byte(pk)]; ok {
		return 1
	}
	return 0
}

// TotalWeight returns the number of candidates in epoch e.
func (u *UniformStake) TotalWeight(e uint64) uint64 {
	return uint64(len(u.set(e)))
}

package token

import (
	"crypto/ed25519"
	"fmt"
	"sync"
)

// SigCache remembers signatures found valid, so that a block or batch of
// votes a gossip validator checked is not checked again when the Node
// takes it: each costs its receiver one Ed25519 verification, not two.
// Only valid signatures are kept, so a cache changes no outcome. It is
// bounded: when its newer half fills, the older half is forgotten. Safe
// for concurrent use; a nil *SigCache checks every time.
type SigCache struct {
	mu       sync.Mutex
	cur, old map[sigKey]struct{}
	half     int
}

type sigKey struct {
	signer Account
	msg    Hash
	sig    [ed25519.SignatureSize]byte
}

// NewSigCache returns a cache of up to about n signatures (at least 2).
func NewSigCache(n int) *SigCache {
	half := max(n/2, 1)
	return &SigCache{cur: make(map[sigKey]struct{}, half), old: map[sigKey]struct{}{}, half: half}
}

// verify reports whether sig is signer's signature of msg.
func (c *SigCache) verify(signer Account, msg Hash, sig *[ed25519.SignatureSize]byte) bool {
	if c == nil {
		return ed25519.Verify(signer[:], msg[:], sig[:])
	}
	k := sigKey{signer, msg, *sig}
	c.mu.Lock()
	_, ok := c.cur[k]
	if !ok {
		_, ok = c.old[k]
	}
	c.mu.Unlock()
	if ok {
		return true
	}
	if !ed25519.Verify(signer[:], msg[:], sig[:]) {
		return false
	}
	c.mu.Lock()
	if len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[sigKey]struct{}, c.half)
	}
	c.cur[k] = struct{}{}
	c.mu.Unlock()
	return true
}

// VerifyBatch checks b's signature as VoteBatch.Verify does, through the
// cache.
func (c *SigCache) VerifyBatch(b *VoteBatch) error {
	if !c.verify(b.Rep, b.digest(), &b.Signature) {
		return fmt.Errorf("%w: batch by %s", ErrSignature, b.Rep)
	}
	return nil
}

// SetSigCache has the ledger check blocks' signatures through c (nil:
// every time); a Node over it checks its votes so too.
func (l *Ledger) SetSigCache(c *SigCache) { l.sigs = c }

// VerifyBlock checks b's signature as Block.Verify does, through the
// cache, and returns b's hash.
func (c *SigCache) VerifyBlock(b *Block) (Hash, error) {
	h := b.Hash()
	if !c.verify(b.Account, h, &b.Signature) {
		return h, fmt.Errorf("%w: block %s", ErrSignature, h)
	}
	return h, nil
}

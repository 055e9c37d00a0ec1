package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/fog-compute/fog/token"
)

// own builds a block of the node's account with build (called under the
// lock with the wallet and the current epoch), processes it as a block
// from the network, and returns its hash once it is persisted (synced)
// and handed to gossip. what names the operation in errors.
func (s *Service) own(ctx context.Context, what string, build func(w *token.Wallet, epoch uint64) (token.Block, error)) (token.Hash, error) {
	var h token.Hash
	upto, err := s.step(func(now time.Time) (token.Effects, error) {
		if s.blocks == nil {
			return token.Effects{}, ErrNotRunning
		}
		b, err := build(s.wallet, s.cfg.Epoch(now))
		if err != nil {
			return token.Effects{}, err
		}
		h = b.Hash()
		eff, err := s.node.ProcessBlock(b, now)
		eff.Blocks = append([]token.Block{b}, eff.Blocks...)
		return eff, err
	})
	if err != nil {
		return token.Hash{}, fmt.Errorf("ledgersvc: %s: %w", what, err)
	}
	if err := s.waitDurable(ctx, upto); err != nil {
		return token.Hash{}, fmt.Errorf("ledgersvc: %s: %w", what, err)
	}
	return h, nil
}

// Stake moves amount micro-credits of the node's balance to its stake
// (a stake block).
func (s *Service) Stake(ctx context.Context, amount uint64) (token.Hash, error) {
	return s.own(ctx, "stake", func(w *token.Wallet, e uint64) (token.Block, error) { return w.Stake(amount, e) })
}

// Unstake starts unbonding amount micro-credits of the node's stake (an
// unstake block); they return to the balance with Release once the
// ledger's unbonding period is over.
func (s *Service) Unstake(ctx context.Context, amount uint64) (token.Hash, error) {
	return s.own(ctx, "unstake", func(w *token.Wallet, e uint64) (token.Block, error) { return w.Unstake(amount, e) })
}

// Release receives, into the balance, the node's confirmed unstakes whose
// unbonding period is over and that were not received yet, and returns
// the hashes of the receives made.
func (s *Service) Release(ctx context.Context) ([]token.Hash, error) {
	var done []token.Hash
	for {
		var src token.Hash
		s.View(func(l *token.Ledger) { src = l.Unbonded(s.acct, s.Epoch()) })
		if src.IsZero() {
			return done, nil
		}
		h, err := s.own(ctx, "release", func(w *token.Wallet, e uint64) (token.Block, error) { return w.Receive(src, e) })
		if err != nil {
			return done, err
		}
		done = append(done, h)
	}
}

// Lock locks amount micro-credits of the node's balance in escrow for
// task until the deadline epoch (an escrow-lock block naming the task).
func (s *Service) Lock(ctx context.Context, task [32]byte, amount, deadline uint64) (token.Hash, error) {
	return s.own(ctx, "escrow lock", func(w *token.Wallet, e uint64) (token.Block, error) {
		return w.Lock(task, amount, max(deadline, e), e)
	})
}

// Ticket signs, as the submitter of the escrow lock, the ticket letting
// provider claim amount from it.
func (s *Service) Ticket(lock token.Hash, provider token.Account, amount uint64) [ed25519.SignatureSize]byte {
	return s.wallet.Ticket(lock, provider, amount)
}

// Claim claims amount micro-credits from the escrow lock into the node's
// balance with the submitter's ticket (an escrow-claim block).
func (s *Service) Claim(ctx context.Context, lock token.Hash, amount uint64, ticket [ed25519.SignatureSize]byte) (token.Hash, error) {
	return s.own(ctx, "escrow claim", func(w *token.Wallet, e uint64) (token.Block, error) {
		return w.Claim(lock, amount, ticket, e)
	})
}

// Refund takes back what is left in the node's escrow lock after its
// deadline (an escrow-refund block).
func (s *Service) Refund(ctx context.Context, lock token.Hash) (token.Hash, error) {
	return s.own(ctx, "escrow refund", func(w *token.Wallet, e uint64) (token.Block, error) { return w.Refund(lock, e) })
}

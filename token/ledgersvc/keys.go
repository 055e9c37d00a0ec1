package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/fog-compute/fog/token"
)

// SendFrom sends amount micro-credits from the account of key, a key the
// caller holds (a wallet's account other than the node's), to account
// to. It first receives every confirmed send pending to that account, so
// a wallet account spends what it was sent without a call of its own. It
// returns the send's hash once the send and those receives are persisted
// (synced) and handed to gossip; the node's representatives vote on it
// as on any block.
func (s *Service) SendFrom(ctx context.Context, key ed25519.PrivateKey, to token.Account, amount uint64) (token.Hash, error) {
	if len(key) != ed25519.PrivateKeySize {
		return token.Hash{}, fmt.Errorf("ledgersvc: send: %w: not an Ed25519 private key", token.ErrInvalid)
	}
	var h token.Hash
	upto, err := s.step(func(now time.Time) (token.Effects, error) {
		if s.blocks == nil {
			return token.Effects{}, ErrNotRunning
		}
		eff := s.receiveAll(key, now)
		b, err := token.NewWallet(s.node.Ledger(), key).Send(to, amount, s.cfg.Epoch(now))
		if err != nil {
			return eff, err
		}
		h = b.Hash()
		more, err := s.node.ProcessBlock(b, now)
		eff.Records = append(eff.Records, more.Records...)
		eff.Confirmed = append(eff.Confirmed, more.Confirmed...)
		eff.Blocks = append(append(eff.Blocks, b), more.Blocks...)
		eff.Votes = append(eff.Votes, more.Votes...)
		return eff, err
	})
	if err != nil {
		return token.Hash{}, fmt.Errorf("ledgersvc: send: %w", err)
	}
	if err := s.waitDurable(ctx, upto); err != nil {
		return token.Hash{}, fmt.Errorf("ledgersvc: send: %w", err)
	}
	return h, nil
}

// ReceiveAll receives every confirmed send pending to the account of key
// and returns how many it received, once their blocks are persisted.
func (s *Service) ReceiveAll(ctx context.Context, key ed25519.PrivateKey) (int, error) {
	if len(key) != ed25519.PrivateKeySize {
		return 0, fmt.Errorf("ledgersvc: receive: %w: not an Ed25519 private key", token.ErrInvalid)
	}
	n := 0
	upto, err := s.step(func(now time.Time) (token.Effects, error) {
		if s.blocks == nil {
			return token.Effects{}, ErrNotRunning
		}
		eff := s.receiveAll(key, now)
		for _, b := range eff.Blocks {
			if b.Account == token.AccountOf(key.Public().(ed25519.PublicKey)) {
				n++
			}
		}
		return eff, nil
	})
	if err != nil {
		return 0, fmt.Errorf("ledgersvc: receive: %w", err)
	}
	if err := s.waitDurable(ctx, upto); err != nil {
		return 0, fmt.Errorf("ledgersvc: receive: %w", err)
	}
	return n, nil
}

// receiveAll builds, signs and processes a receive for each confirmed send
// pending to key's account, under the lock. A receive the Node refuses is
// skipped (it stays pending).
func (s *Service) receiveAll(key ed25519.PrivateKey, now time.Time) token.Effects {
	var eff token.Effects
	l := s.node.Ledger()
	w := token.NewWallet(l, key)
	for _, src := range l.Pending(w.Account()) {
		if !l.Confirmed(src) {
			continue
		}
		s.receiveInto(&eff, w, src, now)
	}
	return eff
}

// receiveInto makes w's receive of the confirmed send src, feeds it to the
// core and adds what came of it to eff. A receive the wallet or the core
// refuses is skipped: the send stays pending.
func (s *Service) receiveInto(eff *token.Effects, w *token.Wallet, src token.Hash, now time.Time) {
	r, err := w.Receive(src, s.cfg.Epoch(now))
	if err != nil {
		return
	}
	more, err := s.node.ProcessBlock(r, now)
	if err != nil {
		return
	}
	eff.Records = append(eff.Records, more.Records...)
	eff.Confirmed = append(eff.Confirmed, more.Confirmed...)
	eff.Blocks = append(append(eff.Blocks, r), more.Blocks...)
	eff.Votes = append(eff.Votes, more.Votes...)
}

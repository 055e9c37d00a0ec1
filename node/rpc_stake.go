package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/creachadair/jrpc2"

	"github.com/fog-compute/fog/token"
)

// StakeParams are stake.lock's and stake.unlock's parameters.
type StakeParams struct {
	// Amount is in micro-credits.
	Amount uint64 `json:"amount"`
	// Wait returns once the block is confirmed.
	Wait bool `json:"wait,omitempty"`
}

// StakeResult is stake.lock's and stake.unlock's result.
type StakeResult struct {
	// Hash is the stake or unstake block.
	Hash   string `json:"hash"`
	Amount uint64 `json:"amount"`
	// Balance and Staked are the account's after the block.
	Balance uint64 `json:"balance"`
	Staked  uint64 `json:"staked"`
	// Confirmed is true with Wait; without, whether it already was.
	Confirmed bool `json:"confirmed"`
	// ReleaseEpoch is, for stake.unlock, the epoch from which the
	// unbonded credits return to the balance; Epoch is the current one.
	ReleaseEpoch uint64 `json:"release_epoch,omitempty"`
	Epoch        uint64 `json:"epoch"`
	// Released are the receives of earlier unstakes whose unbonding was
	// over, made by this call.
	Released []string `json:"released,omitempty"`
}

func (n *Node) registerStakeMethods() error {
	return n.api.registerAll(map[string]any{
		"stake.lock": func(ctx context.Context, p StakeParams) (StakeResult, error) {
			return n.stake(ctx, p, true)
		},
		"stake.unlock": func(ctx context.Context, p StakeParams) (StakeResult, error) {
			return n.stake(ctx, p, false)
		},
	})
}

// stake makes a stake (lock) or unstake block of amount. Either first
// releases the unstakes whose unbonding is over.
func (n *Node) stake(ctx context.Context, p StakeParams, lock bool) (StakeResult, error) {
	l, err := n.ledgerOrErr()
	if err != nil {
		return StakeResult{}, err
	}
	if p.Amount == 0 {
		return StakeResult{}, invalidParams("amount: must be positive (micro-credits)")
	}
	released, err := l.Release(ctx)
	r := StakeResult{Amount: p.Amount}
	for _, h := range released {
		r.Released = append(r.Released, h.String())
	}
	if err != nil {
		return r, ledgerError(err)
	}
	info := l.Balance()
	switch {
	case lock && p.Amount > info.Balance:
		return r, &jrpc2.Error{Code: CodeConflict, Message: fmt.Sprintf(
			"insufficient balance to stake: %d micro-credits available, %d asked", info.Balance, p.Amount)}
	case !lock && p.Amount > info.Staked:
		return r, &jrpc2.Error{Code: CodeConflict, Message: fmt.Sprintf(
			"insufficient stake to unlock: %d micro-credits staked, %d asked", info.Staked, p.Amount)}
	}
	var h token.Hash
	if lock {
		h, err = l.Stake(ctx, p.Amount)
	} else {
		h, err = l.Unstake(ctx, p.Amount)
	}
	if err != nil {
		if errors.Is(err, token.ErrInvalid) || errors.Is(err, token.ErrGap) {
			return r, &jrpc2.Error{Code: CodeConflict, Message: err.Error()}
		}
		return r, ledgerError(err)
	}
	r.Hash = h.String()
	if p.Wait {
		if err := l.WaitConfirmed(ctx, h); err != nil {
			return r, ledgerError(fmt.Errorf("block %s made, not confirmed yet: %w", h, err))
		}
	}
	r.Epoch = l.Epoch()
	l.View(func(led *token.Ledger) {
		r.Confirmed = led.Confirmed(h)
		if b, ok := led.Block(h); ok {
			r.Balance, r.Staked = b.Balance, b.Staked
			if !lock {
				r.ReleaseEpoch = b.Epoch + led.UnbondingEpochs()
			}
		}
	})
	return r, nil
}

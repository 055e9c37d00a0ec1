package token

import (
	"bytes"
	"fmt"
	"slices"
)

// Frontier is the confirmed head of an account's chain: what a node that
// pulls blocks from a peer compares with its own (ledgersvc's catch-up).
type Frontier struct {
	Account Account
	Head    Hash   // the last confirmed block
	Height  uint64 // confirmed blocks on the chain (> 0)
}

// ConfirmedFrontier returns account a's confirmed head, and false if none
// of its blocks is confirmed.
func (l *Ledger) ConfirmedFrontier(a Account) (Frontier, bool) {
	st, ok := l.accounts[a]
	if !ok || st.ConfirmedHeight == 0 {
		return Frontier{}, false
	}
	h := st.Head
	for e := l.blocks[h]; e != nil && e.height > st.ConfirmedHeight; e = l.blocks[h] {
		h = e.block.Previous
	}
	return Frontier{Account: a, Head: h, Height: st.ConfirmedHeight}, true
}

// Frontiers returns up to limit confirmed frontiers of the accounts
// ordered after account after (in byte order), in that order.
func (l *Ledger) Frontiers(after Account, limit int) []Frontier {
	var accts []Account
	for a, st := range l.accounts {
		if st.ConfirmedHeight > 0 && bytes.Compare(a[:], after[:]) > 0 {
			accts = append(accts, a)
		}
	}
	slices.SortFunc(accts, func(x, y Account) int { return bytes.Compare(x[:], y[:]) })
	accts = accts[:min(len(accts), max(limit, 0))]
	out := make([]Frontier, 0, len(accts))
	for _, a := range accts {
		f, _ := l.ConfirmedFrontier(a)
		out = append(out, f)
	}
	return out
}

// ConfirmedAfter returns up to limit confirmed blocks of account a's
// chain following block after (the zero hash: from its first block),
// oldest first. It returns an error wrapping ErrGap if after is not a
// confirmed block of a's chain.
func (l *Ledger) ConfirmedAfter(a Account, after Hash, limit int) ([]Block, error) {
	st, ok := l.accounts[a]
	if !ok || limit <= 0 {
		return nil, nil
	}
	from := uint64(1)
	if !after.IsZero() {
		e, ok := l.blocks[after]
		if !ok || !e.onChain || !e.confirmed || e.block.Account != a {
			return nil, fmt.Errorf("%w: %s is not a confirmed block of %s", ErrGap, after, a)
		}
		from = e.height + 1
	}
	if from > st.ConfirmedHeight {
		return nil, nil
	}
	to := min(st.ConfirmedHeight, from+uint64(limit)-1)
	out := make([]Block, to-from+1)
	h := st.Head
	for e := l.blocks[h]; e != nil && e.height >= from; e = l.blocks[h] {
		if e.height <= to {
			out[e.height-from] = e.block
		}
		h = e.block.Previous
	}
	return out, nil
}

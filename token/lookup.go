package token

// maxWalk bounds the chain walks of the look-ups below: they serve a
// node's own wallet and a provider's check of a recent escrow.
const maxWalk = 10_000

// walk calls f on account a's chain blocks from its head back, at most
// maxWalk of them, until f returns false.
func (l *Ledger) walk(a Account, f func(e *entry) bool) {
	s, ok := l.accounts[a]
	if !ok {
		return
	}
	h := s.Head
	for range maxWalk {
		e, ok := l.blocks[h]
		if !ok || !f(e) || e.block.Kind == KindOpen {
			return
		}
		h = e.block.Previous
	}
}

// Unbonded returns account a's oldest confirmed unstake that is not
// received yet and whose unbonding period is over at epoch, or the zero
// hash if there is none.
func (l *Ledger) Unbonded(a Account, epoch uint64) Hash {
	var out Hash
	l.walk(a, func(e *entry) bool {
		if e.block.Kind != KindUnstake || !e.confirmed {
			return true
		}
		if _, ok := l.received[e.hash]; ok {
			return true
		}
		if release, err := add(e.block.Epoch, l.g.unbonding); err == nil && epoch >= release {
			out = e.hash
		}
		return true
	})
	return out
}

// Escrow is the state of an escrow lock.
type Escrow struct {
	// Lock is the escrow-lock block's hash; Submitter its account.
	Lock      Hash
	Submitter Account
	// Locked is what the lock took; Claimed what providers claimed.
	Locked, Claimed uint64
	// Deadline is the last epoch of claims; refunds come after it.
	Deadline  uint64
	Refunded  bool
	Confirmed bool
}

// EscrowFor returns the newest escrow lock on submitter's chain naming
// task, and whether there is one.
func (l *Ledger) EscrowFor(submitter Account, task [32]byte) (Escrow, bool) {
	var out Escrow
	found := false
	l.walk(submitter, func(e *entry) bool {
		if e.block.Kind != KindEscrowLock || e.block.Link != task {
			return true
		}
		if es := l.escrows[e.hash]; es != nil {
			out = Escrow{Lock: e.hash, Submitter: submitter, Locked: es.locked, Claimed: es.claimed,
				Deadline: es.deadline, Refunded: es.refunded, Confirmed: e.confirmed}
			found = true
		}
		return false
	})
	return out, found
}

// EscrowAt returns the escrow locked by block lock, and whether there is
// one.
func (l *Ledger) EscrowAt(lock Hash) (Escrow, bool) {
	es := l.escrows[lock]
	e := l.blocks[lock]
	if es == nil || e == nil {
		return Escrow{}, false
	}
	return Escrow{Lock: lock, Submitter: es.submitter, Locked: es.locked, Claimed: es.claimed,
		Deadline: es.deadline, Refunded: es.refunded, Confirmed: e.confirmed}, true
}

// Refundable returns submitter's confirmed escrow locks whose deadline is
// before epoch, with credits left and not refunded: those it may take
// back now.
func (l *Ledger) Refundable(submitter Account, epoch uint64) []Hash {
	var out []Hash
	l.walk(submitter, func(e *entry) bool {
		if e.block.Kind != KindEscrowLock || !e.confirmed {
			return true
		}
		if es := l.escrows[e.hash]; es != nil && !es.refunded && es.deadline < epoch && es.locked > es.claimed {
			out = append(out, e.hash)
		}
		return true
	})
	return out
}

package token

// StakeAt returns account a's stake as of epoch e: the stake of its last
// confirmed block of an epoch up to e, its genesis stake if it has none,
// or 0. Nodes holding the same confirmed blocks give the same answer. A
// block of an old epoch confirmed late changes it, so a consumer that
// needs a frozen figure (the relay lottery's StakeOracle) asks for an
// epoch far enough in the past that no such block can still be accepted.
// It walks the chain back from its head.
func (l *Ledger) StakeAt(a Account, e uint64) uint64 {
	s, ok := l.accounts[a]
	if !ok {
		return 0
	}
	for h := s.Head; ; {
		en, ok := l.blocks[h]
		if !ok {
			if s.genesis {
				return l.genesisAccount(a).staked
			}
			return 0
		}
		if en.confirmed && en.block.Epoch <= e {
			return en.block.Staked
		}
		if en.block.Kind == KindOpen {
			return 0
		}
		h = en.block.Previous
	}
}

// TotalStakeAt returns the sum of StakeAt(a, e) over all accounts.
func (l *Ledger) TotalStakeAt(e uint64) uint64 {
	var t uint64
	for a := range l.accounts {
		t += l.StakeAt(a, e) // no overflow: stakes are part of the supply
	}
	return t
}

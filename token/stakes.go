package token

// StakeTable is every account's lottery weight as of one epoch, from
// confirmed blocks only (Ledger.Stakes). It is a value: later blocks do
// not change a table already taken.
type StakeTable struct {
	// Epoch is the epoch the table is taken at.
	Epoch uint64
	// MinStake is the smallest weight that counts; lighter accounts weigh 0.
	MinStake uint64
	// Total is the sum of the weights in the table.
	Total  uint64
	weight map[Account]uint64
}

// Weight returns account a's weight in the table, 0 if it has none.
func (t StakeTable) Weight(a Account) uint64 { return t.weight[a] }

// Len returns how many accounts weigh more than 0.
func (t StakeTable) Len() int { return len(t.weight) }

// Stakes returns every account's bonded stake as of epoch e: BondedAt for
// each account, dropping those below minStake (a minimum of 0 counts every
// account with stake). Two ledgers holding the same confirmed blocks give
// the same table, whatever order the blocks came in.
func (l *Ledger) Stakes(e, minStake uint64) StakeTable {
	t := StakeTable{Epoch: e, MinStake: minStake, weight: map[Account]uint64{}}
	// The genesis stakes once, rather than a search of the allocation per
	// account.
	gen := make(map[Account]uint64)
	for _, g := range l.g.accounts {
		if g.staked > 0 {
			gen[g.account] = g.staked
		}
	}
	for a := range l.accounts {
		w := l.bondedAt(a, e, func() uint64 { return gen[a] })
		if w == 0 || w < minStake {
			continue
		}
		t.weight[a] = w
		t.Total += w // no overflow: bonded stake is part of the supply
	}
	return t
}

// BondedAt returns account a's bonded stake as of epoch e: the stake of its
// last confirmed block of an epoch up to e (its genesis stake if none),
// plus what its confirmed unstake blocks of epochs up to e are still
// unbonding at e (an unstake of epoch u unbonds until u +
// UnbondingEpochs). An unstake therefore lowers the weight only once its
// unbonding is over, and the credits cannot be staked again elsewhere
// before then (they are in neither balance), so nothing counts twice.
// Unconfirmed blocks and blocks dated after e do not count.
func (l *Ledger) BondedAt(a Account, e uint64) uint64 {
	return l.bondedAt(a, e, func() uint64 { return l.genesisAccount(a).staked })
}

// bondedAt is BondedAt with the account's genesis stake from genesis.
func (l *Ledger) bondedAt(a Account, e uint64, genesis func() uint64) uint64 {
	s, ok := l.accounts[a]
	if !ok {
		return 0
	}
	var staked, unbonding uint64
	found := false
	for h := s.Head; ; {
		en, ok := l.blocks[h]
		if !ok {
			if !found && s.genesis {
				staked = genesis()
			}
			break
		}
		b := &en.block
		if en.confirmed && b.Epoch <= e {
			if !found {
				staked, found = b.Staked, true
			}
			release, err := add(b.Epoch, l.g.unbonding)
			if err == nil && release <= e {
				break // this and every earlier unstake is over at e, and the stake is set
			}
			if b.Kind == KindUnstake {
				if x, ok := l.Amount(en.hash); ok {
					unbonding += x // no overflow: part of the supply
				}
			}
		}
		if b.Kind == KindOpen {
			break
		}
		h = b.Previous
	}
	return staked + unbonding
}

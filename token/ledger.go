package token

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"fmt"
	"slices"
)

// AccountInfo is an account's state at the head of its chain in a Ledger.
type AccountInfo struct {
	Head            Hash    // the last block on the chain (the genesis root before any block)
	Height          uint64  // blocks on the chain (0: only the genesis allocation)
	Balance         uint64  // spendable micro-credits
	Staked          uint64  // staked micro-credits
	Representative  Account // who votes with this account's weight
	Epoch           uint64  // the epoch of the head block
	ConfirmedHeight uint64  // blocks of the chain confirmed (cemented)
}

type accountState struct {
	AccountInfo
	genesis bool // funded by the genesis allocation
}

// entry is a block the Ledger holds: on its account's chain, or a
// competitor of a chain block waiting for an election.
type entry struct {
	block     Block
	hash      Hash
	root      Hash
	height    uint64 // 1 for the first block of a chain
	amount    uint64 // what a send, stake, unstake, lock, receive, claim or refund moved
	source    Hash   // what a receive, claim or refund consumed
	onChain   bool
	confirmed bool
	before    accountState // the account's state before this block (to roll it back)
}

type escrow struct {
	locked, claimed uint64
	refunded        bool
	deadline        uint64
	submitter       Account
}

type claimKey struct {
	lock     Hash
	provider Account
}

// Ledger is the block lattice of one node: every account's chain, the
// blocks competing with chain blocks (forks), what is confirmed, and the
// state derived from it (balances, stake, representatives' weights,
// unreceived sends, escrows). It validates every block it takes.
//
// A Ledger is deterministic and does no I/O; it is not safe for concurrent
// use.
type Ledger struct {
	g         *genesisState
	blocks    map[Hash]*entry
	accounts  map[Account]*accountState
	successor map[Hash]Hash                 // root -> the chain block built on it
	forks     map[Hash][]Hash               // root -> competitors of the chain block
	received  map[Hash]Hash                 // send or unstake -> the block that received it
	pending   map[Account]map[Hash]struct{} // account -> sends to it not yet received
	claims    map[claimKey]Hash
	escrows   map[Hash]*escrow
	frozen    map[Account]bool
	weight    map[Account]uint64
	sigs      *SigCache
}

// NewLedger returns a Ledger holding the genesis allocation g.
func NewLedger(g Genesis) (*Ledger, error) {
	s, err := g.state()
	if err != nil {
		return nil, err
	}
	l := &Ledger{
		g:         s,
		blocks:    make(map[Hash]*entry),
		accounts:  make(map[Account]*accountState, len(s.accounts)),
		successor: make(map[Hash]Hash),
		forks:     make(map[Hash][]Hash),
		received:  make(map[Hash]Hash),
		pending:   make(map[Account]map[Hash]struct{}),
		claims:    make(map[claimKey]Hash),
		escrows:   make(map[Hash]*escrow),
		frozen:    make(map[Account]bool),
		weight:    make(map[Account]uint64),
	}
	for _, a := range s.accounts {
		l.accounts[a.account] = &accountState{genesis: true, AccountInfo: AccountInfo{
			Head: a.root, Balance: a.balance, Staked: a.staked, Representative: a.rep,
		}}
		l.weight[a.rep] += a.balance + a.staked // no overflow: the supply fits
	}
	for _, f := range s.frozen {
		l.frozen[f] = true
	}
	return l, nil
}

// Root returns the root of a block: the hash it builds on, or for an open
// block its account. Two valid blocks with the same root are a fork.
func Root(b *Block) Hash {
	if b.Kind == KindOpen {
		return Hash(b.Account)
	}
	return b.Previous
}

// UnbondingEpochs returns how many epochs unstaked credits stay locked.
func (l *Ledger) UnbondingEpochs() uint64 { return l.g.unbonding }

// Genesis returns the genesis digest.
func (l *Ledger) Genesis() Hash { return l.g.digest }

// Supply returns the total supply set by the genesis.
func (l *Ledger) Supply() uint64 { return l.g.supply }

// Account returns the state of account a, and whether it exists.
func (l *Ledger) Account(a Account) (AccountInfo, bool) {
	s, ok := l.accounts[a]
	if !ok {
		return AccountInfo{}, false
	}
	return s.AccountInfo, true
}

// Block returns a block the Ledger holds (on a chain or in a fork).
func (l *Ledger) Block(h Hash) (Block, bool) {
	e, ok := l.blocks[h]
	if !ok {
		return Block{}, false
	}
	return e.block, true
}

// Amount returns what block h moved: the amount a send, stake, unstake
// or escrow lock took from the balance, or a receive, claim or refund
// added to it (0 for other kinds), and whether the Ledger holds h.
func (l *Ledger) Amount(h Hash) (uint64, bool) {
	e, ok := l.blocks[h]
	if !ok {
		return 0, false
	}
	return e.amount, true
}

// OnChain reports whether block h is on its account's chain.
func (l *Ledger) OnChain(h Hash) bool {
	e, ok := l.blocks[h]
	return ok && e.onChain
}

// Confirmed reports whether block h is confirmed.
func (l *Ledger) Confirmed(h Hash) bool {
	e, ok := l.blocks[h]
	return ok && e.confirmed
}

// Weight returns the voting weight delegated to representative rep: the
// balances and stakes of the accounts naming it.
func (l *Ledger) Weight(rep Account) uint64 { return l.weight[rep] }

// Representatives returns up to limit of the representatives with the
// most weight, the heaviest first (ties: the smaller account first).
func (l *Ledger) Representatives(limit int) []Account {
	reps := make([]Account, 0, len(l.weight))
	for a, w := range l.weight {
		if w > 0 {
			reps = append(reps, a)
		}
	}
	slices.SortFunc(reps, func(x, y Account) int {
		if wx, wy := l.weight[x], l.weight[y]; wx != wy {
			return cmp.Compare(wy, wx)
		}
		return bytes.Compare(x[:], y[:])
	})
	return reps[:min(len(reps), max(limit, 0))]
}

// Pending returns the sends to account a that it has not received.
func (l *Ledger) Pending(a Account) []Hash {
	var out []Hash
	for h := range l.pending[a] {
		out = append(out, h)
	}
	sortHashes(out)
	return out
}

// Conflicts returns the blocks competing for root (the chain block first),
// or nil if there is no fork there.
func (l *Ledger) Conflicts(root Hash) []Hash {
	fs := l.forks[root]
	if len(fs) == 0 {
		return nil
	}
	out := []Hash{l.successor[root]}
	return append(out, fs...)
}

// Forks returns how many roots have competing blocks waiting for an
// election.
func (l *Ledger) Forks() int { return len(l.forks) }

// SetFrozen freezes or thaws account a; a frozen account may add no block.
func (l *Ledger) SetFrozen(a Account, frozen bool) {
	if frozen {
		l.frozen[a] = true
	} else {
		delete(l.frozen, a)
	}
}

// Frozen reports whether account a is frozen.
func (l *Ledger) Frozen(a Account) bool { return l.frozen[a] }

// InFlight returns the credits that are in no balance or stake: sent and
// not received, unbonding, or locked in an escrow. Balances, stakes and
// InFlight always add up to Supply.
func (l *Ledger) InFlight() uint64 {
	var n uint64
	for _, e := range l.blocks {
		if !e.onChain {
			continue
		}
		switch e.block.Kind {
		case KindSend, KindUnstake:
			if _, ok := l.received[e.hash]; !ok {
				n += e.amount
			}
		}
	}
	for _, es := range l.escrows {
		if !es.refunded {
			n += es.locked - es.claimed
		}
	}
	return n
}

// Total returns the sum of every account's balance and stake.
func (l *Ledger) Total() uint64 {
	var n uint64
	for _, s := range l.accounts {
		n += s.Balance + s.Staked
	}
	return n
}

func invalid(h Hash, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, h, fmt.Sprintf(format, args...))
}

// Apply validates block b and adds it: to its account's chain if it builds
// on the chain's head, or as a competitor if another block already builds
// on its previous (it then returns the hash and an error wrapping ErrFork).
// The rules are in docs/token.md: the signature, the previous block, the
// epoch, the balance arithmetic of the kind, a confirmed and unreceived
// source for receives, claims and refunds, no frozen account. An error
// wrapping ErrGap means a block it depends on is missing or not confirmed
// yet, so b may be valid later.
func (l *Ledger) Apply(b Block) (Hash, error) { return l.apply(b, true) }

// Validate checks block b as Apply does, with the same errors, without
// adding it.
func (l *Ledger) Validate(b Block) (Hash, error) { return l.apply(b, false) }

func (l *Ledger) apply(b Block, commit bool) (Hash, error) {
	if err := b.checkShape(); err != nil {
		return Hash{}, err
	}
	// The signature first, even for a block held already: the hash does
	// not cover it, and a forged copy of a known block must not pass as a
	// duplicate (a relay would forward it).
	h := b.Hash()
	if !l.sigs.verify(b.Account, h, &b.Signature) {
		return h, fmt.Errorf("%w: block %s", ErrSignature, h)
	}
	if _, ok := l.blocks[h]; ok {
		return h, fmt.Errorf("%w: %s", ErrDuplicate, h)
	}
	if l.frozen[b.Account] {
		return h, invalid(h, "account %s is frozen", b.Account)
	}
	root := Root(&b)
	before, height, err := l.predecessor(h, &b)
	if err != nil {
		return h, err
	}
	e := &entry{block: b, hash: h, root: root, height: height, before: before}
	rival, forked := l.successor[root]
	if forked {
		if err := l.check(e, height); err != nil {
			return h, err
		}
		if l.blocks[rival].confirmed {
			return h, fmt.Errorf("%w: %s: %w %s", ErrInvalid, h, ErrSettled, rival)
		}
		if !commit {
			return h, fmt.Errorf("%w: %s competes with %s", ErrFork, h, rival)
		}
		l.blocks[h] = e
		l.forks[root] = append(l.forks[root], h)
		return h, fmt.Errorf("%w: %s competes with %s", ErrFork, h, rival)
	}
	if err := l.check(e, 0); err != nil {
		return h, err
	}
	if !commit {
		return h, nil
	}
	l.blocks[h] = e
	l.link(e)
	return h, nil
}

// isGenesisRoot reports whether h is genesis account a's root, the
// previous of its first block.
func (l *Ledger) isGenesisRoot(a Account, h Hash) bool {
	s, ok := l.accounts[a]
	return ok && s.genesis && h == genesisRoot(l.g.digest, a)
}

// predecessor returns the account's state that b builds on and b's height.
func (l *Ledger) predecessor(h Hash, b *Block) (accountState, uint64, error) {
	if b.Kind == KindOpen {
		if s, ok := l.accounts[b.Account]; ok && s.genesis {
			return accountState{}, 0, invalid(h, "genesis account %s cannot open", b.Account)
		}
		return accountState{AccountInfo: AccountInfo{Representative: b.Representative}}, 1, nil
	}
	if l.isGenesisRoot(b.Account, b.Previous) {
		g := l.genesisAccount(b.Account)
		return accountState{genesis: true, AccountInfo: AccountInfo{
			Head: b.Previous, Balance: g.balance, Staked: g.staked, Representative: g.rep,
		}}, 1, nil
	}
	p, ok := l.blocks[b.Previous]
	if !ok {
		return accountState{}, 0, fmt.Errorf("%w: %s: previous %s unknown", ErrGap, h, b.Previous)
	}
	if p.block.Account != b.Account {
		return accountState{}, 0, invalid(h, "previous %s belongs to another account", b.Previous)
	}
	if !p.onChain {
		return accountState{}, 0, fmt.Errorf("%w: %s: previous %s lost or awaits its election", ErrGap, h, b.Previous)
	}
	s := p.before
	s.AccountInfo = AccountInfo{
		Head: p.hash, Height: p.height, Balance: p.block.Balance, Staked: p.block.Staked,
		Representative: p.block.Representative, Epoch: p.block.Epoch,
	}
	return s, p.height + 1, nil
}

func (l *Ledger) genesisAccount(a Account) genesisAccount {
	for _, g := range l.g.accounts {
		if g.account == a {
			return g
		}
	}
	return genesisAccount{}
}

// consumed reports whether the consumer c of something a block of account
// acc at height forkAt wants is a block that would be rolled back if that
// block won its election (so it does not count as a consumer).
func (l *Ledger) consumedBy(c Hash, acc Account, forkAt uint64) bool {
	ce := l.blocks[c]
	return !(forkAt > 0 && ce.block.Account == acc && ce.height >= forkAt)
}

// check validates entry e against its predecessor state e.before. forkAt,
// if not 0, is the height of the chain block e competes with: consumption
// by that block and its successors does not count.
func (l *Ledger) check(e *entry, forkAt uint64) error {
	b, h, prev := &e.block, e.hash, &e.before
	if b.Epoch < prev.Epoch {
		return invalid(h, "epoch %d before the previous block's %d", b.Epoch, prev.Epoch)
	}
	if b.Kind != KindChange && b.Kind != KindOpen && b.Representative != prev.Representative {
		return invalid(h, "only a change block may change the representative")
	}
	sameStake := func() error {
		if b.Staked != prev.Staked {
			return invalid(h, "a %s block may not change the stake", b.Kind)
		}
		return nil
	}
	same := func() error {
		if b.Balance != prev.Balance {
			return invalid(h, "a %s block may not change the balance", b.Kind)
		}
		return sameStake()
	}
	decrease := func() error {
		if b.Balance >= prev.Balance {
			return invalid(h, "a %s block must lower the balance", b.Kind)
		}
		e.amount = prev.Balance - b.Balance
		return nil
	}
	increase := func(amount uint64) error {
		want, err := add(prev.Balance, amount)
		if err != nil {
			return invalid(h, "balance overflows")
		}
		if b.Balance != want {
			return invalid(h, "balance %d, want %d", b.Balance, want)
		}
		e.amount = amount
		return sameStake()
	}
	switch b.Kind {
	case KindOpen, KindReceive:
		src, err := l.confirmedSource(h, b.Link)
		if err != nil {
			return err
		}
		if c, ok := l.received[src.hash]; ok && l.consumedBy(c, b.Account, forkAt) {
			return invalid(h, "source %s already received by %s", src.hash, c)
		}
		switch src.block.Kind {
		case KindSend:
			if Account(src.block.Link) != b.Account {
				return invalid(h, "send %s is to another account", src.hash)
			}
		case KindUnstake:
			if b.Kind != KindReceive || src.block.Account != b.Account {
				return invalid(h, "unstake %s is another account's", src.hash)
			}
			release, err := add(src.block.Epoch, l.g.unbonding)
			if err != nil || b.Epoch < release {
				return invalid(h, "unstake %s unbonds until epoch %d", src.hash, release)
			}
		default:
			return invalid(h, "source %s is a %s block", src.hash, src.block.Kind)
		}
		e.source = src.hash
		return increase(src.amount)
	case KindSend, KindEscrowLock:
		if err := decrease(); err != nil {
			return err
		}
		return sameStake()
	case KindStake:
		if err := decrease(); err != nil {
			return err
		}
		want, err := add(prev.Staked, e.amount)
		if err != nil || b.Staked != want {
			return invalid(h, "stake %d, want %d", b.Staked, want)
		}
		return nil
	case KindUnstake:
		if b.Balance != prev.Balance {
			return invalid(h, "an unstake block may not change the balance")
		}
		if b.Staked >= prev.Staked {
			return invalid(h, "an unstake block must lower the stake")
		}
		e.amount = prev.Staked - b.Staked
		return nil
	case KindVote, KindChange:
		return same()
	case KindEscrowClaim:
		lock, err := l.confirmedSource(h, b.Link)
		if err != nil {
			return err
		}
		es := l.escrows[lock.hash]
		if lock.block.Kind != KindEscrowLock || es == nil {
			return invalid(h, "%s is not an escrow lock", lock.hash)
		}
		if b.Epoch > es.deadline {
			return invalid(h, "escrow %s closed at epoch %d", lock.hash, es.deadline)
		}
		if es.refunded && l.consumedBy(l.received[lock.hash], b.Account, forkAt) {
			return invalid(h, "escrow %s refunded", lock.hash)
		}
		claimed := es.claimed
		if c, ok := l.claims[claimKey{lock.hash, b.Account}]; ok {
			if l.consumedBy(c, b.Account, forkAt) {
				return invalid(h, "escrow %s already claimed by this account", lock.hash)
			}
			claimed -= l.blocks[c].amount
		}
		if b.Balance <= prev.Balance {
			return invalid(h, "a claim must raise the balance")
		}
		amount := b.Balance - prev.Balance
		if amount > es.locked-claimed {
			return invalid(h, "claims %d of %d left in escrow %s", amount, es.locked-claimed, lock.hash)
		}
		if !ed25519.Verify(es.submitter[:], ClaimTicket(lock.hash, b.Account, amount), b.Ticket[:]) {
			return fmt.Errorf("%w: claim %s: ticket", ErrSignature, h)
		}
		e.source = lock.hash
		return increase(amount)
	case KindEscrowRefund:
		lock, err := l.confirmedSource(h, b.Link)
		if err != nil {
			return err
		}
		es := l.escrows[lock.hash]
		if lock.block.Kind != KindEscrowLock || es == nil || es.submitter != b.Account {
			return invalid(h, "%s is not this account's escrow lock", lock.hash)
		}
		if b.Epoch <= es.deadline {
			return invalid(h, "escrow %s open until epoch %d", lock.hash, es.deadline)
		}
		if es.refunded && l.consumedBy(l.received[lock.hash], b.Account, forkAt) {
			return invalid(h, "escrow %s already refunded", lock.hash)
		}
		left := es.locked - es.claimed
		if left == 0 {
			return invalid(h, "escrow %s is empty", lock.hash)
		}
		e.source = lock.hash
		return increase(left)
	}
	return invalid(h, "unknown kind")
}

// confirmedSource returns the confirmed block named by link.
func (l *Ledger) confirmedSource(h Hash, link [32]byte) (*entry, error) {
	src, ok := l.blocks[Hash(link)]
	if !ok {
		return nil, fmt.Errorf("%w: %s: source %s unknown", ErrGap, h, Hash(link))
	}
	if !src.confirmed {
		return nil, fmt.Errorf("%w: %s: source %s not confirmed", ErrGap, h, src.hash)
	}
	return src, nil
}

// link puts a checked entry on its account's chain.
func (l *Ledger) link(e *entry) {
	b := &e.block
	e.onChain = true
	l.successor[e.root] = e.hash
	s := l.accounts[b.Account]
	if s == nil {
		s = &accountState{}
		l.accounts[b.Account] = s
	}
	l.weight[s.Representative] -= s.Balance + s.Staked
	if l.weight[s.Representative] == 0 {
		delete(l.weight, s.Representative)
	}
	s.Head, s.Height = e.hash, e.height
	s.Balance, s.Staked, s.Representative, s.Epoch = b.Balance, b.Staked, b.Representative, b.Epoch
	l.weight[s.Representative] += s.Balance + s.Staked
	switch b.Kind {
	case KindSend:
		to := Account(b.Link)
		if l.pending[to] == nil {
			l.pending[to] = make(map[Hash]struct{})
		}
		l.pending[to][e.hash] = struct{}{}
	case KindOpen, KindReceive:
		l.received[e.source] = e.hash
		if src := l.blocks[e.source]; src.block.Kind == KindSend {
			delete(l.pending[b.Account], e.source)
			if len(l.pending[b.Account]) == 0 {
				delete(l.pending, b.Account)
			}
		}
	case KindEscrowLock:
		l.escrows[e.hash] = &escrow{locked: e.amount, deadline: b.Aux, submitter: b.Account}
	case KindEscrowClaim:
		l.claims[claimKey{e.source, b.Account}] = e.hash
		l.escrows[e.source].claimed += e.amount
	case KindEscrowRefund:
		es := l.escrows[e.source]
		es.refunded = true
		l.received[e.source] = e.hash
	}
}

// unlink takes the head block e off its chain, restoring the state before
// it.
func (l *Ledger) unlink(e *entry) {
	b := &e.block
	e.onChain = false
	delete(l.successor, e.root)
	s := l.accounts[b.Account]
	l.weight[s.Representative] -= s.Balance + s.Staked
	if l.weight[s.Representative] == 0 {
		delete(l.weight, s.Representative)
	}
	if b.Kind == KindOpen {
		delete(l.accounts, b.Account)
	} else {
		conf := s.ConfirmedHeight
		*s = e.before
		s.ConfirmedHeight = conf
		l.weight[s.Representative] += s.Balance + s.Staked
	}
	switch b.Kind {
	case KindSend:
		to := Account(b.Link)
		delete(l.pending[to], e.hash)
		if len(l.pending[to]) == 0 {
			delete(l.pending, to)
		}
	case KindOpen, KindReceive:
		delete(l.received, e.source)
		if src := l.blocks[e.source]; src.block.Kind == KindSend {
			if l.pending[b.Account] == nil {
				l.pending[b.Account] = make(map[Hash]struct{})
			}
			l.pending[b.Account][e.source] = struct{}{}
		}
	case KindEscrowLock:
		delete(l.escrows, e.hash)
	case KindEscrowClaim:
		delete(l.claims, claimKey{e.source, b.Account})
		l.escrows[e.source].claimed -= e.amount
	case KindEscrowRefund:
		l.escrows[e.source].refunded = false
		delete(l.received, e.source)
	}
}

// Confirm marks block h confirmed (cemented): its election chose it. Its
// previous block must be confirmed first (ErrGap otherwise). If h is a
// competitor rather than the chain block, the chain is rolled back to its
// root and h takes its place; the losers and the blocks built on them are
// dropped. Confirming a confirmed block does nothing.
func (l *Ledger) Confirm(h Hash) error {
	_, err := l.confirm(h)
	return err
}

// confirm is Confirm, returning the blocks it dropped.
func (l *Ledger) confirm(h Hash) ([]Hash, error) {
	var dropped []Hash
	e, ok := l.blocks[h]
	if !ok {
		return nil, fmt.Errorf("%w: confirm %s: unknown block", ErrGap, h)
	}
	if e.confirmed {
		return nil, nil
	}
	if e.block.Kind != KindOpen {
		if p, ok := l.blocks[e.block.Previous]; ok && !p.confirmed {
			return nil, fmt.Errorf("%w: confirm %s: previous %s not confirmed", ErrGap, h, p.hash)
		}
	}
	if !e.onChain {
		// Roll the chain back to e's root, then put e on it.
		cur := l.successor[e.root]
		var undo []*entry
		for !cur.IsZero() {
			ce := l.blocks[cur]
			undo = append(undo, ce)
			cur = l.successor[ce.hash]
		}
		for i := len(undo) - 1; i >= 0; i-- {
			l.unlink(undo[i])
		}
		if err := l.check(e, 0); err != nil {
			// Cannot happen for a block that passed check as a competitor;
			// put the chain back as it was.
			for _, ce := range undo {
				l.link(ce)
			}
			return nil, err
		}
		for _, ce := range undo {
			delete(l.blocks, ce.hash)
			dropped = append(dropped, ce.hash)
			for _, f := range l.forks[ce.hash] {
				delete(l.blocks, f)
				dropped = append(dropped, f)
			}
			delete(l.forks, ce.hash)
		}
		l.link(e)
	}
	for _, f := range l.forks[e.root] {
		if f != h {
			delete(l.blocks, f)
			dropped = append(dropped, f)
		}
	}
	delete(l.forks, e.root)
	e.confirmed = true
	l.accounts[e.block.Account].ConfirmedHeight = e.height
	return dropped, nil
}

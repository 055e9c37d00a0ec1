package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// Effects is what a Node asks its driver to do after an input. Records
// must be persisted, in order and synced, before the node acknowledges
// what they hold to anyone (replaying them into a Ledger from the same
// genesis rebuilds it); Blocks and Votes are to be published.
type Effects struct {
	Records   []Record
	Accepted  []Hash  // blocks the ledger took (on a chain or as a competitor)
	Confirmed []Hash  // blocks confirmed, in the order confirmed
	Blocks    []Block // blocks to publish (election candidates re-sent, or a confirmed winner shown to a peer that missed it)
	Votes     []Vote  // this node's votes to publish
	// Stale names the accounts whose next block has had an election open
	// here past a re-send that this node could not make (it holds no
	// weight and the block is not its own): most likely it missed the
	// final votes. The driver may ask the representatives for the outcome.
	Stale []Account
}

// Record is one change of a Ledger, as a Node made it: a block taken
// (Confirm false, Block set) or a block confirmed (Confirm true).
type Record struct {
	Confirm bool
	Hash    Hash
	Block   Block // when Confirm is false
}

// Replay applies r to l, as the Node did when it emitted r.
func (r *Record) Replay(l *Ledger) error {
	if r.Confirm {
		return l.Confirm(r.Hash)
	}
	h, err := l.Apply(r.Block)
	if errors.Is(err, ErrFork) || errors.Is(err, ErrDuplicate) {
		err = nil
	}
	if err == nil && h != r.Hash {
		err = fmt.Errorf("%w: record of %s holds block %s", ErrMalformed, r.Hash, h)
	}
	return err
}

func (e *Effects) merge(o Effects) {
	e.Records = append(e.Records, o.Records...)
	e.Accepted = append(e.Accepted, o.Accepted...)
	e.Confirmed = append(e.Confirmed, o.Confirmed...)
	e.Blocks = append(e.Blocks, o.Blocks...)
	e.Votes = append(e.Votes, o.Votes...)
	e.Stale = append(e.Stale, o.Stale...)
}

// Node is one node's open representative voting (ORV), as Nano's: every
// block the ledger takes opens an election on its root; the node's
// representatives vote for the first block they saw there, switch normal
// votes to a block that leads with more weight, cast a final vote once a
// block has normal votes from more than half of the online weight, and the
// block is confirmed when final votes from more than half of the online
// weight are seen. A representative never casts two final votes in one
// election, so two blocks of one root cannot both be confirmed unless
// representatives holding more than the margin between the two quorums
// equivocate. The online weight is the weight of the representatives that
// voted within OnlineWindow, never taken below its peak over TrendPeriod
// nor below MinOnlinePercent of the supply: a side of a partition holding
// less than half of that cannot confirm anything.
//
// Time comes in as arguments; Node does no I/O and is not safe for
// concurrent use.
type Node struct {
	cfg        Config
	l          *Ledger
	keys       []ed25519.PrivateKey
	elections  map[Hash]*election
	pending    map[Hash][]waitingVote // block -> votes that came before it
	npending   int
	unchecked  map[Hash][]waitingBlock // dependency -> blocks waiting for it
	nunchecked int
	trendPeak  uint64 // the largest sample of trend
	online     map[Account]time.Time
	answered   map[Hash]time.Time // settled roots answered for, and when
	settledAt  map[Hash]time.Time // roots settled within OnlineWindow, and when
	trend      []sample
	forks      int
}

type waitingVote struct {
	v  Vote
	at time.Time
}

type waitingBlock struct {
	b  Block
	at time.Time
}

type sample struct {
	at     time.Time
	weight uint64
}

type ballot struct {
	block Hash
	seq   uint64
}

type election struct {
	root       Hash
	candidates []Hash
	normal     map[Account]ballot
	final      map[Account]Hash
	mine       map[Account]Vote // this node's latest normal vote per representative
	mineFinal  map[Account]Vote
	winner     Hash
	// resendAt is when Tick re-sends the election's candidates and this
	// node's votes next; resendGap is the wait that led to it.
	resendAt  time.Time
	resendGap time.Duration
	resends   uint64 // re-sends so far
	// heard holds the candidates another node re-sent (they came in
	// again, as duplicates) since this node's last re-send: Tick does not
	// re-send those.
	heard map[Hash]bool
}

// NewNode returns a Node running elections over ledger l, voting with the
// representative keys reps (none: the node only observes).
func NewNode(cfg Config, l *Ledger, reps []ed25519.PrivateKey) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for i, k := range reps {
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: reps[%d] is not an Ed25519 private key", ErrConfig, i)
		}
	}
	return &Node{
		cfg:       cfg,
		l:         l,
		keys:      slices.Clone(reps),
		elections: make(map[Hash]*election),
		pending:   make(map[Hash][]waitingVote),
		unchecked: make(map[Hash][]waitingBlock),
		online:    make(map[Account]time.Time),
		answered:  make(map[Hash]time.Time),
		settledAt: make(map[Hash]time.Time),
	}, nil
}

// Ledger returns the node's ledger (for reading; blocks go through
// ProcessBlock).
func (n *Node) Ledger() *Ledger { return n.l }

// Elections returns the number of open elections.
func (n *Node) Elections() int { return len(n.elections) }

// ForksSeen returns how many competing blocks the node has seen.
func (n *Node) ForksSeen() int { return n.forks }

// ProcessBlock takes a block from the network or from this node's wallet.
// Errors wrapping ErrSignature or ErrInvalid mean a bad block (its sender
// deserves a lower score, unless it only conflicts with a confirmed block,
// which a lagging honest peer may relay); ErrGap means it may be valid
// later; ErrDuplicate means it was seen.
func (n *Node) ProcessBlock(b Block, now time.Time) (Effects, error) {
	var eff Effects
	root := Root(&b)
	if _, open := n.elections[root]; !open && len(n.elections) >= n.cfg.MaxElections {
		return eff, fmt.Errorf("%w (%d)", ErrBusy, len(n.elections))
	}
	h, err := n.l.Apply(b)
	switch {
	case err == nil:
	case errors.Is(err, ErrFork):
		n.forks++
	case errors.Is(err, ErrGap):
		n.wait(b, now)
		return eff, err
	case errors.Is(err, ErrDuplicate):
		if n.l.Confirmed(h) {
			n.answer(root, h, false, now, &eff)
		} else if e := n.elections[root]; e != nil && slices.Contains(e.candidates, h) {
			n.heard(e, h)
		}
		return eff, err
	case errors.Is(err, ErrInvalid):
		if w, ok := n.l.successor[root]; ok && n.l.Confirmed(w) && w != h {
			n.answer(root, w, true, now, &eff)
		}
		return eff, err
	default:
		return eff, err
	}
	eff.Accepted = append(eff.Accepted, h)
	eff.Records = append(eff.Records, Record{Hash: h, Block: b})
	e := n.open(root, now)
	e.candidates = append(e.candidates, h)
	n.voteFirst(e, now, &eff)
	if vs := n.pending[h]; len(vs) > 0 {
		delete(n.pending, h)
		n.npending -= len(vs)
		for _, w := range vs {
			if w.v.Root == root {
				if t, ok := n.online[w.v.Rep]; !ok || w.at.After(t) {
					n.online[w.v.Rep] = w.at
				}
				n.record(e, w.v, now)
			}
		}
	}
	n.tally(e, now, &eff)
	n.retry(h, now, &eff)
	return eff, nil
}

// open returns the election of root, opening it at now if needed.
func (n *Node) open(root Hash, now time.Time) *election {
	e := n.elections[root]
	if e == nil {
		e = &election{
			root:      root,
			normal:    make(map[Account]ballot),
			final:     make(map[Account]Hash),
			mine:      make(map[Account]Vote),
			mineFinal: make(map[Account]Vote),
		}
		// A node re-sends from ResendAfter on; one that only observes
		// re-sends only its own accounts' blocks (Tick): a network has a
		// few representatives and many observers, and the
		// representatives hold the blocks they voted for. An observer's
		// re-sends are for its blocks that no representative has seen (a
		// partition held every one away); for the others' it reports the
		// election Stale instead.
		e.resendGap = n.cfg.ResendAfter
		e.resendAt = now.Add(n.resendWait(e))
		n.elections[root] = e
	}
	return e
}

// resendWait returns how long after now e's next re-send comes: its
// whole gap without a ResendSalt, else a point in the gap's second half
// drawn from the salt, the root and the re-send's number (Trickle's
// random point, deterministic so that the core stays a function of its
// inputs).
func (n *Node) resendWait(e *election) time.Duration {
	if len(n.cfg.ResendSalt) == 0 {
		return e.resendGap
	}
	h := sha256.New()
	h.Write(n.cfg.ResendSalt)
	h.Write(e.root[:])
	h.Write(binary.BigEndian.AppendUint64(nil, e.resends))
	var sum [sha256.Size]byte
	u := binary.BigEndian.Uint64(h.Sum(sum[:0]))
	half := e.resendGap / 2
	return e.resendGap - half + time.Duration(u%uint64(half+1))
}

// heard notes that candidate h of e came in again: a node re-sent it.
func (n *Node) heard(e *election, h Hash) {
	if e.heard == nil {
		e.heard = make(map[Hash]bool, 1)
	}
	e.heard[h] = true
}

// owns reports whether a is the account of one of the node's keys.
func (n *Node) owns(a Account) bool {
	for _, k := range n.keys {
		if AccountOf(k.Public().(ed25519.PublicKey)) == a {
			return true
		}
	}
	return false
}

// votes reports whether one of the node's keys holds weight.
func (n *Node) votes() bool {
	for _, k := range n.keys {
		if n.l.Weight(AccountOf(k.Public().(ed25519.PublicKey))) > 0 {
			return true
		}
	}
	return false
}

// voteFirst has this node's representatives that have not voted in e
// vote for the block on the chain, the first they saw.
func (n *Node) voteFirst(e *election, now time.Time, eff *Effects) {
	chain := n.l.successor[e.root]
	for _, k := range n.keys {
		rep := AccountOf(k.Public().(ed25519.PublicKey))
		if _, voted := e.normal[rep]; voted || n.l.Weight(rep) == 0 {
			continue
		}
		v := Vote{Root: e.root, Block: chain, Seq: 1}
		v.Sign(k)
		n.online[rep] = now
		e.mine[rep] = v
		e.normal[rep] = ballot{chain, 1}
		eff.Votes = append(eff.Votes, v)
	}
}

// Resume opens the elections of the blocks the ledger holds unconfirmed,
// as after a restart from persisted Records, and votes in them.
func (n *Node) Resume(now time.Time) Effects {
	var eff Effects
	var hs []Hash
	for h, e := range n.l.blocks {
		if !e.confirmed {
			hs = append(hs, h)
		}
	}
	sortHashes(hs)
	var roots []Hash
	for _, h := range hs {
		root := n.l.blocks[h].root
		if _, ok := n.elections[root]; !ok {
			roots = append(roots, root)
		}
		e := n.open(root, now)
		if !slices.Contains(e.candidates, h) {
			e.candidates = append(e.candidates, h)
		}
	}
	for _, r := range roots {
		if e := n.elections[r]; e != nil {
			n.voteFirst(e, now, &eff)
			n.tally(e, now, &eff)
		}
	}
	return eff
}

// wait keeps block b until what it depends on comes.
func (n *Node) wait(b Block, now time.Time) {
	if n.nunchecked >= n.cfg.MaxUnchecked {
		return
	}
	deps := make([]Hash, 0, 2)
	if b.Kind != KindOpen && !n.l.isGenesisRoot(b.Account, b.Previous) {
		// (A genesis root is never a block: nothing would retry b there.)
		deps = append(deps, b.Previous)
	}
	switch b.Kind {
	case KindOpen, KindReceive, KindEscrowClaim, KindEscrowRefund:
		deps = append(deps, Hash(b.Link))
	}
	for _, d := range deps {
		if !n.l.Confirmed(d) {
			n.unchecked[d] = append(n.unchecked[d], waitingBlock{b, now})
			n.nunchecked++
		}
	}
}

// retry processes the blocks that waited for h, now accepted or confirmed.
func (n *Node) retry(h Hash, now time.Time, eff *Effects) {
	bs := n.unchecked[h]
	if len(bs) == 0 {
		return
	}
	delete(n.unchecked, h)
	n.nunchecked -= len(bs)
	for _, w := range bs {
		o, _ := n.ProcessBlock(w.b, now)
		eff.merge(o)
	}
}

// answer shows a peer that still votes or relays blocks at a settled
// root this node's final votes for the winner, and the winner itself if
// the peer backs a loser; at most once per AnswerInterval per root.
func (n *Node) answer(root, winner Hash, withBlock bool, now time.Time, eff *Effects) {
	if t, ok := n.answered[root]; ok && now.Sub(t) < n.cfg.AnswerInterval {
		return
	}
	if len(n.answered) >= n.cfg.MaxElections {
		return // pruned by Tick
	}
	n.answered[root] = now
	if withBlock {
		b, _ := n.l.Block(winner)
		eff.Blocks = append(eff.Blocks, b)
	}
	for _, k := range n.keys {
		if n.l.Weight(AccountOf(k.Public().(ed25519.PublicKey))) == 0 {
			continue
		}
		v := Vote{Root: root, Block: winner, Final: true}
		v.Sign(k)
		eff.Votes = append(eff.Votes, v)
	}
}

// ProcessVote takes a representative's vote. A vote whose signature fails
// is an error wrapping ErrSignature; a vote by a representative without
// weight, or on a settled root, is ignored (a vote for the loser of a
// settled root is answered with the winner).
func (n *Node) ProcessVote(v Vote, now time.Time) (Effects, error) {
	var eff Effects
	if err := v.Verify(); err != nil {
		return eff, err
	}
	if n.l.Weight(v.Rep) == 0 {
		return eff, nil
	}
	err := n.vote(v, now, &eff)
	return eff, err
}

// ProcessVoteBatch takes a representative's batch of votes: its signature checked
// once, then each vote as ProcessVote takes it. A vote that names a block
// of another root is an error wrapping ErrInvalid (the batch's other
// votes still count: they are signed by the same representative).
func (n *Node) ProcessVoteBatch(b VoteBatch, now time.Time) (Effects, error) {
	var eff Effects
	if err := n.l.sigs.VerifyBatch(&b); err != nil {
		return eff, err
	}
	if n.l.Weight(b.Rep) == 0 {
		return eff, nil
	}
	var errs error
	for i := range b.Votes {
		if err := n.vote(b.Vote(i), now, &eff); err != nil && errs == nil {
			errs = err
		}
	}
	return eff, errs
}

// vote takes a vote whose signature was checked, by a representative with
// weight.
func (n *Node) vote(v Vote, now time.Time, eff *Effects) error {
	e := n.elections[v.Root]
	if t, ok := n.settledAt[v.Root]; e != nil || (ok && now.Sub(t) <= n.cfg.OnlineWindow) {
		// A vote in an open election, or one arriving within
		// OnlineWindow of its root's settlement here, shows its
		// representative online; an old vote replayed in a new envelope
		// names a root settled long ago and shows nobody. The late votes
		// count: an election settles on the fastest majority, and a
		// representative whose votes always came after it would never
		// count as online here, so the quorum base would shrink to that
		// majority's weight and a minority side of a partition could
		// reach half of it.
		if t, ok := n.online[v.Rep]; !ok || now.After(t) {
			n.online[v.Rep] = now
		}
	}
	if e == nil {
		if w, ok := n.l.successor[v.Root]; ok && n.l.Confirmed(w) {
			n.answer(v.Root, w, w != v.Block, now, eff)
			return nil
		}
		n.pend(v, now)
		return nil
	}
	if !slices.Contains(e.candidates, v.Block) {
		if b, ok := n.l.Block(v.Block); ok && Root(&b) != v.Root {
			return fmt.Errorf("%w: vote by %s names root %s for block %s", ErrInvalid, v.Rep, v.Root, v.Block)
		}
		n.pend(v, now)
		return nil
	}
	n.record(e, v, now)
	n.tally(e, now, eff)
	return nil
}

func (n *Node) pend(v Vote, now time.Time) {
	if n.npending >= n.cfg.MaxPendingVotes {
		return
	}
	n.pending[v.Block] = append(n.pending[v.Block], waitingVote{v, now})
	n.npending++
}

func (n *Node) record(e *election, v Vote, now time.Time) {
	if v.Final {
		if _, ok := e.final[v.Rep]; !ok {
			e.final[v.Rep] = v.Block
		}
		return
	}
	if cur, ok := e.normal[v.Rep]; !ok || v.Seq > cur.seq {
		e.normal[v.Rep] = ballot{v.Block, v.Seq}
	}
}

// QuorumBase returns the online weight the quorum is counted on at now:
// the weight of representatives seen voting within OnlineWindow, its peak
// among Tick's samples within TrendPeriod, or MinOnlinePercent of the
// supply, whichever is largest. A block needs more than half of it.
func (n *Node) QuorumBase(now time.Time) uint64 {
	base := max(n.OnlineWeight(now), n.trendPeak)
	hi, lo := bits.Mul64(n.l.Supply(), uint64(n.cfg.MinOnlinePercent))
	floor, _ := bits.Div64(hi, lo, 100)
	return max(base, floor)
}

// OnlineWeight returns the weight of the representatives that voted within
// OnlineWindow before now.
func (n *Node) OnlineWeight(now time.Time) uint64 {
	var w uint64
	for rep, t := range n.online {
		if now.Sub(t) <= n.cfg.OnlineWindow {
			w += n.l.Weight(rep)
		}
	}
	return w
}

func lessHash(a, b Hash) bool { return bytes.Compare(a[:], b[:]) < 0 }

func (n *Node) tally(e *election, now time.Time, eff *Effects) {
	half := n.QuorumBase(now) / 2
	support, final := n.weights(e)
	for _, c := range e.candidates {
		if final[c] > half {
			e.winner = c
			n.settle(e, now, eff)
			return
		}
	}
	var leader Hash
	for i, c := range e.candidates {
		if i == 0 || support[c] > support[leader] || (support[c] == support[leader] && lessHash(c, leader)) {
			leader = c
		}
	}
	again := false
	for _, k := range n.keys {
		rep := AccountOf(k.Public().(ed25519.PublicKey))
		if _, done := e.final[rep]; done || n.l.Weight(rep) == 0 {
			continue
		}
		if support[leader] > half {
			v := Vote{Root: e.root, Block: leader, Final: true}
			v.Sign(k)
			e.final[rep] = leader
			e.mineFinal[rep] = v
			eff.Votes = append(eff.Votes, v)
			again = true
			continue
		}
		cur, ok := e.normal[rep]
		// The leader has the most support, ties going to the smaller hash,
		// so representatives split evenly all move to the same block.
		if ok && cur.block != leader && support[leader] >= support[cur.block] {
			v := Vote{Root: e.root, Block: leader, Seq: cur.seq + 1}
			v.Sign(k)
			e.normal[rep] = ballot{leader, v.Seq}
			e.mine[rep] = v
			eff.Votes = append(eff.Votes, v)
		}
	}
	if again {
		n.tally(e, now, eff)
	}
}

// weights returns the weight behind each candidate of e: support counts
// each representative's final vote, or its normal vote if it has none;
// final counts the final votes only.
func (n *Node) weights(e *election) (support, final map[Hash]uint64) {
	support = make(map[Hash]uint64, len(e.candidates))
	final = make(map[Hash]uint64, len(e.candidates))
	for rep, b := range e.normal {
		if _, ok := e.final[rep]; !ok {
			support[b.block] += n.l.Weight(rep)
		}
	}
	for rep, b := range e.final {
		w := n.l.Weight(rep)
		support[b] += w
		final[b] += w
	}
	return support, final
}

// settle confirms the winner of e if its previous block is confirmed, then
// the winners waiting on it.
func (n *Node) settle(e *election, now time.Time, eff *Effects) {
	dropped, err := n.l.confirm(e.winner)
	if err != nil {
		return // the previous block is not confirmed yet: settled when it is
	}
	delete(n.elections, e.root)
	if len(n.settledAt) < n.cfg.MaxElections {
		n.settledAt[e.root] = now
	}
	// Votes still in flight arrive in the next moments: they need no
	// answer. A peer that still votes here an AnswerInterval later does.
	if len(n.answered) < n.cfg.MaxElections {
		n.answered[e.root] = now
	}
	eff.Confirmed = append(eff.Confirmed, e.winner)
	eff.Records = append(eff.Records, Record{Confirm: true, Hash: e.winner})
	n.retry(e.winner, now, eff)
	// Elections on blocks built on a dropped loser go too.
	for _, d := range dropped {
		delete(n.elections, d)
	}
	if next := n.elections[e.winner]; next != nil && !next.winner.IsZero() {
		n.settle(next, now, eff)
	}
}

// expire drops the votes and blocks that waited longer than OnlineWindow
// for what they need: the elections that still want them re-send them.
func (n *Node) expire(now time.Time) {
	for h, ws := range n.pending {
		kept := ws[:0]
		for _, w := range ws {
			if now.Sub(w.at) <= n.cfg.OnlineWindow {
				kept = append(kept, w)
			}
		}
		n.npending -= len(ws) - len(kept)
		if len(kept) == 0 {
			delete(n.pending, h)
		} else {
			n.pending[h] = kept
		}
	}
	for h, ws := range n.unchecked {
		kept := ws[:0]
		for _, w := range ws {
			if now.Sub(w.at) <= n.cfg.OnlineWindow {
				kept = append(kept, w)
			}
		}
		n.nunchecked -= len(ws) - len(kept)
		if len(kept) == 0 {
			delete(n.unchecked, h)
		} else {
			n.unchecked[h] = kept
		}
	}
}

// Tick samples the online weight for the trend, re-counts the open
// elections (the online weight changes with time) and re-sends the
// candidate blocks and this node's votes of those open for ResendAfter or
// longer, so that peers that missed them, as across a healed partition,
// catch up: first ResendAfter after the election opened, then after
// twice the previous wait, up to ResendMax; with a ResendSalt, at a point in
// the second half of each wait. An election that settles in
// the usual few hundred milliseconds is never re-sent: every node of the
// network re-sending it would cost each node a check per node. Nor is a
// candidate another node re-sent since this node's last re-send (it came
// in again through ProcessBlock). A node without voting weight re-sends
// only the blocks of its own accounts (those of its keys), and names the
// accounts of the others in Effects.Stale: the representatives re-send
// what they voted for, and an observer that missed an election's final
// votes asks the representatives for them (the driver does), instead of
// flooding every node with the block again. The driver calls it at a
// fixed interval well under OnlineWindow.
func (n *Node) Tick(now time.Time) Effects {
	var eff Effects
	voter := n.votes()
	n.trend = append(n.trend, sample{now, n.OnlineWeight(now)})
	drop := 0
	for drop < len(n.trend) && (now.Sub(n.trend[drop].at) > n.cfg.TrendPeriod || len(n.trend)-drop > n.cfg.MaxTrendSamples) {
		drop++
	}
	n.trend = n.trend[drop:]
	n.trendPeak = 0
	for _, s := range n.trend {
		n.trendPeak = max(n.trendPeak, s.weight)
	}
	n.expire(now)
	for r, t := range n.settledAt {
		if now.Sub(t) > n.cfg.OnlineWindow {
			delete(n.settledAt, r)
		}
	}
	for r, t := range n.answered {
		if now.Sub(t) >= n.cfg.AnswerInterval {
			delete(n.answered, r)
		}
	}
	roots := make([]Hash, 0, len(n.elections))
	for r := range n.elections {
		roots = append(roots, r)
	}
	sortHashes(roots)
	for _, r := range roots {
		e := n.elections[r]
		if e == nil {
			continue // settled by an earlier one this tick
		}
		if now.Before(e.resendAt) {
			n.tally(e, now, &eff)
			continue
		}
		e.resendGap = min(2*e.resendGap, n.cfg.ResendMax)
		e.resends++
		e.resendAt = now.Add(n.resendWait(e))
		// A candidate another node re-sent since this node's last re-send
		// reached every node that missed it as well as this one: one more
		// copy would only cost every node another check (the suppression
		// of Trickle, RFC 6206). Without it, every node holding an open
		// election re-sent its blocks, and in a 100-node simulation the
		// re-sends became most of what the nodes checked.
		var acct Account
		mine := voter
		for _, c := range e.candidates {
			b, ok := n.l.Block(c)
			if !ok {
				continue
			}
			acct = b.Account
			if voter || n.owns(b.Account) {
				mine = true
				if !e.heard[c] {
					eff.Blocks = append(eff.Blocks, b)
				}
			}
		}
		if !mine && !slices.Contains(eff.Stale, acct) {
			eff.Stale = append(eff.Stale, acct)
		}
		clear(e.heard)
		for _, k := range n.keys {
			rep := AccountOf(k.Public().(ed25519.PublicKey))
			if v, ok := e.mineFinal[rep]; ok {
				eff.Votes = append(eff.Votes, v)
			} else if v, ok := e.mine[rep]; ok {
				eff.Votes = append(eff.Votes, v)
			}
		}
		n.tally(e, now, &eff)
	}
	return eff
}

// Batch packs this node's votes (an Effects' Votes, or several Effects'
// in the order made) into batches of at most MaxBatchVotes per
// representative, each signed by its key: the driver publishes a batch
// where it would have published each vote. Of two votes of a
// representative of one kind on one root the later is kept (a normal
// vote's higher Seq replaces the lower one). Votes by a representative
// whose key the node does not hold are left out.
func (n *Node) Batch(votes []Vote) []VoteBatch {
	type slot struct {
		root  Hash
		final bool
	}
	var out []VoteBatch
	for _, k := range n.keys {
		rep := AccountOf(k.Public().(ed25519.PublicKey))
		at := make(map[slot]int)
		var mine []BatchVote
		for _, v := range votes {
			if v.Rep != rep {
				continue
			}
			bv := BatchVote{Root: v.Root, Block: v.Block, Final: v.Final, Seq: v.Seq}
			if i, ok := at[slot{v.Root, v.Final}]; ok {
				if v.Final || v.Seq >= mine[i].Seq {
					mine[i] = bv
				}
				continue
			}
			at[slot{v.Root, v.Final}] = len(mine)
			mine = append(mine, bv)
		}
		for len(mine) > 0 {
			c := min(len(mine), MaxBatchVotes)
			b := VoteBatch{Votes: mine[:c:c]}
			b.Sign(k)
			out = append(out, b)
			mine = mine[c:]
		}
	}
	return out
}

// AccountTrace says where an account's next block stands on this node:
// a diagnostic for a node that stays behind its peers.
type AccountTrace struct {
	// ConfirmedHeight is the account's confirmed height here.
	ConfirmedHeight uint64 `json:"confirmed_height"`
	// Held says the ledger holds a block after the confirmed head.
	Held bool `json:"held"`
	// Election says an election is open on the confirmed head; Winner
	// that it has a winner waiting for its previous block's
	// confirmation; Candidates, Final and Support are its candidates
	// and the final and all votes' weight of the leading one; Half is
	// half the quorum base now.
	Election   bool   `json:"election"`
	Winner     bool   `json:"winner"`
	Candidates int    `json:"candidates,omitempty"`
	Final      uint64 `json:"final,omitempty"`
	Support    uint64 `json:"support,omitempty"`
	Half       uint64 `json:"half"`
	// Waiting counts the account's blocks waiting for a dependency,
	// and WaitingHeld those of them whose dependency the ledger holds
	// (unconfirmed); the others wait for a block this node lacks.
	Waiting     int `json:"waiting,omitempty"`
	WaitingHeld int `json:"waiting_held,omitempty"`
	// PendingVotes counts votes held for blocks this node lacks.
	PendingVotes int `json:"pending_votes,omitempty"`
}

// Trace returns where account a's next block stands on this node.
func (n *Node) Trace(a Account, now time.Time) AccountTrace {
	t := AccountTrace{Half: n.QuorumBase(now) / 2}
	var root Hash
	if f, ok := n.l.ConfirmedFrontier(a); ok {
		t.ConfirmedHeight, root = f.Height, f.Head
	} else if st, ok := n.l.accounts[a]; ok {
		// Nothing confirmed: the root of the chain's first block.
		root = st.Head
		for e := n.l.blocks[root]; e != nil; e = n.l.blocks[root] {
			root = Root(&e.block)
		}
	} else {
		root = Hash(a)
	}
	if h, ok := n.l.successor[root]; ok {
		_, t.Held = n.l.blocks[h]
	}
	if e := n.elections[root]; e != nil {
		t.Election, t.Winner, t.Candidates = true, !e.winner.IsZero(), len(e.candidates)
		support, final := n.weights(e)
		for _, c := range e.candidates {
			if final[c] > t.Final || (final[c] == t.Final && support[c] > t.Support) {
				t.Final, t.Support = final[c], support[c]
			}
		}
	}
	for dep, ws := range n.unchecked {
		for _, w := range ws {
			if w.b.Account == a {
				t.Waiting++
				if _, ok := n.l.blocks[dep]; ok {
					t.WaitingHeld++
				}
			}
		}
	}
	for _, vs := range n.pending {
		for _, w := range vs {
			if w.v.Root == root {
				t.PendingVotes++
			}
		}
	}
	return t
}

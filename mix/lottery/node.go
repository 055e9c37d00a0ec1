package lottery

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// errNotAnnounced: a candidacy reached a node whose candidate set is fixed
// (ServiceConfig.Candidates or a stake oracle).
var errNotAnnounced = errors.New("lottery: candidate set is not announced on this network")

// errNotStarted: a message reached a Node before Start.
var errNotStarted = errors.New("lottery: node not started")

// Node is one node's whole relay lottery as a deterministic state machine:
// a State for the schedule, the seed chain and the directories, and every
// decision a node takes around it.
//
//   - The candidate set: fixed (ServiceConfig.Candidates or a stake
//     oracle), or learnt from candidacies into a CandidateBook; and this
//     node's own candidacy, announced once per epoch (PublishCandidacy).
//   - Trust in its seed chain. A node that listened from before genesis,
//     or restarted across a quiet gap (Start), trusts its chain. One that
//     did not keeps the valid claims of the current epoch that carry other
//     seeds and, at the close of a claim window it listened through,
//     adopts the seed most claimants carry or confirms its own
//     (ServiceConfig.JoinQuorum; ChainAdopted).
//   - Verdicts that depend on knowing the candidate set: a claim that
//     fails only because this node may know another set than its peers is
//     ignored rather than rejected, at most twice per claimant and epoch.
//   - What must be persisted for an exact restart (Record, PublishClaim)
//     and what a restart may trust (Snapshot, Start).
//
// Messages and clock readings go in (Start, Receive, Tick), effects come
// out. A Node does no I/O, starts no goroutine and reads no clock: its
// driver (package lotterysvc on a node, the tests' discrete-event network)
// carries messages, persists what the effects ask, and calls Tick at
// NextTick. A reading earlier than one already given counts as the later
// one, so the driver's clock may step back a little without harm. A Node
// is not safe for concurrent use.
type Node struct {
	cfg    ServiceConfig
	key    ed25519.PrivateKey // the State's key: nil for an observer
	pub    ed25519.PublicKey  // this node's identity key, nil if it has none
	static StakeOracle        // fixed oracle; nil: announced candidates
	mode   string
	rnd    io.Reader

	st           *State // nil until Start
	book         *CandidateBook
	stake        StakeOracle
	confirmed    bool
	span         interval // listening without a gap since span.from
	prev         interval // the span before the last restart, if the gap was not quiet
	last         time.Time
	own          map[uint64]OwnClaim
	announced    uint64
	foreign      foreignClaims
	excused      map[pkKey]int // candidate-set failures forgiven in excusedEpoch
	excusedEpoch uint64
	closed       map[uint64]ClosedInfo
	changed      map[uint64]time.Time
	stats        Stats
}

// NodeOptions are what NewNode needs besides its configuration.
type NodeOptions struct {
	// Identity is the node's Ed25519 identity key: its VRF tickets and
	// claim signatures are made with it. Required when ServiceConfig
	// says Candidate; nil makes an observer that knows no identity.
	Identity ed25519.PrivateKey
	// Stake, if set, replaces the candidate set: it gives every epoch's
	// weights. It must satisfy StakeOracle's freeze rule on every node
	// alike. Nil: weights 1, from ServiceConfig.Candidates or from
	// candidacy announcements.
	Stake StakeOracle
	// Rand is the source of mix keys; nil means crypto/rand.
	Rand io.Reader
}

// interval is a span of the node's clock; a zero to is open-ended.
type interval struct{ from, to time.Time }

// foreignClaims holds, while the node's seed chain is not confirmed, the
// valid claims of the current epoch that carry another seed than its own.
type foreignClaims struct {
	epoch  uint64
	n      int
	bySeed map[Seed]map[pkKey][]timedData
	count  map[pkKey]int
}

type timedData struct {
	at   time.Time
	data []byte
}

// PublishCandidacy: this node stands in Epoch and the candidacy window of
// Epoch (the claim window of Epoch-1) is open; publish Data on the lottery
// topic.
type PublishCandidacy struct {
	Epoch uint64
	Data  []byte
}

// Record: persist this message, which the node took (a claim, reveal or
// candidacy it accepted, a message it buffered as early, its own reveal, a
// claim it replayed when adopting a chain). After a restart, hand the
// records of epochs from the stored checkpoint on back to Start, in the
// order they were emitted. They need not be synced one by one: losing the
// last few costs only exactness, which Start's trust rule accounts for.
type Record struct {
	Epoch uint64
	At    time.Time
	Data  []byte
}

// ChainAdopted: at the close of Epoch's claim window this node, whose seed
// chain was not confirmed, adopted Seed, which Claimants distinct
// claimants carried against OwnClaimants for its own. Its State restarted
// at Epoch with that seed; the chain is now confirmed.
type ChainAdopted struct {
	Epoch        uint64
	Seed         Seed
	Claimants    int
	OwnClaimants int
}

func (PublishCandidacy) effect() {}
func (Record) effect()           {}
func (ChainAdopted) effect()     {}

// OwnClaim is a claim this node published, with its mix key: what a
// PublishClaim effect asks the driver to persist (At is the time given to
// the Tick that produced it).
type OwnClaim struct {
	At     time.Time
	Data   []byte
	Claim  *Claim
	MixKey *ecdh.PrivateKey
}

// Snapshot is what a driver persists with its records (Node.Snapshot), so
// that Start can resume the seed chain after a restart and judge whether it
// may still trust it.
type Snapshot struct {
	// Checkpoint is the latest epoch and its seed.
	Checkpoint Checkpoint
	// Since is when the node's current listening span began: since then
	// it has received everything.
	Since time.Time
	// Alive is the last moment the node is known to have been listening
	// (the time given to Snapshot).
	Alive time.Time
	// Confirmed says the node trusted its seed chain.
	Confirmed bool
}

// OwnFrom returns the first epoch whose own claim (and mix key) must still
// be kept: packets of older epochs can no longer arrive, and deleting
// their keys gives forward secrecy. Records of epochs before
// Checkpoint.Epoch are no longer needed either.
func (s Snapshot) OwnFrom() uint64 {
	if s.Checkpoint.Epoch > 1 {
		return s.Checkpoint.Epoch - 1
	}
	return 0
}

// Saved is what a driver hands back to Start after a restart: its last
// Snapshot, the Records and the OwnClaims it persisted. The zero value is
// a node with nothing stored.
type Saved struct {
	Snapshot *Snapshot
	// Log holds the persisted Records in the order they were emitted.
	Log []Record
	// Own holds the persisted own claims.
	Own []OwnClaim
}

// NewNode returns a Node for cfg; Start starts it.
func NewNode(cfg ServiceConfig, opts NodeOptions) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		rnd:     opts.Rand,
		own:     map[uint64]OwnClaim{},
		closed:  map[uint64]ClosedInfo{},
		changed: map[uint64]time.Time{},
		stats:   Stats{Rejected: map[string]uint64{}, Ignored: map[string]uint64{}},
	}
	if k := opts.Identity; k != nil {
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("lottery: identity key has %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
		n.pub = k.Public().(ed25519.PublicKey)
		if cfg.Candidate {
			n.key = k
		}
	}
	if cfg.Candidate && n.key == nil {
		return nil, fmt.Errorf("%w: relay.candidate needs an Ed25519 node identity", ErrConfig)
	}
	switch {
	case opts.Stake != nil:
		n.static, n.mode = opts.Stake, "stake"
	case len(cfg.Candidates) > 0:
		keys := make([]ed25519.PublicKey, len(cfg.Candidates))
		for i, p := range cfg.Candidates {
			k, _ := candidateKey(p) // checked by Validate
			keys[i] = k
		}
		n.static, n.mode = NewUniformStake(keys), "static"
	default:
		n.mode = "announced"
	}
	return n, nil
}

// Start (re)starts the node at now from what its driver saved (the zero
// Saved for a new node): a State at the stored checkpoint, or at genesis,
// with the saved records and own claims replayed through it at their
// receive times, in order. The State is deterministic, so this rebuilds
// the directories, reveals, candidate sets and seed as they were, and the
// own claim of the current epoch is in its directory again, so the first
// Tick draws no second one (equivocation).
//
// The node trusts the restored chain if it listened from before genesis,
// or if the gap from Saved.Snapshot.Alive to now plus WarmUp met no window
// in which honest messages arrive (a quiet gap). Otherwise it waits to
// adopt or confirm a seed (ChainAdopted); if it then missed more than
// KeepEpochs epochs, it starts at the current epoch rather than stepping
// through every epoch it missed. Counters and the records of closed
// directories survive a restart.
func (n *Node) Start(now time.Time, saved Saved) error {
	var book *CandidateBook
	stake := n.static
	if stake == nil {
		book = NewCandidateBook(n.cfg.Config, n.cfg.MaxCandidates)
		stake = book
	}
	cp := GenesisCheckpoint(n.cfg.Config)
	listen := now.Add(n.cfg.WarmUp)
	span, prev := interval{from: listen}, interval{}
	// A node listening before epoch 0 starts sees the whole chain.
	confirmed := !listen.After(n.cfg.Genesis)
	if m := saved.Snapshot; m != nil {
		cp = m.Checkpoint
		if quietGap(n.cfg.Config, m.Alive, listen) {
			span.from, confirmed = m.Since, m.Confirmed
		} else {
			prev, confirmed = interval{from: m.Since, to: m.Alive}, false
		}
	}
	// A node that will not trust its own chain (it joined late, or was
	// away) adopts the network's seed at the next window it sees whole, so
	// there is nothing to gain from stepping through every epoch it missed
	// — millions of them for short epochs and an old genesis. It starts at
	// the current epoch instead.
	if nowEpoch, ok := n.cfg.EpochAt(now); ok && !confirmed && cp.Epoch+uint64(n.cfg.KeepEpochs) < nowEpoch {
		cp = Checkpoint{Epoch: nowEpoch, Seed: cp.Seed}
	}
	st, err := New(n.cfg.Config, stake, n.key, cp, n.rnd)
	if err != nil {
		return err
	}
	var items []timedData
	for _, r := range saved.Log {
		if r.Epoch >= cp.Epoch && len(r.Data) > 0 {
			items = append(items, timedData{r.At, r.Data})
		}
	}
	own := map[uint64]OwnClaim{}
	for _, o := range saved.Own {
		if o.Claim == nil {
			continue
		}
		e := o.Claim.Epoch
		own[e] = o
	}
	for _, e := range slices.Sorted(maps.Keys(own)) {
		if e >= cp.Epoch {
			items = append(items, timedData{own[e].At, own[e].Data})
		}
	}
	// Stable: records received at the same instant keep their order, and
	// own claims come after them.
	slices.SortStableFunc(items, func(a, b timedData) int { return a.at.Compare(b.at) })
	for _, it := range items {
		if it.data[0] == kindCandidacy {
			if c, err := DecodeCandidacy(it.data); err == nil && book != nil {
				_, _ = book.Receive(it.at, c)
			}
			continue
		}
		_, _ = st.Receive(it.at, it.data)
	}
	n.st, n.book, n.stake, n.confirmed = st, book, stake, confirmed
	n.span, n.prev = span, prev
	n.own = own
	n.last = now
	n.announced = 0
	n.foreign = foreignClaims{}
	n.excused, n.excusedEpoch = nil, 0
	return nil
}

// Republish returns the bytes of this node's own claim of the current
// epoch if its claim window is still open at now, else nil. Right after a
// restart the driver publishes them again, in case the node stopped
// between persisting and publishing the claim; the bytes are the same, so
// peers that have it drop it as a duplicate.
func (n *Node) Republish(now time.Time) []byte {
	if n.st == nil {
		return nil
	}
	o, ok := n.own[n.st.Epoch()]
	if !ok || !n.clamp(now).Before(n.cfg.ClaimClose(o.Claim.Epoch)) {
		return nil
	}
	return o.Data
}

// Started reports whether Start has been called.
func (n *Node) Started() bool { return n.st != nil }

// Snapshot returns what the driver persists with its records, as of now.
func (n *Node) Snapshot(now time.Time) Snapshot {
	now = n.clamp(now)
	var cp Checkpoint
	if n.st != nil {
		cp = n.st.Checkpoint()
	}
	return Snapshot{Checkpoint: cp, Since: n.span.from, Alive: now, Confirmed: n.confirmed}
}

// clamp returns now, or the latest reading given before if now is earlier:
// the State must never see its clock go back.
func (n *Node) clamp(now time.Time) time.Time {
	if now.Before(n.last) {
		return n.last
	}
	n.last = now
	return now
}

// Tick advances the node to now and returns, in order, what happened and
// what the driver must do: the State's effects (PublishClaim: persist the
// OwnClaim, synced, then publish; PublishReveal; DirectoryClosed;
// EpochStarted; ClaimFailed), ChainAdopted, Record for every message to
// persist, and PublishCandidacy. Before Start it returns nothing.
func (n *Node) Tick(now time.Time) []Effect {
	if n.st == nil {
		return nil
	}
	now = n.clamp(now)
	var out []Effect
	for _, eff := range n.apply(now, n.st.Tick(now)) {
		out = append(out, eff)
		switch e := eff.(type) {
		case PublishClaim:
			n.own[e.Claim.Epoch] = OwnClaim{At: now, Data: e.Data, Claim: e.Claim, MixKey: e.MixKey}
			n.stats.Wins++
		case ClaimFailed:
			n.stats.ClaimFailures++
		case PublishReveal:
			// A restart must count this node's own reveal too.
			out = append(out, Record{Epoch: e.Reveal.Epoch, At: now, Data: e.Data})
		}
	}
	if c := n.candidacyDue(now); c != nil {
		out = append(out, *c)
	}
	return out
}

// NextTick returns the next instant at which Tick has something to do (the
// zero time before Start). The driver must call Tick then, or earlier.
func (n *Node) NextTick() time.Time {
	if n.st == nil {
		return time.Time{}
	}
	next := n.st.NextTick()
	if n.book != nil && n.key != nil {
		e := n.st.Epoch()
		at := n.cfg.EpochStart(e).Add(n.cfg.publishDelay())
		if n.announced <= e && n.last.Before(n.cfg.ClaimClose(e)) && at.Before(next) {
			next = at
		}
	}
	return next
}

// Receive checks one message m received at now and returns the verdict
// for the gossip layer (forward it, drop it, or drop it and blame the
// sender), the effects (a Record if m must be persisted) and why (nil only
// for a plain Accept). Besides the State's verdicts (State.Receive), a
// candidacy goes to the candidate book; a claim that carries another seed
// is kept for the seed decision while the chain is not confirmed; and a
// claim that fails only because this node may know another candidate set
// than its peers is ignored rather than rejected.
func (n *Node) Receive(now time.Time, m *Message) (Verdict, []Effect, error) {
	if n.st == nil {
		return Ignore, nil, errNotStarted
	}
	now = n.clamp(now)
	var v Verdict
	var err error
	var record bool
	switch m.kind {
	case kindCandidacy:
		v, record, err = n.receiveCandidacy(now, m)
	case kindClaim:
		v, record, err = n.receiveClaim(now, m)
	case kindReveal:
		v, record, err = n.receiveReveal(now, m)
	default:
		v, err = Reject, fmt.Errorf("%w: kind 0x%02x", ErrMalformed, m.kind)
	}
	switch v {
	case Ignore:
		n.stats.Ignored[errName(err)]++
	case Reject:
		n.stats.Rejected[errName(err)]++
	}
	if record {
		return v, []Effect{Record{Epoch: m.epoch, At: now, Data: m.data}}, err
	}
	return v, nil, err
}

func (n *Node) receiveCandidacy(now time.Time, m *Message) (Verdict, bool, error) {
	if n.book == nil {
		return Ignore, false, errNotAnnounced
	}
	v, err := n.book.Receive(now, m.cand)
	if v == Accept {
		n.stats.CandidaciesAccepted++
	}
	return v, v == Accept, err
}

func (n *Node) receiveClaim(now time.Time, m *Message) (Verdict, bool, error) {
	pend := n.st.Pending()
	v, err := n.st.receiveMsg(now, m)
	record := false
	switch {
	case v == Accept:
		record = true
		n.changed[m.epoch] = now
		n.stats.ClaimsAccepted++
	case errors.Is(err, ErrEarly):
		record = n.st.Pending() > pend // buffered: replay must buffer it too
	case errors.Is(err, ErrWrongSeed):
		v, err = n.foreignClaim(now, m, err)
		return v, false, err
	case v == Reject && oracleDependent(err) && n.candidatesUncertain(m.epoch, m.key, err):
		// Another node may know another candidate set: do not penalise
		// the peer that forwarded the claim.
		v = Ignore
	}
	if v == Accept || isAny(err, ErrBadSignature, ErrBadProof, ErrSeats, ErrLayer) {
		n.stats.ClaimsVerified++
	}
	return v, record, err
}

// foreignClaim handles a claim for the current epoch that carries another
// seed than this node's. A confirmed node ignores it (the State's verdict:
// its sender may be on a split chain). A node whose chain is not confirmed
// verifies it against its own seed: an invalid one is rejected (no honest
// node accepts it under any seed), a valid one is kept for the seed
// decision at the end of the claim window (decide). At most two claims per
// claimant and MaxPending in all are verified per epoch.
func (n *Node) foreignClaim(now time.Time, m *Message, err error) (Verdict, error) {
	n.stats.WrongSeed++
	if n.confirmed || m.epoch != n.st.Epoch() {
		return Ignore, err
	}
	f := &n.foreign
	if f.bySeed == nil || f.epoch != m.epoch {
		*f = foreignClaims{epoch: m.epoch, bySeed: map[Seed]map[pkKey][]timedData{}, count: map[pkKey]int{}}
	}
	c := m.claim
	k := pkKey(c.Claimant)
	if f.count[k] >= 2 || f.n >= n.cfg.MaxPending {
		return Ignore, err
	}
	verr := c.Verify(n.cfg.Config, m.epoch, c.Seed, n.stake)
	n.stats.ClaimsVerified++
	if verr != nil {
		if errors.Is(verr, ErrWrongSeed) || (oracleDependent(verr) && n.candidatesUncertain(m.epoch, m.key, verr)) {
			return Ignore, verr
		}
		return Reject, verr
	}
	by := f.bySeed[c.Seed]
	if by == nil {
		by = map[pkKey][]timedData{}
		f.bySeed[c.Seed] = by
	}
	by[k] = append(by[k], timedData{at: now, data: m.data})
	f.count[k]++
	f.n++
	return Ignore, err
}

func (n *Node) receiveReveal(now time.Time, m *Message) (Verdict, bool, error) {
	pend := n.st.Pending()
	v, err := n.st.receiveMsg(now, m)
	switch {
	case v == Accept:
		n.stats.RevealsAccepted++
		return v, true, err
	case errors.Is(err, ErrEarly) && n.st.Pending() > pend:
		return v, true, err
	}
	return v, false, err
}

// candidatesUncertain reports whether a claim by claimant for epoch e that
// failed with err (ErrNotCandidate or ErrSeats) might have passed on a node
// with another view of e's candidate set: this node missed part of the
// window that made the set, or received a candidacy for e near or after
// the deadline (the claimant's, for ErrNotCandidate; anyone's, for
// ErrSeats, since the total weight decides p). At most two such failures
// per claimant and epoch are excused, and at most MaxPending claimants per
// epoch: an honest peer forwards at most two claims of one claimant, so
// beyond that the sender is at fault.
func (n *Node) candidatesUncertain(e uint64, claimant ed25519.PublicKey, err error) bool {
	uncertain := !n.oracleComplete(e)
	if !uncertain && n.book != nil {
		if errors.Is(err, ErrNotCandidate) {
			uncertain = n.book.Disputed(e, claimant)
		} else {
			uncertain = n.book.Disputed(e, nil)
		}
	}
	if !uncertain {
		return false
	}
	if n.excused == nil || n.excusedEpoch != e {
		n.excused, n.excusedEpoch = map[pkKey]int{}, e
	}
	k := pkKey(claimant)
	if n.excused[k] >= 2 || (n.excused[k] == 0 && len(n.excused) >= n.cfg.MaxPending) {
		return false
	}
	n.excused[k]++
	return true
}

// oracleDependent reports whether err depends on the candidate set.
func oracleDependent(err error) bool { return isAny(err, ErrNotCandidate, ErrSeats) }

func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// apply records what the State's effects mean for the node and returns
// the effects to report. At the close of a directory a node whose seed
// chain is not confirmed decides which chain to follow; if it adopts
// another, the new State's effects replace the rest.
func (n *Node) apply(now time.Time, effs []Effect) []Effect {
	var out []Effect
	for _, eff := range effs {
		switch e := eff.(type) {
		case DirectoryClosed:
			if !n.confirmed {
				if more, adopted := n.decide(now, e.Epoch); adopted {
					return append(out, n.apply(now, more)...)
				}
			}
			n.closed[e.Epoch] = ClosedInfo{
				Epoch: e.Epoch, At: now, LastChange: n.changed[e.Epoch],
				Digest: e.Digest, Relays: e.Relays, Seats: e.Seats,
			}
		case EpochStarted:
			n.epochStarted(e)
		}
		out = append(out, eff)
	}
	return out
}

// decide runs at the close of epoch e's claim window on a node whose seed
// chain is not confirmed, if the node listened through the window and
// knows e's candidate set. The seed carried by the most distinct claimants
// (other than this node) wins: if another seed than its own has more of
// them (and at least JoinQuorum), the node restarts its State at that seed
// and replays those claims; if its own seed has at least JoinQuorum and
// more than any other, its chain is confirmed. A confirmed chain never
// changes. On adoption it returns ChainAdopted, the replayed claims as
// Records and the new State's effects.
func (n *Node) decide(now time.Time, e uint64) ([]Effect, bool) {
	if e != n.st.Epoch() || !n.covered(n.cfg.EpochStart(e), n.cfg.ClaimClose(e)) || !n.oracleComplete(e) {
		return nil, false
	}
	dir, _ := n.st.Directory(e)
	ours := dir.Len() + len(dir.Equivocators())
	if _, in := dir.Lookup(n.pub); in {
		ours-- // this node's own claim is no evidence for its own chain
	}
	var best Seed
	bestN, tie := 0, false
	if n.foreign.epoch == e {
		for seed, by := range n.foreign.bySeed {
			switch c := len(by); {
			case c > bestN:
				best, bestN, tie = seed, c, false
			case c == bestN:
				tie = true
			}
		}
	}
	q := n.cfg.JoinQuorum
	if bestN > ours && bestN >= q && !tie {
		st, err := New(n.cfg.Config, n.stake, n.key, Checkpoint{Epoch: e, Seed: best}, n.rnd)
		if err != nil {
			return nil, false
		}
		var msgs []timedData
		for _, ds := range n.foreign.bySeed[best] {
			msgs = append(msgs, ds...)
		}
		// By receive time, then bytes: the claims came from a map.
		slices.SortStableFunc(msgs, func(a, b timedData) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return slices.Compare(a.data, b.data)
		})
		out := []Effect{ChainAdopted{Epoch: e, Seed: best, Claimants: bestN, OwnClaimants: ours}}
		for _, m := range msgs {
			_, _ = st.Receive(m.at, m.data)
			out = append(out, Record{Epoch: e, At: m.at, Data: m.data})
		}
		n.st, n.confirmed = st, true
		n.foreign = foreignClaims{}
		n.stats.Adopted++
		n.changed[e] = now
		return append(out, st.Tick(now)...), true
	}
	if ours >= q && ours > bestN {
		n.confirmed = true
	}
	return nil, false
}

// epochStarted forgets what epoch e no longer needs: candidate sets and
// bookkeeping older than KeepEpochs, and own mix keys older than the
// previous epoch (forward secrecy: packets of e-2 can no longer arrive).
func (n *Node) epochStarted(e EpochStarted) {
	keep := uint64(n.cfg.KeepEpochs)
	if e.Epoch > keep {
		old := e.Epoch - keep
		if n.book != nil {
			n.book.Prune(old)
		}
		maps.DeleteFunc(n.changed, func(k uint64, _ time.Time) bool { return k < old })
		maps.DeleteFunc(n.closed, func(k uint64, _ ClosedInfo) bool { return k < old })
	}
	if e.Epoch > 1 {
		maps.DeleteFunc(n.own, func(k uint64, _ OwnClaim) bool { return k < e.Epoch-1 })
	}
	if n.foreign.epoch < e.Epoch {
		n.foreign = foreignClaims{}
	}
}

// candidacyDue returns this node's candidacy for the next epoch when it is
// time to announce it: in the current epoch's claim window, at the moment
// claims are published.
func (n *Node) candidacyDue(now time.Time) *PublishCandidacy {
	if n.book == nil || n.key == nil {
		return nil
	}
	e := n.st.Epoch()
	if n.announced > e || now.Before(n.cfg.EpochStart(e).Add(n.cfg.publishDelay())) || !now.Before(n.cfg.ClaimClose(e)) {
		return nil
	}
	n.announced = e + 1
	data, err := Candidacy{Epoch: e + 1, Key: n.pub}.Encode()
	if err != nil {
		return nil
	}
	return &PublishCandidacy{Epoch: e + 1, Data: data}
}

// quietGap reports whether no honest lottery message can have arrived
// between a and b: no claim window (candidacies ride in it too) and no
// reveal phase, each widened by 2*MaxClockSkew at its start for messages
// the State buffers early, meets (a, b).
func quietGap(cfg Config, a, b time.Time) bool {
	if !b.After(a) {
		return true
	}
	sk := 2 * cfg.MaxClockSkew
	if !b.After(cfg.Genesis.Add(-sk)) {
		return true // nothing is sent before epoch 0
	}
	k, _ := cfg.EpochAt(a) // 0 before genesis
	kb, _ := cfg.EpochAt(b)
	if kb > k+1 {
		return false // (a, b) holds a whole epoch
	}
	overlaps := func(x, y time.Time) bool { return a.Before(y) && x.Before(b) }
	for e := k - min(k, 1); e <= kb+1; e++ {
		if overlaps(cfg.EpochStart(e).Add(-sk), cfg.ClaimClose(e)) ||
			overlaps(cfg.revealAt(e).Add(-sk), cfg.EpochStart(e+1)) {
			return false
		}
	}
	return true
}

// covered reports whether the node listened during all of [a, b).
func (n *Node) covered(a, b time.Time) bool {
	if !a.Before(n.span.from) {
		return true
	}
	return !n.prev.from.IsZero() && !a.Before(n.prev.from) && !b.After(n.prev.to)
}

// oracleComplete reports whether this node knows the whole candidate set
// of epoch e: always for a fixed set, and for announced candidates when it
// listened through the window of e-1.
func (n *Node) oracleComplete(e uint64) bool {
	if n.book == nil || e == 0 {
		return true
	}
	_, until, _ := n.book.Window(e)
	return n.covered(n.cfg.EpochStart(e-1), until)
}

var errNames = []struct {
	err  error
	name string
}{
	{ErrMalformed, "malformed"}, {ErrWrongEpoch, "wrong_epoch"}, {ErrWrongSeed, "wrong_seed"},
	{ErrEarly, "early"}, {ErrLate, "late"}, {ErrBadSignature, "bad_signature"},
	{ErrBadProof, "bad_proof"}, {ErrBadMixKey, "bad_mix_key"}, {ErrNotCandidate, "not_candidate"},
	{ErrNotRelay, "not_relay"}, {ErrSeats, "seats"}, {ErrLayer, "layer"}, {ErrDuplicate, "duplicate"},
	{ErrEquivocation, "equivocation"}, {ErrExcluded, "excluded"}, {ErrCandidatesFull, "candidates_full"},
	{errNotAnnounced, "not_announced"}, {errNotStarted, "not_started"},
}

// errName names the lottery sentinel err wraps, for Stats.
func errName(err error) string {
	for _, n := range errNames {
		if errors.Is(err, n.err) {
			return n.name
		}
	}
	return "other"
}

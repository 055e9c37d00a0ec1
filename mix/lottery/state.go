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

// Verdict says what the gossip layer should do with a received message. The
// values mirror go-libp2p-pubsub's ValidationAccept, ValidationIgnore and
// ValidationReject.
type Verdict int

const (
	// Accept: the message is new and valid; forward it.
	Accept Verdict = iota + 1
	// Ignore: do not forward, but the sender is not at fault (duplicate,
	// early, late, another seed chain, a claimant already excluded).
	Ignore
	// Reject: the message is invalid; do not forward, and the sender may be
	// penalised.
	Reject
)

// String returns "accept", "ignore" or "reject".
func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Ignore:
		return "ignore"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Effect is something State asks its driver to do or tells it happened:
// one of PublishClaim, PublishReveal, DirectoryClosed, EpochStarted and
// ClaimFailed.
type Effect interface{ effect() }

// PublishClaim: this node won seats in Claim.Epoch. The driver must persist
// Claim (Data) and MixKey, synced, before it publishes Data on the lottery
// topic, and after a restart feed Data back through Receive before the first
// Tick, so that the node never makes a second claim for the epoch
// (equivocation). MixKey decrypts the epoch's onion packets.
type PublishClaim struct {
	Claim  *Claim
	Data   []byte
	MixKey *ecdh.PrivateKey
}

// PublishReveal: this node is a relay of Reveal.Epoch and the reveal phase
// has begun; publish Data on the lottery topic.
type PublishReveal struct {
	Reveal *Reveal
	Data   []byte
}

// DirectoryClosed: the claim window of Epoch is over and its directory is
// final on this node.
type DirectoryClosed struct {
	Epoch  uint64
	Digest [DigestSize]byte
	Relays int
	Seats  uint64
}

// EpochStarted: the seed of Epoch is final (Reveals reveals of the previous
// epoch went into it) and claims for Epoch are now checked against it.
type EpochStarted struct {
	Epoch   uint64
	Seed    Seed
	Start   time.Time
	Reveals int
}

// ClaimFailed: this node could not draw or publish its ticket for Epoch
// (for instance the random source failed). It has no claim for the epoch.
type ClaimFailed struct {
	Epoch uint64
	Err   error
}

func (PublishClaim) effect()    {}
func (PublishReveal) effect()   {}
func (DirectoryClosed) effect() {}
func (EpochStarted) effect()    {}
func (ClaimFailed) effect()     {}

// Checkpoint is a point of the seed chain to start from: an epoch and its
// seed.
type Checkpoint struct {
	Epoch uint64
	Seed  Seed
}

// GenesisCheckpoint returns epoch 0 and its seed.
func GenesisCheckpoint(cfg Config) Checkpoint {
	return Checkpoint{Epoch: 0, Seed: GenesisSeed(cfg)}
}

type epochState struct {
	seed        Seed
	dir         *Directory
	reveals     map[pkKey][]byte
	closed      bool
	claimTried  bool
	revealTried bool
}

type pendingMsg struct {
	epoch uint64
	kind  byte
	data  []byte
	at    time.Time
}

// State is one node's lottery as a deterministic state machine: messages
// and clock readings go in (Receive, Tick), effects come out. It does no I/O,
// starts no goroutine and reads no clock; two States given the same inputs
// produce the same outputs. It is not safe for concurrent use: the driver
// serialises calls.
//
// For each epoch e, on the node's clock:
//
//	EpochStart(e)                      seed(e) final; claims for e checked against it
//	EpochStart(e) + 2*MaxClockSkew     winners publish their claims (PublishClaim)
//	ClaimClose(e)                      directory of e final (DirectoryClosed)
//	EpochStart(e+1) - RevealWindow     relays of e publish reveals (PublishReveal)
//	EpochStart(e+1)                    seed(e+1) = NextSeed(reveals received) (EpochStarted)
type State struct {
	cfg     Config
	stake   StakeOracle
	key     ed25519.PrivateKey // nil for an observer
	pub     pkKey
	rnd     io.Reader
	cur     uint64
	epochs  map[uint64]*epochState
	pending []pendingMsg
	outbox  []Effect
}

// New returns a State that starts at checkpoint from (GenesisCheckpoint for
// a new network) and takes weights from stake. key is the node's Ed25519
// identity key, or nil for an observer that verifies and builds directories
// but never claims. rnd is the source of mix keys (crypto/rand when nil).
func New(cfg Config, stake StakeOracle, key ed25519.PrivateKey, from Checkpoint, rnd io.Reader) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if stake == nil {
		return nil, errors.New("lottery: nil stake oracle")
	}
	s := &State{cfg: cfg, stake: stake, rnd: rnd, cur: from.Epoch, epochs: map[uint64]*epochState{}}
	if key != nil {
		if len(key) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("lottery: identity key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
		}
		s.key = key
		s.pub = pkKey(key[ed25519.SeedSize:])
	}
	s.epochs[from.Epoch] = newEpochState(from.Epoch, from.Seed)
	return s, nil
}

func newEpochState(e uint64, seed Seed) *epochState {
	return &epochState{seed: seed, dir: NewDirectory(e, seed), reveals: map[pkKey][]byte{}}
}

// Epoch returns the latest epoch whose seed is final on this node.
func (s *State) Epoch() uint64 { return s.cur }

// Checkpoint returns the latest epoch and its seed, for the driver to
// persist and to start from after a restart.
func (s *State) Checkpoint() Checkpoint { return Checkpoint{Epoch: s.cur, Seed: s.epochs[s.cur].seed} }

// Seed returns the seed of epoch e, if this node still holds it.
func (s *State) Seed(e uint64) (Seed, bool) {
	es, ok := s.epochs[e]
	if !ok {
		return Seed{}, false
	}
	return es.seed, true
}

// Directory returns a copy of the directory of epoch e, if this node still
// holds it (the current epoch and KeepEpochs before it). The directory of
// the current epoch may still grow until ClaimClose(e).
func (s *State) Directory(e uint64) (*Directory, bool) {
	es, ok := s.epochs[e]
	if !ok {
		return nil, false
	}
	return es.dir.Clone(), true
}

// Reveals returns how many reveals of epoch e this node has counted.
func (s *State) Reveals(e uint64) int {
	if es, ok := s.epochs[e]; ok {
		return len(es.reveals)
	}
	return 0
}

// Pending returns how many early messages are buffered.
func (s *State) Pending() int { return len(s.pending) }

// NextTick returns the next instant at which Tick has something to do; the
// driver can sleep until then (and must still call Tick at least that
// often).
func (s *State) NextTick() time.Time {
	e, es := s.cur, s.epochs[s.cur]
	switch {
	case s.key != nil && !es.claimTried:
		return s.cfg.EpochStart(e).Add(s.cfg.publishDelay())
	case !es.closed:
		return s.cfg.ClaimClose(e)
	case s.key != nil && !es.revealTried && s.isRelay(es):
		return s.cfg.revealAt(e)
	}
	return s.cfg.EpochStart(e + 1)
}

// Tick advances the state machine to time now and returns what happened and
// what to publish, in order. Calling it again with the same or an earlier
// time returns nothing new.
func (s *State) Tick(now time.Time) []Effect {
	s.advance(now, true)
	out := s.outbox
	s.outbox = nil
	return out
}

// advance moves through every phase boundary up to now. Only Tick (own =
// true) draws this node's ticket and reveal, so a driver restoring its claim
// through Receive before the first Tick is never overtaken by a new claim.
// Effects of epochs older than KeepEpochs before now (a node catching up)
// are not reported.
func (s *State) advance(now time.Time, own bool) {
	nowEpoch, _ := s.cfg.EpochAt(now)
	report := func(e uint64, eff Effect) {
		if e+uint64(s.cfg.KeepEpochs) >= nowEpoch {
			s.outbox = append(s.outbox, eff)
		}
	}
	for {
		e, es := s.cur, s.epochs[s.cur]
		if own && s.key != nil && !es.claimTried && !now.Before(s.cfg.EpochStart(e).Add(s.cfg.publishDelay())) {
			es.claimTried = true
			if now.Before(s.cfg.ClaimClose(e)) {
				s.drawClaim(e, es)
			}
		}
		if !es.closed && !now.Before(s.cfg.ClaimClose(e)) {
			es.closed = true
			report(e, DirectoryClosed{Epoch: e, Digest: es.dir.Digest(), Relays: es.dir.Len(), Seats: es.dir.Seats()})
			s.drainPending(e, kindReveal)
		}
		if own && s.key != nil && es.closed && !es.revealTried && !now.Before(s.cfg.revealAt(e)) {
			es.revealTried = true
			if now.Before(s.cfg.EpochStart(e+1)) && s.isRelay(es) {
				s.drawReveal(e, es)
			}
		}
		if now.Before(s.cfg.EpochStart(e + 1)) {
			return
		}
		next := NextSeed(s.cfg, e, es.seed, slices.Collect(maps.Values(es.reveals)))
		s.cur = e + 1
		s.epochs[e+1] = newEpochState(e+1, next)
		report(e+1, EpochStarted{Epoch: e + 1, Seed: next, Start: s.cfg.EpochStart(e + 1), Reveals: len(es.reveals)})
		s.prune()
		s.drainPending(e+1, kindClaim)
	}
}

func (s *State) isRelay(es *epochState) bool {
	_, ok := es.dir.entries[s.pub]
	return ok
}

// drawClaim evaluates this node's ticket for epoch e and, if it wins,
// records and announces its claim.
func (s *State) drawClaim(e uint64, es *epochState) {
	if _, ok := es.dir.entries[s.pub]; ok {
		return // restored after a restart
	}
	if _, ok := es.dir.excluded[s.pub]; ok {
		return
	}
	weight := s.stake.Weight(e, s.key.Public().(ed25519.PublicKey))
	if weight == 0 {
		return
	}
	p := Probability(TargetRelays(s.cfg, s.stake, e), s.stake.TotalWeight(e))
	c, mixKey, won, err := NewClaim(s.key, e, es.seed, weight, p, s.cfg, s.rnd)
	if err == nil && won {
		err = c.Verify(s.cfg, e, es.seed, s.stake)
	}
	var data []byte
	if err == nil && won {
		data, err = c.Encode()
	}
	if err == nil && won {
		err = es.dir.Add(c)
	}
	switch {
	case err != nil:
		s.outbox = append(s.outbox, ClaimFailed{Epoch: e, Err: err})
	case won:
		s.outbox = append(s.outbox, PublishClaim{Claim: c, Data: data, MixKey: mixKey})
	}
}

// drawReveal computes, records and announces this relay's reveal for e.
func (s *State) drawReveal(e uint64, es *epochState) {
	r, err := NewReveal(s.key, e, es.seed, s.cfg)
	if err != nil {
		return // unreachable: the key was checked in New
	}
	out, err := r.Verify(s.cfg, e, es.seed)
	if err != nil {
		return
	}
	data, err := r.Encode()
	if err != nil {
		return
	}
	es.reveals[s.pub] = out
	s.outbox = append(s.outbox, PublishReveal{Reveal: r, Data: data})
}

// prune forgets epochs more than KeepEpochs before the current one and
// buffered messages for them.
func (s *State) prune() {
	keep := uint64(s.cfg.KeepEpochs)
	if s.cur > keep {
		for e := range s.epochs {
			if e < s.cur-keep {
				delete(s.epochs, e)
			}
		}
	}
	s.pending = slices.DeleteFunc(s.pending, func(m pendingMsg) bool { return m.epoch < s.cur })
}

// drainPending checks the buffered messages of one kind for epoch e, each at
// the time it arrived.
func (s *State) drainPending(e uint64, kind byte) {
	var ready []pendingMsg
	s.pending = slices.DeleteFunc(s.pending, func(m pendingMsg) bool {
		if m.epoch == e && m.kind == kind {
			ready = append(ready, m)
			return true
		}
		return false
	})
	for _, m := range ready {
		_, _ = s.receive(m.at, m.data)
	}
}

// Receive checks one lottery message (a claim or a reveal, as it came off
// the wire) at time now and, if it is new and valid, records it. The verdict
// tells the gossip layer whether to forward it; the error (nil only for a
// plain Accept) says why. An Accept with ErrEquivocation means the claim
// proves its claimant equivocated: forward it so that every node excludes
// the claimant. Messages up to 2*MaxClockSkew early are buffered (Ignore,
// ErrEarly) and checked when their phase begins.
func (s *State) Receive(now time.Time, data []byte) (Verdict, error) {
	return s.receiveMsg(now, &Message{data: data})
}

// receiveMsg is Receive for a message that DecodeMessage may already have
// decoded: a decoded claim or reveal is checked without decoding its bytes
// again; anything else is decoded here.
func (s *State) receiveMsg(now time.Time, m *Message) (Verdict, error) {
	if len(m.data) > s.cfg.MaxMessageSize {
		return Reject, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(m.data), s.cfg.MaxMessageSize)
	}
	s.advance(now, false)
	switch {
	case m.claim != nil:
		return s.receiveClaim(now, m.claim, m.data)
	case m.reveal != nil:
		return s.receiveReveal(now, m.reveal, m.data)
	}
	return s.receive(now, m.data)
}

func (s *State) receive(now time.Time, data []byte) (Verdict, error) {
	if len(data) == 0 {
		return Reject, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	switch data[0] {
	case kindClaim:
		c, err := DecodeClaim(data)
		if err != nil {
			return Reject, err
		}
		return s.receiveClaim(now, c, data)
	case kindReveal:
		r, err := DecodeReveal(data)
		if err != nil {
			return Reject, err
		}
		return s.receiveReveal(now, r, data)
	}
	return Reject, fmt.Errorf("%w: unknown kind 0x%02x", ErrMalformed, data[0])
}

func (s *State) receiveClaim(now time.Time, c *Claim, data []byte) (Verdict, error) {
	e := c.Epoch
	switch {
	case e < s.cur:
		return Ignore, fmt.Errorf("%w: claim for epoch %d, now in epoch %d", ErrLate, e, s.cur)
	case e == s.cur+1:
		return s.buffer(now, e, kindClaim, data, s.cfg.EpochStart(e))
	case e > s.cur:
		return Ignore, fmt.Errorf("%w: claim for epoch %d, seed known up to epoch %d", ErrWrongEpoch, e, s.cur)
	}
	if !now.Before(s.cfg.ClaimClose(e)) {
		return Ignore, fmt.Errorf("%w: claim window of epoch %d closed at %s", ErrLate, e, s.cfg.ClaimClose(e).Format(time.RFC3339Nano))
	}
	es := s.epochs[e]
	if err := es.dir.known(pkKey(c.Claimant), data); err != nil && !errors.Is(err, ErrEquivocation) {
		return Ignore, err
	}
	if err := c.Verify(s.cfg, e, es.seed, s.stake); err != nil {
		if errors.Is(err, ErrWrongSeed) {
			return Ignore, err
		}
		return Reject, err
	}
	if err := es.dir.Add(c); err != nil {
		if errors.Is(err, ErrEquivocation) {
			return Accept, err
		}
		return Ignore, err
	}
	return Accept, nil
}

func (s *State) receiveReveal(now time.Time, r *Reveal, data []byte) (Verdict, error) {
	e := r.Epoch
	switch {
	case e < s.cur:
		return Ignore, fmt.Errorf("%w: reveal for epoch %d, seed of epoch %d already final", ErrLate, e, e+1)
	case e > s.cur:
		return Ignore, fmt.Errorf("%w: reveal for epoch %d, now in epoch %d", ErrWrongEpoch, e, s.cur)
	}
	es := s.epochs[e]
	if !es.closed {
		return s.buffer(now, e, kindReveal, data, s.cfg.ClaimClose(e))
	}
	k := pkKey(r.Relay)
	if _, ok := es.dir.entries[k]; !ok {
		return Ignore, fmt.Errorf("%w: %x", ErrNotRelay, k[:])
	}
	if _, ok := es.reveals[k]; ok {
		return Ignore, fmt.Errorf("%w: reveal by %x", ErrDuplicate, k[:])
	}
	out, err := r.Verify(s.cfg, e, es.seed)
	if err != nil {
		return Reject, err
	}
	es.reveals[k] = out
	return Accept, nil
}

// buffer keeps a message whose phase begins at phase, if it is at most
// 2*MaxClockSkew early and there is room.
func (s *State) buffer(now time.Time, e uint64, kind byte, data []byte, phase time.Time) (Verdict, error) {
	if now.Before(phase.Add(-2 * s.cfg.MaxClockSkew)) {
		return Ignore, fmt.Errorf("%w: epoch %d phase begins at %s", ErrEarly, e, phase.Format(time.RFC3339Nano))
	}
	for _, m := range s.pending {
		if m.kind == kind && string(m.data) == string(data) {
			return Ignore, fmt.Errorf("%w: already buffered", ErrDuplicate)
		}
	}
	if len(s.pending) >= s.cfg.MaxPending {
		return Ignore, fmt.Errorf("%w: buffer full (%d)", ErrEarly, s.cfg.MaxPending)
	}
	s.pending = append(s.pending, pendingMsg{epoch: e, kind: kind, data: slices.Clone(data), at: now})
	return Ignore, fmt.Errorf("%w: buffered until %s", ErrEarly, phase.Format(time.RFC3339Nano))
}

package lottery

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
)

// Service errors.
var (
	// ErrNotRunning: the Service's Run is not active.
	ErrNotRunning = errors.New("lottery: service not running")
	// ErrRunning: Run was called while another Run of the same Service is
	// active.
	ErrRunning = errors.New("lottery: service already running")
	// errNotAnnounced: a candidacy reached a node whose candidate set is
	// fixed (ServiceConfig.Candidates or a stake oracle).
	errNotAnnounced = errors.New("lottery: candidate set is not announced on this network")
)

// maxSleep bounds how long the Service's loop sleeps, so Health can tell a
// wedged loop from a quiet phase.
const maxSleep = 5 * time.Second

// ServiceOptions are what NewService needs besides its configuration: the
// node's resources and hooks for tests and the simulator.
type ServiceOptions struct {
	// Gossip is the node's gossip router; the Service joins the lottery
	// topic (TopicName) on it in Run. Required.
	Gossip *gossip.Gossip
	// Store holds what must survive a restart (see persist.go): the node
	// passes a Datastore rooted at the lottery's own prefix of its Badger
	// store. Required.
	Store datastore.Batching
	// Identity is the node's libp2p key. A candidate needs an Ed25519 key:
	// its VRF tickets and claim signatures are made with it. Nil, or
	// another key type, makes an observer.
	Identity crypto.PrivKey
	// Stake, if set, replaces the candidate set: it gives every epoch's
	// weights (the token package's snapshot, later). It must satisfy
	// StakeOracle's freeze rule on every node alike. Nil: weights 1, from
	// ServiceConfig.Candidates or from candidacy announcements.
	Stake StakeOracle
	// Now is the node's clock; nil means time.Now. The simulator skews it
	// per node, and must give gossip (gossip.Options.Now) the same clock:
	// gossip's time rule and the State judge the same schedule.
	Now func() time.Time
	// Rand is the source of mix keys; nil means crypto/rand.
	Rand io.Reader
	// Logger receives the Service's logs; nil discards them.
	Logger *slog.Logger
}

// Service runs the relay lottery on a node: it drives a State with the
// node's clock, carries claims, reveals and candidacies over the gossip
// topic TopicName(NetworkID), maps the State's verdicts to gossip's (so
// peers that forward invalid claims lose score), publishes this node's
// candidacy, claim and reveal, persists what a restart needs, and answers
// questions about epochs, directories and this node's wins. It satisfies
// the node's service interface (Name, Run, Health).
//
// All methods are safe for concurrent use. Run owns the Service's
// goroutine; gossip's validators call into the State under the Service's
// lock, so the State sees one message at a time, in order.
type Service struct {
	cfg    ServiceConfig
	g      *gossip.Gossip
	p      *persister
	fp     [sha256.Size]byte
	key    ed25519.PrivateKey // the State's key: nil for an observer
	pub    ed25519.PublicKey  // this node's Ed25519 key, nil if it has none
	self   peer.ID
	static StakeOracle // fixed oracle (ServiceOptions.Stake or the configured set); nil: announced
	mode   string
	clock  func() time.Time
	rnd    io.Reader
	log    *slog.Logger
	seq    atomic.Uint64
	wake   chan struct{}

	running atomic.Bool

	mu           sync.Mutex
	live         bool // validators may feed the State
	st           *State
	book         *CandidateBook
	stake        StakeOracle
	confirmed    bool
	span         interval // listening without a gap since span.from
	prev         interval // the span before the last restart, if the gap was not quiet
	last         time.Time
	loopWall     time.Time
	topic        *gossip.Topic[*wireMsg]
	own          map[uint64]ownClaim
	pending      []logEntry
	logSeq       uint64
	flushDue     time.Time
	announced    uint64
	foreign      foreignClaims
	excused      map[pkKey]int // candidate-set failures forgiven in excusedEpoch
	excusedEpoch uint64
	closed       map[uint64]ClosedInfo
	waiters      map[uint64]chan struct{}
	changed      map[uint64]time.Time
	stats        Stats
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

// Stats counts what the Service decided. ClaimsVerified counts claims that
// went through signature and VRF verification (accepted, or rejected by
// one of those checks), and VerifyTime the time spent validating them, so
// ClaimsVerified / VerifyTime is this node's claim verification rate.
type Stats struct {
	ClaimsAccepted      uint64            `json:"claims_accepted"`
	ClaimsVerified      uint64            `json:"claims_verified"`
	VerifyTime          time.Duration     `json:"verify_time_ns"`
	RevealsAccepted     uint64            `json:"reveals_accepted"`
	CandidaciesAccepted uint64            `json:"candidacies_accepted"`
	Rejected            map[string]uint64 `json:"rejected"`
	Ignored             map[string]uint64 `json:"ignored"`
	WrongSeed           uint64            `json:"wrong_seed"`
	Adopted             uint64            `json:"adopted"`
	Published           uint64            `json:"published"`
	PublishErrors       uint64            `json:"publish_errors"`
}

// ClosedInfo says when and how this node's directory of an epoch became
// final.
type ClosedInfo struct {
	Epoch uint64 `json:"epoch"`
	// At is when the node closed the directory (ClaimClose(Epoch) on its
	// clock, plus scheduling delay).
	At time.Time `json:"at"`
	// LastChange is when the last claim that changed the directory was
	// accepted (zero for a directory that stayed empty): from then on the
	// node held its final directory.
	LastChange time.Time        `json:"last_change,omitzero"`
	Digest     [DigestSize]byte `json:"digest"`
	Relays     int              `json:"relays"`
	Seats      uint64           `json:"seats"`
}

// NewService returns a Service for cfg; Run starts it.
func NewService(cfg ServiceConfig, opts ServiceOptions) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case opts.Gossip == nil:
		return nil, errors.New("lottery: service needs gossip")
	case opts.Store == nil:
		return nil, errors.New("lottery: service needs a store")
	}
	gc := opts.Gossip.Config()
	if ra := TopicParams(cfg.Config).RejectAge(gc.Heartbeat); ra > gc.SeenTTL {
		return nil, fmt.Errorf("%w: relay.claim_window and relay.reveal_window give the lottery topic a reject age of %s, above gossip's seen_ttl %s",
			ErrConfig, ra, gc.SeenTTL)
	}
	s := &Service{
		cfg:     cfg,
		g:       opts.Gossip,
		p:       &persister{ds: opts.Store},
		fp:      fingerprint(cfg),
		self:    opts.Gossip.Host().ID(),
		clock:   opts.Now,
		rnd:     opts.Rand,
		log:     opts.Logger,
		wake:    make(chan struct{}, 1),
		own:     map[uint64]ownClaim{},
		closed:  map[uint64]ClosedInfo{},
		waiters: map[uint64]chan struct{}{},
		changed: map[uint64]time.Time{},
		stats:   Stats{Rejected: map[string]uint64{}, Ignored: map[string]uint64{}},
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Identity != nil && opts.Identity.Type() == crypto.Ed25519 {
		raw, err := opts.Identity.Raw()
		if err != nil || len(raw) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("lottery: identity key: %d bytes, %v", len(raw), err)
		}
		k := ed25519.PrivateKey(raw)
		s.pub = k.Public().(ed25519.PublicKey)
		if cfg.Candidate {
			s.key = k
		}
	}
	if cfg.Candidate && s.key == nil {
		return nil, fmt.Errorf("%w: relay.candidate needs an Ed25519 node identity", ErrConfig)
	}
	switch {
	case opts.Stake != nil:
		s.static, s.mode = opts.Stake, "stake"
	case len(cfg.Candidates) > 0:
		keys := make([]ed25519.PublicKey, len(cfg.Candidates))
		for i, p := range cfg.Candidates {
			k, _ := candidateKey(p) // checked by Validate
			keys[i] = k
		}
		s.static, s.mode = NewUniformStake(keys), "static"
	default:
		s.mode = "announced"
	}
	return s, nil
}

// Name names the service in the node's status.
func (s *Service) Name() string { return "lottery" }

// Run restores the lottery state from the store, joins the lottery topic,
// calls ready, and then runs the schedule until ctx is cancelled. On the
// way out it leaves the topic and writes what it received since the last
// flush. It returns nil after ctx is cancelled, or the error that stopped
// it (a store failure): the node may call Run again, which restores from
// the store as after a restart.
func (s *Service) Run(ctx context.Context, ready func()) (err error) {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	if err := s.restore(ctx); err != nil {
		return err
	}
	topic, err := gossip.Join(s.g, topicConfig(s.cfg.Config, &s.seq, s.check))
	if err != nil {
		s.stop()
		return fmt.Errorf("lottery: join %s: %w", TopicName(s.cfg.NetworkID), err)
	}
	if _, err := topic.Subscribe(func(gossip.Received[*wireMsg]) {}); err != nil {
		s.stop()
		_ = topic.Close()
		return fmt.Errorf("lottery: subscribe: %w", err)
	}
	s.mu.Lock()
	s.topic = topic
	s.mu.Unlock()
	defer func() {
		job := s.stop()
		if cerr := topic.Close(); cerr != nil && err == nil && s.g.Health(context.Background()) == nil {
			err = cerr
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ferr := s.p.flush(fctx, job.entries, job.meta, job.keepOwn); ferr != nil && err == nil {
			err = ferr
		}
	}()
	s.republish(ctx, topic)
	if ready != nil {
		ready()
	}
	return s.loop(ctx)
}

// stop makes validators ignore further messages and returns the final
// flush.
func (s *Service) stop() flushJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = false
	s.topic = nil
	return s.takeFlushLocked(s.tickTime())
}

// Health returns nil while Run's loop is alive, ErrNotRunning when Run is
// not active, and an error if the loop has not run for a long time.
func (s *Service) Health(context.Context) error {
	if !s.running.Load() {
		return ErrNotRunning
	}
	s.mu.Lock()
	at := s.loopWall
	s.mu.Unlock()
	if !at.IsZero() && time.Since(at) > 6*maxSleep {
		return fmt.Errorf("lottery: schedule loop stalled since %s", at.Format(time.RFC3339))
	}
	return nil
}

// restore rebuilds the State, candidate book and bookkeeping from the
// store: a State at the stored checkpoint, with the logged messages and
// this node's own claims replayed at their receive times.
func (s *Service) restore(ctx context.Context) error {
	s.p = &persister{ds: s.p.ds}
	ld, err := s.p.load(ctx, s.fp)
	if err != nil {
		return err
	}
	if ld.bad > 0 {
		s.log.Warn("lottery: dropped unreadable stored entries", "count", ld.bad)
	}
	now := s.clock()
	var book *CandidateBook
	stake := s.static
	if stake == nil {
		book = NewCandidateBook(s.cfg.Config, s.cfg.MaxCandidates)
		stake = book
	}
	cp := GenesisCheckpoint(s.cfg.Config)
	listen := now.Add(s.cfg.WarmUp)
	span, prev := interval{from: listen}, interval{}
	// A node listening before epoch 0 starts sees the whole chain.
	confirmed := !listen.After(s.cfg.Genesis)
	if m := ld.meta; m != nil {
		cp = m.checkpoint
		if s.quietGap(m.alive, listen) {
			span.from, confirmed = m.spanFrom, m.confirmed
		} else {
			prev, confirmed = interval{from: m.spanFrom, to: m.alive}, false
		}
	}
	// A node that will not trust its own chain (it joined late, or was
	// away) adopts the network's seed at the next window it sees whole, so
	// there is nothing to gain from stepping through every epoch it missed
	// — millions of them for short epochs and an old genesis. It starts at
	// the current epoch instead.
	if nowEpoch, ok := s.cfg.EpochAt(now); ok && !confirmed && cp.Epoch+uint64(s.cfg.KeepEpochs) < nowEpoch {
		cp = Checkpoint{Epoch: nowEpoch, Seed: cp.Seed}
	}
	st, err := New(s.cfg.Config, stake, s.key, cp, s.rnd)
	if err != nil {
		return err
	}
	type item struct {
		at   time.Time
		seq  uint64
		data []byte
	}
	var items []item
	for _, l := range ld.log {
		if l.epoch >= cp.Epoch {
			items = append(items, item{l.at, l.seq, l.data})
		}
	}
	for e, o := range ld.own {
		if e >= cp.Epoch {
			items = append(items, item{o.at, ^uint64(0), o.data})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, it := range items {
		if it.data[0] == kindCandidacy {
			if c, err := DecodeCandidacy(it.data); err == nil && book != nil {
				_, _ = book.Receive(it.at, c)
			}
			continue
		}
		_, _ = st.Receive(it.at, it.data)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st, s.book, s.stake, s.confirmed = st, book, stake, confirmed
	s.span, s.prev = span, prev
	s.own = ld.own
	s.last = now
	s.loopWall = time.Now()
	s.logSeq = s.p.nextSeq
	s.pending, s.flushDue = nil, time.Time{}
	s.foreign = foreignClaims{}
	s.announced = 0
	s.live = true
	if ld.meta != nil {
		s.log.Info("lottery: restored", "checkpoint", cp.Epoch, "messages", len(ld.log), "own_claims", len(ld.own), "confirmed", confirmed)
	}
	return nil
}

// republish sends this node's claim of the current epoch again after a
// restart, in case the node stopped between persisting and publishing it.
// The bytes are the same, so peers that have it drop it as a duplicate.
func (s *Service) republish(ctx context.Context, topic *gossip.Topic[*wireMsg]) {
	s.mu.Lock()
	now := s.tickTime()
	o, ok := s.own[s.st.Epoch()]
	s.mu.Unlock()
	if ok && now.Before(s.cfg.ClaimClose(o.claim.Epoch)) {
		s.publish(ctx, topic, o.data)
	}
}

// quietGap reports whether no honest lottery message can have arrived
// between a and b: no claim window (candidacies ride in it too) and no
// reveal phase, each widened by 2*MaxClockSkew at its start for messages
// the State buffers early, meets (a, b).
func (s *Service) quietGap(a, b time.Time) bool {
	if !b.After(a) {
		return true
	}
	cfg := s.cfg.Config
	sk := 2 * cfg.MaxClockSkew
	if !b.After(cfg.Genesis.Add(-sk)) {
		return true // nothing is sent before epoch 0
	}
	if b.Sub(a) >= cfg.EpochLength {
		return false
	}
	k, ok := cfg.EpochAt(a)
	if !ok {
		k = 0
	}
	overlaps := func(x, y time.Time) bool { return a.Before(y) && x.Before(b) }
	for e := k - min(k, 1); e <= k+1; e++ {
		if overlaps(cfg.EpochStart(e).Add(-sk), cfg.ClaimClose(e)) ||
			overlaps(cfg.revealAt(e).Add(-sk), cfg.EpochStart(e+1)) {
			return false
		}
	}
	return true
}

// covered reports whether the node listened during all of [a, b).
func (s *Service) covered(a, b time.Time) bool {
	if !a.Before(s.span.from) {
		return true
	}
	return !s.prev.from.IsZero() && !a.Before(s.prev.from) && !b.After(s.prev.to)
}

// oracleComplete reports whether this node knows the whole candidate set
// of epoch e: always for a fixed set, and for announced candidates when it
// listened through the window of e-1.
func (s *Service) oracleComplete(e uint64) bool {
	if s.book == nil || e == 0 {
		return true
	}
	_, until, _ := s.book.Window(e)
	return s.covered(s.cfg.EpochStart(e-1), until)
}

// tickTime reads the clock, never going back from the last reading given
// to the State.
func (s *Service) tickTime() time.Time {
	now := s.clock()
	if now.Before(s.last) {
		return s.last
	}
	s.last = now
	return now
}

// --- validation: gossip's pubsub workers call check under s.mu ---

// check is the lottery topic's check in gossip's validator chain.
func (s *Service) check(m *wireMsg, _ time.Time, local bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live {
		return fmt.Errorf("%w: %w", gossip.ErrIgnore, ErrNotRunning)
	}
	if local && m.kind != kindCandidacy {
		return nil // this node's own claim or reveal: the State made it
	}
	now := s.tickTime()
	var v Verdict
	var err error
	switch m.kind {
	case kindCandidacy:
		v, err = s.checkCandidacy(now, m)
	case kindClaim:
		v, err = s.checkClaim(now, m)
	case kindReveal:
		v, err = s.checkReveal(now, m)
	default:
		v, err = Reject, fmt.Errorf("%w: kind 0x%02x", ErrMalformed, m.kind)
	}
	switch v {
	case Accept:
		return nil
	case Ignore:
		s.stats.Ignored[errName(err)]++
		return fmt.Errorf("%w: %w", gossip.ErrIgnore, err)
	}
	s.stats.Rejected[errName(err)]++
	return fmt.Errorf("%w: %w", gossip.ErrInvalid, err)
}

func (s *Service) checkCandidacy(now time.Time, m *wireMsg) (Verdict, error) {
	if s.book == nil {
		return Ignore, errNotAnnounced
	}
	v, err := s.book.Receive(now, m.cand)
	if v == Accept {
		s.recordLocked(now, m.epoch, m.data)
		s.stats.CandidaciesAccepted++
	}
	return v, err
}

func (s *Service) checkClaim(now time.Time, m *wireMsg) (Verdict, error) {
	start := time.Now()
	pend := s.st.Pending()
	v, err := s.st.receiveMsg(now, m)
	switch {
	case v == Accept:
		s.recordLocked(now, m.epoch, m.data)
		s.changed[m.epoch] = now
		s.stats.ClaimsAccepted++
	case errors.Is(err, ErrEarly):
		if s.st.Pending() > pend {
			s.recordLocked(now, m.epoch, m.data) // buffered: replay must buffer it too
		}
	case errors.Is(err, ErrWrongSeed):
		return s.foreignClaim(now, m, err)
	case v == Reject && oracleDependent(err) && s.candidatesUncertain(m.epoch, m.key, err):
		// Another node may know another candidate set: do not penalise
		// the peer that forwarded the claim.
		v = Ignore
	}
	if v == Accept || isAny(err, ErrBadSignature, ErrBadProof, ErrSeats, ErrLayer) {
		s.stats.ClaimsVerified++
		s.stats.VerifyTime += time.Since(start)
	}
	return v, err
}

// foreignClaim handles a claim for the current epoch that carries another
// seed than this node's. A confirmed node ignores it (the State's verdict:
// its sender may be on a split chain). A node whose chain is not confirmed
// verifies it against its own seed: an invalid one is rejected (no honest
// node accepts it under any seed), a valid one is kept for the seed
// decision at the end of the claim window (decideLocked). At most two
// claims per claimant and MaxPending in all are verified per epoch.
func (s *Service) foreignClaim(now time.Time, m *wireMsg, err error) (Verdict, error) {
	s.stats.WrongSeed++
	if s.confirmed || m.epoch != s.st.Epoch() {
		return Ignore, err
	}
	f := &s.foreign
	if f.bySeed == nil || f.epoch != m.epoch {
		*f = foreignClaims{epoch: m.epoch, bySeed: map[Seed]map[pkKey][]timedData{}, count: map[pkKey]int{}}
	}
	c := m.claim
	k := pkKey(c.Claimant)
	if f.count[k] >= 2 || f.n >= s.cfg.MaxPending {
		return Ignore, err
	}
	start := time.Now()
	verr := c.Verify(s.cfg.Config, m.epoch, c.Seed, s.stake)
	s.stats.ClaimsVerified++
	s.stats.VerifyTime += time.Since(start)
	if verr != nil {
		if errors.Is(verr, ErrWrongSeed) || (oracleDependent(verr) && s.candidatesUncertain(m.epoch, m.key, verr)) {
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

func (s *Service) checkReveal(now time.Time, m *wireMsg) (Verdict, error) {
	pend := s.st.Pending()
	v, err := s.st.receiveMsg(now, m)
	switch {
	case v == Accept:
		s.recordLocked(now, m.epoch, m.data)
		s.stats.RevealsAccepted++
	case errors.Is(err, ErrEarly) && s.st.Pending() > pend:
		s.recordLocked(now, m.epoch, m.data)
	}
	return v, err
}

// candidatesUncertain reports whether a claim by claimant for epoch e that
// failed with err (ErrNotCandidate or ErrSeats) might have passed on a node
// with another view of e's candidate set: this node missed part of the
// window that made the set, or received a candidacy for e near or after
// the deadline (the claimant's, for ErrNotCandidate; anyone's, for
// ErrSeats, since the total weight decides p). At most two such failures
// per claimant and epoch are excused: an honest peer forwards at most two
// claims of one claimant, so beyond that the sender is at fault.
func (s *Service) candidatesUncertain(e uint64, claimant ed25519.PublicKey, err error) bool {
	uncertain := !s.oracleComplete(e)
	if !uncertain && s.book != nil {
		if errors.Is(err, ErrNotCandidate) {
			uncertain = s.book.Disputed(e, claimant)
		} else {
			uncertain = s.book.Disputed(e, nil)
		}
	}
	if !uncertain {
		return false
	}
	if s.excused == nil || s.excusedEpoch != e {
		s.excused, s.excusedEpoch = map[pkKey]int{}, e
	}
	k := pkKey(claimant)
	if s.excused[k] >= 2 || (s.excused[k] == 0 && len(s.excused) >= s.cfg.MaxPending) {
		return false
	}
	s.excused[k]++
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

var errNames = []struct {
	err  error
	name string
}{
	{ErrMalformed, "malformed"}, {ErrWrongEpoch, "wrong_epoch"}, {ErrWrongSeed, "wrong_seed"},
	{ErrEarly, "early"}, {ErrLate, "late"}, {ErrBadSignature, "bad_signature"},
	{ErrBadProof, "bad_proof"}, {ErrBadMixKey, "bad_mix_key"}, {ErrNotCandidate, "not_candidate"},
	{ErrNotRelay, "not_relay"}, {ErrSeats, "seats"}, {ErrLayer, "layer"}, {ErrDuplicate, "duplicate"},
	{ErrEquivocation, "equivocation"}, {ErrExcluded, "excluded"}, {ErrCandidatesFull, "candidates_full"},
	{errNotAnnounced, "not_announced"}, {ErrNotRunning, "not_running"},
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

// recordLocked queues a message for the log and wakes the loop to flush
// it in time.
func (s *Service) recordLocked(at time.Time, e uint64, data []byte) {
	s.pending = append(s.pending, logEntry{epoch: e, seq: s.logSeq, at: at, data: data})
	s.logSeq++
	if s.flushDue.IsZero() {
		s.flushDue = at.Add(s.cfg.FlushInterval)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// --- the schedule ---

func (s *Service) loop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next, err := s.step(ctx)
		if err != nil {
			return err
		}
		d := next.Sub(s.clock())
		timer.Reset(min(max(d, 0), maxSleep))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.wake:
		}
	}
}

// flushJob is one batch for the store.
type flushJob struct {
	entries []logEntry
	meta    meta
	keepOwn uint64
}

// step ticks the State, does what its effects ask (persisting before
// publishing), announces this node's candidacy when due and flushes the
// log. It returns when it wants to run next.
func (s *Service) step(ctx context.Context) (time.Time, error) {
	s.mu.Lock()
	now := s.tickTime()
	s.loopWall = time.Now()
	var claims []PublishClaim
	var reveals [][]byte
	phaseEnd := false
	for _, eff := range s.applyLocked(now, s.st.Tick(now)) {
		switch e := eff.(type) {
		case PublishClaim:
			claims = append(claims, e)
		case PublishReveal:
			reveals = append(reveals, e.Data)
			s.recordLocked(now, e.Reveal.Epoch, e.Data) // replay must count it
		case DirectoryClosed, EpochStarted:
			phaseEnd = true
		case ClaimFailed:
			s.log.Warn("lottery: could not draw this node's ticket", "epoch", e.Epoch, "err", e.Err)
		}
	}
	cand := s.candidacyDueLocked(now)
	var job *flushJob
	if phaseEnd || (!s.flushDue.IsZero() && !now.Before(s.flushDue)) {
		j := s.takeFlushLocked(now)
		job = &j
	}
	next := s.nextWakeLocked(now)
	topic := s.topic
	s.mu.Unlock()

	// Store writes finish even when Run is being stopped: a half-done
	// flush would only be redone, but an error would fail Run.
	sctx := context.WithoutCancel(ctx)
	for _, pc := range claims {
		o := ownClaim{at: now, data: pc.Data, claim: pc.Claim, mixKey: pc.MixKey}
		// Durable before it is published: a restarted node must find it and
		// must not draw a second claim (equivocation).
		if err := s.p.saveOwn(sctx, o); err != nil {
			return next, err
		}
		s.mu.Lock()
		s.own[pc.Claim.Epoch] = o
		s.mu.Unlock()
		s.log.Info("lottery: won seats", "epoch", pc.Claim.Epoch, "seats", pc.Claim.Seats, "layer", pc.Claim.Layer)
		s.publish(ctx, topic, pc.Data)
	}
	for _, r := range reveals {
		s.publish(ctx, topic, r)
	}
	if cand != nil {
		s.publish(ctx, topic, cand)
	}
	if job != nil {
		if err := s.p.flush(sctx, job.entries, job.meta, job.keepOwn); err != nil {
			return next, err
		}
	}
	return next, nil
}

// publish sends data on the topic. The topic's check lets this node's own
// claims and reveals through unjudged (the State made them) and checks its
// candidacies like anyone's.
func (s *Service) publish(ctx context.Context, topic *gossip.Topic[*wireMsg], data []byte) {
	if topic == nil {
		return
	}
	err := topic.Publish(ctx, &wireMsg{data: data})
	s.mu.Lock()
	if err != nil {
		s.stats.PublishErrors++
	} else {
		s.stats.Published++
	}
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.log.Warn("lottery: publish", "kind", data[0], "err", err)
	}
}

// applyLocked records what the State's effects mean for the Service and
// returns the effects to act on. At the close of a directory a node whose
// seed chain is not confirmed decides which chain to follow; if it adopts
// another, the new State's effects replace the rest.
func (s *Service) applyLocked(now time.Time, effs []Effect) []Effect {
	var out []Effect
	for _, eff := range effs {
		switch e := eff.(type) {
		case DirectoryClosed:
			if !s.confirmed {
				if more, adopted := s.decideLocked(now, e.Epoch); adopted {
					return append(out, s.applyLocked(now, more)...)
				}
			}
			s.closeLocked(now, e)
		case EpochStarted:
			s.epochStartedLocked(e)
		}
		out = append(out, eff)
	}
	return out
}

// decideLocked runs at the close of epoch e's claim window on a node whose
// seed chain is not confirmed, if the node listened through the window and
// knows e's candidate set. The seed carried by the most distinct claimants
// (other than this node) wins: if another seed than its own has more of
// them (and at least JoinQuorum), the node restarts its State at that seed
// and replays those claims; if its own seed has at least JoinQuorum and
// more than any other, its chain is confirmed. A confirmed chain never
// changes.
func (s *Service) decideLocked(now time.Time, e uint64) ([]Effect, bool) {
	if e != s.st.Epoch() || !s.covered(s.cfg.EpochStart(e), s.cfg.ClaimClose(e)) || !s.oracleComplete(e) {
		return nil, false
	}
	dir, _ := s.st.Directory(e)
	ours := dir.Len() + len(dir.Equivocators())
	if _, in := dir.Lookup(s.pub); in {
		ours-- // this node's own claim is no evidence for its own chain
	}
	var best Seed
	bestN, tie := 0, false
	if s.foreign.epoch == e {
		for seed, by := range s.foreign.bySeed {
			switch n := len(by); {
			case n > bestN:
				best, bestN, tie = seed, n, false
			case n == bestN:
				tie = true
			}
		}
	}
	q := s.cfg.JoinQuorum
	if bestN > ours && bestN >= q && !tie {
		st, err := New(s.cfg.Config, s.stake, s.key, Checkpoint{Epoch: e, Seed: best}, s.rnd)
		if err != nil {
			return nil, false
		}
		var msgs []timedData
		for _, ds := range s.foreign.bySeed[best] {
			msgs = append(msgs, ds...)
		}
		slices.SortStableFunc(msgs, func(a, b timedData) int { return a.at.Compare(b.at) })
		for _, m := range msgs {
			_, _ = st.Receive(m.at, m.data)
			s.recordLocked(m.at, e, m.data)
		}
		s.log.Info("lottery: adopted the network's seed chain", "epoch", e, "claimants", bestN, "own_seed_claimants", ours)
		s.st, s.confirmed = st, true
		s.foreign = foreignClaims{}
		s.stats.Adopted++
		s.changed[e] = now
		return st.Tick(now), true
	}
	if ours >= q && ours > bestN {
		s.confirmed = true
	}
	return nil, false
}

func (s *Service) closeLocked(now time.Time, e DirectoryClosed) {
	s.closed[e.Epoch] = ClosedInfo{
		Epoch: e.Epoch, At: now, LastChange: s.changed[e.Epoch],
		Digest: e.Digest, Relays: e.Relays, Seats: e.Seats,
	}
	if ch, ok := s.waiters[e.Epoch]; ok {
		close(ch)
		delete(s.waiters, e.Epoch)
	}
}

// epochStartedLocked forgets what epoch e no longer needs: candidate sets,
// bookkeeping and waiters older than KeepEpochs, and own mix keys older
// than the previous epoch (forward secrecy: packets of e-2 can no longer
// arrive).
func (s *Service) epochStartedLocked(e EpochStarted) {
	keep := uint64(s.cfg.KeepEpochs)
	if e.Epoch > keep {
		old := e.Epoch - keep
		if s.book != nil {
			s.book.Prune(old)
		}
		maps.DeleteFunc(s.changed, func(k uint64, _ time.Time) bool { return k < old })
		maps.DeleteFunc(s.closed, func(k uint64, _ ClosedInfo) bool { return k < old })
		maps.DeleteFunc(s.waiters, func(k uint64, ch chan struct{}) bool {
			if k < old {
				close(ch)
				return true
			}
			return false
		})
	}
	if e.Epoch > 1 {
		maps.DeleteFunc(s.own, func(k uint64, _ ownClaim) bool { return k < e.Epoch-1 })
	}
	if s.foreign.epoch < e.Epoch {
		s.foreign = foreignClaims{}
	}
}

// candidacyDueLocked returns this node's candidacy for the next epoch when
// it is time to announce it: in the current epoch's claim window, at the
// moment claims are published.
func (s *Service) candidacyDueLocked(now time.Time) []byte {
	if s.book == nil || s.key == nil {
		return nil
	}
	e := s.st.Epoch()
	if s.announced > e || now.Before(s.cfg.EpochStart(e).Add(s.cfg.publishDelay())) || !now.Before(s.cfg.ClaimClose(e)) {
		return nil
	}
	s.announced = e + 1
	data, err := Candidacy{Epoch: e + 1, Key: s.pub}.Encode()
	if err != nil {
		return nil
	}
	return data
}

func (s *Service) nextWakeLocked(now time.Time) time.Time {
	next := s.st.NextTick()
	if s.book != nil && s.key != nil {
		e := s.st.Epoch()
		at := s.cfg.EpochStart(e).Add(s.cfg.publishDelay())
		if s.announced <= e && now.Before(s.cfg.ClaimClose(e)) && at.Before(next) {
			next = at
		}
	}
	if !s.flushDue.IsZero() && s.flushDue.Before(next) {
		next = s.flushDue
	}
	return next
}

func (s *Service) takeFlushLocked(now time.Time) flushJob {
	cp := s.st.Checkpoint()
	j := flushJob{
		entries: s.pending,
		meta:    meta{fingerprint: s.fp, checkpoint: cp, spanFrom: s.span.from, alive: now, confirmed: s.confirmed},
	}
	if cp.Epoch > 1 {
		j.keepOwn = cp.Epoch - 1
	}
	s.pending, s.flushDue = nil, time.Time{}
	return j
}

// --- queries ---

// Epoch returns the current epoch as this node's State sees it (0 before
// genesis).
func (s *Service) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		e, _ := s.cfg.EpochAt(s.clock())
		return e
	}
	return s.st.Epoch()
}

// Config returns the Service's configuration.
func (s *Service) Config() ServiceConfig { return s.cfg }

// Directory returns a copy of this node's relay directory of epoch e, if it
// still holds it (the current epoch and KeepEpochs before). The current
// epoch's directory may still grow until its claim window closes.
func (s *Service) Directory(e uint64) (*Directory, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return nil, false
	}
	return s.st.Directory(e)
}

// Seed returns this node's seed of epoch e, if it still holds it.
func (s *Service) Seed(e uint64) (Seed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return Seed{}, false
	}
	return s.st.Seed(e)
}

// MixKey returns this node's X25519 mix private key for epoch e, if it won
// seats in e and still keeps the key (epochs before the previous one are
// deleted), and the claim carrying its public half is in this node's
// directory of e (or the directory is no longer held).
func (s *Service) MixKey(e uint64) (*ecdh.PrivateKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.own[e]
	if !ok || s.st == nil {
		return nil, false
	}
	if d, held := s.st.Directory(e); held {
		r, in := d.Lookup(o.claim.Claimant)
		if !in || !r.MixKey.Equal(o.claim.MixKey) {
			return nil, false
		}
	}
	return o.mixKey, true
}

// Closed returns a channel closed once this node's directory of epoch e is
// final (at once if it already is), so the simulator can time agreement
// without polling. The channel is also closed if e falls out of the kept
// epochs without closing here; ClosedInfo tells the two apart.
func (s *Service) Closed(e uint64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.closed[e]; ok {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	ch, ok := s.waiters[e]
	if !ok {
		ch = make(chan struct{})
		s.waiters[e] = ch
	}
	return ch
}

// ClosedInfo returns when and with what digest this node closed the
// directory of epoch e.
func (s *Service) ClosedInfo(e uint64) (ClosedInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ci, ok := s.closed[e]
	return ci, ok
}

// Stats returns the Service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.Rejected = maps.Clone(s.stats.Rejected)
	out.Ignored = maps.Clone(s.stats.Ignored)
	return out
}

// TopicStats returns the gossip validator chain's counters of the lottery
// topic (zero when Run is not active).
func (s *Service) TopicStats() gossip.TopicStats {
	s.mu.Lock()
	t := s.topic
	s.mu.Unlock()
	if t == nil {
		return gossip.TopicStats{}
	}
	return t.Stats()
}

// Candidates returns the candidates of epoch e: the configured set, or the
// announced one (which may still grow until the window of e-1 closes). It
// returns nil with a stake oracle from ServiceOptions.
func (s *Service) Candidates(e uint64) []ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.book != nil:
		return s.book.Candidates(e)
	case s.mode == "static":
		out := make([]ed25519.PublicKey, 0, len(s.cfg.Candidates))
		for _, p := range s.cfg.Candidates {
			k, _ := candidateKey(p)
			out = append(out, k)
		}
		slices.SortFunc(out, func(a, b ed25519.PublicKey) int { return bytes.Compare(a, b) })
		return out
	}
	return nil
}

// EpochStatus describes one epoch as this node sees it.
type EpochStatus struct {
	Epoch uint64    `json:"epoch"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Phase is "claims" (claim window open), "quiet", "reveals" or
	// "pending" (not started); only for the current epoch.
	Phase string `json:"phase,omitempty"`
	// Seed is the epoch's seed in hex, once final on this node.
	Seed string `json:"seed,omitempty"`
	// Candidates is the candidate count (total weight); for the next epoch
	// in announced mode, those announced so far.
	Candidates uint64 `json:"candidates"`
	// Eligible says this node has weight in the epoch.
	Eligible bool `json:"eligible"`
	// Relays and Closed describe the directory (current epoch only).
	Relays int  `json:"relays"`
	Closed bool `json:"closed"`
}

// Win is an epoch in which this node won seats.
type Win struct {
	Epoch  uint64 `json:"epoch"`
	Layer  int    `json:"layer"`
	Seats  uint64 `json:"seats"`
	MixKey string `json:"mix_key"` // the X25519 public key, hex
	// InDirectory says the claim is in this node's directory of the epoch
	// (false if the node's chain was replaced after it claimed).
	InDirectory bool `json:"in_directory"`
}

// Status is this node's part in the lottery, for relay.status.
type Status struct {
	NetworkID string `json:"network_id"`
	Peer      string `json:"peer"`
	// Candidate says the node is configured to stand.
	Candidate bool `json:"candidate"`
	// Mode is how candidates are known: "announced", "static" or "stake".
	Mode    string `json:"mode"`
	Running bool   `json:"running"`
	// Confirmed says the node's seed chain is trusted: it listened from
	// genesis, restarted without missing a window, or saw JoinQuorum
	// claimants agree with it. Until then it may adopt the seed the
	// network's claims carry.
	Confirmed bool        `json:"confirmed"`
	Current   EpochStatus `json:"current"`
	Next      EpochStatus `json:"next"`
	// Wins lists the epochs still kept in which this node won seats.
	Wins  []Win `json:"wins"`
	Stats Stats `json:"stats"`
}

// Status returns this node's candidacy, wins and the current and next
// epochs.
func (s *Service) Status() Status {
	st := Status{
		NetworkID: s.cfg.NetworkID, Peer: s.self.String(), Candidate: s.cfg.Candidate,
		Mode: s.mode, Running: s.running.Load(), Wins: []Win{},
	}
	st.Stats = s.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Confirmed = s.confirmed
	now := s.clock()
	cur := uint64(0)
	if s.st != nil {
		cur = s.st.Epoch()
	} else {
		cur, _ = s.cfg.EpochAt(now)
	}
	st.Current = s.epochStatusLocked(cur)
	switch {
	case now.Before(s.cfg.EpochStart(cur)):
		st.Current.Phase = "pending"
	case now.Before(s.cfg.ClaimClose(cur)):
		st.Current.Phase = "claims"
	case now.Before(s.cfg.revealAt(cur)):
		st.Current.Phase = "quiet"
	default:
		st.Current.Phase = "reveals"
	}
	if s.st != nil {
		if d, ok := s.st.Directory(cur); ok {
			st.Current.Relays = d.Len()
		}
		_, st.Current.Closed = s.closed[cur]
	}
	st.Next = s.epochStatusLocked(cur + 1)
	for _, e := range slices.Sorted(maps.Keys(s.own)) {
		o := s.own[e]
		w := Win{Epoch: e, Layer: o.claim.Layer, Seats: o.claim.Seats, MixKey: hex.EncodeToString(o.claim.MixKey.Bytes())}
		if s.st != nil {
			if d, ok := s.st.Directory(e); ok {
				r, in := d.Lookup(o.claim.Claimant)
				w.InDirectory = in && r.MixKey.Equal(o.claim.MixKey)
			}
		}
		st.Wins = append(st.Wins, w)
	}
	return st
}

func (s *Service) epochStatusLocked(e uint64) EpochStatus {
	es := EpochStatus{Epoch: e, Start: s.cfg.EpochStart(e), End: s.cfg.EpochStart(e + 1)}
	if s.st != nil {
		if seed, ok := s.st.Seed(e); ok {
			es.Seed = seed.String()
		}
	}
	if s.stake != nil {
		es.Candidates = s.stake.TotalWeight(e)
		es.Eligible = s.pub != nil && s.stake.Weight(e, s.pub) > 0
	}
	return es
}

// RelayInfo is one relay of a directory, for relay.directory.
type RelayInfo struct {
	Peer   string `json:"peer"`
	Layer  int    `json:"layer"`
	Seats  uint64 `json:"seats"`
	MixKey string `json:"mix_key"` // X25519 public key, hex
}

// DirectoryInfo is a directory as the API shows it.
type DirectoryInfo struct {
	Epoch  uint64      `json:"epoch"`
	Start  time.Time   `json:"start"`
	Seed   string      `json:"seed"`
	Closed bool        `json:"closed"`
	Digest string      `json:"digest"`
	Seats  uint64      `json:"seats"`
	Relays []RelayInfo `json:"relays"`
	// Equivocators are peers excluded for publishing two claims.
	Equivocators []string `json:"equivocators,omitempty"`
}

// DirectoryInfo returns this node's directory of epoch e in API form.
func (s *Service) DirectoryInfo(e uint64) (DirectoryInfo, bool) {
	d, ok := s.Directory(e)
	if !ok {
		return DirectoryInfo{}, false
	}
	s.mu.Lock()
	_, closed := s.closed[e]
	s.mu.Unlock()
	dg := d.Digest()
	out := DirectoryInfo{
		Epoch: e, Start: s.cfg.EpochStart(e), Seed: d.Seed().String(), Closed: closed,
		Digest: hex.EncodeToString(dg[:]), Seats: d.Seats(), Relays: []RelayInfo{},
	}
	for _, r := range d.Relays() {
		id, _ := keyPeerID(r.Claimant)
		out.Relays = append(out.Relays, RelayInfo{Peer: id.String(), Layer: r.Layer, Seats: r.Seats, MixKey: hex.EncodeToString(r.MixKey.Bytes())})
	}
	for _, k := range d.Equivocators() {
		id, _ := keyPeerID(k)
		out.Equivocators = append(out.Equivocators, id.String())
	}
	return out, true
}

package lotterysvc

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
)

// Service errors.
var (
	// ErrNotRunning: the Service's Run is not active.
	ErrNotRunning = errors.New("lotterysvc: service not running")
	// ErrRunning: Run was called while another Run of the same Service is
	// active.
	ErrRunning = errors.New("lotterysvc: service already running")
)

// maxSleep bounds how long the Service's loop sleeps, so Health can tell a
// wedged loop from a quiet phase.
const maxSleep = 5 * time.Second

// Options are what New needs besides its configuration: the node's
// resources and hooks for tests and the simulator.
type Options struct {
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
	// lottery.StakeOracle's freeze rule on every node alike. Nil: weights
	// 1, from ServiceConfig.Candidates or from candidacy announcements.
	Stake lottery.StakeOracle
	// Clock is the node's clock; nil means clock.Real(). Whoever skews it
	// must give gossip (gossip.Options.Clock) the same clock: gossip's time
	// rule and the lottery judge the same schedule.
	Clock clock.Clock
	// Rand is the source of mix keys; nil means crypto/rand.
	Rand io.Reader
	// Logger receives the Service's logs; nil discards them.
	Logger *slog.Logger
}

// Service runs a lottery.Node on a node: it carries claims, reveals and
// candidacies over the gossip topic TopicName(NetworkID), maps the Node's
// verdicts to gossip's (so peers that forward invalid claims lose score),
// persists what the Node's effects ask before it publishes, wakes the Node
// at its NextTick, and answers questions about epochs, directories and
// this node's wins. Every protocol decision is the Node's. It satisfies the
// node's service interface (Name, Run, Health).
//
// All methods are safe for concurrent use. Run owns the Service's
// goroutine; gossip's validators call into the Node under the Service's
// lock, so the Node sees one input at a time, in order.
type Service struct {
	cfg   lottery.ServiceConfig
	g     *gossip.Gossip
	p     *persister
	self  peer.ID
	clock clock.Clock
	log   *slog.Logger
	seq   atomic.Uint64
	wake  chan struct{}

	running atomic.Bool
	// epoch is the Node's epoch once it started (epochSet), published at
	// each change under mu so that Epoch, which the mix asks several times
	// a second, never waits behind a claim's verification.
	epoch    atomic.Uint64
	epochSet atomic.Bool

	mu       sync.Mutex
	live     bool // validators may feed the Node
	node     *lottery.Node
	loopWall time.Time
	topic    *gossip.Topic[*lottery.Message]
	pending  []logEntry
	logSeq   uint64
	flushDue time.Time
	waiters  map[uint64]chan struct{}
	stats    lottery.Stats // the counters a Node does not keep
}

// New returns a Service for cfg; Run starts it.
func New(cfg lottery.ServiceConfig, opts Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case opts.Gossip == nil:
		return nil, errors.New("lotterysvc: service needs gossip")
	case opts.Store == nil:
		return nil, errors.New("lotterysvc: service needs a store")
	}
	gc := opts.Gossip.Config()
	if ra := TopicParams(cfg.Config).RejectAge(gc.Heartbeat); ra > gc.SeenTTL {
		return nil, fmt.Errorf("%w: relay.claim_window and relay.reveal_window give the lottery topic a reject age of %s, above gossip's seen_ttl %s",
			lottery.ErrConfig, ra, gc.SeenTTL)
	}
	var id ed25519.PrivateKey
	if opts.Identity != nil && opts.Identity.Type() == crypto.Ed25519 {
		raw, err := opts.Identity.Raw()
		if err != nil || len(raw) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("lotterysvc: identity key: %d bytes, %v", len(raw), err)
		}
		id = ed25519.PrivateKey(raw)
	}
	node, err := lottery.NewNode(cfg, lottery.NodeOptions{Identity: id, Stake: opts.Stake, Rand: opts.Rand})
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:     cfg,
		g:       opts.Gossip,
		p:       &persister{ds: opts.Store, fp: fingerprint(cfg)},
		self:    opts.Gossip.Host().ID(),
		clock:   opts.Clock,
		log:     opts.Logger,
		wake:    make(chan struct{}, 1),
		node:    node,
		waiters: map[uint64]chan struct{}{},
	}
	if s.clock == nil {
		s.clock = clock.Real()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
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
		return fmt.Errorf("lotterysvc: join %s: %w", TopicName(s.cfg.NetworkID), err)
	}
	if _, err := topic.Subscribe(func(gossip.Received[*lottery.Message]) {}); err != nil {
		s.stop()
		_ = topic.Close()
		return fmt.Errorf("lotterysvc: subscribe: %w", err)
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
		if ferr := s.p.flush(fctx, job.entries, job.meta); ferr != nil && err == nil {
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
	return s.takeFlushLocked(s.clock.Now())
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
	if !at.IsZero() && s.clock.Now().Sub(at) > 6*maxSleep {
		return fmt.Errorf("lotterysvc: schedule loop stalled since %s", at.Format(time.RFC3339))
	}
	return nil
}

// restore loads what the store holds and starts the Node from it.
func (s *Service) restore(ctx context.Context) error {
	s.p = &persister{ds: s.p.ds, fp: s.p.fp}
	saved, bad, err := s.p.load(ctx)
	if err != nil {
		return err
	}
	if bad > 0 {
		s.log.Warn("lotterysvc: dropped unreadable stored entries", "count", bad)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.node.Start(now, saved); err != nil {
		return err
	}
	s.noteEpochLocked()
	s.loopWall = now
	s.logSeq = s.p.nextSeq
	s.pending, s.flushDue = nil, time.Time{}
	s.live = true
	if saved.Snapshot != nil {
		s.log.Info("lottery: restored", "checkpoint", saved.Snapshot.Checkpoint.Epoch, "messages", len(saved.Log),
			"own_claims", len(saved.Own), "confirmed", s.node.Confirmed())
	}
	return nil
}

// republish sends this node's claim of the current epoch again after a
// restart, if the Node says so (Node.Republish).
func (s *Service) republish(ctx context.Context, topic *gossip.Topic[*lottery.Message]) {
	s.mu.Lock()
	data := s.node.Republish(s.clock.Now())
	s.mu.Unlock()
	if data != nil {
		s.publish(ctx, topic, data)
	}
}

// check is the lottery topic's check in gossip's validator chain: it hands
// the message to the Node and maps its verdict onto gossip's.
func (s *Service) check(m *lottery.Message, _ time.Time, local bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live {
		return fmt.Errorf("%w: %w", gossip.ErrIgnore, ErrNotRunning)
	}
	if local && m.Kind() != lottery.KindCandidacy {
		return nil // this node's own claim or reveal: the Node made it
	}
	start := s.clock.Now()
	verified := s.node.Stats().ClaimsVerified
	v, effs, err := s.node.Receive(start, m)
	s.noteEpochLocked()
	if m.Kind() == lottery.KindClaim && s.node.Stats().ClaimsVerified > verified {
		s.stats.VerifyTime += s.clock.Now().Sub(start)
	}
	for _, eff := range effs {
		if r, ok := eff.(lottery.Record); ok {
			s.recordLocked(r)
		}
	}
	switch v {
	case lottery.Accept:
		return nil
	case lottery.Ignore:
		return fmt.Errorf("%w: %w", gossip.ErrIgnore, err)
	}
	return fmt.Errorf("%w: %w", gossip.ErrInvalid, err)
}

// recordLocked queues a record for the log and wakes the loop to flush it
// in time.
func (s *Service) recordLocked(r lottery.Record) {
	s.pending = append(s.pending, logEntry{epoch: r.Epoch, seq: s.logSeq, at: r.At, data: r.Data})
	s.logSeq++
	if s.flushDue.IsZero() {
		s.flushDue = r.At.Add(s.cfg.FlushInterval)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// --- the schedule ---

func (s *Service) loop(ctx context.Context) error {
	timer := s.clock.NewTimer(0)
	defer timer.Stop()
	for {
		next, err := s.step(ctx)
		if err != nil {
			return err
		}
		d := next.Sub(s.clock.Now())
		timer.Reset(min(max(d, 0), maxSleep))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-s.wake:
		}
	}
}

// flushJob is one batch for the store.
type flushJob struct {
	entries []logEntry
	meta    lottery.Snapshot
}

// step ticks the Node and does what its effects ask: persist an own claim
// (synced) before publishing it, publish reveals and the candidacy, queue
// records, and flush the log at phase ends or when due. It returns when it
// wants to run next.
func (s *Service) step(ctx context.Context) (time.Time, error) {
	s.mu.Lock()
	now := s.clock.Now()
	s.loopWall = now
	var claims []lottery.PublishClaim
	var publish [][]byte
	phaseEnd := false
	for _, eff := range s.node.Tick(now) {
		switch e := eff.(type) {
		case lottery.PublishClaim:
			claims = append(claims, e)
		case lottery.PublishReveal:
			publish = append(publish, e.Data)
		case lottery.PublishCandidacy:
			publish = append(publish, e.Data)
		case lottery.Record:
			s.recordLocked(e)
		case lottery.DirectoryClosed:
			phaseEnd = true
			if ch, ok := s.waiters[e.Epoch]; ok {
				close(ch)
				delete(s.waiters, e.Epoch)
			}
		case lottery.EpochStarted:
			phaseEnd = true
			s.pruneWaitersLocked(e.Epoch)
		case lottery.ChainAdopted:
			s.log.Info("lottery: adopted the network's seed chain", "epoch", e.Epoch, "claimants", e.Claimants, "own_seed_claimants", e.OwnClaimants)
		case lottery.ClaimFailed:
			s.log.Warn("lottery: could not draw this node's ticket", "epoch", e.Epoch, "err", e.Err)
		}
	}
	var job *flushJob
	if phaseEnd || (!s.flushDue.IsZero() && !now.Before(s.flushDue)) {
		j := s.takeFlushLocked(now)
		job = &j
	}
	s.noteEpochLocked()
	next := s.node.NextTick()
	if !s.flushDue.IsZero() && s.flushDue.Before(next) {
		next = s.flushDue
	}
	topic := s.topic
	s.mu.Unlock()

	// Store writes finish even when Run is being stopped: a half-done
	// flush would only be redone, but an error would fail Run.
	sctx := context.WithoutCancel(ctx)
	for _, pc := range claims {
		// Durable before it is published: a restarted node must find it and
		// must not draw a second claim (equivocation).
		if err := s.p.saveOwn(sctx, lottery.OwnClaim{At: now, Data: pc.Data, Claim: pc.Claim, MixKey: pc.MixKey}); err != nil {
			return next, err
		}
		s.log.Info("lottery: won seats", "epoch", pc.Claim.Epoch, "seats", pc.Claim.Seats, "layer", pc.Claim.Layer)
		s.publish(ctx, topic, pc.Data)
	}
	for _, data := range publish {
		s.publish(ctx, topic, data)
	}
	if job != nil {
		if err := s.p.flush(sctx, job.entries, job.meta); err != nil {
			return next, err
		}
	}
	return next, nil
}

// pruneWaitersLocked closes the waiters of epochs the Node no longer
// keeps once epoch e has started: they will never close here.
func (s *Service) pruneWaitersLocked(e uint64) {
	keep := uint64(s.cfg.KeepEpochs)
	if e <= keep {
		return
	}
	maps.DeleteFunc(s.waiters, func(k uint64, ch chan struct{}) bool {
		if k < e-keep {
			close(ch)
			return true
		}
		return false
	})
}

// publish sends data on the topic. The topic's check lets this node's own
// claims and reveals through unjudged (the Node made them) and checks its
// candidacies like anyone's.
func (s *Service) publish(ctx context.Context, topic *gossip.Topic[*lottery.Message], data []byte) {
	if topic == nil {
		return
	}
	m, err := lottery.DecodeMessage(data)
	if err == nil {
		err = topic.Publish(ctx, m)
	}
	s.mu.Lock()
	if err != nil {
		s.stats.PublishErrors++
	} else {
		s.stats.Published++
	}
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.log.Warn("lotterysvc: publish", "kind", lottery.Kind(data[0]), "err", err)
	}
}

func (s *Service) takeFlushLocked(now time.Time) flushJob {
	j := flushJob{entries: s.pending, meta: s.node.Snapshot(now)}
	s.pending, s.flushDue = nil, time.Time{}
	return j
}

// --- queries ---

// Epoch returns the current epoch as this node's lottery sees it (before
// Run, the epoch running on the clock; 0 before genesis).
func (s *Service) Epoch() uint64 {
	if s.epochSet.Load() {
		return s.epoch.Load()
	}
	e, _ := s.cfg.EpochAt(s.clock.Now())
	return e
}

// noteEpochLocked publishes the Node's epoch for Epoch; mu is held.
func (s *Service) noteEpochLocked() {
	if s.node.Started() {
		s.epoch.Store(s.node.Epoch())
		s.epochSet.Store(true)
	}
}

// Config returns the Service's configuration.
func (s *Service) Config() lottery.ServiceConfig { return s.cfg }

// Directory returns a copy of this node's relay directory of epoch e, if it
// still holds it (the current epoch and KeepEpochs before). The current
// epoch's directory may still grow until its claim window closes.
func (s *Service) Directory(e uint64) (*lottery.Directory, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.Directory(e)
}

// Seed returns this node's seed of epoch e, if it still holds it.
func (s *Service) Seed(e uint64) (lottery.Seed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.Seed(e)
}

// MixKey returns this node's X25519 mix private key for epoch e, if it won
// seats in e and still keeps the key (epochs before the previous one are
// deleted), and the claim carrying its public half is in this node's
// directory of e (or the directory is no longer held).
func (s *Service) MixKey(e uint64) (*ecdh.PrivateKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.MixKey(e)
}

// Closed returns a channel closed once this node's directory of epoch e is
// final (at once if it already is), so the simulator can time agreement
// without polling. The channel is also closed if e falls out of the kept
// epochs without closing here; ClosedInfo tells the two apart.
func (s *Service) Closed(e uint64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.node.ClosedInfo(e); ok {
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
func (s *Service) ClosedInfo(e uint64) (lottery.ClosedInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.ClosedInfo(e)
}

// Stats returns the Service's counters.
func (s *Service) Stats() lottery.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Service) statsLocked() lottery.Stats {
	out := s.node.Stats()
	out.VerifyTime = s.stats.VerifyTime
	out.Published = s.stats.Published
	out.PublishErrors = s.stats.PublishErrors
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
// returns nil with a stake oracle from Options.
func (s *Service) Candidates(e uint64) []ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.Candidates(e)
}

// Status returns this node's candidacy, wins and the current and next
// epochs.
func (s *Service) Status() lottery.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.node.Status(s.clock.Now())
	st.Peer, st.Running, st.Stats = s.self.String(), s.running.Load(), s.statsLocked()
	return st
}

// DirectoryInfo returns this node's directory of epoch e in API form.
func (s *Service) DirectoryInfo(e uint64) (lottery.DirectoryInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.DirectoryInfo(e)
}

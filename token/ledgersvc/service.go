package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgerstore"
)

// The ledger's gossip topics.
const (
	BlocksTopic = "/fog/ledger/1"
	VotesTopic  = "/fog/ledger/votes/2"
)

var (
	// ErrRunning is returned by Run while another Run of the Service is
	// going on.
	ErrRunning = errors.New("ledgersvc: already running")
	// ErrNotRunning is returned by calls that publish while Run is not
	// going on.
	ErrNotRunning = errors.New("ledgersvc: not running")
)

// Options are what a Service uses of its node.
type Options struct {
	// Gossip is the node's gossip router. Required.
	Gossip *gossip.Gossip
	// Store is the ledger's Datastore (the node's /token prefix). Required.
	Store datastore.Batching
	// Genesis is the network's allocation. Required.
	Genesis token.Genesis
	// Identity is the node's libp2p key, an Ed25519 key: the node's account
	// and the representative key it votes with. Required.
	Identity crypto.PrivKey
}

// Service runs a token.Node on a node: blocks and votes from gossip into
// the Node, its records into the store (synced) before its votes and
// blocks go out, its ticks on the clock, and the node's own wallet.
type Service struct {
	cfg  Config
	g    *gossip.Gossip
	self peer.ID
	key  ed25519.PrivateKey
	acct token.Account
	sigs *token.SigCache // shared by the validators and the Node's ledger

	mu      sync.Mutex
	node    *token.Node
	st      *ledgerstore.Store // written by the committer only
	wallet  *token.Wallet
	queue   []token.Record  // made by the Node, not yet written
	outbox  []outbox        // effects waiting for their records to be durable
	made    uint64          // records made since New
	durable uint64          // records written and synced
	changed chan struct{}   // closed and replaced when records become durable
	kick    chan struct{}   // wakes the committer
	stale   []token.Account // accounts the Node reported Stale, for the asker
	askKick chan struct{}   // wakes the asker
	// askTimeout is askTimeout (tests shorten it).
	askTimeout time.Duration
	done       chan struct{} // closed when Run ends
	ctx        context.Context
	blocks     *gossip.Topic[*Message]
	votes      *gossip.Topic[*Message]
	failed     error
	cancel     context.CancelFunc

	// seq is the last sequence number published. Only the committer
	// publishes, one message after the other, so the numbers grow in the
	// order gossip validates them, as it requires.
	seq      uint64
	running  atomic.Bool
	syncTurn int // the peer of the next periodic catch-up; sync.go's goroutine's
	counts   counts
	// statsMu guards gossipPast and statTopics, which Stats reads
	// without the Service's lock (a node drowning in checks holds that
	// for long).
	statsMu sync.Mutex
	// gossipPast is what the topics of Runs that ended ignored.
	gossipPast Stats
	// statTopics are the running topics (blocks, votes), nil between Runs.
	statTopics []*gossip.Topic[*Message]
	// dao holds this node's DAO proposals once NewDAO made it: the
	// catch-up serves and pulls them.
	dao atomic.Pointer[DAO]
	// testHookSync, set by tests before Run, is called by the catch-up
	// goroutine before each catch-up with a peer that connected.
	testHookSync func()
}

// sigCacheSize bounds the signatures the validators found valid and the
// Node may meet again: they meet a message within moments, so a few
// thousand cover a burst.
const sigCacheSize = 8192

// outbox holds effects to publish once the first upto records are durable.
type outbox struct {
	eff  token.Effects
	upto uint64
}

// New opens the ledger in the store and returns a Service for it; Run
// starts it.
func New(ctx context.Context, cfg Config, opts Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case opts.Gossip == nil:
		return nil, fmt.Errorf("%w: Options.Gossip is required", ErrConfig)
	case opts.Store == nil:
		return nil, fmt.Errorf("%w: Options.Store is required", ErrConfig)
	case opts.Identity == nil || opts.Identity.Type() != crypto.Ed25519:
		return nil, fmt.Errorf("%w: Options.Identity must be an Ed25519 key", ErrConfig)
	}
	gc := opts.Gossip.Config()
	if ra := TopicParams(cfg).RejectAge(gc.Heartbeat); ra > gc.SeenTTL {
		return nil, fmt.Errorf("%w: MaxAge and MaxSkew give the ledger topics a reject age of %s, above gossip's SeenTTL %s", ErrConfig, ra, gc.SeenTTL)
	}
	raw, err := opts.Identity.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Options.Identity: %v", ErrConfig, err)
	}
	key := ed25519.PrivateKey(raw)
	self, err := peer.IDFromPrivateKey(opts.Identity)
	if err != nil {
		return nil, fmt.Errorf("%w: Options.Identity: %w", ErrConfig, err)
	}
	st, l, err := ledgerstore.Open(ctx, opts.Store, opts.Genesis)
	if err != nil {
		return nil, err
	}
	// What the validators check, the Node does not check again.
	sigs := token.NewSigCache(sigCacheSize)
	l.SetSigCache(sigs)
	acct := token.AccountOf(key.Public().(ed25519.PublicKey))
	nc := cfg.Node
	if len(nc.ResendSalt) == 0 {
		// Each node re-sends at its own point of a wait (Trickle).
		nc.ResendSalt = acct[:]
	}
	node, err := token.NewNode(nc, l, []ed25519.PrivateKey{key})
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, g: opts.Gossip, self: self, key: key,
		acct: acct, sigs: sigs,
		node: node, st: st, wallet: token.NewWallet(l, key),
		changed:    make(chan struct{}),
		kick:       make(chan struct{}, 1),
		askKick:    make(chan struct{}, 1),
		askTimeout: askTimeout,
	}
	// Above any number published before a restart.
	s.seq = uint64(cfg.Clock.Now().UnixNano())
	return s, nil
}

// Account returns the node's account.
func (s *Service) Account() token.Account { return s.acct }

// Epoch returns the ledger's current epoch on the Service's clock.
func (s *Service) Epoch() uint64 { return s.cfg.Epoch(s.cfg.Clock.Now()) }

// Balance returns the state of the node's account (zero before it has a
// chain).
func (s *Service) Balance() token.AccountInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, _ := s.node.Ledger().Account(s.acct)
	return info
}

// View calls f with the ledger, under the Service's lock: f must not keep
// it or call the Service.
func (s *Service) View(f func(l *token.Ledger)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.node.Ledger())
}

// TryView calls f as View does if the Service's lock is free now, and
// reports whether it did: for observers that must not wait behind a busy
// node (the simulator's diagnostics).
func (s *Service) TryView(f func(l *token.Ledger)) bool {
	if !s.mu.TryLock() {
		return false
	}
	defer s.mu.Unlock()
	f(s.node.Ledger())
	return true
}

// Elections returns how many elections the node holds open.
func (s *Service) Elections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.Elections()
}

// Stats returns the validators' and the core's counters since New.
func (s *Service) Stats() Stats {
	st := s.counts.stats()
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	maps.Copy(st.GossipIgnored, s.gossipPast.GossipIgnored)
	for _, t := range s.statTopics {
		st.addGossip(t.Stats())
	}
	return st
}

// Wait returns once cond, called with the ledger under the lock, has
// returned true and the state it saw is durable (its records synced), or
// when ctx ends, Run ends (ErrNotRunning) or a write failed.
func (s *Service) Wait(ctx context.Context, cond func(l *token.Ledger) bool) error {
	var target uint64
	met := false
	for {
		s.mu.Lock()
		if !met && cond(s.node.Ledger()) {
			met, target = true, s.made
		}
		durable, ch, done, failed := s.durable, s.changed, s.done, s.failed
		s.mu.Unlock()
		if met && durable >= target {
			return nil
		}
		if failed != nil {
			return failed
		}
		select {
		case <-ch:
		case <-done:
			return ErrNotRunning
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitConfirmed returns when block h is confirmed here.
func (s *Service) WaitConfirmed(ctx context.Context, h token.Hash) error {
	return s.Wait(ctx, func(l *token.Ledger) bool { return l.Confirmed(h) })
}

// Send sends amount micro-credits from the node's account to account to,
// and returns the send's hash once it is persisted (synced) and handed to
// gossip.
func (s *Service) Send(ctx context.Context, to token.Account, amount uint64) (token.Hash, error) {
	var h token.Hash
	upto, err := s.step(func(now time.Time) (token.Effects, error) {
		if s.blocks == nil {
			return token.Effects{}, ErrNotRunning
		}
		b, err := s.wallet.Send(to, amount, s.cfg.Epoch(now))
		if err != nil {
			return token.Effects{}, err
		}
		h = b.Hash()
		eff, err := s.node.ProcessBlock(b, now)
		eff.Blocks = append([]token.Block{b}, eff.Blocks...)
		return eff, err
	})
	if err != nil {
		return token.Hash{}, fmt.Errorf("ledgersvc: send: %w", err)
	}
	if err := s.waitDurable(ctx, upto); err != nil {
		return token.Hash{}, fmt.Errorf("ledgersvc: send: %w", err)
	}
	return h, nil
}

// waitDurable returns once the first upto records are durable.
func (s *Service) waitDurable(ctx context.Context, upto uint64) error {
	for {
		s.mu.Lock()
		durable, ch, done, failed := s.durable, s.changed, s.done, s.failed
		s.mu.Unlock()
		switch {
		case durable >= upto:
			return nil
		case failed != nil:
			return failed
		}
		select {
		case <-ch:
		case <-done:
			return ErrNotRunning
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// step runs f on the Node under the lock and, with AutoReceive, receives
// the confirmed sends to this node's account. It queues the records made
// for the committer, and the blocks and votes to publish once those
// records are durable (so nothing goes out that a crash could take back),
// and returns how many records must be durable for this step's state.
func (s *Service) step(f func(now time.Time) (token.Effects, error)) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return 0, s.failed
	}
	now := s.cfg.Clock.Now()
	eff, err := f(now)
	for i := 0; i < len(eff.Confirmed) && s.cfg.AutoReceive; i++ {
		b, _ := s.node.Ledger().Block(eff.Confirmed[i])
		if b.Kind != token.KindSend || token.Account(b.Link) != s.acct {
			continue
		}
		s.receiveInto(&eff, s.wallet, eff.Confirmed[i], now)
	}
	s.queue = append(s.queue, eff.Records...)
	s.made += uint64(len(eff.Records))
	s.noteStaleLocked(eff.Stale)
	if len(eff.Blocks) > 0 || len(eff.Votes) > 0 {
		s.outbox = append(s.outbox, outbox{eff: token.Effects{Blocks: eff.Blocks, Votes: eff.Votes}, upto: s.made})
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return s.made, err
}

// commit is the committer: it writes the queued records in one synced
// batch, then publishes what waited for them, until ctx ends. While it
// syncs, messages go on being processed, and the next batch takes all
// their records (group commit). A failed write stops the Service: its
// ledger would be ahead of its store.
func (s *Service) commit(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		s.mu.Lock()
		recs, outs, made := s.queue, s.outbox, s.made
		s.queue, s.outbox = nil, nil
		s.mu.Unlock()
		if len(recs) > 0 {
			// A write once started finishes: Run's end must not turn into
			// a failed write.
			if err := s.st.Append(context.WithoutCancel(ctx), recs); err != nil {
				s.mu.Lock()
				s.failed = fmt.Errorf("ledgersvc: persist: %w", err)
				close(s.changed)
				s.changed = make(chan struct{})
				cancel := s.cancel
				s.mu.Unlock()
				if cancel != nil {
					cancel()
				}
				return
			}
		}
		s.mu.Lock()
		s.durable = made
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		// The votes of every step this commit covers go out together:
		// one batch per representative, not a message per vote.
		var pub token.Effects
		for _, o := range outs {
			pub.Blocks = append(pub.Blocks, o.eff.Blocks...)
			pub.Votes = append(pub.Votes, o.eff.Votes...)
		}
		s.publish(pub)
	}
}

// publish sends the effects' blocks, and their votes in batches, on their
// topics; the committer calls it.
func (s *Service) publish(eff token.Effects) {
	s.mu.Lock()
	ctx, blocks, votes := s.ctx, s.blocks, s.votes
	batches := s.node.Batch(eff.Votes)
	s.mu.Unlock()
	if ctx == nil {
		return
	}
	now := s.cfg.Clock.Now()
	for i := range eff.Blocks {
		s.seq++
		_ = blocks.Publish(ctx, &Message{Author: s.self, Seq: s.seq, Time: now, Block: &eff.Blocks[i]})
	}
	for i := range batches {
		s.seq++
		_ = votes.Publish(ctx, &Message{Author: s.self, Seq: s.seq, Time: now, Votes: &batches[i]})
	}
}

// TopicParams returns the gossip validator parameters of both ledger
// topics under cfg. They are Unordered: every block and vote counts, not
// only an author's latest, and a node's messages published one after the
// other (a committer's batch, a tick's re-sends) overtake each other on
// paths of different latencies; with gossip's seq rule a node that got a
// later one first ignored, and did not relay, every earlier one.
func TopicParams(cfg Config) gossip.TopicParams {
	return gossip.TopicParams{
		MaxSize:    MaxMessageSize,
		MaxSkew:    cfg.MaxSkew,
		MaxAge:     cfg.MaxAge,
		Rate:       cfg.Rate,
		Burst:      cfg.Burst,
		MaxAuthors: 100_000,
		Weight:     1,
		Unordered:  true,
	}
}

func (s *Service) topic(name string, check func(*Message, time.Time, bool) error) gossip.TopicConfig[*Message] {
	return gossip.TopicConfig[*Message]{
		Name:   name,
		Params: TopicParams(s.cfg),
		Encode: func(m *Message) ([]byte, error) { return m.Encode() },
		Decode: DecodeMessage,
		Header: func(m *Message) gossip.Header { return gossip.Header{Author: m.Author, Seq: m.Seq, Time: m.Time} },
		Check:  check,
	}
}

func (s *Service) reject(err error) error {
	s.counts.rejected.Add(1)
	return fmt.Errorf("%w: %w", gossip.ErrInvalid, err)
}

func (s *Service) ignore(r Reason, err error) error {
	s.counts.ignore(r)
	return fmt.Errorf("%w: %w", gossip.ErrIgnore, err)
}

// checkBlock is the blocks topic's validator: a forged or malformed block,
// or one that breaks the ledger's rules (over-spending, a receive of what
// is not this account's or was received, a frozen account) is rejected, so
// its sender loses score; the loser of a settled fork and a block dated
// ahead of this node's epoch are ignored; a block whose dependencies are
// missing passes (the Node keeps it until they come), unless it is dated
// more than MaxBackdate epochs back (backdate.go).
func (s *Service) checkBlock(m *Message, now time.Time, local bool) error {
	if m.Block == nil {
		return s.reject(errors.New("a vote on the blocks topic"))
	}
	if local {
		return nil
	}
	if e := s.cfg.Epoch(now); m.Block.Epoch > e+1 {
		return s.ignore(IgnoredFuture, fmt.Errorf("block of epoch %d at epoch %d", m.Block.Epoch, e))
	}
	// The signature outside the lock (the ledger's check below finds it
	// in the cache), so that validators check in parallel.
	if _, err := s.sigs.VerifyBlock(m.Block); err != nil {
		return s.reject(err)
	}
	s.mu.Lock()
	_, err := s.node.Ledger().Validate(*m.Block)
	s.mu.Unlock()
	switch {
	case errors.Is(err, token.ErrDuplicate):
		return nil
	case err == nil, errors.Is(err, token.ErrFork), errors.Is(err, token.ErrGap):
		return s.checkBackdate(m.Block, now)
	case errors.Is(err, token.ErrSettled):
		return s.ignore(IgnoredSettled, err)
	default:
		return s.reject(err)
	}
}

// checkVote is the votes topic's validator: a forged batch of votes is
// rejected; a batch by a representative without weight here is ignored.
func (s *Service) checkVote(m *Message, _ time.Time, local bool) error {
	if m.Votes == nil {
		return s.reject(errors.New("a block on the votes topic"))
	}
	if local {
		return nil
	}
	if err := s.sigs.VerifyBatch(m.Votes); err != nil {
		return s.reject(err)
	}
	s.mu.Lock()
	w := s.node.Ledger().Weight(m.Votes.Rep)
	s.mu.Unlock()
	if w == 0 {
		return s.ignore(IgnoredNoWeight, fmt.Errorf("votes by %s, without weight", m.Votes.Rep))
	}
	return nil
}

// Run joins the ledger's topics, resumes the open elections, calls ready
// and runs until ctx ends or a write fails.
func (s *Service) Run(ctx context.Context, ready func()) (err error) {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks, err := gossip.Join(s.g, s.topic(BlocksTopic, s.checkBlock))
	if err != nil {
		return fmt.Errorf("ledgersvc: join %s: %w", BlocksTopic, err)
	}
	defer func() { err = errors.Join(err, blocks.Close()) }()
	votes, err := gossip.Join(s.g, s.topic(VotesTopic, s.checkVote))
	if err != nil {
		return fmt.Errorf("ledgersvc: join %s: %w", VotesTopic, err)
	}
	defer func() { err = errors.Join(err, votes.Close()) }()
	done := make(chan struct{})
	s.mu.Lock()
	s.ctx, s.blocks, s.votes, s.cancel, s.done = ctx, blocks, votes, cancel, done
	s.mu.Unlock()
	s.statsMu.Lock()
	s.statTopics = []*gossip.Topic[*Message]{blocks, votes}
	s.statsMu.Unlock()
	var committer sync.WaitGroup
	committer.Go(func() { s.commit(ctx) })
	defer func() {
		cancel()
		committer.Wait()
		s.statsMu.Lock()
		if s.gossipPast.GossipIgnored == nil {
			s.gossipPast.GossipIgnored = map[gossip.Rule]uint64{}
		}
		s.gossipPast.addGossip(blocks.Stats(), votes.Stats())
		s.statTopics = nil
		s.statsMu.Unlock()
		s.mu.Lock()
		s.ctx, s.blocks, s.votes, s.cancel, s.done = nil, nil, nil, nil, nil
		// What was not written is not acknowledged; a restart rebuilds
		// the ledger from the store.
		s.queue, s.outbox = nil, nil
		s.mu.Unlock()
		close(done)
	}()
	handle := func(r gossip.Received[*Message]) {
		if r.Local {
			return
		}
		_, _ = s.step(func(now time.Time) (token.Effects, error) {
			var eff token.Effects
			var err error
			if r.Msg.Block != nil {
				eff, err = s.node.ProcessBlock(*r.Msg.Block, now)
			} else {
				eff, err = s.node.ProcessVoteBatch(*r.Msg.Votes, now)
			}
			s.counts.refuse(err)
			return eff, err
		})
	}
	bsub, err := blocks.Subscribe(handle)
	if err != nil {
		return fmt.Errorf("ledgersvc: subscribe: %w", err)
	}
	defer bsub.Close()
	vsub, err := votes.Subscribe(handle)
	if err != nil {
		return fmt.Errorf("ledgersvc: subscribe: %w", err)
	}
	defer vsub.Close()

	if _, err := s.step(func(now time.Time) (token.Effects, error) { return s.node.Resume(now), nil }); err != nil {
		return err
	}
	// Catch up with the peers on what was confirmed while this node was
	// away (sync.go), and serve their catch-ups.
	stopSync, err := s.startSync(ctx)
	if err != nil {
		return err
	}
	defer stopSync()
	if ready != nil {
		ready()
	}
	t := s.cfg.Clock.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			failed := s.failed
			s.mu.Unlock()
			return failed
		case <-t.C():
			if _, err := s.step(func(now time.Time) (token.Effects, error) { return s.node.Tick(now), nil }); err != nil {
				return err
			}
		}
	}
}

// Trace returns where account a's next block stands on this node
// (token.Node.Trace): a diagnostic for the simulator.
func (s *Service) Trace(a token.Account) token.AccountTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.Trace(a, s.cfg.Clock.Now())
}

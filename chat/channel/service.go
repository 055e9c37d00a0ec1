package channel

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
)

// SyncProtocol is the history sync protocol, /fog/chat/sync/1.0.0.
var SyncProtocol = p2p.MustProtocol("chat/sync", p2p.Version{Major: 1})

// Options are what New needs besides Config.
type Options struct {
	// Gossip carries the channels' topics; its host serves history sync.
	Gossip *gossip.Gossip
	// Store holds histories, rosters and channel keys (the node passes its
	// store's /chat datastore).
	Store datastore.Batching
	// Identity is the node's libp2p key (Ed25519), which signs its
	// messages.
	Identity crypto.PrivKey
	// ChatKey is the node's X25519 chat key, to which private channels'
	// keys are sealed; nil: this node cannot read private channels.
	ChatKey *ecdh.PrivateKey
	// Clock is the time source; nil means clock.Real().
	Clock clock.Clock
	// Rand is the source of keys and nonces; nil means crypto/rand.
	Rand io.Reader
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Posted, if set, is called with each new post stored here (from
	// gossip, from history sync, or this node's own), as subscribers get
	// it; it must not block (the node's event stream).
	Posted func(Post)
}

// Post is a post as a subscriber or History sees it.
type Post struct {
	ID      ID
	Channel string
	Author  peer.ID
	Seq     uint64
	Time    time.Time
	// Epoch is the key epoch of a private post, 0 on a public channel.
	Epoch uint32
	// Text is the post's text; nil if Readable is false (a private post
	// whose epoch key this node does not hold).
	Text     []byte
	Readable bool
	// Synced says the post came by history sync rather than gossip.
	Synced bool
}

// Service joins channels on gossip, publishes and stores posts, keeps
// private channels' rosters and keys, and reconciles histories with
// neighbours over SyncProtocol. It is safe for concurrent use.
type Service struct {
	cfg   Config
	opts  Options
	h     host.Host
	self  peer.ID
	hist  *history
	clock clock.Clock
	rand  io.Reader
	log   *slog.Logger
	srv   *p2p.Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	bgSem  chan struct{} // background syncs (MaxBackgroundSyncs)

	mu     sync.Mutex
	chans  map[string]*joined
	subs   map[*Subscription]struct{}
	closed bool
	once   sync.Once
	err    error
}

// joined is one joined channel.
type joined struct {
	name    string
	private bool
	creator peer.ID
	topic   *gossip.Topic[Message]

	mu       sync.Mutex
	seq      uint64
	rosters  map[uint32]rosterState
	latest   uint32 // highest roster epoch known (0: none)
	keys     map[uint32][KeySize]byte
	syncNext int
	// neighbours are the topic's peers at the last NeighbourCheck;
	// syncing those with a background sync under way, true if it is to
	// run once more when it ends.
	neighbours map[peer.ID]bool
	syncing    map[peer.ID]bool
	// pulls are the neighbours that showed messages this node lacks.
	pulls pulls
}

// topicOf returns the channel's topic, nil while it is being joined.
func (j *joined) topicOf() *gossip.Topic[Message] {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.topic
}

type rosterState struct {
	msg    Message
	roster Roster
}

// New starts the service: it serves SyncProtocol on the gossip host and
// prunes histories and syncs channels periodically until Close.
func New(cfg Config, opts Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case opts.Gossip == nil:
		return nil, fmt.Errorf("%w: Options.Gossip is nil", ErrConfig)
	case opts.Store == nil:
		return nil, fmt.Errorf("%w: Options.Store is nil", ErrConfig)
	case opts.Identity == nil:
		return nil, fmt.Errorf("%w: Options.Identity is nil", ErrConfig)
	case opts.ChatKey != nil && opts.ChatKey.Curve() != ecdh.X25519():
		return nil, fmt.Errorf("%w: Options.ChatKey is not an X25519 key", ErrConfig)
	}
	self, err := peer.IDFromPrivateKey(opts.Identity)
	if err != nil {
		return nil, fmt.Errorf("%w: Options.Identity: %v", ErrConfig, err)
	}
	h := opts.Gossip.Host()
	if self != h.ID() {
		return nil, fmt.Errorf("%w: Options.Identity is not the gossip host's key", ErrConfig)
	}
	s := &Service{
		cfg: cfg, opts: opts, h: h, self: self,
		hist:  &history{ds: opts.Store},
		clock: opts.Clock, rand: opts.Rand, log: opts.Logger,
		chans: map[string]*joined{},
		subs:  map[*Subscription]struct{}{},
		bgSem: make(chan struct{}, cfg.MaxBackgroundSyncs),
	}
	if s.clock == nil {
		s.clock = clock.Real()
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	lim := cfg.Server
	lim.Clock = s.clock
	lim.Refuse = func(st network.Stream) {
		s.log.Debug("channel: sync refused, busy", "peer", st.Conn().RemotePeer())
		_ = st.Reset()
	}
	if s.srv, err = SyncProtocol.Handle(h, lim, s.serve); err != nil {
		s.cancel()
		return nil, err
	}
	s.wg.Add(1)
	go s.loop()
	return s, nil
}

// now is the clock's time at millisecond precision, as messages carry it.
func (s *Service) now() time.Time { return time.UnixMilli(s.clock.Now().UnixMilli()) }

// Join joins a public channel.
func (s *Service) Join(ctx context.Context, name string) error {
	return s.join(ctx, name, false, "")
}

// JoinPrivate joins the private channel name created by creator. Its
// roster and keys arrive by gossip or history sync; until a roster that
// lists this node does, its posts are not readable here.
func (s *Service) JoinPrivate(ctx context.Context, name string, creator peer.ID) error {
	if creator == "" {
		return fmt.Errorf("channel: join %s: no creator", name)
	}
	return s.join(ctx, name, true, creator)
}

func (s *Service) join(ctx context.Context, name string, private bool, creator peer.ID) error {
	if !ValidName(name) {
		return fmt.Errorf("%w %q", ErrBadName, name)
	}
	j := &joined{name: name, private: private, creator: creator, rosters: map[uint32]rosterState{}, keys: map[uint32][KeySize]byte{},
		neighbours: map[peer.ID]bool{}, syncing: map[peer.ID]bool{}}
	if private {
		if err := s.load(ctx, j); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, ok := s.chans[name]; ok {
		s.mu.Unlock()
		return fmt.Errorf("channel: %s already joined", name)
	}
	s.chans[name] = j
	s.mu.Unlock()
	t, err := gossip.Join(s.opts.Gossip, s.topicConfig(j))
	if err == nil {
		j.mu.Lock()
		j.topic = t
		j.mu.Unlock()
		_, err = t.Subscribe(func(r gossip.Received[Message]) { s.receive(j, r.Msg, nil, false) })
		if err != nil {
			_ = t.Close()
		}
	}
	if err != nil {
		s.mu.Lock()
		delete(s.chans, name)
		s.mu.Unlock()
		return fmt.Errorf("channel: join %s: %w", name, err)
	}
	return nil
}

// load restores a private channel's rosters and keys from the store.
func (s *Service) load(ctx context.Context, j *joined) error {
	rs, err := s.hist.epochs(ctx, "roster", j.name)
	if err != nil {
		return err
	}
	for _, b := range rs {
		m, err := DecodeMessage(b)
		if err != nil || s.checkRoster(j, &m) != nil {
			continue // damaged or another creator's: the store is ours, but not worth failing for
		}
		r, _ := DecodeRoster(m.Body)
		j.addRoster(m, r)
	}
	ks, err := s.hist.epochs(ctx, "chankey", j.name)
	if err != nil {
		return err
	}
	for e, b := range ks {
		if len(b) == KeySize {
			j.keys[e] = [KeySize]byte(b)
		}
	}
	return nil
}

func (j *joined) addRoster(m Message, r Roster) {
	j.rosters[m.Epoch] = rosterState{msg: m, roster: r}
	j.latest = max(j.latest, m.Epoch)
}

// topicConfig is a channel's typed topic: the message codec, gossip's
// generic chain with Config.Topic, and the channel's own check.
func (s *Service) topicConfig(j *joined) gossip.TopicConfig[Message] {
	return gossip.TopicConfig[Message]{
		Name:   Topic(j.name),
		Params: s.cfg.Topic,
		Encode: EncodeMessage,
		Decode: DecodeMessage,
		Header: func(m Message) gossip.Header { return gossip.Header{Author: m.Author, Seq: m.Seq, Time: m.Time} },
		Check: func(m Message, _ time.Time, _ bool) error {
			err := s.admit(j, &m)
			if errors.Is(err, ErrStaleEpoch) || errors.Is(err, ErrNotMember) {
				// A relay whose roster lags may have seen it valid.
				return fmt.Errorf("%w: %w", gossip.ErrIgnore, err)
			}
			if err != nil {
				return fmt.Errorf("%w: %w", gossip.ErrInvalid, err)
			}
			return nil
		},
	}
}

// admit checks a message against the channel's rules, wherever it came
// from: the channel, the signature, the kind's limits and, on a private
// channel, the roster's author and epoch rules.
func (s *Service) admit(j *joined, m *Message) error {
	if m.Channel != j.name {
		return fmt.Errorf("%w: message of channel %q on %q", ErrMalformed, m.Channel, j.name)
	}
	if err := m.Verify(); err != nil {
		return err
	}
	switch m.Kind {
	case KindRoster:
		return s.checkRoster(j, m)
	case KindPost:
		if !j.private {
			if m.Epoch != 0 {
				return fmt.Errorf("%w: public post with epoch %d", ErrMalformed, m.Epoch)
			}
			if len(m.Body) > s.cfg.MaxBody {
				return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(m.Body), s.cfg.MaxBody)
			}
			return nil
		}
		if m.Epoch == 0 {
			return fmt.Errorf("%w: private post without epoch", ErrMalformed)
		}
		if n := len(m.Body) - postOverhead; n < 0 || n > s.cfg.MaxBody {
			return fmt.Errorf("%w: sealed post of %d bytes", ErrTooLarge, len(m.Body))
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if rs, ok := j.rosters[m.Epoch]; ok {
			if _, in := rs.roster.member(m.Author); !in {
				return fmt.Errorf("%w: %s is not on epoch %d's roster", ErrNotMember, m.Author, m.Epoch)
			}
		}
		if m.Epoch < j.latest {
			if next := j.rosters[j.latest]; next.msg.Time.Before(m.Time) {
				return fmt.Errorf("%w: post of epoch %d written after epoch %d began", ErrStaleEpoch, m.Epoch, j.latest)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: message kind %d", ErrMalformed, m.Kind)
}

// checkRoster checks a roster message: private channel, signed by the
// creator, a valid roster within MaxMembers listing the creator.
func (s *Service) checkRoster(j *joined, m *Message) error {
	switch {
	case !j.private:
		return fmt.Errorf("%w: roster on a public channel", ErrMalformed)
	case m.Author != j.creator:
		return fmt.Errorf("%w: roster by %s, the creator is %s", ErrNotMember, m.Author, j.creator)
	case m.Epoch == 0:
		return fmt.Errorf("%w: roster of epoch 0", ErrMalformed)
	}
	r, err := DecodeRoster(m.Body)
	if err != nil {
		return err
	}
	if len(r.Members) > s.cfg.MaxMembers {
		return fmt.Errorf("%w: roster of %d members, limit %d", ErrTooLarge, len(r.Members), s.cfg.MaxMembers)
	}
	if _, ok := r.member(j.creator); !ok {
		return fmt.Errorf("%w: roster does not list its creator", ErrMalformed)
	}
	return nil
}

// receive stores an admitted message (enc is its encoding, or nil),
// applies a roster, and delivers a new post to subscribers.
func (s *Service) receive(j *joined, m Message, enc []byte, synced bool) {
	if enc == nil {
		var err error
		if enc, err = EncodeMessage(m); err != nil {
			return
		}
	}
	id := ID(sha256Sum(enc))
	if m.Kind == KindRoster {
		s.applyRoster(j, m, enc)
	}
	isNew, err := s.hist.put(s.ctx, j.name, itemOf(&m, id), enc)
	if err != nil {
		s.log.Warn("channel: store message", "channel", j.name, "err", err)
		return
	}
	if isNew && m.Kind == KindPost {
		s.deliver(s.post(j, &m, id, synced))
	}
}

// applyRoster records a checked roster message and opens this node's key
// of its epoch if it is listed.
func (s *Service) applyRoster(j *joined, m Message, enc []byte) {
	r, err := DecodeRoster(m.Body)
	if err != nil {
		return
	}
	j.mu.Lock()
	_, known := j.rosters[m.Epoch]
	if !known {
		j.addRoster(m, r)
	}
	j.mu.Unlock()
	if known {
		return
	}
	if err := s.hist.putEpoch(s.ctx, "roster", j.name, m.Epoch, enc); err != nil {
		s.log.Warn("channel: store roster", "channel", j.name, "err", err)
	}
	key, err := r.OpenKey(j.name, m.Epoch, s.self, s.opts.ChatKey)
	if err != nil {
		return // not a member of this epoch
	}
	s.setKey(j, m.Epoch, key)
}

func (s *Service) setKey(j *joined, epoch uint32, key [KeySize]byte) {
	j.mu.Lock()
	j.keys[epoch] = key
	j.mu.Unlock()
	if err := s.hist.putEpoch(s.ctx, "chankey", j.name, epoch, key[:]); err != nil {
		s.log.Warn("channel: store key", "channel", j.name, "err", err)
	}
}

// post makes the subscriber's view of a post, opening a private one if
// the epoch's key is held.
func (s *Service) post(j *joined, m *Message, id ID, synced bool) Post {
	p := Post{ID: id, Channel: m.Channel, Author: m.Author, Seq: m.Seq, Time: m.Time, Epoch: m.Epoch, Synced: synced}
	if !j.private {
		p.Text, p.Readable = m.Body, true
		return p
	}
	j.mu.Lock()
	key, ok := j.keys[m.Epoch]
	j.mu.Unlock()
	if ok {
		if text, err := openPost(m, key); err == nil {
			p.Text, p.Readable = text, true
		}
	}
	return p
}

func (s *Service) channel(name string) (*joined, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	j, ok := s.chans[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotJoined, name)
	}
	return j, nil
}

// nextSeq returns the next sequence number of our messages in j: above
// the last one and at least the clock in microseconds, so it grows across
// restarts too.
func (j *joined) nextSeq(now time.Time) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq = max(j.seq+1, uint64(now.UnixMicro()))
	return j.seq
}

// Post publishes text on a joined channel (sealed under the current
// epoch's key on a private one) and stores it.
func (s *Service) Post(ctx context.Context, name string, text []byte) (ID, error) {
	j, err := s.channel(name)
	if err != nil {
		return ID{}, err
	}
	if len(text) > s.cfg.MaxBody {
		return ID{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(text), s.cfg.MaxBody)
	}
	now := s.now()
	m := Message{Kind: KindPost, Channel: name, Author: s.self, Seq: j.nextSeq(now), Time: now, Body: text}
	if j.private {
		j.mu.Lock()
		epoch := j.latest
		key, ok := j.keys[epoch]
		j.mu.Unlock()
		if epoch == 0 || !ok {
			return ID{}, fmt.Errorf("%w: %s epoch %d", ErrNoKey, name, epoch)
		}
		m.Epoch = epoch
		if err := sealPost(&m, key, text, s.rand); err != nil {
			return ID{}, err
		}
	}
	return s.publish(ctx, j, m)
}

func (s *Service) publish(ctx context.Context, j *joined, m Message) (ID, error) {
	if err := m.Sign(s.opts.Identity); err != nil {
		return ID{}, err
	}
	enc, err := EncodeMessage(m)
	if err != nil {
		return ID{}, err
	}
	// Stored before it leaves: a message this node cannot store (its disk
	// is full) is refused, rather than sent while missing from its own
	// history; one the topic refuses (over the rate) is taken back out,
	// so that sync does not spread it later.
	id := ID(sha256Sum(enc))
	if m.Kind == KindRoster {
		s.applyRoster(j, m, enc)
	}
	it := itemOf(&m, id)
	isNew, err := s.hist.put(s.ctx, j.name, it, enc)
	if err != nil {
		return ID{}, fmt.Errorf("channel: post to %s: %w", j.name, err)
	}
	if err := j.topic.Publish(ctx, m); err != nil {
		if isNew {
			if rerr := s.hist.remove(s.ctx, j.name, it); rerr != nil {
				s.log.Warn("channel: take back a refused message", "channel", j.name, "err", rerr)
			}
		}
		return ID{}, fmt.Errorf("channel: post to %s: %w", j.name, err)
	}
	if isNew && m.Kind == KindPost {
		s.deliver(s.post(j, &m, id, false))
	}
	return id, nil
}

// Create joins a new private channel name as its creator and publishes
// its first roster (epoch 1): members, and this node, with a fresh channel
// key sealed to each.
func (s *Service) Create(ctx context.Context, name string, members []Member) error {
	if err := s.JoinPrivate(ctx, name, s.self); err != nil {
		return err
	}
	return s.SetMembers(ctx, name, members)
}

// SetMembers replaces a private channel's roster (this node must be its
// creator): a new key epoch begins with a fresh channel key sealed to the
// new members only, so a removed member cannot read what follows. This
// node is added to members if missing.
func (s *Service) SetMembers(ctx context.Context, name string, members []Member) error {
	j, err := s.channel(name)
	if err != nil {
		return err
	}
	if !j.private || j.creator != s.self {
		return fmt.Errorf("%w: %s was not created by this node", ErrNotMember, name)
	}
	if s.opts.ChatKey == nil {
		return fmt.Errorf("%w: Options.ChatKey is nil", ErrConfig)
	}
	ms := slices.Clone(members)
	if !slices.ContainsFunc(ms, func(m Member) bool { return m.Peer == s.self }) {
		ms = append(ms, Member{Peer: s.self, ChatKey: s.opts.ChatKey.PublicKey()})
	}
	if len(ms) > s.cfg.MaxMembers {
		return fmt.Errorf("%w: %d members, limit %d", ErrTooLarge, len(ms), s.cfg.MaxMembers)
	}
	var key [KeySize]byte
	if _, err := io.ReadFull(s.rand, key[:]); err != nil {
		return fmt.Errorf("channel: new key: %w", err)
	}
	j.mu.Lock()
	epoch := j.latest + 1
	j.mu.Unlock()
	body, err := SealRoster(name, epoch, ms, key, s.rand)
	if err != nil {
		return err
	}
	now := s.now()
	m := Message{Kind: KindRoster, Channel: name, Author: s.self, Seq: j.nextSeq(now), Time: now, Epoch: epoch, Body: body}
	s.setKey(j, epoch, key)
	_, err = s.publish(ctx, j, m)
	return err
}

// Leave leaves a channel; its history stays in the store.
func (s *Service) Leave(name string) error {
	s.mu.Lock()
	j, ok := s.chans[name]
	delete(s.chans, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotJoined, name)
	}
	return j.topic.Close()
}

// History returns up to limit of a joined channel's newest posts, oldest
// first.
func (s *Service) History(ctx context.Context, name string, limit int) ([]Post, error) {
	j, err := s.channel(name)
	if err != nil {
		return nil, err
	}
	encs, err := s.hist.latest(ctx, name, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Post, 0, len(encs))
	for _, enc := range encs {
		m, err := DecodeMessage(enc)
		if err != nil || m.Kind != KindPost {
			continue
		}
		out = append(out, s.post(j, &m, ID(sha256Sum(enc)), false))
	}
	return out, nil
}

// IDs returns the IDs of every message (posts and rosters) held for a
// joined channel, in time order: what history sync reconciles.
func (s *Service) IDs(ctx context.Context, name string) ([]ID, error) {
	if _, err := s.channel(name); err != nil {
		return nil, err
	}
	items, err := s.hist.items(ctx, name)
	if err != nil {
		return nil, err
	}
	ids := make([]ID, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids, nil
}

// Subscription delivers new posts of every joined channel.
type Subscription struct {
	s       *Service
	c       chan Post
	dropped atomic.Uint64
	once    sync.Once
}

// Subscribe returns a subscription to new posts, from gossip and from
// history sync. A subscriber more than Config.SubscriptionBuffer posts
// behind loses the excess (counted by Dropped).
func (s *Service) Subscribe() (*Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	sub := &Subscription{s: s, c: make(chan Post, s.cfg.SubscriptionBuffer)}
	s.subs[sub] = struct{}{}
	return sub, nil
}

// C returns the channel posts arrive on; it is closed by Close (of the
// subscription or the service).
func (sub *Subscription) C() <-chan Post { return sub.c }

// Dropped returns how many posts were dropped for a full buffer.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close ends the subscription. It is idempotent.
func (sub *Subscription) Close() error {
	sub.s.mu.Lock()
	defer sub.s.mu.Unlock()
	sub.closeLocked()
	return nil
}

func (sub *Subscription) closeLocked() {
	sub.once.Do(func() {
		delete(sub.s.subs, sub)
		close(sub.c)
	})
}

func (s *Service) deliver(p Post) {
	if s.opts.Posted != nil {
		s.opts.Posted(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		select {
		case sub.c <- p:
		default:
			sub.dropped.Add(1)
		}
	}
}

// loop prunes histories, runs periodic syncs and watches for new
// neighbours until Close.
func (s *Service) loop() {
	defer s.wg.Done()
	prune := s.clock.NewTimer(s.cfg.PruneInterval)
	defer prune.Stop()
	never := make(chan time.Time)
	syncC, checkC := (<-chan time.Time)(never), (<-chan time.Time)(never)
	var syncT, checkT clock.Timer
	if s.cfg.SyncInterval > 0 {
		syncT = s.clock.NewTimer(s.cfg.SyncInterval)
		defer syncT.Stop()
		syncC = syncT.C()
	}
	if s.cfg.NeighbourCheck > 0 {
		checkT = s.clock.NewTimer(s.cfg.NeighbourCheck)
		defer checkT.Stop()
		checkC = checkT.C()
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-prune.C():
			s.pruneAll()
			prune.Reset(s.cfg.PruneInterval)
		case <-syncC:
			s.syncRound()
			syncT.Reset(s.cfg.SyncInterval)
		case <-checkC:
			s.checkNeighbours()
			checkT.Reset(s.cfg.NeighbourCheck)
		}
	}
}

func (s *Service) joinedList() []*joined {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*joined, 0, len(s.chans))
	for _, j := range s.chans {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b *joined) int { return cmpString(a.name, b.name) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Service) pruneAll() {
	now := s.clock.Now()
	for _, j := range s.joinedList() {
		if _, err := s.hist.prune(s.ctx, j.name, now, s.cfg.HistoryCount, s.cfg.HistoryAge); err != nil {
			s.log.Warn("channel: prune", "channel", j.name, "err", err)
		}
	}
}

// syncRound syncs each joined channel with the next of its neighbours.
func (s *Service) syncRound() {
	for _, j := range s.joinedList() {
		t := j.topicOf()
		if t == nil {
			continue
		}
		peers := t.Peers()
		if len(peers) == 0 {
			continue
		}
		slices.Sort(peers)
		j.mu.Lock()
		p := peers[j.syncNext%len(peers)]
		j.syncNext++
		j.mu.Unlock()
		st, err := s.syncChannel(s.ctx, p, j)
		s.log.Debug("channel: periodic sync", "channel", j.name, "peer", p, "need", st.Need, "stored", st.Stored, "err", err)
	}
}

// Close leaves every channel, stops serving sync and waits for the
// service's goroutines. It is idempotent and returns the first error.
func (s *Service) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		chans := s.chans
		s.chans = map[string]*joined{}
		for sub := range s.subs {
			sub.closeLocked()
		}
		s.mu.Unlock()
		SyncProtocol.Unhandle(s.h)
		s.cancel()
		s.wg.Wait()
		for _, j := range chans {
			if err := j.topic.Close(); err != nil && s.err == nil {
				s.err = err
			}
		}
	})
	return s.err
}

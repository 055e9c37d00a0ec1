package gossip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TopicConfig describes one typed topic: its name, validator parameters
// and how its messages are encoded, decoded and checked.
type TopicConfig[T any] struct {
	// Name is the gossipsub topic, by convention /fog/<name>/<major>.
	Name string
	// Params are the validator and score parameters; every node of a
	// network must use the same.
	Params TopicParams
	// Encode and Decode convert a message to and from its one wire form.
	// Decode must reject (not panic on) any input it did not produce, and
	// must not return a message whose Header it cannot vouch for.
	Encode func(T) ([]byte, error)
	Decode func([]byte) (T, error)
	// Header extracts the claimed author, sequence and timestamp.
	Header func(T) Header
	// Check, if set, runs after the generic stateless rules (size, decode,
	// author, time) and before seq and rate; it is given the validation
	// time and whether the message is this node's own publish. An error
	// rejects the message, or ignores it if it wraps ErrIgnore. It runs on
	// pubsub's validation workers: keep it fast.
	Check func(msg T, now time.Time, local bool) error
}

// Topic is a joined topic carrying messages of type T. It is safe for
// concurrent use. Every message it delivers has passed the topic's
// validator chain (see chain) after pubsub verified its signature.
type Topic[T any] struct {
	g     *Gossip
	cfg   TopicConfig[T]
	t     *pubsub.Topic
	chain *chain[T]

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // subscription goroutines

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	once   sync.Once
	err    error
}

// Received is a validated message delivered to a subscriber.
type Received[T any] struct {
	// Msg is the decoded message.
	Msg T
	// ID is the gossipsub message ID (MsgID: 32 raw bytes).
	ID string
	// From is the author: the signer of the envelope, equal to the
	// author the message claims.
	From peer.ID
	// Via is the neighbour that delivered it to us (our own ID for a
	// message we published).
	Via peer.ID
	// Local says we published it ourselves.
	Local bool
	// At is when it was delivered.
	At time.Time
}

// Join joins a topic on g and installs its validator chain. A topic can be
// joined once per Gossip; Close leaves it.
func Join[T any](g *Gossip, cfg TopicConfig[T]) (*Topic[T], error) {
	switch {
	case cfg.Name == "":
		return nil, fmt.Errorf("%w: topic name is empty", ErrConfig)
	case cfg.Encode == nil || cfg.Decode == nil || cfg.Header == nil:
		return nil, fmt.Errorf("%w: topic %s: encode, decode and header are required", ErrConfig, cfg.Name)
	}
	if err := cfg.Params.validate(cfg.Name, g.cfg); err != nil {
		return nil, err
	}
	t := &Topic[T]{
		g:     g,
		cfg:   cfg,
		chain: newChain(cfg.Params, g.cfg.Heartbeat, cfg.Decode, cfg.Header, cfg.Check, g.now),
		subs:  map[*Subscription]struct{}{},
	}
	if err := g.addTopic(cfg.Name, t); err != nil {
		return nil, err
	}
	t.ctx, t.cancel = context.WithCancel(g.ctx)
	ok := false
	defer func() {
		if !ok {
			t.cancel()
			g.removeTopic(cfg.Name)
		}
	}()
	if err := g.ps.RegisterTopicValidator(cfg.Name, t.validate, pubsub.WithValidatorInline(true)); err != nil {
		return nil, fmt.Errorf("gossip: topic %s: register validator: %w", cfg.Name, err)
	}
	pt, err := g.ps.Join(cfg.Name)
	if err != nil {
		_ = g.ps.UnregisterTopicValidator(cfg.Name)
		return nil, fmt.Errorf("gossip: join %s: %w", cfg.Name, err)
	}
	if err := pt.SetScoreParams(g.cfg.Score.topicParams(cfg.Params)); err != nil {
		_ = pt.Close()
		_ = g.ps.UnregisterTopicValidator(cfg.Name)
		return nil, fmt.Errorf("gossip: topic %s: score params: %w", cfg.Name, err)
	}
	t.t = pt
	ok = true
	return t, nil
}

// publishCarrier rides in ValidatorData of a local publish so the validator
// can report why it refused our own message.
type publishCarrier struct{ err error }

// validate is the pubsub.ValidatorEx of the topic.
func (t *Topic[T]) validate(_ context.Context, src peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	carrier, _ := m.ValidatorData.(*publishCarrier)
	msg, rerr := t.chain.run(src, peer.ID(m.GetFrom()), m.GetData(), carrier != nil)
	if rerr != nil {
		if carrier != nil {
			carrier.err = rerr
		}
		if rerr.Verdict == Reject {
			return pubsub.ValidationReject
		}
		return pubsub.ValidationIgnore
	}
	m.ValidatorData = msg
	return pubsub.ValidationAccept
}

// Name returns the topic's name.
func (t *Topic[T]) Name() string { return t.cfg.Name }

// Publish encodes msg, signs it with the node's key and publishes it. Our
// own message runs through the same validator chain first; if the chain
// refuses it, Publish returns the *RuleError (wrapping the rule's
// sentinel) and nothing is sent.
func (t *Topic[T]) Publish(ctx context.Context, msg T) error {
	if t.isClosed() {
		return ErrClosed
	}
	data, err := t.cfg.Encode(msg)
	if err != nil {
		return fmt.Errorf("gossip: %s: encode: %w", t.cfg.Name, err)
	}
	if len(data) > t.cfg.Params.MaxSize {
		return fmt.Errorf("gossip: %s: %w: %d bytes, limit %d", t.cfg.Name, ErrTooLarge, len(data), t.cfg.Params.MaxSize)
	}
	c := &publishCarrier{}
	if err := t.t.Publish(ctx, data, pubsub.WithValidatorData(c)); err != nil {
		if c.err != nil {
			return fmt.Errorf("gossip: %s: publish: %w", t.cfg.Name, c.err)
		}
		if errors.Is(err, pubsub.ErrTopicClosed) {
			return ErrClosed
		}
		return fmt.Errorf("gossip: %s: publish: %w", t.cfg.Name, err)
	}
	return nil
}

// Subscribe calls handler with every validated message of the topic, ours
// included, one at a time on a goroutine owned by the topic, until the
// returned Subscription or the topic is closed. A handler slower than the
// message rate loses messages beyond Config.SubscriptionBuffer (counted in
// Stats.Undeliverable).
func (t *Topic[T]) Subscribe(handler func(Received[T])) (*Subscription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	ps, err := t.t.Subscribe(pubsub.WithBufferSize(t.g.cfg.SubscriptionBuffer))
	if err != nil {
		return nil, fmt.Errorf("gossip: subscribe %s: %w", t.cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(t.ctx)
	s := &Subscription{sub: ps, cancel: cancel, done: make(chan struct{})}
	s.remove = func() {
		t.mu.Lock()
		delete(t.subs, s)
		t.mu.Unlock()
	}
	t.subs[s] = struct{}{}
	self := t.g.h.ID()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(s.done)
		for {
			m, err := ps.Next(ctx)
			if err != nil {
				return
			}
			msg, ok := m.ValidatorData.(T)
			if !ok { // cannot happen: every delivered message was validated
				continue
			}
			handler(Received[T]{
				Msg:   msg,
				ID:    m.ID,
				From:  peer.ID(m.GetFrom()),
				Via:   m.ReceivedFrom,
				Local: m.ReceivedFrom == self,
				At:    t.g.now(),
			})
		}
	}()
	return s, nil
}

// Peers returns the connected peers subscribed to the topic.
func (t *Topic[T]) Peers() []peer.ID { return t.t.ListPeers() }

// Stats returns the validator chain's counters.
func (t *Topic[T]) Stats() TopicStats { return t.chain.counts.snapshot() }

// Close cancels the topic's subscriptions, waits for their handlers to
// return, and leaves the topic. It is idempotent. It must not be called
// from a handler of the topic.
func (t *Topic[T]) Close() error {
	t.once.Do(func() {
		t.mu.Lock()
		t.closed = true
		subs := make([]*Subscription, 0, len(t.subs))
		for s := range t.subs {
			subs = append(subs, s)
		}
		t.mu.Unlock()
		for _, s := range subs {
			s.stop()
		}
		t.cancel()
		t.wg.Wait()
		if t.g.ctx.Err() == nil { // pubsub still running: leave cleanly
			if err := t.t.Close(); err != nil {
				t.err = fmt.Errorf("gossip: close %s: %w", t.cfg.Name, err)
			}
			if err := t.g.ps.UnregisterTopicValidator(t.cfg.Name); err != nil && t.err == nil {
				t.err = fmt.Errorf("gossip: close %s: %w", t.cfg.Name, err)
			}
		}
		t.g.removeTopic(t.cfg.Name)
	})
	return t.err
}

func (t *Topic[T]) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Subscription is one handler subscribed to a topic.
type Subscription struct {
	sub    *pubsub.Subscription
	cancel context.CancelFunc
	done   chan struct{}
	remove func()
	once   sync.Once
}

// Close stops delivering messages to the handler. It is idempotent and may
// be called from the handler itself; Done tells when the handler has
// returned for the last time.
func (s *Subscription) Close() error {
	s.stop()
	return nil
}

func (s *Subscription) stop() {
	s.once.Do(func() {
		s.cancel()
		s.sub.Cancel()
		s.remove()
	})
}

// Done is closed once the subscription's goroutine has exited.
func (s *Subscription) Done() <-chan struct{} { return s.done }

package events

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// ErrConfig means a Config is invalid.
var ErrConfig = errors.New("events: invalid config")

// Dropped is the type of the event that tells a subscriber how many events
// it lost because its buffer was full. It passes every filter.
const Dropped = "dropped"

// Event is one thing that happened on the node. Type is "<category>.<what>"
// (peer.connected, task.state); Data is the event's details, encoded as
// JSON under "data".
type Event struct {
	// Seq numbers the bus's events from 1 in publishing order; a
	// subscriber sees gaps only where it dropped events.
	Seq  uint64    `json:"seq"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	Data any       `json:"data,omitempty"`
}

// Category is the part of the event's type before the first dot ("peer"
// for "peer.connected").
func (e Event) Category() string {
	c, _, _ := strings.Cut(e.Type, ".")
	return c
}

// DroppedData is the data of a Dropped event.
type DroppedData struct {
	// Count is how many events the subscriber lost since the last
	// event it received.
	Count uint64 `json:"count"`
}

// Config configures a Bus.
type Config struct {
	// Buffer is how many events each subscriber may fall behind before it
	// drops them. 256 covers a burst of a few hundred tasks or peers
	// changing at once while an HTTP client is briefly slow.
	Buffer int
	// MaxSubscribers bounds the subscriptions held at once (each costs a
	// buffer); Subscribe refuses more. 64: a handful of dashboards and
	// `fog events` clients.
	MaxSubscribers int
	// Clock stamps the events.
	Clock clock.Clock
}

// DefaultConfig returns the defaults above, on the real clock.
func DefaultConfig() Config {
	return Config{Buffer: 256, MaxSubscribers: 64, Clock: clock.Real()}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Buffer < 1:
		return fmt.Errorf("%w: Buffer %d must be positive", ErrConfig, c.Buffer)
	case c.MaxSubscribers < 1:
		return fmt.Errorf("%w: MaxSubscribers %d must be positive", ErrConfig, c.MaxSubscribers)
	case c.Clock == nil:
		return fmt.Errorf("%w: Clock is nil", ErrConfig)
	}
	return nil
}

// ErrTooMany means the bus holds Config.MaxSubscribers subscriptions.
var ErrTooMany = errors.New("events: too many subscribers")

// ErrClosed means the bus is closed.
var ErrClosed = errors.New("events: bus closed")

// Bus fans events out to its subscribers.
type Bus struct {
	cfg Config

	mu      sync.Mutex
	seq     uint64
	subs    map[*Subscription]struct{}
	closed  bool
	dropped uint64
}

// New returns a bus.
func New(cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Bus{cfg: cfg, subs: map[*Subscription]struct{}{}}, nil
}

// Publish sends an event of type typ with data to every subscriber whose
// filter takes it, without blocking: a subscriber whose buffer is full
// counts it as dropped.
func (b *Bus) Publish(typ string, data any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.seq++
	ev := Event{Seq: b.seq, Type: typ, Time: b.cfg.Clock.Now().UTC(), Data: data}
	cat := ev.Category()
	for s := range b.subs {
		if s.wants(cat) {
			b.deliverLocked(s, ev)
		}
	}
}

// deliverLocked hands ev to s: first the count of what s dropped, if any,
// then ev, or counts ev as dropped too.
func (b *Bus) deliverLocked(s *Subscription, ev Event) {
	if s.dropped > 0 {
		d := Event{Seq: ev.Seq, Type: Dropped, Time: ev.Time, Data: DroppedData{Count: s.dropped}}
		select {
		case s.ch <- d:
			s.dropped = 0
		default:
			s.dropped++
			b.dropped++
			return
		}
	}
	select {
	case s.ch <- ev:
	default:
		s.dropped++
		b.dropped++
	}
}

// Dropped returns how many events all subscribers lost in all.
func (b *Bus) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Subscribers returns how many subscriptions are open.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Subscribe returns a subscription to the events whose category is one of
// categories (all events if there are none). The caller reads C and must
// Close the subscription.
func (b *Bus) Subscribe(categories ...string) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, ErrClosed
	case len(b.subs) >= b.cfg.MaxSubscribers:
		return nil, fmt.Errorf("%w (%d)", ErrTooMany, b.cfg.MaxSubscribers)
	}
	ch := make(chan Event, b.cfg.Buffer)
	s := &Subscription{C: ch, ch: ch, bus: b}
	if len(categories) > 0 {
		s.cats = map[string]bool{}
		for _, c := range categories {
			s.cats[c] = true
		}
	}
	b.subs[s] = struct{}{}
	return s, nil
}

// Close ends every subscription (closing their channels); later
// Publishes do nothing and Subscribe fails.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
}

// Subscription receives a bus's events on C, which is closed when the
// subscription or the bus is closed.
type Subscription struct {
	// C delivers the events, oldest first.
	C <-chan Event

	ch      chan Event
	bus     *Bus
	cats    map[string]bool // nil: every category
	dropped uint64          // under bus.mu
}

func (s *Subscription) wants(cat string) bool { return s.cats == nil || s.cats[cat] }

// Close ends the subscription; it is idempotent.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

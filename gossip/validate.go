package gossip

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Header is what the generic validator chain reads from a decoded message.
type Header struct {
	// Author is the node the message claims to come from. It must be the
	// node whose key signed the gossipsub envelope.
	Author peer.ID
	// Seq must grow with every message of the author on the topic.
	Seq uint64
	// Time is when the author made the message, by its clock.
	Time time.Time
}

// chain is one topic's validator chain. Its rules run in this order:
//
//  1. size   len(data) ≤ MaxSize                           else Reject
//  2. decode the topic's decoder accepts the data          else Reject
//  3. author claimed author == envelope signer             else Reject
//  4. time   t ≤ now+MaxSkew and now−t ≤ MaxAge            else Ignore, or
//     Reject beyond now+2·MaxSkew or RejectAge (no honest relay forwards it)
//  5. topic  the topic's own check                         else Reject (Ignore if it says so)
//  6. seq    Seq > last accepted Seq of the author         else Ignore
//     (skipped on an Unordered topic)
//  7. rate   the author's token bucket has a token         else Reject if the
//     author itself sent it to us, Ignore if a relay did
//
// The stateless rules (1–5) run before the stateful ones, so a message that
// fails them consumes neither a sequence number nor a token; seq and rate
// are checked and committed together under one lock. The envelope signature
// has already been verified by pubsub when the chain runs, and it is the
// only signature check: adverts carry no second signature.
type chain[T any] struct {
	params    TopicParams
	rejectAge time.Duration
	decode    func([]byte) (T, error)
	header    func(T) Header
	check     func(T, time.Time, bool) error
	now       func() time.Time
	authors   *authorBook
	counts    ruleCounts
}

func newChain[T any](p TopicParams, heartbeat time.Duration, decode func([]byte) (T, error),
	header func(T) Header, check func(T, time.Time, bool) error, now func() time.Time) *chain[T] {
	ra := p.RejectAge(heartbeat)
	return &chain[T]{
		params:    p,
		rejectAge: ra,
		decode:    decode,
		header:    header,
		check:     check,
		now:       now,
		authors:   newAuthorBook(p.MaxAuthors, ra),
	}
}

// run validates data signed by from and received from src (local: our own
// publish). On success it returns the decoded message and a nil error;
// otherwise a *RuleError with the verdict.
func (c *chain[T]) run(src, from peer.ID, data []byte, local bool) (T, *RuleError) {
	var zero T
	if len(data) > c.params.MaxSize {
		return zero, c.fail(RuleSize, Reject, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), c.params.MaxSize))
	}
	msg, err := c.decode(data)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			err = fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return zero, c.fail(RuleDecode, Reject, err)
	}
	h := c.header(msg)
	if h.Author != from {
		return zero, c.fail(RuleAuthor, Reject, fmt.Errorf("%w: claims %s, signed by %s", ErrWrongAuthor, h.Author, from))
	}
	now := c.now()
	skew := c.params.MaxSkew
	if ahead := h.Time.Sub(now); ahead > skew {
		v := Ignore
		if ahead > 2*skew {
			v = Reject
		}
		return zero, c.fail(RuleTime, v, fmt.Errorf("%w: %s ahead, allowed %s", ErrTooNew, ahead, skew))
	}
	if age := now.Sub(h.Time); age > c.params.MaxAge {
		v := Ignore
		if age > c.rejectAge {
			v = Reject
		}
		return zero, c.fail(RuleTime, v, fmt.Errorf("%w: %s old, allowed %s", ErrTooOld, age, c.params.MaxAge))
	}
	if c.check != nil {
		if err := c.check(msg, now, local); err != nil {
			v := Reject
			if errors.Is(err, ErrIgnore) {
				v = Ignore
			} else if !errors.Is(err, ErrInvalid) {
				err = fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			return zero, c.fail(RuleTopic, v, err)
		}
	}
	if rule, v, err := c.authors.admit(h.Author, h.Seq, now, src == from, c.params.Rate, c.params.Burst, c.params.Unordered); err != nil {
		return zero, c.fail(rule, v, err)
	}
	c.counts.accepted.Add(1)
	return msg, nil
}

func (c *chain[T]) fail(r Rule, v Verdict, err error) *RuleError {
	c.counts.add(r, v)
	return &RuleError{Rule: r, Verdict: v, Err: err}
}

// ruleCounts counts the chain's verdicts per rule.
type ruleCounts struct {
	accepted atomic.Uint64
	rejected [len(ruleIndex)]atomic.Uint64
	ignored  [len(ruleIndex)]atomic.Uint64
}

var ruleIndex = [...]Rule{RuleSize, RuleDecode, RuleAuthor, RuleTime, RuleTopic, RuleSeq, RuleRate}

func (rc *ruleCounts) add(r Rule, v Verdict) {
	for i, x := range ruleIndex {
		if x == r {
			if v == Reject {
				rc.rejected[i].Add(1)
			} else {
				rc.ignored[i].Add(1)
			}
			return
		}
	}
}

// TopicStats counts what a topic's validator chain decided.
type TopicStats struct {
	// Accepted messages passed every rule (our own included).
	Accepted uint64 `json:"accepted"`
	// Rejected and Ignored count refusals per rule.
	Rejected map[Rule]uint64 `json:"rejected"`
	Ignored  map[Rule]uint64 `json:"ignored"`
}

func (rc *ruleCounts) snapshot() TopicStats {
	s := TopicStats{Accepted: rc.accepted.Load(), Rejected: map[Rule]uint64{}, Ignored: map[Rule]uint64{}}
	for i, r := range ruleIndex {
		if n := rc.rejected[i].Load(); n > 0 {
			s.Rejected[r] = n
		}
		if n := rc.ignored[i].Load(); n > 0 {
			s.Ignored[r] = n
		}
	}
	return s
}

// authorBook keeps, per author, the last accepted sequence number and a
// token bucket. It holds at most max authors; an author not heard from for
// ttl (the topic's RejectAge, after which the time rule alone refuses its
// old messages) is forgotten first, then the least recently heard one.
type authorBook struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	m     map[peer.ID]*list.Element
	order *list.List // of *authorState, most recently heard first
}

type authorState struct {
	id     peer.ID
	seq    uint64
	tokens float64
	last   time.Time // last accepted message (bucket refill reference)
}

func newAuthorBook(max int, ttl time.Duration) *authorBook {
	return &authorBook{max: max, ttl: ttl, m: make(map[peer.ID]*list.Element), order: list.New()}
}

// admit applies the seq and rate rules to a message of author and, if both
// pass, records seq and takes a token. direct says the author itself sent
// the message to us; unordered skips the seq rule.
func (b *authorBook) admit(author peer.ID, seq uint64, now time.Time, direct bool, rate float64, burst int, unordered bool) (Rule, Verdict, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[author]
	if !ok {
		b.evict(now)
		st := &authorState{id: author, seq: seq, tokens: float64(burst) - 1, last: now}
		b.m[author] = b.order.PushFront(st)
		return "", Accept, nil
	}
	st := e.Value.(*authorState)
	if seq <= st.seq && !unordered {
		return RuleSeq, Ignore, fmt.Errorf("%w: %d, last %d", ErrStaleSeq, seq, st.seq)
	}
	tokens := st.tokens
	if dt := now.Sub(st.last); dt > 0 {
		tokens = min(float64(burst), tokens+dt.Seconds()*rate)
	}
	if tokens < 1 {
		v := Ignore
		if direct {
			v = Reject
		}
		return RuleRate, v, fmt.Errorf("%w: %g messages/s, burst %d", ErrRateLimited, rate, burst)
	}
	st.tokens, st.seq = tokens-1, max(st.seq, seq)
	if now.After(st.last) {
		st.last = now
	}
	b.order.MoveToFront(e)
	return "", Accept, nil
}

// evict makes room for one more author.
func (b *authorBook) evict(now time.Time) {
	for b.order.Len() >= b.max {
		back := b.order.Back()
		st := back.Value.(*authorState)
		b.order.Remove(back)
		delete(b.m, st.id)
	}
	// Drop authors silent for longer than ttl, a few at a time, so the
	// book shrinks when a network does.
	for range 4 {
		back := b.order.Back()
		if back == nil {
			return
		}
		st := back.Value.(*authorState)
		if now.Sub(st.last) <= b.ttl {
			return
		}
		b.order.Remove(back)
		delete(b.m, st.id)
	}
}

// len returns the number of authors held.
func (b *authorBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

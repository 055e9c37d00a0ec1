package gossip

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chainFixture is the capacity topic's chain on a settable clock.
type chainFixture struct {
	cfg    Config
	clock  *settableClock
	chain  *chain[Advert]
	author peer.ID // signs the adverts
	relay  peer.ID // forwards them
}

func newChainFixture(t *testing.T) *chainFixture {
	cfg := DefaultConfig()
	clk := newClock()
	tc := CapacityConfig(cfg)
	return &chainFixture{
		cfg:    cfg,
		clock:  clk,
		chain:  newChain(tc.Params, cfg.Heartbeat, tc.Decode, tc.Header, tc.Check, clk.Now),
		author: newPeerID(t),
		relay:  newPeerID(t),
	}
}

// TestChainRules is the validator table: each rule refuses what it should,
// with the verdict that decides whether the forwarder is penalised.
func TestChainRules(t *testing.T) {
	type step struct {
		src, from string // "author" or "relay" or "other"
		data      func(f *chainFixture) []byte
		advance   time.Duration // clock moves before this step
		rule      Rule          // "" means accepted
		verdict   Verdict
		err       error
	}
	adv := func(seq uint64, mod func(*Advert, *chainFixture)) func(f *chainFixture) []byte {
		return func(f *chainFixture) []byte {
			a := testAdvert(f.author, seq, f.clock.Now())
			if mod != nil {
				mod(&a, f)
			}
			b, err := EncodeAdvert(a)
			if err != nil {
				panic(err)
			}
			return b
		}
	}
	at := func(offset time.Duration) func(*Advert, *chainFixture) {
		return func(a *Advert, f *chainFixture) {
			a.Issued = time.UnixMilli(f.clock.Now().Add(offset).UnixMilli())
			a.Expires = a.Issued.Add(time.Minute)
		}
	}
	cfg := DefaultConfig()
	skew, maxAge := cfg.Capacity.MaxSkew, cfg.Capacity.MaxAge
	rejectAge := cfg.Capacity.RejectAge(cfg.Heartbeat)
	tests := []struct {
		name  string
		steps []step
	}{
		{"valid advert", []step{{src: "author", from: "author", data: adv(1, nil)}}},
		{"valid advert via relay", []step{{src: "relay", from: "author", data: adv(1, nil)}}},
		{"size: one byte over the limit", []step{{src: "relay", from: "author",
			data: func(*chainFixture) []byte { return make([]byte, cfg.Capacity.MaxSize+1) },
			rule: RuleSize, verdict: Reject, err: ErrTooLarge}}},
		{"decode: garbage", []step{{src: "author", from: "author",
			data: func(*chainFixture) []byte { return []byte("not an advert") },
			rule: RuleDecode, verdict: Reject, err: ErrMalformed}}},
		{"decode: truncated advert", []step{{src: "author", from: "author",
			data: func(f *chainFixture) []byte { b := adv(1, nil)(f); return b[:len(b)-3] },
			rule: RuleDecode, verdict: Reject, err: ErrMalformed}}},
		{"author: advert claims another node", []step{{src: "author", from: "other", data: adv(1, nil),
			rule: RuleAuthor, verdict: Reject, err: ErrWrongAuthor}}},
		{"time: within skew ahead", []step{{src: "author", from: "author", data: adv(1, at(skew))}}},
		{"time: ahead beyond skew is ignored", []step{{src: "relay", from: "author", data: adv(1, at(skew+time.Second)),
			rule: RuleTime, verdict: Ignore, err: ErrTooNew}}},
		{"time: ahead beyond twice the skew is rejected", []step{{src: "relay", from: "author", data: adv(1, at(2*skew+time.Second)),
			rule: RuleTime, verdict: Reject, err: ErrTooNew}}},
		{"time: as old as allowed", []step{{src: "relay", from: "author", data: adv(1, at(-maxAge))}}},
		{"time: older than max age is ignored", []step{{src: "relay", from: "author", data: adv(1, at(-maxAge-time.Second)),
			rule: RuleTime, verdict: Ignore, err: ErrTooOld}}},
		{"time: replay older than the reject age", []step{{src: "relay", from: "author", data: adv(1, at(-rejectAge-time.Second)),
			rule: RuleTime, verdict: Reject, err: ErrTooOld}}},
		{"topic: advert living longer than max ttl", []step{{src: "author", from: "author",
			data: adv(1, func(a *Advert, _ *chainFixture) { a.Expires = a.Issued.Add(cfg.Advert.MaxTTL + time.Second) }),
			rule: RuleTopic, verdict: Reject, err: ErrInvalid}}},
		{"seq: newer accepted", []step{
			{src: "author", from: "author", data: adv(5, nil)},
			{src: "relay", from: "author", data: adv(6, nil), advance: 3 * time.Second},
		}},
		{"seq: replay of the same seq", []step{
			{src: "author", from: "author", data: adv(5, nil)},
			{src: "relay", from: "author", data: adv(5, nil), advance: 3 * time.Second, rule: RuleSeq, verdict: Ignore, err: ErrStaleSeq},
		}},
		{"seq: older seq", []step{
			{src: "author", from: "author", data: adv(5, nil)},
			{src: "author", from: "author", data: adv(4, nil), advance: 3 * time.Second, rule: RuleSeq, verdict: Ignore, err: ErrStaleSeq},
		}},
		{"rate: author flooding directly is rejected", []step{
			{src: "author", from: "author", data: adv(1, nil)},
			{src: "author", from: "author", data: adv(2, nil)},
			{src: "author", from: "author", data: adv(3, nil)},
			{src: "author", from: "author", data: adv(4, nil), rule: RuleRate, verdict: Reject, err: ErrRateLimited},
		}},
		{"rate: relayed excess is ignored", []step{
			{src: "relay", from: "author", data: adv(1, nil)},
			{src: "relay", from: "author", data: adv(2, nil)},
			{src: "relay", from: "author", data: adv(3, nil)},
			{src: "relay", from: "author", data: adv(4, nil), rule: RuleRate, verdict: Ignore, err: ErrRateLimited},
		}},
		{"rate: tokens refill", []step{
			{src: "author", from: "author", data: adv(1, nil)},
			{src: "author", from: "author", data: adv(2, nil)},
			{src: "author", from: "author", data: adv(3, nil)},
			{src: "author", from: "author", data: adv(4, nil), advance: 2 * time.Second},
		}},
		{"rate: refused message does not consume its seq", []step{
			{src: "author", from: "author", data: adv(1, nil)},
			{src: "author", from: "author", data: adv(2, nil)},
			{src: "author", from: "author", data: adv(3, nil)},
			{src: "author", from: "author", data: adv(4, nil), rule: RuleRate, verdict: Reject, err: ErrRateLimited},
			{src: "author", from: "author", data: adv(4, nil), advance: 2 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newChainFixture(t)
			other := newPeerID(t)
			who := map[string]peer.ID{"author": f.author, "relay": f.relay, "other": other}
			for i, s := range tt.steps {
				f.clock.Add(s.advance)
				msg, rerr := f.chain.run(who[s.src], who[s.from], s.data(f), false)
				if s.rule == "" {
					require.Nil(t, rerr, "step %d", i)
					assert.Equal(t, f.author, msg.Peer, "step %d", i)
					continue
				}
				require.NotNil(t, rerr, "step %d", i)
				assert.Equal(t, s.rule, rerr.Rule, "step %d: %v", i, rerr)
				assert.Equal(t, s.verdict, rerr.Verdict, "step %d: %v", i, rerr)
				assert.ErrorIs(t, rerr, s.err, "step %d", i)
			}
			st := f.chain.counts.snapshot()
			last := tt.steps[len(tt.steps)-1]
			if last.rule != "" {
				n := st.Rejected[last.rule] + st.Ignored[last.rule]
				assert.Positive(t, n, "counted under its rule")
			}
		})
	}
}

func TestChainTopicCheckIgnore(t *testing.T) {
	cfg := DefaultConfig()
	clk := newClock()
	tc := CapacityConfig(cfg)
	c := newChain(tc.Params, cfg.Heartbeat, tc.Decode, tc.Header, func(Advert, time.Time, bool) error {
		return fmt.Errorf("not now: %w", ErrIgnore)
	}, clk.Now)
	p := newPeerID(t)
	b, err := EncodeAdvert(testAdvert(p, 1, clk.Now()))
	require.NoError(t, err)
	_, rerr := c.run(p, p, b, false)
	require.NotNil(t, rerr)
	assert.Equal(t, RuleTopic, rerr.Rule)
	assert.Equal(t, Ignore, rerr.Verdict)
}

// TestChainUnordered: on an Unordered topic a message overtaken by a later
// one of its author is taken, and one taken before is still a duplicate
// only to pubsub's seen cache, not to the chain; the rate rule still
// holds. On an ordered topic the overtaken one is ignored.
func TestChainUnordered(t *testing.T) {
	for _, unordered := range []bool{false, true} {
		cfg := DefaultConfig()
		clk := newClock()
		tc := CapacityConfig(cfg)
		tc.Params.Unordered = unordered
		tc.Params.Rate, tc.Params.Burst = 1, 3
		c := newChain(tc.Params, cfg.Heartbeat, tc.Decode, tc.Header, nil, clk.Now)
		p, relay := newPeerID(t), newPeerID(t)
		run := func(seq uint64) *RuleError {
			b, err := EncodeAdvert(testAdvert(p, seq, clk.Now()))
			require.NoError(t, err)
			_, rerr := c.run(relay, p, b, false)
			return rerr
		}
		require.Nil(t, run(6), "unordered %v", unordered)
		rerr := run(5) // overtaken on a faster path by 6
		if unordered {
			require.Nil(t, rerr, "an overtaken message on an unordered topic")
			require.Nil(t, run(7))
			rerr = run(8) // the fourth within a second from a burst of 3
			require.NotNil(t, rerr)
			assert.Equal(t, RuleRate, rerr.Rule)
			continue
		}
		require.NotNil(t, rerr, "an overtaken message on an ordered topic")
		assert.Equal(t, RuleSeq, rerr.Rule)
		assert.Equal(t, Ignore, rerr.Verdict)
	}
}

func TestChainTellsCheckOwnPublish(t *testing.T) {
	cfg := DefaultConfig()
	clk := newClock()
	tc := CapacityConfig(cfg)
	var seen []bool
	c := newChain(tc.Params, cfg.Heartbeat, tc.Decode, tc.Header, func(_ Advert, _ time.Time, local bool) error {
		seen = append(seen, local)
		return nil
	}, clk.Now)
	p := newPeerID(t)
	for seq, local := range []bool{true, false} {
		b, err := EncodeAdvert(testAdvert(p, uint64(seq+1), clk.Now()))
		require.NoError(t, err)
		_, rerr := c.run(p, p, b, local)
		require.Nil(t, rerr)
	}
	assert.Equal(t, []bool{true, false}, seen)
}

func TestAuthorBookBounded(t *testing.T) {
	clk := newClock()
	b := newAuthorBook(3, time.Minute)
	ids := make([]peer.ID, 5)
	for i := range ids {
		ids[i] = peer.ID(fmt.Sprint("author-", i))
	}
	for i, id := range ids[:3] {
		_, v, err := b.admit(id, uint64(i+1), clk.Now(), true, 1, 1, false)
		require.NoError(t, err)
		require.Equal(t, Accept, v)
	}
	// Hearing from ids[0] again makes ids[1] the least recently heard.
	clk.Add(2 * time.Second)
	_, _, err := b.admit(ids[0], 10, clk.Now(), true, 1, 1, false)
	require.NoError(t, err)
	_, _, err = b.admit(ids[3], 1, clk.Now(), true, 1, 1, false)
	require.NoError(t, err)
	assert.Equal(t, 3, b.len())
	// ids[1] was evicted: its old seq is accepted again (the time rule,
	// not this book, protects against such replays after eviction).
	_, v, err := b.admit(ids[1], 1, clk.Now(), true, 1, 1, false)
	require.NoError(t, err)
	assert.Equal(t, Accept, v)
	// Silent authors expire.
	clk.Add(2 * time.Minute)
	_, _, err = b.admit(ids[4], 1, clk.Now(), true, 1, 1, false)
	require.NoError(t, err)
	assert.LessOrEqual(t, b.len(), 2)
}

func TestMsgIDIsContentHash(t *testing.T) {
	a, b := newPeerID(t), newPeerID(t)
	data := []byte("advert")
	assert.Equal(t, MsgID(CapacityTopic, a, data), MsgID(CapacityTopic, a, data))
	assert.NotEqual(t, MsgID(CapacityTopic, a, data), MsgID(CapacityTopic, b, data), "a copycat's copy is a different message")
	assert.NotEqual(t, MsgID(CapacityTopic, a, data), MsgID("/fog/other/1", a, data))
	assert.NotEqual(t, MsgID(CapacityTopic, a, data), MsgID(CapacityTopic, a, []byte("advert2")))
	assert.Len(t, MsgID(CapacityTopic, a, data), 32)
}

package mailbox

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 5, 17, 12, 0, 0, 0, time.UTC)

// ttl is smallQuotas' TTL.
const ttl = 7 * 24 * time.Hour

func smallQuotas() quotas {
	return quotas{ttl: ttl, maxItem: 100, senderItems: 3, senderBytes: 250,
		hostItems: 5, hostBytes: 400, maxFetchSize: 300}
}

func TestLedgerAdmit(t *testing.T) {
	alice, bob, carol := peer.ID("alice"), peer.ID("bob"), peer.ID("carol")
	k := Key{1}
	sealed := func(n int) []byte { return make([]byte, n) }
	type dep struct {
		from peer.ID
		id   byte
		size int
		at   time.Duration // after t0
		want status
	}
	for _, tc := range []struct {
		name string
		deps []dep
	}{
		{"within every quota", []dep{{alice, 1, 100, 0, statusOK}, {bob, 2, 100, 0, statusOK}}},
		{"too large", []dep{{alice, 1, 101, 0, statusTooLarge}}},
		{"sender items", []dep{{alice, 1, 10, 0, statusOK}, {alice, 2, 10, 0, statusOK}, {alice, 3, 10, 0, statusOK}, {alice, 4, 10, 0, statusQuota}, {bob, 4, 10, 0, statusOK}}},
		{"sender bytes", []dep{{alice, 1, 100, 0, statusOK}, {alice, 2, 100, 0, statusOK}, {alice, 3, 51, 0, statusQuota}, {alice, 3, 50, 0, statusOK}}},
		{"host bytes", []dep{{alice, 1, 100, 0, statusOK}, {alice, 2, 100, 0, statusOK}, {bob, 3, 100, 0, statusOK}, {bob, 4, 100, 0, statusOK}, {carol, 5, 1, 0, statusFull}}},
		{"host items", []dep{{alice, 1, 1, 0, statusOK}, {alice, 2, 1, 0, statusOK}, {bob, 3, 1, 0, statusOK}, {bob, 4, 1, 0, statusOK}, {carol, 5, 1, 0, statusOK}, {carol, 6, 1, 0, statusFull}}},
		{"a retry is no new item", []dep{{alice, 1, 10, 0, statusOK}, {alice, 1, 10, time.Hour, statusOK}, {alice, 1, 10, 2 * time.Hour, statusOK}}},
		{"an ID taken by other bytes", []dep{{alice, 1, 10, 0, statusOK}, {bob, 1, 11, 0, statusExists}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(smallQuotas())
			for i, d := range tc.deps {
				r := ref{k, ItemID{d.id}}
				now := t0.Add(d.at)
				st, fresh := l.admit(r, d.from, sealed(d.size), now.Add(ttl), now)
				require.Equal(t, d.want, st, "deposit %d", i)
				if fresh {
					l.add(r, d.from, sealed(d.size), now.Add(ttl))
				}
			}
		})
	}
}

func TestLedgerAccounting(t *testing.T) {
	l := newLedger(smallQuotas())
	alice, bob := peer.ID("alice"), peer.ID("bob")
	a, b, c := ref{Key{1}, ItemID{1}}, ref{Key{1}, ItemID{2}}, ref{Key{2}, ItemID{1}}
	l.add(a, alice, make([]byte, 50), t0.Add(ttl))
	l.add(b, alice, make([]byte, 60), t0.Add(time.Hour+ttl))
	l.add(c, bob, make([]byte, 70), t0.Add(2*time.Hour+ttl))
	assert.Equal(t, usage{2, 110}, l.sender(alice))
	assert.Equal(t, usage{3, 180}, l.total)
	assert.True(t, l.remove(a))
	assert.False(t, l.remove(a))
	assert.Equal(t, usage{1, 60}, l.sender(alice))
	// a freed quota admits again
	st, fresh := l.admit(a, alice, make([]byte, 100), t0.Add(ttl), t0)
	assert.Equal(t, statusOK, st)
	assert.True(t, fresh)
	assert.True(t, l.remove(b))
	assert.True(t, l.remove(c))
	assert.Equal(t, usage{}, l.total)
	assert.Empty(t, l.bySender)
	assert.Empty(t, l.byKey)
}

func TestLedgerExpiry(t *testing.T) {
	q := smallQuotas()
	l := newLedger(q)
	a, b := ref{Key{1}, ItemID{1}}, ref{Key{1}, ItemID{2}}
	l.add(a, "alice", make([]byte, 50), t0.Add(ttl))
	l.add(b, "alice", make([]byte, 50), t0.Add(time.Hour+ttl))
	assert.Empty(t, l.expired(t0.Add(q.ttl-time.Nanosecond)))
	assert.Equal(t, []ref{a}, l.expired(t0.Add(q.ttl)))
	refs, more := l.page(Key{1}, ItemID{}, t0.Add(q.ttl))
	assert.Equal(t, []ref{b}, refs, "an expired item is not given out")
	assert.False(t, more)
	// an expired item's ID is free again, whatever its bytes
	st, fresh := l.admit(a, "bob", make([]byte, 10), t0.Add(2*q.ttl), t0.Add(q.ttl))
	assert.Equal(t, statusOK, st)
	assert.True(t, fresh)
}

func TestLedgerPage(t *testing.T) {
	l := newLedger(smallQuotas()) // maxFetchSize 300: two items of 100 per page
	k := Key{1}
	for _, id := range []byte{5, 3, 9, 1} {
		l.add(ref{k, ItemID{id}}, peer.ID([]byte{id}), make([]byte, 100), t0.Add(ttl))
	}
	l.add(ref{Key{2}, ItemID{4}}, "other", make([]byte, 10), t0.Add(ttl))
	var got []byte
	after := ItemID{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 3)
		refs, more := l.page(k, after, t0)
		require.LessOrEqual(t, len(refs), 2)
		for _, r := range refs {
			got = append(got, r.id[0])
			after = r.id
		}
		if !more {
			break
		}
	}
	assert.Equal(t, []byte{1, 3, 5, 9}, got)
}

// TestLedgerAskedExpiry: a deposit keeps the expiry it asks for, never
// beyond the TTL from its arrival, and one already past is refused.
func TestLedgerAskedExpiry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		asked time.Duration // after now
		want  time.Duration // kept until, after now
		st    status
	}{
		{"a new item: the TTL", ttl, ttl, statusOK},
		{"a handed-off copy: what is left", time.Hour, time.Hour, statusOK},
		{"beyond the TTL: cut to it", 2 * ttl, ttl, statusOK},
		{"a second left", time.Second, time.Second, statusOK},
		{"expiring now", 0, 0, statusExpired},
		{"expired", -time.Hour, 0, statusExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(smallQuotas())
			r := ref{Key{1}, ItemID{1}}
			expires := l.expiry(t0.Add(tc.asked), t0)
			st, fresh := l.admit(r, "alice", make([]byte, 10), expires, t0)
			require.Equal(t, tc.st, st)
			if st != statusOK {
				assert.False(t, fresh)
				return
			}
			assert.Equal(t, t0.Add(tc.want), expires)
			l.add(r, "alice", make([]byte, 10), expires)
			assert.True(t, l.has(r, expires.Add(-time.Nanosecond)))
			assert.False(t, l.has(r, expires))
		})
	}
}

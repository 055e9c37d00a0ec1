package chat

import (
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBook(t *testing.T) {
	alice1, a1 := identity(t, 1)
	alice2, a2 := identity(t, 2)
	bob, b := identity(t, 3)
	_, carol := identity(t, 4)

	book := NewBook(0)
	add := func(n *Nick, err error) {
		t.Helper()
		require.NoError(t, err)
		require.NoError(t, book.Add(n))
	}
	add(NewNick(alice1, "alice", 1, t0))
	add(NewNick(alice2, "Alice", 1, t0))
	add(NewNick(bob, "bob", 1, t0))

	t.Run("unique name", func(t *testing.T) {
		p, err := book.Resolve("BOB")
		require.NoError(t, err)
		assert.Equal(t, b, p)
	})
	t.Run("ambiguous name lists candidates", func(t *testing.T) {
		_, err := book.Resolve("alice")
		require.ErrorIs(t, err, ErrAmbiguous)
		var amb *AmbiguousError
		require.True(t, errors.As(err, &amb))
		got := []peer.ID{amb.Candidates[0].Peer, amb.Candidates[1].Peer}
		assert.ElementsMatch(t, []peer.ID{a1, a2}, got)
		assert.Contains(t, err.Error(), "alice#"+Fingerprint(a1))
		assert.Contains(t, err.Error(), "Alice#"+Fingerprint(a2))
	})
	t.Run("name with fingerprint", func(t *testing.T) {
		p, err := book.Resolve("alice#" + Fingerprint(a2))
		require.NoError(t, err)
		assert.Equal(t, a2, p)
		p, err = book.Resolve("#" + Fingerprint(a1))
		require.NoError(t, err)
		assert.Equal(t, a1, p)
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := book.Resolve("dave")
		assert.ErrorIs(t, err, ErrUnknown)
		_, err = book.Resolve("bob#00000000")
		assert.ErrorIs(t, err, ErrUnknown)
	})
	t.Run("peer ID", func(t *testing.T) {
		es := book.Whois(a1.String())
		require.Len(t, es, 1)
		assert.Equal(t, "alice", es[0].Nick)
		es = book.Whois(carol.String())
		require.Len(t, es, 1)
		assert.Empty(t, es[0].Nick)
		assert.Contains(t, es[0].String(), carol.String())
	})
	t.Run("stale and renamed", func(t *testing.T) {
		old, err := NewNick(alice2, "mallory", 1, t0)
		require.NoError(t, err)
		assert.ErrorIs(t, book.Add(old), ErrStale)
		n, err := NewNick(alice2, "alicia", 2, t0)
		require.NoError(t, err)
		require.NoError(t, book.Add(n))
		p, err := book.Resolve("alice")
		require.NoError(t, err, "alice is unique once alice2 renamed")
		assert.Equal(t, a1, p)
		e, ok := book.Lookup(a2)
		require.True(t, ok)
		assert.Equal(t, "alicia#"+Fingerprint(a2), e.String())
	})
	t.Run("forged claim refused", func(t *testing.T) {
		n, err := NewNick(bob, "carol", 1, t0)
		require.NoError(t, err)
		n.Owner = carol
		assert.ErrorIs(t, book.Add(n), ErrBadSignature)
		assert.Empty(t, book.Whois("carol"))
	})
	t.Run("full", func(t *testing.T) {
		small := NewBook(1)
		n1, _ := NewNick(alice1, "a", 1, t0)
		n2, _ := NewNick(bob, "b", 1, t0)
		require.NoError(t, small.Add(n1))
		assert.ErrorIs(t, small.Add(n2), ErrFull)
		n1b, _ := NewNick(alice1, "a2", 2, t0)
		require.NoError(t, small.Add(n1b), "an update of a known identity is not refused")
		small.Remove(a1)
		assert.Equal(t, 0, small.Len())
		require.NoError(t, small.Add(n2))
	})
}

func TestBookUpdated(t *testing.T) {
	alice, a := identity(t, 1)
	book := NewBook(0)
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	c := book.Updated()
	assert.False(t, closed(c))
	n, err := NewNick(alice, "alice", 1, t0)
	require.NoError(t, err)
	require.NoError(t, book.Add(n))
	assert.True(t, closed(c), "an added claim wakes the waiters")
	c = book.Updated()
	require.ErrorIs(t, book.Add(n), ErrStale)
	assert.False(t, closed(c), "a refused claim changes nothing")
	book.Remove(a)
	assert.True(t, closed(c), "a removed claim wakes the waiters")
	c = book.Updated()
	book.Remove(a)
	assert.False(t, closed(c))
}

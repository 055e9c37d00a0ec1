package channel

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/store"
)

func TestMessageSignVerify(t *testing.T) {
	k, id := seedKey(t, 1)
	_, other := seedKey(t, 2)
	m := Message{Kind: KindPost, Channel: "lobby", Author: id, Seq: 1, Time: time.UnixMilli(1_800_000_000_000), Body: []byte("hi")}
	require.NoError(t, m.Sign(k))
	require.NoError(t, m.Verify())
	tampered := m
	tampered.Body = []byte("ho")
	require.ErrorIs(t, tampered.Verify(), ErrSignature)
	forged := m
	forged.Author = other
	require.ErrorIs(t, forged.Verify(), ErrSignature)
	wrong := m
	wrong.Author = other
	require.Error(t, wrong.Sign(k), "a key signs only its own messages")
	enc, err := EncodeMessage(m)
	require.NoError(t, err)
	assert.Equal(t, ID(sha256Sum(enc)), m.ID())
	assert.Equal(t, "/fog/chat/lobby/1", Topic("lobby"))
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{
		"lobby": true, "a": true, "fog-dev_2": true, "": false, "-x": false, "Lobby": false,
		"a/b": false, "a b": false, string(make([]byte, MaxNameLen+1)): false,
	} {
		assert.Equal(t, ok, ValidName(name), name)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	tests := map[string]func(*Config){
		"MaxBody":       func(c *Config) { c.MaxBody = MaxBodyLen },
		"HistoryCount":  func(c *Config) { c.HistoryCount = 0 },
		"HistoryAge":    func(c *Config) { c.HistoryAge = time.Second },
		"SyncMaxRounds": func(c *Config) { c.SyncMaxRounds = 0 },
		"MaxFrame":      func(c *Config) { c.MaxFrame = 1000 },
		"RBSR.Buckets":  func(c *Config) { c.RBSR.Buckets = 1 },
		"Server":        func(c *Config) { c.Server.Streams = 0 },
	}
	for field, mut := range tests {
		c := DefaultConfig()
		mut(&c)
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig, field)
		assert.Contains(t, err.Error(), field)
	}
}

// TestHistoryPrune: a history keeps at most HistoryCount messages and none
// older than HistoryAge, per channel.
func TestHistoryPrune(t *testing.T) {
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	defer db.Close()
	h := &history{ds: db.Datastore(store.PrefixChat)}
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	for i := range 30 {
		it := item(1, i, uint64(now.Add(-time.Duration(30-i)*time.Hour).UnixMilli()))
		added, err := h.put(ctx, "a", it, []byte{byte(i)})
		require.NoError(t, err)
		require.True(t, added)
		added, err = h.put(ctx, "a", it, []byte{byte(i)})
		require.NoError(t, err)
		require.False(t, added, "a message is stored once")
		_, err = h.put(ctx, "ab", it, []byte{byte(i)})
		require.NoError(t, err)
	}
	n, err := h.prune(ctx, "a", now, 20, 100*time.Hour) // count bound
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	n, err = h.prune(ctx, "a", now, 20, 5*time.Hour+30*time.Minute) // age bound
	require.NoError(t, err)
	assert.Equal(t, 15, n)
	items, err := h.items(ctx, "a")
	require.NoError(t, err)
	require.Len(t, items, 5)
	for _, it := range items {
		assert.GreaterOrEqual(t, int64(it.Time), now.Add(-5*time.Hour-30*time.Minute).UnixMilli())
	}
	others, err := h.items(ctx, "ab")
	require.NoError(t, err)
	assert.Len(t, others, 30, "another channel (even one whose name extends this one's) is untouched")
	latest, err := h.latest(ctx, "a", 2)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{{28}, {29}}, latest)
}

// TestRosterSealOpen: members open the epoch's key, others do not, and a
// post sealed under it opens only with it and only in its own message.
func TestRosterSealOpen(t *testing.T) {
	b := seedRoster(t)
	r, err := DecodeRoster(b)
	require.NoError(t, err)
	_, outsider := seedKey(t, 99)
	_, err = r.OpenKey("crew", 1, outsider, nil)
	require.ErrorIs(t, err, ErrNotMember)

	k, id := seedKey(t, 1)
	m := Message{Kind: KindPost, Channel: "crew", Author: id, Seq: 1, Time: time.UnixMilli(1_800_000_000_000), Epoch: 1}
	key := [KeySize]byte{7}
	require.NoError(t, sealPost(&m, key, []byte("secret"), seededRand()))
	require.NoError(t, m.Sign(k))
	pt, err := openPost(&m, key)
	require.NoError(t, err)
	assert.Equal(t, "secret", string(pt))
	_, err = openPost(&m, [KeySize]byte{8})
	require.ErrorIs(t, err, ErrNoKey)
	moved := m
	moved.Seq = 2
	_, err = openPost(&moved, key)
	require.ErrorIs(t, err, ErrNoKey, "a ciphertext is bound to its message")
}

// TestDoneFrame: a Done frame shows 1..maxShown IDs or none, and the
// decoder refuses any other count.
func TestDoneFrame(t *testing.T) {
	id := ID{7}
	withCount := func(n uint64, ids int) []byte {
		b := binary.AppendUvarint([]byte{fDone}, n)
		for range ids {
			b = append(b, id[:]...)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want []ID
		ok   bool
	}{
		{"empty", []byte{fDone}, nil, true},
		{"one ID", withCount(1, 1), []ID{id}, true},
		{"maxShown IDs", withCount(maxShown, maxShown), slices.Repeat([]ID{id}, maxShown), true},
		{"explicit zero", withCount(0, 0), nil, false},
		{"beyond maxShown", withCount(maxShown+1, maxShown+1), nil, false},
		{"count overruns the frame", withCount(3, 2), nil, false},
		{"trailing bytes", append(withCount(1, 1), 0), nil, false},
		{"truncated ID", withCount(1, 1)[:20], nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decodeFrame(tc.in)
			if !tc.ok {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, f.ids)
			assert.Equal(t, tc.in, f.encode())
		})
	}
}

package ledgerstore

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
)

func key(i int) ed25519.PrivateKey {
	var seed [ed25519.SeedSize]byte
	copy(seed[:], "fog ledgerstore test key")
	binary.BigEndian.PutUint32(seed[28:], uint32(i))
	return ed25519.NewKeyFromSeed(seed[:])
}

func acct(i int) token.Account { return token.AccountOf(key(i).Public().(ed25519.PublicKey)) }

func genesis(n int) token.Genesis {
	g := token.Genesis{Network: "store-test", UnbondingEpochs: 2}
	for i := range n {
		a := acct(i)
		g.Accounts = append(g.Accounts, token.Allocation{Account: hex.EncodeToString(a[:]), Balance: 1_000_000})
	}
	return g
}

func openDB(t testing.TB, dir string) *store.DB {
	t.Helper()
	cfg := store.InMemoryConfig()
	if dir != "" {
		cfg = store.DefaultConfig(dir)
	}
	db, err := store.Open(cfg)
	require.NoError(t, err)
	return db
}

// node is a one-representative network: node 0 holds every account's
// weight (they delegate to it), so its own votes confirm.
type node struct {
	t   testing.TB
	n   *token.Node
	st  *Store
	now time.Time
}

func newNode(t testing.TB, st *Store, l *token.Ledger) *node {
	cfg := token.DefaultConfig()
	cfg.MinOnlinePercent = 0
	n, err := token.NewNode(cfg, l, []ed25519.PrivateKey{key(0)})
	require.NoError(t, err)
	return &node{t: t, n: n, st: st, now: time.Unix(1000, 0)}
}

// process takes b and persists what the node says before returning.
func (x *node) process(b token.Block) token.Effects {
	eff, err := x.n.ProcessBlock(b, x.now)
	require.NoError(x.t, err)
	require.NoError(x.t, x.st.Append(context.Background(), eff.Records))
	return eff
}

func delegateAll(g token.Genesis) token.Genesis {
	a := acct(0)
	for i := range g.Accounts {
		g.Accounts[i].Representative = hex.EncodeToString(a[:])
	}
	return g
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := delegateAll(genesis(4))

	db := openDB(t, dir)
	st, l, err := Open(ctx, db.Datastore(store.PrefixToken), g)
	require.NoError(t, err)
	x := newNode(t, st, l)
	var sends []token.Hash
	for i := range 3 {
		b, err := token.NewWallet(l, key(i)).Send(acct(i+1), 1000, 1)
		require.NoError(t, err)
		eff := x.process(b)
		require.Equal(t, []token.Hash{b.Hash()}, eff.Confirmed, "representative 0 holds all the weight")
		sends = append(sends, b.Hash())
	}
	r, err := token.NewWallet(l, key(1)).Receive(sends[0], 2)
	require.NoError(t, err)
	x.process(r)
	// A block left unconfirmed: taken by a node without representatives.
	obs, err := token.NewNode(token.DefaultConfig(), l, nil)
	require.NoError(t, err)
	open, err := token.NewWallet(l, key(3)).Send(acct(0), 5, 2)
	require.NoError(t, err)
	eff, err := obs.ProcessBlock(open, x.now)
	require.NoError(t, err)
	require.Empty(t, eff.Confirmed)
	require.NoError(t, st.Append(ctx, eff.Records))
	want := map[token.Account]token.AccountInfo{}
	for i := range 4 {
		want[acct(i)], _ = l.Account(acct(i))
	}
	records := st.Records()
	require.NoError(t, db.Close())

	db = openDB(t, dir)
	defer db.Close()
	st2, l2, err := Open(ctx, db.Datastore(store.PrefixToken), g)
	require.NoError(t, err)
	assert.Equal(t, records, st2.Records())
	for a, info := range want {
		got, ok := l2.Account(a)
		require.True(t, ok)
		assert.Equal(t, info, got)
	}
	for _, h := range sends {
		assert.True(t, l2.Confirmed(h))
	}
	assert.Equal(t, l.Total()+l.InFlight(), l2.Total()+l2.InFlight())
	assert.Equal(t, l.Pending(acct(2)), l2.Pending(acct(2)))

	assert.True(t, l2.OnChain(open.Hash()))
	assert.False(t, l2.Confirmed(open.Hash()))

	// The reopened store goes on from where it was: the representative's
	// node resumes the open election and confirms the block.
	x2 := newNode(t, st2, l2)
	eff = x2.n.Resume(x2.now)
	assert.Equal(t, []token.Hash{open.Hash()}, eff.Confirmed)
	require.NoError(t, st2.Append(ctx, eff.Records))
	b, err := token.NewWallet(l2, key(2)).Receive(sends[1], 3)
	require.NoError(t, err)
	x2.process(b)
	assert.Equal(t, records+3, st2.Records())
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	g := genesis(2)
	tests := []struct {
		name   string
		damage func(t *testing.T, db *store.DB)
		gen    token.Genesis
		want   error
	}{
		{"another genesis", nil, genesis(3), ErrGenesis},
		{"a record that does not decode", func(t *testing.T, db *store.DB) {
			require.NoError(t, db.Datastore(store.PrefixToken).Put(ctx, logKey(0), []byte{'b', 1, 2}))
		}, g, ErrCorrupt},
		{"an unknown tag", func(t *testing.T, db *store.DB) {
			require.NoError(t, db.Datastore(store.PrefixToken).Put(ctx, logKey(0), []byte{'x'}))
		}, g, ErrCorrupt},
		{"a gap in the log", func(t *testing.T, db *store.DB) {
			require.NoError(t, db.Datastore(store.PrefixToken).Put(ctx, logKey(1), []byte{'c'}))
		}, g, ErrCorrupt},
		{"a confirmation of an unknown block", func(t *testing.T, db *store.DB) {
			require.NoError(t, db.Datastore(store.PrefixToken).Put(ctx, logKey(0), append([]byte{'c'}, make([]byte, 32)...)))
		}, g, ErrCorrupt},
		{"a block that does not apply", func(t *testing.T, db *store.DB) {
			l, err := token.NewLedger(g)
			require.NoError(t, err)
			b, err := token.NewWallet(l, key(0)).Send(acct(1), 2_000_000, 1)
			require.Error(t, err) // more than the balance: build it by hand
			b, err = token.NewWallet(l, key(0)).Send(acct(1), 1, 1)
			require.NoError(t, err)
			b.Balance = 2_000_000
			b.Sign(key(0))
			r := token.Record{Block: b, Hash: b.Hash()}
			require.NoError(t, db.Datastore(store.PrefixToken).Put(ctx, logKey(0), encodeRecord(&r)))
		}, g, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t, "")
			defer db.Close()
			_, _, err := Open(ctx, db.Datastore(store.PrefixToken), g)
			require.NoError(t, err)
			if tt.damage != nil {
				tt.damage(t, db)
			}
			_, _, err = Open(ctx, db.Datastore(store.PrefixToken), tt.gen)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	l, err := token.NewLedger(genesis(2))
	require.NoError(f, err)
	b, err := token.NewWallet(l, key(0)).Send(acct(1), 1, 1)
	require.NoError(f, err)
	f.Add(encodeRecord(&token.Record{Block: b, Hash: b.Hash()}))
	f.Add(encodeRecord(&token.Record{Confirm: true, Hash: b.Hash()}))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := decodeRecord(in)
		if err != nil {
			return
		}
		if got := encodeRecord(&r); string(got) != string(in) {
			t.Fatalf("%x re-encodes as %x", in, got)
		}
	})
}

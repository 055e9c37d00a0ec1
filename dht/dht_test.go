package dht

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fog-compute/fog/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-flow-metrics.(*sweeper).run"),
		// go-cache's janitor in kad-dht's provider manager outlives Close by design
		goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

func newKey(t testing.TB) crypto.PrivKey {
	k, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	return k
}

func TestRecordRoundTrip(t *testing.T) {
	k := newKey(t)
	r, err := SignRecord(k, "profile", 7, []byte("hello"))
	require.NoError(t, err)
	got, err := DecodeRecord(r.Key(), r.Marshal())
	require.NoError(t, err)
	assert.Equal(t, r, got)
}

func TestRecordRejections(t *testing.T) {
	owner, other := newKey(t), newKey(t)
	ownerID, _ := peer.IDFromPrivateKey(owner)
	good, err := SignRecord(owner, "n", 3, []byte("v"))
	require.NoError(t, err)
	forged, err := SignRecord(other, "n", 3, []byte("v"))
	require.NoError(t, err)
	tampered := good.Marshal()
	tampered[len(tampered)-1] ^= 1 // the signature
	// the same record with its sequence number in two bytes instead of one
	enc := good.Marshal()
	nonMinimalSeq := append(append(bytes.Clone(enc[:len(recordMagic)]), byte(good.Seq)|0x80, 0), enc[len(recordMagic)+1:]...)
	tests := []struct {
		name string
		key  string
		data []byte
		want error
	}{
		{"signed by another key", RecordKey(ownerID, "n"), forged.Marshal(), ErrBadSignature},
		{"tampered", RecordKey(ownerID, "n"), tampered, ErrBadSignature},
		{"other name", RecordKey(ownerID, "m"), good.Marshal(), ErrBadSignature},
		{"truncated", good.Key(), good.Marshal()[:20], ErrBadRecord},
		{"trailing", good.Key(), append(good.Marshal(), 0), ErrBadRecord},
		{"bad magic", good.Key(), append([]byte("x"), good.Marshal()...), ErrBadRecord},
		{"empty", good.Key(), nil, ErrBadRecord},
		{"huge", good.Key(), make([]byte, MaxRecordLen+1), ErrBadRecord},
		{"seq not minimal", good.Key(), nonMinimalSeq, ErrBadRecord},
		{"value too long", good.Key(), Record{Seq: 1, Value: make([]byte, MaxValueLen+1), Sig: good.Sig}.Marshal(), ErrBadRecord},
		{"signature too long", good.Key(), Record{Seq: 1, Sig: make([]byte, maxSigLen+1)}.Marshal(), ErrBadRecord},
		{"not fog", "/pk/" + ownerID.String(), good.Marshal(), ErrBadKey},
		{"no name", "/fog/" + ownerID.String(), good.Marshal(), ErrBadKey},
		{"bad peer", "/fog/notapeer/n", good.Marshal(), ErrBadKey},
		{"space in name", RecordKey(ownerID, "a b"), good.Marshal(), ErrBadKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRecord(tc.key, tc.data)
			require.ErrorIs(t, err, tc.want)
			assert.Error(t, Validator{}.Validate(tc.key, tc.data))
		})
	}
}

func TestValidatorSelectsHighestSeq(t *testing.T) {
	k := newKey(t)
	var vals [][]byte
	for _, seq := range []uint64{4, 9, 2} {
		r, err := SignRecord(k, "n", seq, []byte(fmt.Sprint(seq)))
		require.NoError(t, err)
		vals = append(vals, r.Marshal())
	}
	key := RecordKey(mustID(t, k), "n")
	i, err := Validator{}.Select(key, append([][]byte{[]byte("junk")}, vals...))
	require.NoError(t, err)
	assert.Equal(t, 2, i) // seq 9
	// equal sequences: every node picks the same (smaller encoding)
	a, _ := SignRecord(k, "n", 5, []byte("a"))
	b, _ := SignRecord(k, "n", 5, []byte("b"))
	ia, _ := Validator{}.Select(key, [][]byte{a.Marshal(), b.Marshal()})
	ib, _ := Validator{}.Select(key, [][]byte{b.Marshal(), a.Marshal()})
	smaller := 0
	if bytes.Compare(a.Marshal(), b.Marshal()) > 0 {
		smaller = 1
	}
	assert.Equal(t, smaller, ia)
	assert.Equal(t, 1-smaller, ib)
	_, err = Validator{}.Select(key, [][]byte{[]byte("junk")})
	require.ErrorIs(t, err, ErrBadRecord)
}

func mustID(t testing.TB, k crypto.PrivKey) peer.ID {
	id, err := peer.IDFromPrivateKey(k)
	require.NoError(t, err)
	return id
}

// testNet is a small mocknet of DHT nodes with in-memory Badger stores.
type testNet struct {
	mn     mocknet.Mocknet
	dhts   []*DHT
	stores []*store.DB
	cancel context.CancelFunc
	done   []chan struct{}
}

func newTestNet(t *testing.T, n int) *testNet {
	t.Helper()
	tn := &testNet{mn: mocknet.New()}
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	for range n {
		tn.add(t, ctx, newKey(t), nil)
	}
	require.NoError(t, tn.mn.LinkAll())
	t.Cleanup(tn.close)
	// a line of connections: routing tables have to be filled by lookups
	for i := 1; i < n; i++ {
		_, err := tn.mn.ConnectPeers(tn.dhts[i-1].h.ID(), tn.dhts[i].h.ID())
		require.NoError(t, err)
	}
	return tn
}

func (tn *testNet) add(t *testing.T, ctx context.Context, k crypto.PrivKey, db *store.DB) int {
	t.Helper()
	h, err := tn.mn.AddPeer(k, mockAddr(len(tn.dhts)))
	require.NoError(t, err)
	if db == nil {
		db, err = store.Open(store.InMemoryConfig())
		require.NoError(t, err)
	}
	d, err := New(ctx, TestConfig(), Options{Host: h, Identity: k, Datastore: db.Datastore(store.PrefixDHT)})
	require.NoError(t, err)
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx, func() { close(ready) })
	}()
	<-ready
	tn.dhts = append(tn.dhts, d)
	tn.stores = append(tn.stores, db)
	tn.done = append(tn.done, done)
	return len(tn.dhts) - 1
}

// mockAddr is an address in mocknet's in-process network (no packet ever
// leaves the process).
func mockAddr(i int) ma.Multiaddr {
	return ma.StringCast(fmt.Sprintf("/ip4/127.1.%d.%d/tcp/4001", i/250, i%250+1))
}

func (tn *testNet) close() {
	tn.cancel()
	for i, d := range tn.dhts {
		<-tn.done[i]
		d.Close()
		d.h.Close()
		tn.stores[i].Close()
	}
	tn.mn.Close()
}

// waitTables waits until every routing table holds at least min peers.
func (tn *testNet) waitTables(t *testing.T, min int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, d := range tn.dhts {
			if d.Table().Size < min {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond)
}

func TestDHTOperations(t *testing.T) { synctest.Test(t, testDHTOperations) }

// testDHTOperations runs its steps in one bubble (t.Run is not allowed in
// one), each failing with its name.
func testDHTOperations(t *testing.T) {
	tn := newTestNet(t, 8)
	tn.waitTables(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, last := tn.dhts[0], tn.dhts[len(tn.dhts)-1]

	step(t, "find peer", func(t *testing.T) {
		ai, st, err := first.FindPeerStats(ctx, last.h.ID())
		require.NoError(t, err)
		assert.Equal(t, last.h.ID(), ai.ID)
		assert.True(t, st.Found)
		if first.h.Network().Connectedness(last.h.ID()) != network.Connected {
			assert.GreaterOrEqual(t, st.Hops, 0)
		}
	})
	step(t, "closest peers", func(t *testing.T) {
		// every node finds the same k peers closest to a key, the true
		// ones (itself excepted), closest first
		const key, k = "mailbox:some key", 3
		var all []peer.ID
		for _, d := range tn.dhts {
			all = append(all, d.h.ID())
		}
		want := kb.SortClosestPeers(all, kb.ConvertKey(key))
		for _, d := range []*DHT{first, last, tn.dhts[4]} {
			got, err := d.ClosestPeers(ctx, key, k)
			require.NoError(t, err)
			exp := slices.DeleteFunc(slices.Clone(want), func(p peer.ID) bool { return p == d.h.ID() })[:k]
			assert.Equal(t, exp, got)
		}
	})
	step(t, "providers", func(t *testing.T) {
		require.NoError(t, last.Provide(ctx, "module:abc"))
		require.Eventually(t, func() bool {
			ps, err := first.FindProviders(ctx, "module:abc", 5)
			return err == nil && len(ps) == 1 && ps[0].ID == last.h.ID()
		}, 20*time.Second, 50*time.Millisecond)
	})
	step(t, "signed records", func(t *testing.T) {
		r1, err := last.PutRecord(ctx, "greeting", []byte("hello"))
		require.NoError(t, err)
		got, err := first.GetRecord(ctx, last.h.ID(), "greeting")
		require.NoError(t, err)
		assert.Equal(t, []byte("hello"), got.Value)
		r2, err := last.PutRecord(ctx, "greeting", []byte("hello again"))
		require.NoError(t, err)
		assert.Greater(t, r2.Seq, r1.Seq)
		require.Eventually(t, func() bool {
			got, err := first.GetRecord(ctx, last.h.ID(), "greeting")
			return err == nil && string(got.Value) == "hello again"
		}, 20*time.Second, 50*time.Millisecond)
	})
	step(t, "lower sequence rejected by the network", func(t *testing.T) {
		owner := tn.dhts[3]
		_, err := owner.PutRecord(ctx, "counter", []byte("ten"))
		require.NoError(t, err)
		cur, err := first.GetRecord(ctx, owner.h.ID(), "counter")
		require.NoError(t, err)
		// a replay of an older version, signed correctly, is refused
		old, err := SignRecord(owner.priv, "counter", cur.Seq-1, []byte("old"))
		require.NoError(t, err)
		err = first.active().kad.PutValue(ctx, old.Key(), old.Marshal())
		require.Error(t, err)
		// a record for owner's key signed by someone else is refused
		forged, err := SignRecord(first.priv, "counter", cur.Seq+5, []byte("forged"))
		require.NoError(t, err)
		err = first.active().kad.PutValue(ctx, RecordKey(owner.h.ID(), "counter"), forged.Marshal())
		require.Error(t, err)
		got, err := tn.dhts[5].GetRecord(ctx, owner.h.ID(), "counter")
		require.NoError(t, err)
		assert.Equal(t, "ten", string(got.Value))
	})
	step(t, "lookup stats", func(t *testing.T) {
		d := tn.dhts[6]
		assert.Empty(t, d.Stats().Lookups, "no lookup yet")
		_, err := d.FindPeer(ctx, last.h.ID())
		require.NoError(t, err)
		_, err = d.ClosestPeers(ctx, "some key", 2)
		require.NoError(t, err)
		_, err = d.GetRecord(ctx, last.h.ID(), "never-published")
		require.ErrorIs(t, err, ErrNotFound)
		done, stop := context.WithCancel(ctx)
		stop()
		_, err = d.GetRecord(done, last.h.ID(), "greeting")
		require.Error(t, err)
		for range d.FindProvidersCID(ctx, KeyCID("module:abc"), 1) {
		}

		st := d.Stats().Lookups
		assert.Equal(t, map[string]uint64{OutcomeOK: 1}, st[KindFindPeer].Outcomes)
		assert.Equal(t, map[string]uint64{OutcomeOK: 1}, st[KindClosestPeers].Outcomes)
		assert.Equal(t, map[string]uint64{OutcomeNotFound: 1, OutcomeCancelled: 1}, st[KindGetRecord].Outcomes)
		assert.Equal(t, map[string]uint64{OutcomeOK: 1}, st[KindFindProviders].Outcomes)
		assert.NotContains(t, st, KindPutRecord)
		for kind, l := range st {
			assert.Equal(t, l.Count, l.Buckets[lookupBuckets[len(lookupBuckets)-1]], "%s: every lookup within the last bound", kind)
			prev := uint64(0)
			for _, b := range lookupBuckets {
				assert.GreaterOrEqual(t, l.Buckets[b], prev, "%s: cumulative", kind)
				prev = l.Buckets[b]
			}
		}
	})
}

func TestRoutingTableSurvivesRestart(t *testing.T) { synctest.Test(t, testRoutingTableSurvivesRestart) }

func testRoutingTableSurvivesRestart(t *testing.T) {
	tn := newTestNet(t, 6)
	tn.waitTables(t, 3)
	d := tn.dhts[2]
	before := d.Table().Size
	require.NoError(t, d.SaveSnapshot(context.Background()))

	// a fresh DHT on a fresh host with the same identity and store
	k := d.priv
	db := tn.stores[2]
	tn.dhts[2].Close()
	tn.dhts[2].h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := tn.mn.AddPeer(k, mockAddr(100))
	require.NoError(t, err)
	defer h.Close()
	d2, err := New(ctx, TestConfig(), Options{Host: h, Identity: k, Datastore: db.Datastore(store.PrefixDHT)})
	require.NoError(t, err)
	defer d2.Close()
	info := d2.Table()
	assert.Equal(t, before, info.WAN.Restored+info.LAN.Restored)
	assert.Equal(t, before, info.Size, "the table is back before any connection")
	assert.Empty(t, h.Network().Peers())
}

// step runs f as a named step of a test in a bubble, where t.Run is not
// allowed: a failure names the step.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	f(t)
	if t.Failed() {
		t.Fatalf("step %q failed", name)
	}
}

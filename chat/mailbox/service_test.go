package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/store"
)

// testNet is a mocknet of fog nodes, each with an in-memory Badger store,
// a real DHT and a mailbox Service routed by it.
type testNet struct {
	mn    mocknet.Mocknet
	ctx   context.Context
	nodes []*testNode
}

type testNode struct {
	identity
	h   host.Host
	dht *dht.DHT
	svc *Service
}

func newTestNet(t *testing.T) *testNet {
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNet{mn: mocknet.New(), ctx: ctx}
	t.Cleanup(func() {
		cancel()
		tn.mn.Close()
	})
	return tn
}

// add starts a node with identity id and connects it to the nodes given.
func (tn *testNet) add(t *testing.T, cfg Config, id identity, connect ...*testNode) *testNode {
	t.Helper()
	h, err := tn.mn.AddPeer(id.priv, ma.StringCast(fmt.Sprintf("/ip4/127.1.0.%d/tcp/4001", len(tn.nodes)+1)))
	require.NoError(t, err)
	require.NoError(t, tn.mn.LinkAll())
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	d, err := dht.New(tn.ctx, dht.TestConfig(), dht.Options{Host: h, Identity: id.priv, Datastore: db.Datastore(store.PrefixDHT)})
	require.NoError(t, err)
	rctx, stop := context.WithCancel(tn.ctx)
	done, ready := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(rctx, func() { close(ready) })
	}()
	<-ready
	svc, err := New(tn.ctx, cfg, Options{Host: h, Identity: id.priv, ChatKey: id.chat, Datastore: db.Datastore(store.PrefixChat), Router: d})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, svc.Close())
		stop()
		<-done
		d.Close()
		h.Close()
		db.Close()
	})
	n := &testNode{identity: id, h: h, dht: d, svc: svc}
	tn.nodes = append(tn.nodes, n)
	for _, c := range connect {
		_, err := tn.mn.ConnectPeers(h.ID(), c.h.ID())
		require.NoError(t, err)
	}
	return n
}

func waitTables(t *testing.T, min int, nodes ...*testNode) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.dht.Table().Size < min {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond)
}

func held(nodes []*testNode) (items int) {
	for _, n := range nodes {
		items += n.svc.Stats().Items
	}
	return items
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestOfflineDelivery is the mailbox's purpose: mail deposited while its
// recipient is away reaches it when it returns, from the k closest hosts,
// once; a stranger gets none of it; the hosts delete it once acknowledged.
func TestOfflineDelivery(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	var nodes []*testNode
	for i := range 6 {
		var prev []*testNode
		if i > 0 {
			prev = nodes[i-1:]
		}
		nodes = append(nodes, tn.add(t, cfg, newIdentity(t), prev...))
	}
	waitTables(t, 2, nodes...)
	ctx := testCtx(t)
	alice, eve := nodes[0], nodes[5]
	bob := newIdentity(t) // not on the network yet

	msgs := [][]byte{[]byte("are you there?"), []byte("call me back")}
	for _, m := range msgs {
		n, err := alice.svc.Deposit(ctx, bob.id, bob.chat.PublicKey(), m)
		require.NoError(t, err)
		assert.Equal(t, cfg.K, n, "stored at k hosts")
	}
	assert.Equal(t, 2*cfg.K, held(nodes))

	// the hosts are the k nodes closest to today's mailbox key, bob aside
	key := MailboxKey(bob.id, DayOf(time.Now()))
	var hosts []*testNode
	for _, n := range nodes {
		if n.svc.Stats().Items > 0 {
			hosts = append(hosts, n)
		}
	}
	require.Len(t, hosts, cfg.K)
	want, err := eve.dht.ClosestPeers(ctx, string(key[:]), cfg.K+1)
	require.NoError(t, err)
	for _, h := range hosts {
		if h != eve {
			assert.Contains(t, want, h.h.ID())
		}
	}

	t.Run("a stranger gets nothing", func(t *testing.T) {
		host := hosts[0]
		if host == eve {
			host = hosts[1]
		}
		day := DayOf(time.Now())
		resp, err := eve.svc.call(ctx, host.h.ID(), request{op: opFetch, key: key, day: day})
		require.NoError(t, err)
		assert.Equal(t, statusDenied, resp.status)
		assert.Empty(t, resp.items)
		resp, err = eve.svc.call(ctx, host.h.ID(), request{op: opAck, key: key, day: day, ids: []ItemID{{1}}})
		require.NoError(t, err)
		assert.Equal(t, statusDenied, resp.status)
		assert.Equal(t, 2, host.svc.Stats().Items, "nothing deleted")
		assert.Equal(t, uint64(2), host.svc.Stats().Denied)
		// eve fetching her own mailboxes finds nothing of bob's
		var got []Message
		_, err = eve.svc.Fetch(ctx, func(m Message) error { got = append(got, m); return nil })
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	// bob returns, through alice
	b := tn.add(t, cfg, bob, alice)
	waitTables(t, 2, b)
	var got []Message
	rep, err := b.svc.Fetch(ctx, func(m Message) error { got = append(got, m); return nil })
	require.NoError(t, err)
	require.Len(t, got, 2)
	var payloads [][]byte
	for _, m := range got {
		payloads = append(payloads, m.Payload)
		assert.Equal(t, DayOf(time.Now()), m.Day)
	}
	assert.ElementsMatch(t, msgs, payloads)
	assert.Equal(t, 2, rep.Delivered)
	assert.Equal(t, 2*cfg.K, rep.Received, "a copy from each host")
	assert.Equal(t, 8*(cfg.FetchHosts+1), rep.Hosts, "FetchHosts and itself, for each day")
	assert.Equal(t, 2*cfg.K, rep.Acked)
	assert.Zero(t, rep.Rejected)
	assert.Equal(t, 8, rep.Days, "today and the seven before")
	assert.Zero(t, held(tn.nodes), "the hosts deleted what bob acknowledged")

	rep, err = b.svc.Fetch(ctx, func(m Message) error { t.Errorf("delivered again: %q", m.Payload); return nil })
	require.NoError(t, err)
	assert.Zero(t, rep.Received)
}

// TestDeliverFailureKeepsMail: an item the caller could not take is not
// acknowledged, and the next Fetch delivers it; a tampered copy at one
// host does not stop the good copies.
func TestDeliverFailureKeepsMail(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	var nodes []*testNode
	for i := range 5 {
		var prev []*testNode
		if i > 0 {
			prev = nodes[i-1:]
		}
		nodes = append(nodes, tn.add(t, cfg, newIdentity(t), prev...))
	}
	waitTables(t, 2, nodes...)
	ctx := testCtx(t)
	bob := nodes[4]
	_, err := nodes[0].svc.Deposit(ctx, bob.id, bob.chat.PublicKey(), []byte("hello"))
	require.NoError(t, err)

	// one host's copy is damaged on its disk
	var damaged bool
	for _, n := range nodes {
		n.svc.store.mu.Lock()
		for r := range n.svc.store.led.items {
			v, err := n.svc.store.ds.Get(ctx, itemKey(r))
			require.NoError(t, err)
			v[len(v)-1] ^= 1
			require.NoError(t, n.svc.store.ds.Put(ctx, itemKey(r), v))
			damaged = true
		}
		n.svc.store.mu.Unlock()
		if damaged {
			break
		}
	}
	require.True(t, damaged)

	_, err = bob.svc.Fetch(ctx, func(Message) error { return errors.New("disk full") })
	require.Error(t, err)
	assert.NotZero(t, held(nodes), "nothing acknowledged")
	var got []Message
	rep, err := bob.svc.Fetch(ctx, func(m Message) error { got = append(got, m); return nil })
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "hello", string(got[0].Payload))
	assert.Zero(t, rep.Rejected, "the item opened from a good copy")
	assert.Zero(t, held(nodes), "every copy, the damaged one too, acknowledged")
}

// TestRefusals: what a host refuses, through the protocol.
func TestRefusals(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.SenderItems = 2
	a := tn.add(t, cfg, newIdentity(t))
	h := tn.add(t, cfg, newIdentity(t), a)
	ctx := testCtx(t)
	bob := newIdentity(t)

	_, err := a.svc.Deposit(ctx, bob.id, bob.chat.PublicKey(), make([]byte, cfg.MaxItemBytes-SealOverhead+1))
	require.ErrorIs(t, err, ErrTooLarge, "refused before sealing")

	expires := expiresOf(time.Now().Add(cfg.TTL))
	deposit := func(size int) (response, error) {
		return a.svc.call(ctx, h.h.ID(), request{op: opDeposit, key: MailboxKey(bob.id, 1), id: randomID(t), expires: expires, sealed: bytes.Repeat([]byte{1}, size)})
	}
	resp, err := deposit(cfg.MaxItemBytes + 1)
	require.NoError(t, err)
	assert.ErrorIs(t, resp.status.err(), ErrTooLarge, "above the host's limit")
	resp, err = a.svc.call(ctx, h.h.ID(), request{op: opDeposit, key: MailboxKey(bob.id, 1), id: randomID(t),
		expires: expiresOf(time.Now().Add(-time.Second)), sealed: bytes.Repeat([]byte{1}, SealOverhead)})
	require.NoError(t, err)
	assert.ErrorIs(t, resp.status.err(), ErrExpired, "a copy whose expiry has passed")
	for range cfg.SenderItems {
		resp, err = deposit(SealOverhead)
		require.NoError(t, err)
		require.Equal(t, statusOK, resp.status)
	}
	resp, err = deposit(SealOverhead)
	require.NoError(t, err)
	assert.ErrorIs(t, resp.status.err(), ErrQuota)
	assert.Equal(t, cfg.SenderItems, h.svc.Stats().Items)

	// a request that breaks the wire format is answered "malformed"
	st, err := Protocol.Open(ctx, a.h, h.h.ID())
	require.NoError(t, err)
	require.NoError(t, writeFrame(st, []byte{opFetch, 1, 2}))
	b, err := readFrame(st, MaxResponseLen)
	require.NoError(t, err)
	_ = st.Close()
	r, err := decodeResponse(b)
	require.NoError(t, err)
	assert.Equal(t, statusMalformed, r.status)
}

// TestExpiry runs a host for eight days on synctest's clock: Run's sweep
// deletes what nobody fetched within the TTL, and nothing is served after
// it.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := mocknet.New()
		defer mn.Close()
		// a short TTL: Badger's own tickers make days of synctest time slow
		cfg := DefaultConfig()
		cfg.TTL, cfg.SweepInterval = 10*time.Minute, time.Minute
		var svcs []*Service
		var ids []identity
		for i := range 2 {
			id := newIdentity(t)
			h, err := mn.AddPeer(id.priv, ma.StringCast(fmt.Sprintf("/ip4/127.1.0.%d/tcp/4001", i+1)))
			require.NoError(t, err)
			db, err := store.Open(store.InMemoryConfig())
			require.NoError(t, err)
			defer db.Close()
			s, err := New(context.Background(), cfg, Options{Host: h, Identity: id.priv, ChatKey: id.chat, Datastore: db.Datastore(store.PrefixChat)})
			require.NoError(t, err)
			defer s.Close()
			svcs, ids = append(svcs, s), append(ids, id)
		}
		require.NoError(t, mn.LinkAll())
		require.NoError(t, mn.ConnectAllButSelf())
		bob, host := svcs[0], svcs[1]
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = host.Run(ctx, func() {})
		}()

		day := DayOf(time.Now())
		key := MailboxKey(ids[0].id, day)
		sealed, err := seal(nil, ids[0].chat.PublicKey(), key, ItemID{1}, []byte("late"))
		require.NoError(t, err)
		// it asks for twice the TTL: the host keeps it for its own TTL
		resp, err := bob.call(ctx, host.h.ID(), request{op: opDeposit, key: key, id: ItemID{1}, expires: expiresOf(time.Now().Add(2 * cfg.TTL)), sealed: sealed})
		require.NoError(t, err)
		require.Equal(t, statusOK, resp.status)

		time.Sleep(cfg.TTL - time.Minute)
		synctest.Wait()
		resp, err = bob.call(ctx, host.h.ID(), request{op: opFetch, key: key, day: day})
		require.NoError(t, err)
		require.Equal(t, statusOK, resp.status)
		assert.Len(t, resp.items, 1, "kept until the TTL")

		time.Sleep(time.Minute + cfg.SweepInterval)
		synctest.Wait()
		assert.Equal(t, 0, host.Stats().Items)
		assert.Equal(t, uint64(1), host.Stats().Expired)
		resp, err = bob.call(ctx, host.h.ID(), request{op: opFetch, key: key, day: day})
		require.NoError(t, err)
		require.Equal(t, statusOK, resp.status)
		assert.Empty(t, resp.items, "nothing is served beyond the TTL")
		cancel()
		<-done
	})
}

var _ Router = (*dht.DHT)(nil)

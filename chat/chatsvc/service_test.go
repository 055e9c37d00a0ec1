package chatsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// testChat is a gossipnet network with a real DHT and a chat Service on
// every node, in a synctest bubble.
type testChat struct {
	t      *testing.T
	net    *gossipnet.Network
	dhts   []*dht.DHT
	svcs   []*Service
	stores []datastore.Batching
	stops  []func() // each service's: cancel its Run and wait for it
	cfg    Config
	ctx    context.Context
}

func newTestChat(t *testing.T, n int) *testChat {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: n, MinLatency: 2 * time.Millisecond, MaxLatency: 10 * time.Millisecond, Seed: 3, Config: gossip.TestConfig(),
	})
	require.NoError(t, err)
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	tc := &testChat{t: t, net: net, ctx: ctx}
	var dones []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range dones {
			require.NoError(t, <-d)
		}
		for _, stop := range tc.stops {
			stop()
		}
		for _, d := range tc.dhts {
			d.Close()
		}
		require.NoError(t, net.Close())
		require.NoError(t, db.Close())
	})
	run := func(r func(context.Context, func()) error) {
		ready := make(chan struct{})
		done := make(chan error, 1)
		dones = append(dones, done)
		go func() { done <- r(ctx, func() { close(ready) }) }()
		select {
		case <-ready:
		case err := <-done:
			done <- nil // for the cleanup
			t.Fatalf("Run: %v", err)
		}
	}
	cfg := DefaultConfig()
	cfg.Channel = channel.TestConfig()
	cfg.DM.RetryMin = time.Second
	for i := range n {
		d, err := dht.New(ctx, dht.TestConfig(), dht.Options{Host: net.Hosts[i], Identity: net.Keys[i],
			Datastore: db.Datastore(store.Prefix(fmt.Sprintf("/dht%d", i)))})
		require.NoError(t, err)
		tc.dhts = append(tc.dhts, d)
		run(d.Run)
	}
	tc.cfg = cfg
	for i := range n {
		tc.stores = append(tc.stores, db.Datastore(store.Prefix(fmt.Sprintf("/chat%d", i))))
		tc.svcs, tc.stops = append(tc.svcs, nil), append(tc.stops, nil)
		tc.start(i)
	}
	time.Sleep(5 * time.Second) // meshes, DHT tables, key records
	synctest.Wait()
	return tc
}

// start runs a chat Service for node i on its store (again, after stop).
func (tc *testChat) start(i int) {
	t := tc.t
	s, err := New(tc.cfg, Options{Host: tc.net.Hosts[i], Identity: tc.net.Keys[i], Records: tc.dhts[i], Gossip: tc.net.Nodes[i],
		Logger: testLogger(t, i), Store: tc.stores[i]})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(tc.ctx)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	tc.svcs[i] = s
	tc.stops[i] = func() {
		cancel()
		require.NoError(t, <-done)
		tc.stops[i] = func() {}
	}
}

// stop stops node i's chat Service.
func (tc *testChat) stop(i int) { tc.stops[i]() }

func TestDirectMessagesByName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestChat(t, 4)
		ctx := context.Background()
		alice, bob := tc.svcs[0], tc.svcs[1]
		e, err := alice.SetNick(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, "alice", e.Nick)
		time.Sleep(2 * time.Second)
		synctest.Wait()

		got := bob.Whois(ctx, "alice")
		require.Len(t, got, 1)
		assert.Equal(t, tc.net.Hosts[0].ID(), got[0].Peer)

		id, to, err := bob.Send(ctx, "alice", []byte("hi alice"), SendOptions{})
		require.NoError(t, err)
		assert.Equal(t, tc.net.Hosts[0].ID(), to)
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		st, err := bob.Wait(wctx, id, dm.Delivered, false)
		require.NoError(t, err)
		assert.Equal(t, dm.Delivered, st.State)
		assert.Contains(t, st.Routes, "direct")
		in := alice.Inbox(0)
		require.Len(t, in, 1)
		assert.Equal(t, "hi alice", string(in[0].Body))
		assert.Equal(t, tc.net.Hosts[1].ID(), in[0].From)

		// A second "alice": the name no longer resolves, and the candidates
		// are listed.
		_, err = tc.svcs[2].SetNick(ctx, "alice")
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		_, _, err = bob.Send(ctx, "alice", []byte("which one?"), SendOptions{})
		var amb *chat.AmbiguousError
		require.True(t, errors.As(err, &amb), "got %v", err)
		assert.Len(t, amb.Candidates, 2)

		_, _, err = bob.Send(ctx, tc.net.Hosts[0].ID().String(), []byte("anon"), SendOptions{Anonymous: true})
		require.ErrorIs(t, err, ErrNoMix)
	})
}

func TestChannelsThroughTheService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestChat(t, 3)
		ctx := context.Background()
		for _, s := range tc.svcs {
			require.NoError(t, s.Join(ctx, Joined{Name: "lobby"}))
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		_, err := tc.svcs[0].Channels().Post(ctx, "lobby", []byte("hello lobby"))
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for i, s := range tc.svcs {
			h, err := s.Channels().History(ctx, "lobby", 10)
			require.NoError(t, err)
			require.Len(t, h, 1, "node %d", i)
			assert.Equal(t, "hello lobby", string(h[0].Text))
		}
		js, err := tc.svcs[1].Joined(ctx)
		require.NoError(t, err)
		assert.Equal(t, []Joined{{Name: "lobby"}}, js)
		require.NoError(t, tc.svcs[1].Leave(ctx, "lobby"))
		js, err = tc.svcs[1].Joined(ctx)
		require.NoError(t, err)
		assert.Empty(t, js)
	})
}

func testLogger(t *testing.T, i int) *slog.Logger {
	if os.Getenv("CHAT_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", i)
}

// absentPeer returns the ID of a peer that is on no network and published
// no chat key.
func absentPeer(t *testing.T) peer.ID {
	_, pub, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	id, err := peer.IDFromPublicKey(pub)
	require.NoError(t, err)
	return id
}

// TestWaitGivesUpWithoutChatKey: waiting on a message to a peer whose chat
// key is nowhere ends after KeyLookupWait with an error naming the peer
// and the reason, not at the message's expiry a day later.
func TestWaitGivesUpWithoutChatKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestChat(t, 3)
		ctx := context.Background()
		ghost := absentPeer(t)
		start := time.Now()
		id, _, err := tc.svcs[0].Send(ctx, ghost.String(), []byte("anyone there?"), SendOptions{})
		require.NoError(t, err)
		st, err := tc.svcs[0].Wait(ctx, id, dm.Delivered, true)
		require.ErrorIs(t, err, ErrNoChatKey)
		took := time.Since(start)
		assert.Contains(t, err.Error(), ghost.String())
		assert.Contains(t, err.Error(), "not found within 30s (")
		assert.NotContains(t, err.Error(), "has not answered", "the lookup failed, and the error says why")
		assert.Equal(t, dm.Pending, st.State)
		assert.GreaterOrEqual(t, took, tc.cfg.KeyLookupWait)
		assert.Less(t, took, tc.cfg.KeyLookupWait+tc.cfg.SendTimeout, "virtual time: the wait ends at KeyLookupWait")
		t.Logf("gave up after %s: %v", took, err)

		// A message to a peer that is online waits for its delivery as before.
		id, _, err = tc.svcs[0].Send(ctx, tc.net.Hosts[1].ID().String(), []byte("hi"), SendOptions{})
		require.NoError(t, err)
		st, err = tc.svcs[0].Wait(ctx, id, dm.Delivered, true)
		require.NoError(t, err)
		assert.Equal(t, dm.Delivered, st.State)
	})
}

// TestUnsettledMessagesSurviveRestart stops a sender with a message that
// is still retried and one that was delivered, and starts it again on the
// same store: the first is retried (and Wait knows it), the second is not.
func TestUnsettledMessagesSurviveRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestChat(t, 3)
		ctx := context.Background()
		ghost := absentPeer(t)
		pending, _, err := tc.svcs[0].Send(ctx, ghost.String(), []byte("later"), SendOptions{})
		require.NoError(t, err)
		done, _, err := tc.svcs[0].Send(ctx, tc.net.Hosts[1].ID().String(), []byte("now"), SendOptions{})
		require.NoError(t, err)
		st, err := tc.svcs[0].Wait(ctx, done, dm.Delivered, false)
		require.NoError(t, err)
		require.Equal(t, dm.Delivered, st.State)
		synctest.Wait()
		_, err = tc.stores[0].Get(ctx, outKey(done))
		require.ErrorIs(t, err, datastore.ErrNotFound, "a delivered message's record is gone")
		_, err = tc.stores[0].Get(ctx, outKey(pending))
		require.NoError(t, err, "a pending message's record is kept")

		tc.stop(0)
		tc.start(0)
		st, ok := tc.svcs[0].SentInfo(pending)
		require.True(t, ok, "the restarted node knows its pending message")
		assert.Equal(t, ghost, st.To)
		assert.Equal(t, dm.Pending, st.State)
		_, ok = tc.svcs[0].SentInfo(done)
		assert.False(t, ok, "a delivered message is not retried after a restart")
		tc.svcs[0].mu.Lock()
		state, retried := tc.svcs[0].node.State(pending)
		tc.svcs[0].mu.Unlock()
		require.True(t, retried, "the core retries it")
		assert.Equal(t, dm.Pending, state)
		// Still without a key: the wait gives up as before the restart.
		_, err = tc.svcs[0].Wait(ctx, pending, dm.Delivered, true)
		require.ErrorIs(t, err, ErrNoChatKey)
	})
}

// TestRetryReachesAPeerNotConnected: a message to a peer that is online
// but could not be dialled at Send goes to its mailboxes; a retry dials it
// again, and once the link is back the message goes directly.
func TestRetryReachesAPeerNotConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestChat(t, 3)
		ctx := context.Background()
		a, b := tc.net.Hosts[0].ID(), tc.net.Hosts[1].ID()
		mn := tc.net.Mocknet
		require.NoError(t, tc.net.Cut(a, b))
		synctest.Wait()
		require.NoError(t, tc.net.Cut(a, b))
		id, _, err := tc.svcs[0].Send(ctx, b.String(), []byte("are you there?"), SendOptions{})
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		st, ok := tc.svcs[0].SentInfo(id)
		require.True(t, ok)
		// No direct way to b yet; its mailboxes (on node 2) are one, and
		// b may fetch from them and answer the same way before the link
		// is back: then the copy went by mailbox, not directly.
		if st.State >= dm.Delivered {
			require.NotContains(t, st.Routes, "direct", "no direct way to b yet")
			return
		}

		_, err = mn.LinkPeers(a, b)
		require.NoError(t, err)
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		st, err = tc.svcs[0].Wait(wctx, id, dm.Delivered, false)
		require.NoError(t, err, "a retry dialled b")
		assert.Contains(t, st.Routes, "direct")
	})
}

// TestRetryFindsAConnectedPeerOnline: a stream to a peer that fails (here
// b serves no DM protocol for a while) marks it offline while the
// connection stays up, so no connectedness event comes; a retry sees the
// connection and sends directly again, instead of leaving copies in
// mailboxes until b's next fetch.
func TestRetryFindsAConnectedPeerOnline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestChat(t, 3)
		ctx := context.Background()
		a, hb := tc.svcs[0], tc.net.Hosts[1]
		b := hb.ID()
		// a learns b's key in a first exchange, as in a conversation
		id, _, err := a.Send(ctx, b.String(), []byte("hello"), SendOptions{})
		require.NoError(t, err)
		st, err := a.Wait(ctx, id, dm.Delivered, false)
		require.NoError(t, err)
		require.Equal(t, dm.Delivered, st.State)

		DMProtocol.Unhandle(hb)
		time.Sleep(time.Minute) // a's link to b idles out
		synctest.Wait()
		id, _, err = a.Send(ctx, b.String(), []byte("still there?"), SendOptions{})
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		st, _ = a.SentInfo(id)
		require.Less(t, st.State, dm.Delivered)
		a.mu.Lock()
		require.NotNil(t, a.node.Key(b))
		a.mu.Unlock()
		require.Equal(t, network.Connected, tc.net.Hosts[0].Network().Connectedness(b), "the connection stayed")

		_, err = DMProtocol.Handle(hb, p2p.Limits{Streams: 256, StreamsPerPeer: 8, Idle: 30 * time.Second,
			Lifetime: 10 * time.Minute}, tc.svcs[1].handle)
		require.NoError(t, err)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err = a.Wait(wctx, id, dm.Delivered, false)
		require.NoError(t, err, "a retry saw the connection and went direct")
		assert.Contains(t, st.Routes, "direct")
	})
}

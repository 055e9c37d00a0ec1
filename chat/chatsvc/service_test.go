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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/store"
)

// testChat is a gossipnet network with a real DHT and a chat Service on
// every node, in a synctest bubble.
type testChat struct {
	t    *testing.T
	net  *gossipnet.Network
	dhts []*dht.DHT
	svcs []*Service
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
	tc := &testChat{t: t, net: net}
	var dones []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range dones {
			require.NoError(t, <-d)
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
	for i := range n {
		s, err := New(cfg, Options{Host: net.Hosts[i], Identity: net.Keys[i], Records: tc.dhts[i], Gossip: net.Nodes[i], Logger: testLogger(t, i),
			Store: db.Datastore(store.Prefix(fmt.Sprintf("/chat%d", i)))})
		require.NoError(t, err)
		tc.svcs = append(tc.svcs, s)
		run(s.Run)
	}
	time.Sleep(5 * time.Second) // meshes, DHT tables, key records
	synctest.Wait()
	return tc
}

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

package ledgersvc

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token"
)

// TestCatchUpAfterRestart: one of four nodes is down while the others
// transfer among themselves and to it; restarted from its store, it pulls
// what it missed from its peers (nothing about it is gossiped again:
// every election is settled), confirms every block with their votes,
// receives what was sent to it, and ends with the others' balances.
func TestCatchUpAfterRestart(t *testing.T) {
	synctest.Test(t, testCatchUpAfterRestart)
}

func testCatchUpAfterRestart(t *testing.T) {
	const n = 4
	c := newCluster(t, n, 5)
	for i := range n {
		c.start(i)
	}
	c.waitMesh(indexes(n))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	accts := make([]token.Account, n)
	for i := range n {
		accts[i] = c.svcs[i].Account()
	}
	require.NoError(t, c.stop(3))

	var sends []token.Hash
	for round := range 5 {
		for i := range 3 {
			to := accts[(i+1+round)%n] // every second round, some to node 3
			h, err := c.svcs[i].Send(ctx, to, uint64(100*(round+1)+i))
			require.NoError(t, err)
			sends = append(sends, h)
		}
		for _, i := range []int{0, 1, 2} {
			for _, h := range sends {
				require.NoError(t, c.svcs[i].WaitConfirmed(ctx, h))
			}
		}
	}
	// The live nodes settle, node 3's sends waiting for it to receive.
	snapshot := func(l *token.Ledger) map[token.Account]token.AccountInfo {
		out := map[token.Account]token.AccountInfo{}
		for _, a := range accts[:3] {
			info, _ := l.Account(a)
			out[a] = info
		}
		return out
	}
	var want map[token.Account]token.AccountInfo
	require.NoError(t, c.svcs[0].Wait(ctx, func(l *token.Ledger) bool {
		for _, a := range accts[:3] {
			if info, _ := l.Account(a); info.ConfirmedHeight != info.Height || len(pendingConfirmed(l, a)) > 0 {
				return false
			}
		}
		want = snapshot(l)
		return true
	}))
	var before token.AccountInfo
	c.svcs[0].View(func(l *token.Ledger) { before, _ = l.Account(accts[3]) })

	s3 := c.start(3)
	require.NoError(t, s3.Wait(ctx, func(l *token.Ledger) bool {
		for _, h := range sends {
			if !l.Confirmed(h) {
				return false
			}
		}
		// The others' chains end in receives of each other's sends,
		// which sends does not list: wait for their heads too (the
		// catch-up brings them; seen missing for a moment under load).
		for _, a := range accts[:3] {
			if info, _ := l.Account(a); info.Head != want[a].Head || !l.Confirmed(info.Head) {
				return false
			}
		}
		return len(l.Pending(accts[3])) == 0
	}), "node 3 catches up and receives what was sent to it")
	s3.View(func(l *token.Ledger) {
		got := snapshot(l)
		for _, a := range accts[:3] {
			assert.Equal(t, want[a].Balance, got[a].Balance, "balance of %s", a)
			assert.Equal(t, want[a].Head, got[a].Head, "head of %s", a)
		}
		info, _ := l.Account(accts[3])
		assert.Greater(t, info.Balance, before.Balance, "node 3 received its sends")
		assert.Equal(t, l.Supply(), l.Total()+l.InFlight())
	})
	// The others see node 3's receives confirmed too: the same ledger.
	var h3 token.Hash
	s3.View(func(l *token.Ledger) { info, _ := l.Account(accts[3]); h3 = info.Head })
	for i := range 3 {
		err := c.svcs[i].WaitConfirmed(ctx, h3)
		if err != nil {
			c.svcs[i].View(func(l *token.Ledger) {
				b, ok := l.Block(h3)
				t.Logf("node %d: has %v confirmed %v block %+v", i, ok, l.Confirmed(h3), b)
				info, _ := l.Account(accts[3])
				t.Logf("node %d: acct3 %+v", i, info)
			})
			s3.View(func(l *token.Ledger) {
				info, _ := l.Account(accts[3])
				t.Logf("node 3: acct3 %+v", info)
			})
		}
		require.NoError(t, err)
	}
	for i := range n {
		assert.Zero(t, c.svcs[i].Stats().Rejected, "node %d rejected an honest message", i)
	}
}

// pendingConfirmed returns the confirmed sends pending to a.
func pendingConfirmed(l *token.Ledger, a token.Account) []token.Hash {
	var out []token.Hash
	for _, h := range l.Pending(a) {
		if l.Confirmed(h) {
			out = append(out, h)
		}
	}
	return out
}

// TestCatchUpAfterPartition: node 3 stays up but is cut off from the
// others while they transfer to each other and to it; when its links come
// back, it pulls what it missed from the peers that reconnect, confirms
// it with their votes, and receives what was sent to it.
func TestCatchUpAfterPartition(t *testing.T) {
	synctest.Test(t, testCatchUpAfterPartition)
}

func testCatchUpAfterPartition(t *testing.T) {
	const n = 4
	c := newCluster(t, n, 11)
	for i := range n {
		c.start(i)
	}
	c.waitMesh(indexes(n))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	accts := make([]token.Account, n)
	for i := range n {
		accts[i] = c.svcs[i].Account()
	}
	mn := c.net.Mocknet
	h3 := c.net.Hosts[3]
	var cut []int
	for i := range 3 {
		if len(h3.Network().ConnsToPeer(c.net.Hosts[i].ID())) > 0 {
			cut = append(cut, i)
		}
		require.NoError(t, c.net.Cut(h3.ID(), c.net.Hosts[i].ID()))
		synctest.Wait()
		require.NoError(t, c.net.Cut(h3.ID(), c.net.Hosts[i].ID()))
	}
	require.NotEmpty(t, cut)

	var sends []token.Hash
	for round := range 4 {
		for i := range 3 {
			h, err := c.svcs[i].Send(ctx, accts[(i+1+round)%n], uint64(10*(round+1)+i))
			require.NoError(t, err)
			sends = append(sends, h)
		}
	}
	var want []token.AccountInfo
	require.NoError(t, c.svcs[0].Wait(ctx, func(l *token.Ledger) bool {
		want = want[:0]
		for _, a := range accts[:3] {
			info, _ := l.Account(a)
			if info.ConfirmedHeight != info.Height || len(pendingConfirmed(l, a)) > 0 {
				return false
			}
			want = append(want, info)
		}
		for _, h := range sends {
			if !l.Confirmed(h) {
				return false
			}
		}
		return true
	}), "the majority settles without node 3")
	c.svcs[3].View(func(l *token.Ledger) {
		// Cut off, node 3 misses what was sent after the cut (a message
		// already in flight when the links went may still reach it).
		confirmed := 0
		for _, h := range sends {
			if l.Confirmed(h) {
				confirmed++
			}
		}
		require.Less(t, confirmed, len(sends), "node 3 is cut off")
	})

	for _, i := range cut {
		_, err := mn.LinkPeers(h3.ID(), c.net.Hosts[i].ID())
		require.NoError(t, err)
		require.NoError(t, c.net.Connect(ctx, h3, c.net.Hosts[i]))
	}
	require.NoError(t, c.svcs[3].Wait(ctx, func(l *token.Ledger) bool {
		for _, h := range sends {
			if !l.Confirmed(h) {
				return false
			}
		}
		for k, a := range accts[:3] {
			if info, _ := l.Account(a); info.Head != want[k].Head || info.ConfirmedHeight != info.Height {
				return false
			}
		}
		return len(l.Pending(accts[3])) == 0
	}), "node 3 catches up once reconnected")
	var got []token.AccountInfo
	c.svcs[3].View(func(l *token.Ledger) {
		for _, a := range accts[:3] {
			info, _ := l.Account(a)
			got = append(got, info)
		}
		assert.Equal(t, l.Supply(), l.Total()+l.InFlight())
	})
	for k := range want {
		assert.Equal(t, want[k].Head, got[k].Head, "account %d", k)
		assert.Equal(t, want[k].Balance, got[k].Balance, "account %d", k)
	}
}

// TestCatchUpRefusesForgedBlocks: a peer that answers a catch-up with a
// block whose signature is forged ends that catch-up; the block is not
// taken, and the node goes on transferring.
func TestCatchUpRefusesForgedBlocks(t *testing.T) {
	synctest.Test(t, testCatchUpRefusesForgedBlocks)
}

func testCatchUpRefusesForgedBlocks(t *testing.T) {
	c := newCluster(t, 2, 7)
	s0 := c.start(0)
	c.start(1)
	c.waitMesh(indexes(2))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The forged block: node 1's account sending all its funds, signed by
	// another key.
	var info token.AccountInfo
	s0.View(func(l *token.Ledger) { info, _ = l.Account(c.svcs[1].Account()) })
	forged := token.Block{Kind: token.KindSend, Account: c.svcs[1].Account(), Previous: info.Head,
		Representative: info.Representative, Link: [32]byte(s0.Account()), Epoch: 1}
	forged.Sign(edKey(t, c.net.Keys[0]))
	asked := make(chan SyncRequest, 16)
	evil, _, err := c.net.AddHost()
	require.NoError(t, err)
	defer evil.Close()
	_, err = SyncProtocol.Handle(evil, p2p.Limits{Streams: 4, StreamsPerPeer: 4, Idle: time.Second, Lifetime: time.Minute}, func(st network.Stream) {
		defer st.Close()
		for {
			p, err := readFrame(st)
			if err != nil {
				return
			}
			req, err := DecodeSyncRequest(p)
			if err != nil {
				return
			}
			asked <- req
			resp := SyncResponse{Kind: req.Kind}
			if req.Kind == SyncFrontiers {
				resp.Frontiers = []token.Frontier{{Account: forged.Account, Head: forged.Hash(), Height: info.Height + 1}}
			} else {
				resp.Blocks = []SyncBlock{{Block: forged}}
			}
			enc, err := resp.Encode()
			if err != nil || writeFrame(st, enc) != nil {
				return
			}
		}
	})
	require.NoError(t, err)
	require.NoError(t, c.net.Connect(ctx, evil, c.net.Hosts[0]))
	var kinds []byte
	for len(kinds) < 2 {
		select {
		case r := <-asked:
			kinds = append(kinds, r.Kind)
		case <-ctx.Done():
			t.Fatal("node 0 never asked the new peer")
		}
	}
	assert.Equal(t, []byte{SyncFrontiers, SyncChain}, kinds)
	h, err := c.svcs[1].Send(ctx, s0.Account(), 5)
	require.NoError(t, err)
	require.NoError(t, s0.WaitConfirmed(ctx, h), "node 0 goes on")
	s0.View(func(l *token.Ledger) {
		_, ok := l.Block(forged.Hash())
		assert.False(t, ok, "the forged block is not taken")
		assert.Equal(t, l.Supply(), l.Total()+l.InFlight())
	})
}

// TestStopWhileCatchingUp: while Run stops and waits for a catch-up still
// under way, the host's connectedness events do not block: the
// subscription that fed the catch-ups is closed first. The host's event
// bus sends to a subscription under a lock that a catch-up's dial takes
// to announce its connection, so with the subscription left open until
// the catch-up ended, a full subscription and a dialling catch-up waited
// for each other for good (a node's stop in a 100-node simulation hung
// there).
func TestStopWhileCatchingUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 2, 9)
		c.start(1)
		s, err := New(context.Background(), TestConfig(), Options{Gossip: c.net.Nodes[0], Store: c.ds(0), Genesis: c.genesis, Identity: c.net.Keys[0]})
		require.NoError(t, err)
		release := make(chan struct{})
		s.testHookSync = func() { <-release }
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, nil) }()
		synctest.Wait() // the catch-up with node 1 waits in the hook

		cancel()
		synctest.Wait() // Run stops and waits for the catch-up
		em, err := c.net.Hosts[0].EventBus().Emitter(new(event.EvtPeerConnectednessChanged))
		require.NoError(t, err)
		emitted := make(chan struct{})
		go func() {
			defer close(emitted)
			for range 64 { // beyond the subscription's buffer
				_ = em.Emit(event.EvtPeerConnectednessChanged{Peer: c.net.Hosts[1].ID(), Connectedness: network.Connected})
			}
		}()
		synctest.Wait()
		select {
		case <-emitted:
		default:
			t.Error("the host's connectedness events block while the ledger stops")
		}
		close(release)
		<-emitted
		require.NoError(t, em.Close())
		require.NoError(t, <-done)
	})
}

// TestCatchUpPullsProposals: node 2 is down while node 0's DAO takes more
// proposals than one page of the catch-up holds; restarted, node 2's DAO
// pulls them all from its peers at its first catch-up. A peer answering a
// forged or out-of-order proposal ends the catch-up with it, and nothing of
// its answer is kept.
func TestCatchUpPullsProposals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 3
		// More proposals than a page, from staked proposers each within
		// the pending limit.
		rules := token.DefaultRules()
		keys, allocs := stakers((MaxSyncProposals+1+rules.MaxPending-1)/rules.MaxPending, 1)
		c := newCluster(t, n, 7, allocs...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s0 := c.start(0)
		c.start(1)
		d0, err := NewDAO(ctx, s0, c.net.Nodes[0], c.ds(0))
		require.NoError(t, err)
		var want []token.Proposal
		e := s0.Epoch() // windows open long enough for the test
		for i := range MaxSyncProposals + 1 {
			p := token.Proposal{Param: token.ParamTargetRelays, Value: uint64(10 + i), Start: e, End: e + 100, ExecDelay: 3}
			p.Sign(keys[i/rules.MaxPending])
			require.NoError(t, d0.add(ctx, p))
			want = append(want, p)
		}

		var d2 *DAO
		c.start(2, func(s *Service) {
			d2, err = NewDAO(ctx, s, c.net.Nodes[2], c.ds(2))
			require.NoError(t, err)
		})
		for len(d2.Proposals()) < len(want) {
			ch := d2.Changed()
			if len(d2.Proposals()) == len(want) {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				t.Fatalf("node 2 holds %d of %d proposals", len(d2.Proposals()), len(want))
			}
		}
		assert.ElementsMatch(t, want, d2.Proposals())

		// A hostile peer's answers, straight to the puller.
		forged := want[0]
		forged.Value++ // the signature no longer covers it
		answer := func(ps ...token.Proposal) func(SyncRequest) (SyncResponse, error) {
			return func(SyncRequest) (SyncResponse, error) {
				return SyncResponse{Kind: SyncProposals, Proposals: ps}, nil
			}
		}
		d1, err := NewDAO(ctx, c.svcs[1], c.net.Nodes[1], c.ds(1))
		require.NoError(t, err)
		require.ErrorIs(t, c.svcs[1].pullProposals(ctx, answer(forged)), errSyncPeer)
		require.ErrorIs(t, c.svcs[1].pullProposals(ctx, answer(want[0], want[0])), errSyncPeer, "the same ID twice")
		assert.Len(t, d1.Proposals(), 1, "only the first, honest proposal is kept")
		require.NoError(t, c.svcs[1].pullProposals(ctx, answer(want[0])))
	})
}

// TestSyncVersions: the catch-up is served at 1.1.0 and at 1.0.0, and only
// 1.1.0 carries proposals: a node that predates them (1.0.0) gets its
// frontiers, and a request for proposals on 1.0.0 ends the stream.
func TestSyncVersions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys, allocs := stakers(1, 2)
		c := newCluster(t, 2, 11, allocs...)
		s0 := c.start(0)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d0, err := NewDAO(ctx, s0, c.net.Nodes[0], c.ds(0))
		require.NoError(t, err)
		e := s0.Epoch()
		p := token.Proposal{Param: token.ParamTargetRelays, Value: 9, Start: e, End: e + 100, ExecDelay: 3}
		p.Sign(keys[0])
		require.NoError(t, d0.add(ctx, p))

		// One request per stream, each stream ended before the next (a
		// peer is served two at a time).
		ask := func(v p2p.Version, req SyncRequest) (SyncResponse, error) {
			st, err := c.net.Hosts[1].NewStream(ctx, c.net.Hosts[0].ID(), SyncProtocol.ID(v))
			require.NoError(t, err)
			defer func() { _ = st.Reset() }()
			return asker(st)(req)
		}
		for _, v := range []p2p.Version{{Major: 1}, {Major: 1, Minor: 1}} {
			resp, err := ask(v, SyncRequest{Kind: SyncFrontiers})
			require.NoError(t, err, "version %s", v)
			assert.Equal(t, byte(SyncFrontiers), resp.Kind, "version %s", v)
		}
		resp, err := ask(p2p.Version{Major: 1, Minor: 1}, SyncRequest{Kind: SyncProposals})
		require.NoError(t, err)
		assert.Equal(t, []token.Proposal{p}, resp.Proposals)
		_, err = ask(p2p.Version{Major: 1}, SyncRequest{Kind: SyncProposals})
		require.Error(t, err, "no proposals on 1.0.0")
	})
}

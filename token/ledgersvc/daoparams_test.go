package ledgersvc

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

// TestDAOParamsAgree: three staked nodes on mocknet (in a synctest
// bubble); one proposes R = 7 with the least execution delay, two of
// three parts of the stake vote yes, one no. Every node's ParamsAt gives
// the configured R up to the same epoch, ExecuteAt - 1, and 7 from it on,
// and a proposal that could never apply is refused.
func TestDAOParamsAgree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 3
		c := newCluster(t, n, 5)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		svcs := make([]*Service, n)
		daos := make([]*DAO, n)
		done := make(chan error, n)
		for i := range n {
			svcs[i] = c.start(i)
			d, err := NewDAO(ctx, svcs[i], c.net.Nodes[i], c.ds(i))
			require.NoError(t, err)
			ready := make(chan struct{})
			go func() { done <- d.Run(ctx, func() { close(ready) }) }()
			<-ready
			daos[i] = d
		}
		defer func() {
			cancel()
			for range n {
				require.NoError(t, <-done)
			}
		}()
		c.waitMesh(indexes(n))
		// The DAO topic's mesh too.
		for i := range n {
			for len(c.net.Nodes[i].TopicPeers(DAOTopic)) < len(c.net.Hosts[i].Network().Peers()) {
				time.Sleep(100 * time.Millisecond)
			}
		}

		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		stakes := []uint64{100_000, 100_000, 100_000}
		var hs []token.Hash
		for i, s := range svcs {
			h, err := s.Stake(wctx, stakes[i])
			require.NoError(t, err)
			hs = append(hs, h)
		}
		confirmAll := func(hs []token.Hash) {
			for _, s := range svcs {
				for _, h := range hs {
					require.NoError(t, s.WaitConfirmed(wctx, h))
				}
			}
		}
		confirmAll(hs)

		d0 := daos[0]
		min := d0.MinExecDelay()
		require.Equal(t, TestConfig().Settled(0), min)
		e := svcs[0].Epoch()
		_, err := d0.Propose(wctx, token.ParamTargetRelays, 7, e, e+5, min-1)
		require.ErrorIs(t, err, token.ErrInvalid, "a delay below the minimum")
		_, err = d0.Propose(wctx, "lottery.layers", 5, e, e+5, min)
		require.ErrorIs(t, err, token.ErrInvalid, "not a governed parameter")
		_, err = d0.Propose(wctx, token.ParamEpochLength, 5, e, e+5, min)
		require.ErrorIs(t, err, token.ErrInvalid, "an epoch length out of bounds")
		p, err := d0.Propose(wctx, token.ParamTargetRelays, 7, e, e+5, min)
		require.NoError(t, err)
		for _, d := range daos {
			for {
				ch := d.Changed()
				if _, err := d.Proposal(p.ID()); err == nil {
					break
				}
				select {
				case <-ch:
				case <-wctx.Done():
					t.Fatal("the proposal did not reach every node")
				}
			}
		}
		hs = nil
		for i, choice := range []token.Choice{token.Yes, token.Yes, token.No} {
			h, err := daos[i].Vote(wctx, p.ID(), choice)
			require.NoError(t, err)
			hs = append(hs, h)
		}
		confirmAll(hs)

		// Past the change and its settling, on the bubble's clock.
		cfg := TestConfig()
		time.Sleep(time.Until(cfg.EpochZero.Add(time.Duration(p.ExecuteAt()+3) * cfg.EpochLength)))
		base := token.Params{TargetRelays: 30}
		for i, d := range daos {
			_, res := d.Tally(&p)
			assert.True(t, res.Accepted, "node %d", i)
			assert.Equal(t, uint64(200_000), res.Yes)
			for x := p.ExecuteAt() - 3; x <= p.ExecuteAt()+3; x++ {
				want := uint64(30)
				if x >= p.ExecuteAt() {
					want = 7
				}
				assert.Equal(t, want, d.ParamsAt(base, x).TargetRelays, "node %d, epoch %d", i, x)
			}
		}
	})
}

package mixsvc

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/mixnet"
)

func TestLagHistogram(t *testing.T) {
	for _, tc := range []struct {
		lag    time.Duration
		bucket int
	}{
		{-time.Millisecond, 0},
		{0, 0},
		{99 * time.Microsecond, 0},
		{100 * time.Microsecond, 1},
		{9999 * time.Microsecond, 99},
		{10 * time.Millisecond, 100},
		{99 * time.Millisecond, 189},
		{100 * time.Millisecond, 190},
		{999 * time.Millisecond, 279},
		{time.Second, 280},
		{time.Hour, 280},
	} {
		b := lagBucket(tc.lag)
		assert.Equal(t, tc.bucket, b, "lag %v", tc.lag)
		assert.Less(t, tc.lag, LagBound(b), "lag %v below its bucket's bound", tc.lag)
		if b > 0 {
			assert.GreaterOrEqual(t, tc.lag, LagBound(b-1), "lag %v at or above the bound below", tc.lag)
		}
	}
	var h LagHistogram
	assert.Zero(t, h.Quantile(0.99))
	for i := range 1000 {
		h.Counts[lagBucket(time.Duration(i)*10*time.Microsecond)]++ // 0 .. 9.99 ms
	}
	assert.Equal(t, uint64(1000), h.Total())
	assert.Equal(t, 9900*time.Microsecond, h.Quantile(0.99)) // the 990th lag, 9.89 ms
	assert.Equal(t, 5*time.Millisecond, h.Quantile(0.5))
	var sum LagHistogram
	sum.Add(h)
	sum.Add(h)
	assert.Equal(t, uint64(2000), sum.Total())
	assert.Equal(t, h, sum.Sub(h))
}

// TestObserveSeesEveryFrame: with Observe set on every node, each frame one
// node hands to a link is seen arriving at the other end, and the message's
// route shows as a chain of frames from its sender to its recipient.
func TestObserveSeesEveryFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mc := DefaultConfig()
		mc.Cover = false
		m := newMixnet(t, 10, mc)
		var mu sync.Mutex
		var obs []Observation
		for i := range m.mixes {
			m.stop(2*i + 1)
			s, err := New(mc, Options{Host: m.net.Hosts[i], Identity: m.net.Keys[i], Lottery: m.lots[i], Store: m.ds(i, "m"),
				Observe: func(o Observation) {
					mu.Lock()
					obs = append(obs, o)
					mu.Unlock()
				}})
			require.NoError(t, err)
			m.run(2*i+1, s.Run)
			m.mixes[i] = s
		}
		m.waitRoutable(0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		from, to := m.net.Hosts[8].ID(), m.net.Hosts[9].ID()
		id, err := m.mixes[8].Send(ctx, to, []byte("watched"), mixnet.SendOptions{})
		require.NoError(t, err)
		r, err := m.mixes[8].Wait(ctx, id)
		require.NoError(t, err)
		require.NoError(t, r.Err)
		time.Sleep(5 * time.Second) // every frame lands
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		type pair struct{ from, to peer.ID }
		sent, recv := map[pair]int{}, map[pair]int{}
		for _, o := range obs {
			assert.NotEqual(t, o.From, o.To, "a node's frames to itself are not on a link")
			if o.Received {
				recv[pair{o.From, o.To}]++
			} else {
				sent[pair{o.From, o.To}]++
			}
		}
		assert.Equal(t, sent, recv, "every frame handed to a link arrived")
		out, in := 0, 0
		for p, c := range sent {
			if p.from == from {
				out += c
			}
			if p.to == to {
				in += c
			}
		}
		// No cover: the sender sent the message (one frame, more if a
		// retransmission) and the recipient received it; relays on the way
		// may be the endpoints themselves, so at least one frame each.
		assert.GreaterOrEqual(t, out, 1)
		assert.GreaterOrEqual(t, in, 1)
		var lags LagHistogram
		for _, s := range m.mixes {
			lags.Add(s.Lags())
		}
		assert.NotZero(t, lags.Total(), "ticks that were due were counted")
		// In a synctest bubble time stands still while goroutines run: no
		// tick is late.
		assert.Equal(t, 100*time.Microsecond, lags.Quantile(1))
	})
}

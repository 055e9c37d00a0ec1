package mixsvc

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/mixnet"
)

// gatedStore is a store whose queries (the replay tags' loads) wait, once
// it is armed, until release is closed: a store slower than any epoch
// sync should wait for.
type gatedStore struct {
	datastore.Batching
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{} // closed when the first query waits
	release chan struct{}
}

func newGatedStore(ds datastore.Batching) *gatedStore {
	return &gatedStore{Batching: ds, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedStore) Query(ctx context.Context, q query.Query) (query.Results, error) {
	if g.armed.Load() {
		g.once.Do(func() { close(g.entered) })
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Batching.Query(ctx, q)
}

// A frame of an epoch whose sync waits for the store (the relay's replay
// tags) is not held up behind it: receive returns at once, having parked
// the frame, and the frame is relayed once the sync ends. A frame of an
// epoch too far ahead is dropped at once.
func TestReceiveDoesNotWaitForEpochSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mc := DefaultConfig()
		mc.Cover = false
		const n = 10
		gates := make([]*gatedStore, n)
		m := newMixnetWith(t, n, mc, netOptions{store: func(i int, ds datastore.Batching) datastore.Batching {
			gates[i] = newGatedStore(ds)
			return gates[i]
		}})
		e := m.waitRoutable(0)
		// From now on every relay's next keyed epoch waits in the store.
		for _, g := range gates {
			g.armed.Store(true)
		}
		e = m.waitRoutable(e + 1)
		d, ok := m.lots[0].Directory(e)
		require.True(t, ok)
		rs := d.Relays()
		require.GreaterOrEqual(t, len(rs), 2)
		a, b := rs[0], rs[1]
		ia, ib := m.index(a), m.index(b)
		<-gates[ia].entered // a's sync of e waits for its replay tags
		from := m.net.Hosts[(ia+1)%n].ID()
		if from == m.net.Hosts[ib].ID() {
			from = m.net.Hosts[(ia+2)%n].ID()
		}

		mix := m.mixes[ia]
		done := make(chan struct{})
		go func() {
			mix.receive(from, relayFrame(t, e, a, b))
			mix.receive(from, relayFrame(t, e+5, a, b))
			close(done)
		}()
		<-done // the receive returned while the sync still waits
		st := mix.Status()
		assert.NotContains(t, st.Directories, e, "the sync of e has not ended")
		assert.EqualValues(t, 1, st.Drops[mixnet.DropUnknownKey], "the frame of e+5 dropped at once")
		mix.mu.Lock()
		parked := mix.nParked
		mix.mu.Unlock()
		assert.Equal(t, 1, parked, "the frame of e parked")

		for _, g := range gates {
			close(g.release)
		}
		time.Sleep(time.Second) // the sync, the delay, the tags' sync and the link
		synctest.Wait()
		st = mix.Status()
		assert.Contains(t, st.Directories, e)
		assert.EqualValues(t, 1, st.Forwarded, "the parked frame relayed after the sync")
		assert.EqualValues(t, 1, st.Drops[mixnet.DropUnknownKey])
		assert.EqualValues(t, 1, m.mixes[ib].Status().CoverDropped, "the packet reached b")
	})
}

package compute_test

import (
	"context"
	"errors"
	"github.com/fog-compute/fog/internal/await"
	"runtime"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/computetest"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
)

// TestSilentStreamAttack: raw-protocol hosts open many task and blob
// streams to an honest provider and its submitter and never send a whole
// first message (nothing past the protocol's negotiation, or the start of
// a frame that never ends), reopening what the nodes drop, wave after
// wave. The nodes hold no more of those streams than their per-peer
// limits allow, reset each at its deadline, keep their goroutines bounded
// and return to their baseline when the attack stops; and a real task
// from the honest submitter, whose module the provider must fetch, runs
// in about the time it takes without the attack.
func TestSilentStreamAttack(t *testing.T) {
	const (
		hosts         = 6
		taskStreams   = 64 // per host per wave: 8 × MaxPendingPerPeer
		blobStreams   = 8  // per host per wave and node: 2 × MaxServeStreamsPerPeer
		maxStreams    = 256
		streamsPerPer = 64
	)
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 7, Configure: func(i int, c *compute.Config) {
		c.Offer = i == 1 // node 0 submits, node 1 provides
		// Small enough that hosts × MaxStreamsPerPeer silent streams
		// would fill MaxStreams.
		c.MaxStreams, c.MaxStreamsPerPeer = maxStreams, streamsPerPer
	}})
	sub, prov := nw.Nodes[0], nw.Nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	echo := module(t, "echo")
	echoID := wasm.IDOf(echo)

	// run submits the echo task from the submitter, with the module, after
	// the provider dropped its copy (so it fetches it again over the blob
	// protocol), and returns how long it took.
	run := func(what string) time.Duration {
		t.Helper()
		if prov.Blob.Store().Has(echoID) {
			// The provider unpins the module when its handler returns,
			// which may be just after the submitter has the result.
			var err error
			await.Until(t, 10*time.Second, prov.Blob.Store().Released, func() bool {
				err = prov.Blob.Store().Delete(echoID)
				return !errors.Is(err, blob.ErrPinned)
			})
			require.NoError(t, err)
		}
		start := time.Now()
		id, err := sub.Compute().Submit(ctx, compute.Spec{Stdin: []byte(what)}, echo)
		require.NoError(t, err)
		res, err := sub.Compute().Wait(ctx, id)
		require.NoError(t, err)
		took := time.Since(start)
		require.Equal(t, compute.StateDone, res.State, res.Error)
		require.Equal(t, what, string(res.Stdout))
		require.Equal(t, prov.ID(), res.Providers[0])
		return took
	}
	run("warm up") // compiles the module at the provider
	baseline := min(run("baseline 1"), run("baseline 2"))

	// A Submit frame that announces 1000 bytes and sends 10; a blob
	// request cut after 5 of its 33 bytes.
	partialTask := append([]byte{byte(wire.TypeSubmit), 0xe8, 0x07}, make([]byte, 10)...)
	partialBlob := (blob.Request{ID: echoID}).Marshal()[:5]
	attack, err := nw.AddStreamAttack(ctx, []*computetest.Node{sub, prov}, computetest.StreamAttackConfig{
		Hosts: hosts, Streams: taskStreams, Waves: 50,
		Protocols: map[protocol.ID][]byte{wire.Protocol.IDs()[0]: partialTask},
	})
	require.NoError(t, err)
	blobAttack, err := nw.AddStreamAttack(ctx, []*computetest.Node{sub, prov}, computetest.StreamAttackConfig{
		Hosts: hosts, Streams: blobStreams, Waves: 50,
		Protocols: map[protocol.ID][]byte{blob.Protocol.IDs()[0]: partialBlob},
	})
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	pcfg := prov.Config
	bcfg := blob.TestConfig()
	attack.Start(ids(sub, prov))
	blobAttack.Start(ids(sub, prov))

	// The attack is in place once the provider holds its limit of pending
	// task streams from every host (so does the submitter, which serves
	// the protocol too), both nodes their limit of blob streams, and the
	// attackers have seen the rest of their wave refused.
	heldTask := hosts * pcfg.MaxPendingPerPeer
	heldBlob := hosts * bcfg.MaxServeStreamsPerPeer
	require.Eventually(t, func() bool {
		return prov.Compute().Stats().Streams.Serving >= heldTask &&
			prov.Blob.Stats().Serving >= heldBlob && sub.Blob.Stats().Serving >= heldBlob &&
			attack.Stats().Open <= int64(2*heldTask) && blobAttack.Stats().Open <= int64(2*heldBlob)
	}, 10*time.Second, time.Millisecond, "the attack takes hold")
	t.Logf("task attack %+v, blob attack %+v; provider %+v, blob %+v %+v", attack.Stats(), blobAttack.Stats(),
		prov.Compute().Stats().Streams, prov.Blob.Stats().Serving, sub.Blob.Stats().Serving)
	during := runtime.NumGoroutine()
	held := prov.Compute().Stats().Streams.Serving
	took := run("during the attack")
	t.Logf("attack: %s and %s; provider holds %d task streams (limit %d per host), blob %d+%d",
		attack, blobAttack, held, pcfg.MaxPendingPerPeer, prov.Blob.Stats().Serving, sub.Blob.Stats().Serving)
	t.Logf("goroutines: %d before the attack, %d during it; honest task %v (baseline %v, %.1f×)",
		before, during, took, baseline, float64(took)/float64(baseline))

	// Bounded: the held streams cost a handful of goroutines each (the
	// handler, the task reader, mocknet's pumps on both sides, the
	// attacker's reader), never one per stream the attack opened.
	limit := 8 * (2*heldTask + 2*heldBlob)
	assert.LessOrEqual(t, during-before, limit, "goroutines grow with the per-peer limits, not with the attack")
	assert.LessOrEqual(t, held, heldTask, "no more task streams than MaxPendingPerPeer per host")
	// About its normal time: within 5× the baseline, or at least within
	// one RetryAfter, which shows it was neither refused as busy nor kept
	// waiting for the attack's streams to time out.
	assert.Less(t, took, max(5*baseline, pcfg.RetryAfter), "the honest task runs in about its normal time")

	// The deadline closes them: once the attack stops reopening streams,
	// every one ends within an IdleTimeout, and the nodes are back to
	// their baseline.
	stopped := make(chan struct{})
	go func() { attack.Stop(); blobAttack.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(3 * max(pcfg.IdleTimeout, bcfg.IdleTimeout)):
		t.Fatalf("streams outlive their deadline: attack %+v, provider %+v", attack.Stats(), prov.Compute().Stats().Streams)
	}
	st := prov.Compute().Stats()
	assert.Zero(t, attack.Stats().Open)
	assert.GreaterOrEqual(t, st.FirstMessageTimeouts+st.Streams.TimedOut, uint64(heldTask), "silent streams were reset at their deadline")
	assert.NotZero(t, st.Refused[wire.RefuseBusy.String()], "streams beyond MaxPendingPerPeer were refused")
	assert.GreaterOrEqual(t, prov.Blob.Stats().TimedOut+sub.Blob.Stats().TimedOut, uint64(2*heldBlob))
	require.Eventually(t, func() bool {
		return prov.Compute().Stats().Streams.Serving == 0 && prov.Blob.Stats().Serving == 0 && sub.Blob.Stats().Serving == 0
	}, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+limit/8 }, 10*time.Second, 10*time.Millisecond,
		"goroutines back near %d", before)
	run("after the attack")
}

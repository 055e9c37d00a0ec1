package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
)

// testDevnet starts an n-node devnet for t (quiet logs, a temporary
// directory), waits until its nodes are connected, and closes it when the
// test ends; ctx ends after timeout.
func testDevnet(t *testing.T, n int, timeout time.Duration) (*devnet, context.Context) {
	t.Helper()
	d, err := startDevnet(context.Background(), clock.Real(), t.TempDir(), n, node.LogConfig{Level: "error", Format: "text"}, &bytes.Buffer{})
	require.NoError(t, err)
	t.Cleanup(func() {
		// Honest traffic never reaches the per-peer limit on the rate of
		// new inbound streams (p2p.Config.StreamRate, at its default).
		for i, nd := range d.nodes {
			st := nd.Host().StreamRateStats()
			t.Logf("node%d: inbound streams %d (%d of them Bitswap's), deepest drain of a peer's bucket %.1f of %d",
				i, st.Allowed, st.Refunded, st.Deepest, p2p.DefaultConfig().StreamBurst)
			assert.Zero(t, st.Refused, "node%d refused honest streams for their rate", i)
		}
		d.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	require.NoError(t, d.waitConnected(ctx, nil))
	return d, ctx
}

// fogOn returns a function that runs a fog command on node i of d and
// returns its standard output, failing t if the command fails.
func fogOn(t *testing.T, ctx context.Context, d *devnet) func(i int, args ...string) string {
	return func(i int, args ...string) string {
		t.Helper()
		out, errOut, err := fog(t, ctx, append([]string{"--path", string(d.dirs[i])}, args...)...)
		require.NoError(t, err, "fog %v: %s", args, errOut)
		return out
	}
}

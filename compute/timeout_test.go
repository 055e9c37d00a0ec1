package compute_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/computetest"
	"github.com/fog-compute/fog/compute/wire"
)

// TestFirstMessageTimeout: a provider gives a peer that opens a task stream
// and sends only part of a frame IdleTimeout (the default, 20 s) to finish
// it, then drops the stream. It runs in a synctest bubble, on the
// provider's clock, so the test checks the moment without waiting for it.
func TestFirstMessageTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		idle := compute.DefaultConfig().IdleTimeout
		nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 7,
			Configure: func(_ int, c *compute.Config) { c.IdleTimeout = idle }})
		prov := nw.Nodes[1].Compute()
		st, err := wire.Protocol.Open(t.Context(), nw.Nodes[0].Host, nw.Nodes[1].ID())
		require.NoError(t, err)
		defer st.Reset()
		// A Submit frame that announces 1000 bytes and sends 10.
		_, err = st.Write(append([]byte{byte(wire.TypeSubmit), 0xe8, 0x07}, make([]byte, 10)...))
		require.NoError(t, err)
		synctest.Wait()
		time.Sleep(idle - time.Nanosecond)
		synctest.Wait()
		assert.Zero(t, prov.Stats().FirstMessageTimeouts, "not before IdleTimeout")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, uint64(1), prov.Stats().FirstMessageTimeouts)
		_, err = st.Read(make([]byte, 1))
		assert.Error(t, err, "the stream is dropped")
	})
}

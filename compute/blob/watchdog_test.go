package blob

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWatchdog runs a fetch from a stalling server in a synctest bubble on
// the production timers: the client's watchdog gives up on the stream
// exactly IdleTimeout after its last progress, or at StreamTimeout for a
// server that trickles, without the test waiting in real time.
func TestWatchdog(t *testing.T) {
	mod := module(1, 10_000)
	n := uint64(len(mod))
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name  string
		every time.Duration // between the server's bytes; 0: it stalls
		want  time.Duration
	}{
		{"stall", 0, cfg.IdleTimeout},
		{"trickle", cfg.IdleTimeout - time.Second, cfg.StreamTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				stop := make(chan struct{})
				tn := newTestNet(t)
				t.Cleanup(func() { close(stop) }) // runs before the hosts close
				srv := tn.hostile(t, func(st network.Stream, _ Request) {
					st.Write(Header{StatusFound, n}.Marshal())
					defer st.Reset()
					for i := 0; tc.every > 0 && i < len(mod); i++ {
						select {
						case <-time.After(tc.every):
							st.Write(mod[i : i+1])
						case <-stop:
							return
						}
					}
					<-stop
				})
				c := tn.service(t, cfg, Options{})
				begin := time.Now()
				_, err := c.Fetch(t.Context(), wasm.IDOf(mod), info(srv))
				require.ErrorIs(t, err, ErrTimeout)
				assert.Equal(t, tc.want, time.Since(begin))
			})
		})
	}
}

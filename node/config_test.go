package node

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/fog-compute/fog/mix/lottery"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigRoundTrip(t *testing.T) {
	c := DefaultConfig()
	c.P2P.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzBtjB3ccXGGzQ1nXwhQxxnYMrGnX2Lqws2hSYUjPTnp"}
	b, err := MarshalConfig(c)
	require.NoError(t, err)
	assert.Contains(t, string(b), "# Peers to join the network through")
	got, err := ParseConfig(b)
	require.NoError(t, err)
	assert.Equal(t, c, got)
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // error substring; "" = valid
	}{
		{"empty keeps defaults", ``, ""},
		{"partial", "[api]\nlisten = \"127.0.0.1:6000\"\n", ""},
		{"duration", "[p2p]\nconn_grace = \"30s\"\n", ""},
		{"bad duration", "[p2p]\nconn_grace = \"soon\"\n", "soon"},
		{"unknown key", "[p2p]\nlisten_addr = []\n", "listen_addr"},
		{"unknown section", "[pp2]\nx = 1\n", "pp2"},
		{"bad level", "[log]\nlevel = \"loud\"\n", "log.level"},
		{"bad format", "[log]\nformat = \"xml\"\n", "log.format"},
		{"bad bootstrap", "[p2p]\nbootstrap = [\"/ip4/1.2.3.4/tcp/1\"]\n", "p2p.bootstrap[0]"},
		{"conn marks", "[p2p]\nconn_low = 10\nconn_high = 5\n", "conn_high"},
		{"not toml", "[p2p\n", "line 1"},
		{"api host", "[api]\nlisten = \"example.com:1\"\n", "api.listen"},
		{"body", "[api]\nmax_body_bytes = 10\n", "api.max_body_bytes"},
		{"memory below a task's default", "[compute]\nmemory_mib = 63\n", "compute.memory_mib 63"},
		{"memory", "[compute]\nmemory_mib = 64\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.toml))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestInitRefusesExisting(t *testing.T) {
	dir := DataDir(filepath.Join(t.TempDir(), "n"))
	_, err := Init(dir, TestConfig())
	require.NoError(t, err)
	_, err = Init(dir, TestConfig())
	require.ErrorIs(t, err, ErrAlreadyInitialized)
	_, err = DataDir(t.TempDir()).LoadConfig()
	require.ErrorIs(t, err, ErrNotInitialized)
}

func TestRelayConfigWindows(t *testing.T) {
	sim, def := lottery.SimConfig(), lottery.DefaultConfig()
	tests := []struct {
		epoch               time.Duration
		claim, reveal, skew time.Duration
	}{
		{5 * time.Second, 2 * time.Second, time.Second, 25 * time.Millisecond}, // half a sim epoch
		{sim.EpochLength, sim.ClaimWindow, sim.RevealWindow, sim.MaxClockSkew},
		{30 * time.Minute, def.ClaimWindow, def.RevealWindow, def.MaxClockSkew},
	}
	for _, tc := range tests {
		t.Run(tc.epoch.String(), func(t *testing.T) {
			c := DefaultConfig()
			c.Relay.EpochLength = Duration(tc.epoch)
			got, err := c.relayConfig(lottery.DefaultServiceConfig())
			require.NoError(t, err)
			assert.Equal(t, tc.epoch, got.EpochLength)
			assert.Equal(t, []time.Duration{tc.claim, tc.reveal, tc.skew}, []time.Duration{got.ClaimWindow, got.RevealWindow, got.MaxClockSkew})
			require.NoError(t, got.Config.Validate())
		})
	}
}

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
		{"unknown key", "[p2p]\nlisten_addr = []\n", "node: invalid config: line 2: unknown key listen_addr in [p2p] (did you mean listen?)"},
		{"unknown key listed", "[log]\n\nlvl = 1\n", "line 3: unknown key lvl in [log] (the keys of [log] are: level, format)"},
		{"unknown section", "[pp2]\nx = 1\n", "line 1: unknown section [pp2] (did you mean p2p?)"},
		{"unknown subsection", "[p2p.x]\n", "line 1: unknown section [p2p.x] (the keys of [p2p] are: listen, "},
		{"unknown top key", "foo = 1\n", "line 1: unknown key foo outside any section (the sections are: log, p2p, dht, gossip, compute, relay, mix, chat, token, files, api, store)"},
		{"unknown keys one a line", "[log]\nlevel = \"info\"\nfoo = 1\n[apii]\n", "2 unknown names:\n  line 3: unknown key foo in [log] (the keys of [log] are: level, format)\n  line 4: unknown section [apii] (did you mean api?)"},
		{"wrong type names the key", "[log]\nlevel = [1]\n", "line 2 column 9: log.level: cannot decode TOML array"},
		{"api port", "[api]\nlisten = \"127.0.0.1:70000\"\n", `api.listen "127.0.0.1:70000": port "70000": want 0 to 65535`},
		{"bad level", "[log]\nlevel = \"loud\"\n", "log.level"},
		{"bad format", "[log]\nformat = \"xml\"\n", "log.format"},
		{"bad bootstrap", "[p2p]\nbootstrap = [\"/ip4/1.2.3.4/tcp/1\"]\n", "p2p.bootstrap[0]"},
		{"conn marks", "[p2p]\nconn_low = 10\nconn_high = 5\n", "conn_high"},
		{"conn high above inbound", "[p2p]\nmax_inbound_conns = 150\n", "p2p.conn_high 192 must be below max_inbound_conns 150"},
		{"conns per ip", "[p2p]\nconns_per_ip = 0\n", "p2p.conns_per_ip 0"},
		{"stream rate", "[p2p]\nstream_rate = -1.0\n", "p2p.stream_rate -1 is negative"},
		{"stream burst", "[p2p]\nstream_burst = 0\n", "p2p.stream_burst 0"},
		{"stream strikes", "[p2p]\nstream_rate_strikes = 0\n", "p2p.stream_rate_strikes 0"},
		{"stream rate off", "[p2p]\nstream_rate = 0.0\nstream_burst = 0\n", ""},
		{"bad exempt", "[p2p]\nconn_limit_exempt = [\"loopback\"]\n", "p2p.conn_limit_exempt[0] \"loopback\""},
		{"no listen", "[p2p]\nlisten = []\n", "p2p.listen: no address"},
		{"negative resource memory", "[p2p]\nresource_memory_mib = -1\n", "p2p.resource_memory_mib -1"},
		{"dht mode", "[dht]\nmode = \"loud\"\n", `dht.mode "loud": want auto, server or client`},
		{"dht refresh", "[dht]\nrefresh_interval = \"0s\"\n", "dht.refresh_interval must be positive"},
		{"not toml", "[p2p\n", "line 1"},
		{"mix rate", "[mix]\nsend_rate = -1\n", "mix.send_rate -1 must be in [0, 1000]"},
		{"mix cover needs a send stream", "[mix]\nsend_rate = 0.0\n", "mix.send_rate 0 must be positive when cover is on"},
		{"mix without cover", "[mix]\ncover = false\nsend_rate = 0.0\nmean_delay = \"0s\"\n", ""},
		{"mix delay", "[mix]\nmean_delay = \"-1s\"\n", "mix.mean_delay -1s must not be negative"},
		{"api host", "[api]\nlisten = \"example.com:1\"\n", "api.listen"},
		{"body", "[api]\nmax_body_bytes = 10\n", "api.max_body_bytes"},
		{"no scratch space", "[compute]\nscratch_mib = 0\n", "compute.scratch_mib"},
		{"scratch space too large", "[compute]\nscratch_mib = 65537\n", "compute.scratch_mib"},
		{"scratch off needs no space", "[compute]\nscratch = false\nscratch_mib = 0\n", ""},
		{"memory below a task's default", "[compute]\nmemory_mib = 63\n", "compute.memory_mib 63"},
		{"memory", "[compute]\nmemory_mib = 64\n", ""},
		{"mailbox per sender", "[chat]\nmailbox_per_sender = 0\n", "chat.mailbox_per_sender 0 must be between 1 and 16384"},
		{"mailbox per sender above the host's", "[chat]\nmailbox_per_sender = 16385\n", "chat.mailbox_per_sender 16385"},
		{"mailbox per sender raised", "[chat]\nmailbox_per_sender = 1024\n", ""},
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

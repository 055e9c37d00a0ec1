package lottery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigPresetsValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, SimConfig().Validate())
	assert.Equal(t, 10*time.Minute, DefaultConfig().EpochLength)
	assert.Equal(t, 3, DefaultConfig().Layers)
	assert.Less(t, SimConfig().ClaimWindow, 5*time.Second, "sim directories must close inside the 5 s agreement target")
}

func TestConfigValidateNamesField(t *testing.T) {
	tests := []struct {
		field string
		mod   func(*Config)
	}{
		{"network_id", func(c *Config) { c.NetworkID = "" }},
		{"network_id", func(c *Config) { c.NetworkID = string(make([]byte, MaxNetworkIDLen+1)) }},
		{"genesis", func(c *Config) { c.Genesis = time.Time{} }},
		{"epoch_length", func(c *Config) { c.EpochLength = 0 }},
		{"target_relays", func(c *Config) { c.TargetRelays = 0 }},
		{"target_relays", func(c *Config) { c.TargetRelays = MaxTargetRelays + 1 }},
		{"layers", func(c *Config) { c.Layers = 0 }},
		{"layers", func(c *Config) { c.Layers = 256 }},
		{"max_clock_skew", func(c *Config) { c.MaxClockSkew = -time.Second }},
		{"claim_window", func(c *Config) { c.ClaimWindow = 4 * c.MaxClockSkew }},
		{"reveal_window", func(c *Config) { c.RevealWindow = 2 * c.MaxClockSkew }},
		{"epoch_length", func(c *Config) { c.EpochLength = c.ClaimWindow + c.RevealWindow }},
		{"max_message_size", func(c *Config) { c.MaxMessageSize = ClaimSize - 1 }},
		{"keep_epochs", func(c *Config) { c.KeepEpochs = 0 }},
		{"max_pending", func(c *Config) { c.MaxPending = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestEpochArithmetic(t *testing.T) {
	cfg := SimConfig()
	_, ok := cfg.EpochAt(cfg.Genesis.Add(-time.Nanosecond))
	assert.False(t, ok, "no epoch before genesis")
	for _, e := range []uint64{0, 1, 7, 1 << 20} {
		start := cfg.EpochStart(e)
		got, ok := cfg.EpochAt(start)
		require.True(t, ok)
		assert.Equal(t, e, got)
		got, _ = cfg.EpochAt(start.Add(cfg.EpochLength - time.Nanosecond))
		assert.Equal(t, e, got)
		assert.Equal(t, start.Add(cfg.ClaimWindow), cfg.ClaimClose(e))
	}
	// Epoch numbers from the wire never overflow the clock.
	assert.False(t, cfg.EpochStart(^uint64(0)).Before(cfg.EpochStart(1<<40)))
}

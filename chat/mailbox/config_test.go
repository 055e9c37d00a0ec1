package mailbox

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	d := DefaultConfig()
	assert.Equal(t, 3, d.K)
	assert.Equal(t, 7*24*time.Hour, d.TTL)
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"K", func(c *Config) { c.K = 0 }},
		{"FetchHosts", func(c *Config) { c.FetchHosts = c.K - 1 }},
		{"TTL", func(c *Config) { c.TTL = 0 }},
		{"TTL", func(c *Config) { c.TTL = 32 * 24 * time.Hour }},
		{"MaxItemBytes", func(c *Config) { c.MaxItemBytes = SealOverhead }},
		{"MaxItemBytes", func(c *Config) { c.MaxItemBytes = MaxItemLimit + 1 }},
		{"SenderItems", func(c *Config) { c.SenderItems = 0 }},
		{"SenderBytes", func(c *Config) { c.SenderBytes = int64(c.MaxItemBytes) - 1 }},
		{"HostItems", func(c *Config) { c.HostItems = c.SenderItems - 1 }},
		{"HostBytes", func(c *Config) { c.HostBytes = c.SenderBytes - 1 }},
		{"MaxFetchBytes", func(c *Config) { c.MaxFetchBytes = c.MaxItemBytes }},
		{"MaxFetchBytes", func(c *Config) { c.MaxFetchBytes = MaxResponseLen }},
		{"MaxClockSkew", func(c *Config) { c.MaxClockSkew = 0 }},
		{"SweepInterval", func(c *Config) { c.SweepInterval = 0 }},
		{"LookupTimeout", func(c *Config) { c.LookupTimeout = 0 }},
		{"RequestTimeout", func(c *Config) { c.RequestTimeout = 0 }},
		{"IdleTimeout", func(c *Config) { c.IdleTimeout = c.StreamTimeout + 1 }},
		{"MaxServeStreams", func(c *Config) { c.MaxServeStreams = 0 }},
		{"MaxServeStreamsPerPeer", func(c *Config) { c.MaxServeStreamsPerPeer = c.MaxServeStreams + 1 }},
		{"Clock", func(c *Config) { c.Clock = nil }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.field+":")
		})
	}
}

package dht

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigValidate checks that Validate wraps ErrConfig and names the Go
// field (node, not dht, translates it to a config.toml key).
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error, "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"mode", func(c *Config) { c.Mode = "loud" }, `Mode "loud"`},
		{"bucket size", func(c *Config) { c.BucketSize = 1 }, "BucketSize 1"},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }, "Concurrency 0"},
		{"resiliency", func(c *Config) { c.Resiliency = 0 }, "Resiliency 0"},
		{"refresh", func(c *Config) { c.RefreshInterval = 0 }, "RefreshInterval"},
		{"refresh query", func(c *Config) { c.RefreshQueryTimeout = 0 }, "RefreshQueryTimeout"},
		{"low peers", func(c *Config) { c.LowPeers = -1 }, "LowPeers is negative"},
		{"low peers backoff", func(c *Config) { c.LowPeersBackoff = 0 }, "LowPeersBackoff"},
		{"snapshot", func(c *Config) { c.SnapshotInterval = 0 }, "SnapshotInterval"},
		{"record age", func(c *Config) { c.MaxRecordAge = 0 }, "MaxRecordAge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

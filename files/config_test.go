package files

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	for _, tc := range []struct {
		field string
		mod   func(*Config)
	}{
		{"MaxFileBytes", func(c *Config) { c.MaxFileBytes = 0 }},
		{"MaxStorageBytes", func(c *Config) { c.MaxStorageBytes = c.MaxFileBytes - 1 }},
		{"ChunkBytes", func(c *Config) { c.ChunkBytes = 1 << 20 }},
		{"ChunkBytes", func(c *Config) { c.ChunkBytes = 100 }},
		{"Window", func(c *Config) { c.Window = 0 }},
		{"Windows", func(c *Config) { c.Windows = 0 }},
		{"FirstWindows", func(c *Config) { c.FirstWindows = 0 }},
		{"SourceBacklog", func(c *Config) { c.SourceBacklog = 0 }},
		{"MaxGets", func(c *Config) { c.MaxGets = 0 }},
		{"Stall", func(c *Config) { c.Stall = 0 }},
		{"FindProviders", func(c *Config) { c.FindProviders = 0 }},
		{"ReprovideInterval", func(c *Config) { c.ReprovideInterval = -1 }},
		{"MaxBadBlocks", func(c *Config) { c.MaxBadBlocks = 0 }},
		{"DropFor", func(c *Config) { c.DropFor = 0 }},
		{"StreamsPerPeer", func(c *Config) { c.StreamsPerPeer = c.Streams + 1 }},
		{"StreamIdle", func(c *Config) { c.StreamIdle = 0 }},
		{"Clock", func(c *Config) { c.Clock = nil }},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig, tc.field)
		assert.Contains(t, err.Error(), tc.field)
	}
}

func TestPinNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"", true}, {"a.bin", true}, {"été.txt", true},
		{"a/b", false}, {"..", false}, {".", false}, {"a\x00", false}, {"a\\b", false}, {string([]byte{0xff}), false},
	} {
		err := checkName(tc.name)
		assert.Equal(t, tc.ok, err == nil, "%q: %v", tc.name, err)
	}
}

package wasm

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	noScratch := DefaultConfig()
	noScratch.ScratchBytes, noScratch.ScratchFiles = 0, 0
	require.NoError(t, noScratch.Validate(), "no scratch space needs no file bound")
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"MaxCompiledModules", func(c *Config) { c.MaxCompiledModules = 0 }},
		{"ScratchBytes", func(c *Config) { c.ScratchBytes = -1 }},
		{"ScratchFiles", func(c *Config) { c.ScratchFiles = 0 }},
		{"MaxLimits.MemoryPages", func(c *Config) { c.MaxLimits.MemoryPages = 0 }},
		{"MaxLimits.MemoryPages", func(c *Config) { c.MaxLimits.MemoryPages = maxPages + 1 }},
		{"MaxLimits.WallTime", func(c *Config) { c.MaxLimits.WallTime = 0 }},
		{"MaxLimits.OutputBytes", func(c *Config) { c.MaxLimits.OutputBytes = -1 }},
		{"DefaultLimits.MemoryPages", func(c *Config) { c.DefaultLimits.MemoryPages = 0 }},
		{"DefaultLimits.WallTime", func(c *Config) { c.DefaultLimits.WallTime = -time.Second }},
		{"DefaultLimits.OutputBytes", func(c *Config) { c.DefaultLimits.OutputBytes = 0 }},
		{"DefaultLimits.MemoryPages", func(c *Config) { c.DefaultLimits.MemoryPages = c.MaxLimits.MemoryPages + 1 }},
		{"DefaultLimits.WallTime", func(c *Config) { c.DefaultLimits.WallTime = c.MaxLimits.WallTime + 1 }},
		{"DefaultLimits.OutputBytes", func(c *Config) { c.DefaultLimits.OutputBytes = c.MaxLimits.OutputBytes + 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
			require.ErrorIs(t, err, ErrConfig)
			_, err = New(context.Background(), cfg)
			require.ErrorIs(t, err, ErrConfig, "New validates")
		})
	}
}

func TestLimitsResolve(t *testing.T) {
	def := Limits{MemoryPages: 10, WallTime: time.Second, OutputBytes: 100}
	max := Limits{MemoryPages: 20, WallTime: time.Minute, OutputBytes: 1000}
	got, err := Limits{}.resolve(def, max)
	require.NoError(t, err)
	assert.Equal(t, def, got)
	got, err = Limits{MemoryPages: 20, OutputBytes: 1}.resolve(def, max)
	require.NoError(t, err)
	assert.Equal(t, Limits{MemoryPages: 20, WallTime: time.Second, OutputBytes: 1}, got)
	_, err = Limits{MemoryPages: 21}.resolve(def, max)
	require.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), "Limits.MemoryPages")
}

package node

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValue(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct{ key, want, err string }{
		{key: "api.listen", want: "127.0.0.1:5151"},
		{key: "api.max_batch", want: "64"},
		{key: "p2p.bootstrap", want: "[]"},
		{key: "api", want: "allowed_hosts = []"},
		{key: "api.lisen", err: "unknown key lisen in [api] (did you mean listen?)"},
		{key: "apii.listen", err: "unknown key apii outside any section (did you mean api?)"},
		{key: "api.listen.port", err: "api.listen is not a section"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got, err := ConfigValue(c, tc.key)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrConfig)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, got, tc.want)
		})
	}
}

func TestSetConfigValue(t *testing.T) {
	const peer = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
	for _, tc := range []struct {
		key, value string
		check      func(t *testing.T, c Config)
	}{
		{"api.listen", "127.0.0.1:5152", func(t *testing.T, c Config) { assert.Equal(t, "127.0.0.1:5152", c.API.Listen) }},
		{"api.listen", `"127.0.0.1:5153"`, func(t *testing.T, c Config) { assert.Equal(t, "127.0.0.1:5153", c.API.Listen) }},
		{"api.max_batch", "32", func(t *testing.T, c Config) { assert.Equal(t, 32, c.API.MaxBatch) }},
		{"api.metrics", "false", func(t *testing.T, c Config) { assert.False(t, c.API.Metrics) }},
		{"log.level", "debug", func(t *testing.T, c Config) { assert.Equal(t, "debug", c.Log.Level) }},
		{"p2p.bootstrap", `["` + peer + `"]`, func(t *testing.T, c Config) { assert.Equal(t, []string{peer}, c.P2P.Bootstrap) }},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			c, err := SetConfigValue(DefaultConfig(), tc.key, tc.value)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
	t.Run("the start-up's messages", func(t *testing.T) {
		_, err := SetConfigValue(DefaultConfig(), "api.max_batch", "0")
		require.ErrorIs(t, err, ErrConfig)
		_, startErr := ParseConfig([]byte("[api]\nmax_batch = 0\n"))
		require.Error(t, startErr)
		assert.Equal(t, startErr.Error(), err.Error())
	})
	for _, tc := range []struct{ key, value, err string }{
		{"api", "x", "api is a section"},
		{"api.max_batch", "many", "max_batch"},
		{"p2p.bootstrap", `["nope"]`, "nope"},
		{"nope", "1", "unknown key nope"},
	} {
		t.Run("refused "+tc.key+"="+tc.value, func(t *testing.T) {
			_, err := SetConfigValue(DefaultConfig(), tc.key, tc.value)
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestDataDirSetConfig(t *testing.T) {
	dir, _ := initTestDir(t, nil)
	before, err := os.ReadFile(dir.Config())
	require.NoError(t, err)
	_, err = dir.SetConfig("api.max_batch", "0")
	require.Error(t, err)
	after, err := os.ReadFile(dir.Config())
	require.NoError(t, err)
	assert.Equal(t, before, after, "a refused value leaves the file alone")

	c, err := dir.SetConfig("compute.price", "7")
	require.NoError(t, err)
	assert.EqualValues(t, 7, c.Compute.Price)
	loaded, err := dir.LoadConfig()
	require.NoError(t, err)
	assert.Equal(t, c, loaded)
	b, err := os.ReadFile(dir.Config())
	require.NoError(t, err)
	assert.Contains(t, string(b), "# fog node configuration", "the file keeps its comments")
	matches, _ := filepath.Glob(filepath.Join(string(dir), ".config.toml.tmp*"))
	assert.Empty(t, matches)
}

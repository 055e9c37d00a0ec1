package node

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/files"
)

// The [files] section is checked with the keys config.toml spells.
func TestFilesConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	for _, tc := range []struct {
		name string
		mod  func(*FilesConfig)
		want string
	}{
		{"no file size", func(f *FilesConfig) { f.MaxFileMiB = 0 }, "files.max_file_mib"},
		{"storage below file", func(f *FilesConfig) { f.MaxStorageMiB = f.MaxFileMiB - 1 }, "files.max_storage_mib"},
		{"off: not checked", func(f *FilesConfig) { f.Enabled, f.MaxFileMiB = false, 0 }, ""},
	} {
		c := DefaultConfig()
		tc.mod(&c.Files)
		err := c.Validate()
		if tc.want == "" {
			assert.NoError(t, err, tc.name)
			continue
		}
		require.ErrorIs(t, err, ErrConfig, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
	fc := DefaultConfig().filesConfig(files.DefaultConfig())
	assert.Equal(t, DefaultConfig().Files.MaxFileMiB<<20, fc.MaxFileBytes)
}

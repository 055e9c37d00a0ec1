package durable

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  []byte // a file already there, or nil
		data []byte
		perm os.FileMode
	}{
		{"new file", nil, []byte("hello"), 0o600},
		{"replaces", []byte("old contents"), []byte("new"), 0o644},
		{"empty", nil, []byte{}, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.old != nil {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), tc.old, 0o600))
			}
			require.NoError(t, WriteFile(dir, "f", ".f.tmp*", tc.data, tc.perm))
			got, err := os.ReadFile(filepath.Join(dir, "f"))
			require.NoError(t, err)
			assert.Equal(t, tc.data, got)
			fi, err := os.Stat(filepath.Join(dir, "f"))
			require.NoError(t, err)
			assert.Equal(t, tc.perm, fi.Mode().Perm())
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, ents, 1, "no temporary file left")
		})
	}
}

func TestWriteFileFails(t *testing.T) {
	dir := t.TempDir()
	assert.Error(t, WriteFile(filepath.Join(dir, "missing"), "f", "*", []byte("x"), 0o600), "no such directory")
	// A directory where the file should go: the rename fails and the
	// temporary file goes.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "f"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f", "x"), nil, 0o600))
	assert.Error(t, WriteFile(dir, "f", ".tmp*", []byte("x"), 0o600))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, ents, 1, "the temporary file was removed")
	assert.Error(t, SyncDir(filepath.Join(dir, "missing")))
}

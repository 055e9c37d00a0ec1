package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/store"
)

// TestRepairCommand damages a stopped node's store: fog run refuses it,
// naming the file and fog repair; fog repair --dry-run reports and changes
// nothing; fog repair --json repairs and reports what it kept and lost; the
// store then opens with every record that verified.
func TestRepairCommand(t *testing.T) {
	dir := initDir(t)
	sdir := node.DataDir(dir).Store()
	cfg := store.DefaultConfig(sdir)
	cfg.Logger = nil
	db, err := store.Open(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	ds := db.Datastore(store.PrefixCompute)
	const n = 400
	for i := range n {
		require.NoError(t, ds.Put(ctx, store.Key("task", fmt.Sprintf("%04d", i)), []byte(fmt.Sprintf("task %d %0300d", i, i))))
	}
	_, _, err = fog(t, ctx, "repair", "--path", dir, "--quiet")
	require.ErrorIs(t, err, store.ErrLocked, "repair while the store is open")
	assert.Contains(t, err.Error(), "still running")
	require.NoError(t, db.Close())

	ssts, err := filepath.Glob(filepath.Join(sdir, "*.sst"))
	require.NoError(t, err)
	require.Len(t, ssts, 1)
	f, err := os.OpenFile(ssts[0], os.O_RDWR, 0)
	require.NoError(t, err)
	info, err := f.Stat()
	require.NoError(t, err)
	_, err = f.WriteAt(make([]byte, 256), info.Size()/2)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	// A node that started anyway stops at the deadline (without error).
	runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, _, err = fog(t, runCtx, "run", "--path", dir)
	require.ErrorIs(t, err, store.ErrCorrupt)
	assert.Contains(t, err.Error(), ssts[0])
	assert.Contains(t, err.Error(), "run `fog repair --path "+dir+"`")

	out, errOut, err := fog(t, ctx, "repair", "--path", dir, "--dry-run")
	require.NoError(t, err)
	assert.Contains(t, out, "1 damaged")
	assert.Contains(t, out, filepath.Base(ssts[0]))
	assert.Contains(t, out, "dry run: nothing was written or moved")
	assert.Contains(t, errOut, "reading keys", "progress on stderr")

	out, _, err = fog(t, ctx, "repair", "--path", dir, "--json", "--quiet")
	require.NoError(t, err)
	var rep store.RepairReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 1, rep.Damaged)
	lost := rep.Lost["/compute"]
	assert.Positive(t, lost)
	assert.Equal(t, n, rep.Kept["/compute"]+lost, "kept and lost add up")
	assert.DirExists(t, rep.Backup)

	db, err = store.Open(cfg)
	require.NoError(t, err)
	defer db.Close()
	kept := 0
	for i := range n {
		v, err := db.Datastore(store.PrefixCompute).Get(ctx, store.Key("task", fmt.Sprintf("%04d", i)))
		if err == nil {
			kept++
			assert.Equal(t, fmt.Sprintf("task %d %0300d", i, i), string(v))
		}
	}
	assert.Equal(t, rep.Kept["/compute"], kept)
}

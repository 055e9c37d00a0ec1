package queue_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/store"
)

// TestNoSpace: the queue writes through Badger directly, so it asks the
// store for room first. With more free space required than any disk has,
// Enqueue is refused with store.ErrNoSpace and leaves no job behind.
func TestNoSpace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("free space is measured on Linux only")
	}
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Logger = nil
	cfg.MinFreeBytes = 1 << 62
	db, err := store.Open(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	q, err := queue.Open(t.Context(), db, queue.TestConfig())
	require.NoError(t, err)
	defer func() { require.NoError(t, q.Close()) }()

	_, err = q.Enqueue(t.Context(), queue.Job{ID: "full"})
	require.ErrorIs(t, err, store.ErrNoSpace)
	_, err = q.Get(t.Context(), "full")
	assert.ErrorIs(t, err, queue.ErrNotFound)
	assert.Zero(t, q.Counts().Queued)
}

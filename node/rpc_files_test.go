package node

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/files"
	"github.com/fog-compute/fog/internal/await"
)

// TestFileRPC shares a file on one node and gets it on another through
// the API: file.share, file.get (asynchronous), file.status until done,
// file.list, file.remove, and the errors callers branch on.
func TestFileRPC(t *testing.T) {
	a := startTestNode(t, nil)
	b := startTestNode(t, nil)
	ca, cb := a.client(t), b.client(t)
	ctx := context.Background()

	data := bytes.Repeat([]byte("fog files "), 100_000) // 1 MB: four leaves and a root
	src := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(src, data, 0o600))
	var sh FileShareResult
	require.NoError(t, ca.Call(ctx, "file.share", FileShareParams{Path: src}, &sh))
	assert.Equal(t, "in.txt", sh.Name)
	assert.Equal(t, int64(len(data)), sh.Size)

	out := filepath.Join(t.TempDir(), "out.txt")
	var tr files.Transfer
	require.NoError(t, cb.Call(ctx, "file.get", FileGetParams{CID: sh.CID, Out: out, Providers: []string{a.p2pAddr()}}, &tr))
	assert.Equal(t, sh.CID, tr.Root.String())
	var st FileStatus
	await.Until(t, 30*time.Second, b.files.Changed, func() bool {
		require.NoError(t, cb.Call(ctx, "file.status", FileCIDParams{CID: sh.CID}, &st))
		return st.Transfer != nil && st.Transfer.State != files.StateRunning
	}, "the transfer ends")
	require.Equal(t, files.StateDone, st.Transfer.State, st.Transfer.Error)
	assert.True(t, st.Pinned && st.Complete)
	assert.Equal(t, "out.txt", st.Name)
	assert.Equal(t, 1, st.Transfer.Progress.Peers)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))

	var shares []files.ShareProgress
	require.NoError(t, ca.Call(ctx, "file.shares", nil, &shares))
	assert.Empty(t, shares, "the share ended")

	var ls FileListResult
	require.NoError(t, cb.Call(ctx, "file.list", nil, &ls))
	require.Len(t, ls.Files, 1)
	assert.Positive(t, ls.StoredBytes)

	var gc files.GCStats
	require.NoError(t, cb.Call(ctx, "file.remove", FileCIDParams{CID: sh.CID}, &gc))
	assert.Equal(t, 5, gc.Removed)

	code := func(err error) jrpc2.Code {
		var e *jrpc2.Error
		require.True(t, errors.As(err, &e), "%v", err)
		return e.Code
	}
	assert.Equal(t, CodeNotFound, code(cb.Call(ctx, "file.remove", FileCIDParams{CID: sh.CID}, &gc)))
	assert.Equal(t, jrpc2.InvalidParams, code(ca.Call(ctx, "file.share", FileShareParams{Path: "rel.txt"}, &sh)))
	assert.Equal(t, jrpc2.InvalidParams, code(ca.Call(ctx, "file.status", FileCIDParams{CID: "nope"}, &st)))
}

// With [files] off, the methods say so.
func TestFileRPCOff(t *testing.T) {
	n := startTestNode(t, func(c *Config) { c.Files.Enabled = false })
	var ls FileListResult
	err := n.client(t).Call(context.Background(), "file.list", nil, &ls)
	var e *jrpc2.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, CodeUnavailable, e.Code)
}

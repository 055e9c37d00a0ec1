package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
)

// `fog events --json --filter peer` prints one JSON object per line: the
// stream's opening, then a peer leaving, with its peer ID.
func TestEventsCommand(t *testing.T) {
	d, ctx := testDevnet(t, 2, 2*time.Minute)

	pr, pw := io.Pipe()
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd(pw, io.Discard)
		cmd.SetArgs([]string{"--path", string(d.dirs[0]), "--json", "events", "--filter", "peer"})
		err := cmd.ExecuteContext(cctx)
		pw.Close()
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	next := func() map[string]any {
		t.Helper()
		require.True(t, lines.Scan(), "fog events ended early")
		var m map[string]any
		require.NoError(t, json.Unmarshal(lines.Bytes(), &m), lines.Text())
		assert.Contains(t, m, "time")
		return m
	}
	assert.Equal(t, node.EventStreamOpened, next()["type"])
	gone := d.nodes[1].Host().ID().String()
	require.NoError(t, d.nodes[1].Close())
	// libp2p may report the connection made before the stream opened
	// after it: only peer events come, the disconnection among them.
	for {
		ev := next()
		require.Contains(t, []string{node.EventPeerConnected, node.EventPeerDisconnected}, ev["type"])
		if ev["type"] == node.EventPeerDisconnected {
			assert.Equal(t, map[string]any{"peer": gone}, ev["data"])
			break
		}
	}
	stop()
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain until the command ends
	require.NoError(t, <-done)

	_, errOut, err := fog(t, ctx, "--path", string(d.dirs[0]), "events", "--filter", "nope")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), errOut)
}

// fog debug profile saves a CPU profile and a heap profile of the
// running node (in pprof's gzipped protobuf format); the API serves
// /debug/pprof only with the token.
func TestDebugProfile(t *testing.T) {
	d, err := startDevnet(context.Background(), clock.Real(), t.TempDir(), 1, node.LogConfig{Level: "error", Format: "text"}, &bytes.Buffer{})
	require.NoError(t, err)
	defer d.Close()
	ctx := context.Background()
	for _, tc := range []struct{ name, typ string }{{"cpu", "cpu"}, {"heap", "heap"}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), tc.name+".pprof")
			_, errOut, err := fog(t, ctx, "--path", string(d.dirs[0]), "debug", "profile", "--type", tc.typ, "--seconds", "1", "-o", out)
			require.NoError(t, err, errOut)
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Greater(t, len(b), 2)
			assert.Equal(t, []byte{0x1f, 0x8b}, b[:2], "a gzipped pprof profile")
		})
	}
	rsp, err := http.Get("http://" + d.nodes[0].APIAddr() + "/debug/pprof/")
	require.NoError(t, err)
	rsp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, rsp.StatusCode)

	_, errOut, err := fog(t, ctx, "--path", string(d.dirs[0]), "debug", "profile", "--type", "nope")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), errOut)
}

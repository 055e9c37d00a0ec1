package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
)

// fog id of a running node, fog config, and fog shutdown stopping `fog run`
// as SIGTERM does.
func TestAdminCommands(t *testing.T) {
	dir := initDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := fog(t, ctx, "run", "--path", dir)
		done <- err
	}()
	waitAPI(t, dir)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := fog(t, ctx, append([]string{"--path", dir}, args...)...)
		require.NoError(t, err, "fog %v: %s", args, errOut)
		return out
	}

	var id idInfo
	require.NoError(t, json.Unmarshal([]byte(run("--json", "id")), &id))
	assert.True(t, id.Running)
	assert.Equal(t, "fog/"+node.Version, id.AgentVersion)
	require.NotEmpty(t, id.Addresses)
	for _, a := range id.Addresses {
		assert.True(t, strings.HasSuffix(a, "/p2p/"+id.PeerID), a)
	}

	assert.Contains(t, run("config", "show"), "[api]")
	assert.Equal(t, "1000\n", run("config", "get", "compute.price"), "the default")
	assert.Contains(t, run("config", "set", "compute.price", "9"), "compute.price = 9")
	assert.Equal(t, "9\n", run("config", "get", "compute.price"))
	_, errOut, err := fog(t, ctx, "--path", dir, "config", "set", "api.max_batch", "0")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), errOut)
	assert.Contains(t, err.Error(), "api.max_batch 0: want 1 to 10000")
	_, _, err = fog(t, ctx, "--path", dir, "config", "get", "compute.prize")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did you mean price?")

	assert.Contains(t, run("shutdown"), "shutting down")
	select {
	case err := <-done:
		require.NoError(t, err, "fog run ends cleanly")
	case <-ctx.Done():
		t.Fatal("fog run did not stop after fog shutdown")
	}
	cfg, err := node.DataDir(dir).LoadConfig()
	require.NoError(t, err)
	assert.EqualValues(t, 9, cfg.Compute.Price)
}

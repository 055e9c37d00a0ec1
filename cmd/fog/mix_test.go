package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
)

// A message sent over the mix of a 6-node devnet arrives, and the commands
// say so (issue 20: "a message sent on a 6-node devnet must arrive").
func TestDevnetMix(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the devnet's relay lottery to elect relays (about 20 s)")
	}
	d, ctx := testDevnet(t, 6, 2*time.Minute)

	// Relays are elected from epoch 1 on; wait for a directory with one.
	l := d.nodes[0].Lottery()
	for e := uint64(1); ; e++ {
		select {
		case <-l.Closed(e):
		case <-ctx.Done():
			t.Fatal("no relay directory in time")
		}
		if dir, ok := l.Directory(e); ok && dir.Len() > 0 {
			break
		}
		require.Less(t, e, uint64(6), "no relay elected in 5 epochs")
	}
	// No wait for the mixes: a send syncs the sender's directories, and a
	// relay syncs its key when a packet of a new epoch reaches it.

	to := d.nodes[5].Host().ID().String()
	out, errOut, err := fog(t, ctx, "--path", string(d.dirs[0]), "mix", "send", to, "hello over the devnet mix", "--wait")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "delivered ")

	out, errOut, err = fog(t, ctx, "--path", string(d.dirs[5]), "--json", "mix", "inbox")
	require.NoError(t, err, errOut)
	var ms []node.MixMessage
	require.NoError(t, json.Unmarshal([]byte(out), &ms))
	require.Len(t, ms, 1)
	assert.Equal(t, "hello over the devnet mix", string(ms[0].Data))

	out, _, err = fog(t, ctx, "--path", string(d.dirs[0]), "mix", "stats")
	require.NoError(t, err)
	assert.True(t, strings.Contains(out, "acknowledged 1"), out)

	_, errOut, err = fog(t, ctx, "--path", string(d.dirs[0]), "mix", "send", "not-a-peer", "x")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), errOut)
}

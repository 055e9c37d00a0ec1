package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
)

// The file commands on a 3-node devnet: a file shared on node0 is fetched
// by node2, and listed, inspected and
// removed there.
func TestDevnetFiles(t *testing.T) {
	d, ctx := testDevnet(t, 3, 2*time.Minute)
	run := fogOn(t, ctx, d)

	data := make([]byte, 3_200_000) // 13 leaves of 256 KiB, all different, and the root
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	src := filepath.Join(t.TempDir(), "video.bin")
	require.NoError(t, os.WriteFile(src, data, 0o600))
	var sh node.FileShareResult
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "file", "share", src)), &sh))
	assert.Equal(t, "video.bin", sh.Name)
	assert.Equal(t, sh.CID+"\n", run(0, "file", "share", src), "the human output is the CID alone")

	// node2 asks its peers (node0 among them: the devnet's bootstrap) and
	// the providers the DHT names.
	out := filepath.Join(t.TempDir(), "got.bin")
	o := run(2, "file", "get", sh.CID, "-o", out)
	assert.Contains(t, o, "got "+sh.CID)
	assert.Contains(t, o, "from 1 peers")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))

	ls := run(2, "file", "ls")
	assert.Contains(t, ls, sh.CID)
	assert.Contains(t, ls, "complete")
	assert.Contains(t, ls, "got.bin")
	st := run(2, "file", "status", sh.CID)
	assert.Contains(t, st, "complete")
	assert.Contains(t, st, "transfer done")
	rm := run(2, "file", "rm", sh.CID)
	assert.True(t, strings.HasPrefix(rm, "removed "+sh.CID+": 14 blocks"), rm)
	_, _, err = fog(t, ctx, "--path", string(d.dirs[2]), "file", "status", sh.CID)
	require.Error(t, err, "nothing is known of it any more")
	_, _, err = fog(t, ctx, "--path", string(d.dirs[2]), "file", "rm", "not-a-cid")
	require.Error(t, err)

	// chat send --file shares a file and sends its CID with the command
	// that fetches it; the recipient runs that command.
	note := filepath.Join(t.TempDir(), "notes v2.txt")
	require.NoError(t, os.WriteFile(note, []byte("meeting at noon\n"), 0o600))
	var sent node.ChatSendResult
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "chat", "send", d.nodes[1].Host().ID().String(), "--file", note, "the notes", "--wait")), &sent))
	assert.Equal(t, "delivered", sent.State)
	var inbox []node.ChatMessage
	require.NoError(t, json.Unmarshal([]byte(run(1, "--json", "chat", "inbox")), &inbox))
	require.Len(t, inbox, 1)
	lines := strings.Split(inbox[0].Text, "\n")
	require.Len(t, lines, 2, inbox[0].Text)
	assert.Equal(t, "the notes", lines[0])
	_, cmdLine, ok := strings.Cut(lines[1], ": fog file get ")
	require.True(t, ok, lines[1])
	fields := strings.Fields(cmdLine) // CID -o 'notes v2.txt'
	require.GreaterOrEqual(t, len(fields), 3, cmdLine)
	dst := filepath.Join(t.TempDir(), "fetched.txt")
	run(1, "file", "get", fields[0], "-o", dst)
	got, err = os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "meeting at noon\n", string(got))
	assert.Contains(t, lines[1], "'notes v2.txt'", "the name is quoted for the shell")
}

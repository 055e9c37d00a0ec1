package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
)

// The chat commands on a 3-node devnet: a nickname, a direct message to it
// (delivered), a channel post seen in another node's history, and a
// message to a node that went away (stored in its mailboxes).
func TestDevnetChat(t *testing.T) {
	d, ctx := testDevnet(t, 3, 2*time.Minute)
	run := fogOn(t, ctx, d)

	out := run(0, "chat", "name", "alice")
	assert.Contains(t, out, "you are alice#")
	// The claim reaches node1 over gossip: its name book says when.
	c1 := d.nodes[1].Chat()
	for {
		updated := c1.NamesUpdated()
		if p, err := c1.Resolve("alice"); err == nil && p == d.nodes[0].Host().ID() {
			break
		}
		select {
		case <-updated:
		case <-ctx.Done():
			t.Fatal("node1 never learnt alice's claim")
		}
	}
	assert.Contains(t, run(1, "chat", "whois", "alice"), d.nodes[0].Host().ID().String())
	out = run(1, "chat", "send", "alice", "hello alice", "--wait")
	assert.Contains(t, out, "delivered ")
	var ms []node.ChatMessage
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "chat", "inbox")), &ms))
	require.Len(t, ms, 1)
	assert.Equal(t, "hello alice", ms[0].Text)
	assert.Equal(t, d.nodes[1].Host().ID(), ms[0].From)

	for i := range 3 {
		run(i, "chat", "join", "lobby")
	}
	assert.Contains(t, run(0, "chat", "channels"), "lobby")
	// Node0's channel service says when a post arrives: by gossip, or by
	// the periodic history sync if the topic's mesh had not formed yet.
	sub, err := d.nodes[0].Chat().Channels().Subscribe()
	require.NoError(t, err)
	defer sub.Close()
	run(2, "chat", "post", "lobby", "hi all")
	select {
	case p := <-sub.C():
		assert.Equal(t, "hi all", string(p.Text))
	case <-ctx.Done():
		t.Fatal("the post never reached node0")
	}
	assert.Contains(t, run(0, "chat", "history", "lobby"), "hi all")

	_, errOut, err := fog(t, ctx, "--path", string(d.dirs[0]), "chat", "join", "Bad Name")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), errOut)

	// A peer that published no chat key: --wait gives up after the
	// devnet's KeyLookupWait (3 s), naming the peer and the reason.
	_, ghostPub, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	ghost, err := peer.IDFromPublicKey(ghostPub)
	require.NoError(t, err)
	_, _, err = fog(t, ctx, "--path", string(d.dirs[0]), "chat", "send", ghost.String(), "anyone there?", "--wait")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no chat key")
	assert.Contains(t, err.Error(), ghost.String())
	assert.Contains(t, err.Error(), "not found within 3s")
	t.Logf("--wait to a peer without a chat key: %v", err)

	// node2 goes away: a message to it waits in its mailboxes. It wrote to
	// node1 first, so node1 holds its chat key from their handshake and
	// needs no DHT lookup to seal to it.
	gone := d.nodes[2].Host().ID().String()
	assert.Contains(t, run(2, "chat", "send", d.nodes[1].Host().ID().String(), "bye", "--wait"), "delivered ")
	require.NoError(t, d.nodes[2].Close())
	out = run(1, "--json", "chat", "send", gone, "while you were out", "--wait")
	var r node.ChatSendResult
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Equal(t, "stored", r.State, out)
	assert.Contains(t, r.Routes, "mailbox")
	assert.GreaterOrEqual(t, r.Mailboxes, 1)
}

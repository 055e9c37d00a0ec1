package dm

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRestoreRetriesAfterRestart restarts a sender whose message to an
// absent peer was not acknowledged and whose mailbox copy was lost: the
// restored record is retried, delivered once, and acknowledged.
func TestRestoreRetriesAfterRestart(t *testing.T) {
	cfg := testConfig()
	n, ids := newNet(t, cfg, 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	id := n.send(a, b, "while you were out", SendOptions{})
	require.Len(t, n.mailbox[b], 1)
	rec, ok := n.nodes[a].Outgoing(id)
	require.True(t, ok)
	assert.Equal(t, Sent, rec.State)
	// The shell stores it as JSON; it must come back the same.
	enc, err := json.Marshal(rec)
	require.NoError(t, err)
	var back Outgoing
	require.NoError(t, json.Unmarshal(enc, &back))
	assert.Equal(t, rec.ID, back.ID)
	assert.Equal(t, rec.Body, back.Body)
	assert.True(t, rec.Expiry.Equal(back.Expiry))

	// A restarts: a fresh core with the same keys; the mailbox copy is gone.
	_, _, keys := testKeys(t, 1)
	fresh, err := NewNode(cfg, keys, rnd(77))
	require.NoError(t, err)
	n.nodes[a] = fresh
	n.mailbox[b] = nil
	n.now = n.now.Add(time.Minute)
	assert.Empty(t, fresh.Restore(n.now, []Outgoing{back}))
	assert.Equal(t, n.now, fresh.NextTick(), "retried at the next tick")
	n.apply(a, fresh.Tick(n.now))
	require.Len(t, n.mailbox[b], 1, "the restored message went to the mailboxes again")

	n.setOnline(b, true)
	n.fetch(b)
	require.Len(t, n.got[b], 1)
	assert.Equal(t, "while you were out", string(n.got[b][0].Body))
	assert.Equal(t, id, n.got[b][0].ID)
	st, ok := fresh.State(id)
	require.True(t, ok)
	assert.Equal(t, Delivered, st, "the receipt reached the restarted sender")
	_, ok = fresh.Outgoing(id)
	assert.False(t, ok, "a delivered message is no longer retried")

	// The next message to b is numbered after the restored one.
	id2 := n.send(a, b, "next", SendOptions{})
	require.Len(t, n.got[b], 2)
	assert.Equal(t, id2, n.got[b][1].ID)
	assert.Equal(t, rec.Seq+1, n.got[b][1].Seq)
}

func TestRestoreFailsWhatExpired(t *testing.T) {
	cfg := testConfig()
	_, _, keys := testKeys(t, 1)
	_, to, _ := testKeys(t, 2)
	nd, err := NewNode(cfg, keys, rnd(9))
	require.NoError(t, err)
	var id MsgID
	id[0] = 7
	o := Outgoing{ID: id, To: to, Sent: t0, Expiry: t0.Add(time.Hour), Body: []byte("late"), State: Sent}
	eff := nd.Restore(t0.Add(2*time.Hour), []Outgoing{o})
	assert.Equal(t, []Effect{StateChanged{ID: id, Peer: to, State: Failed}}, eff)
	_, ok := nd.State(id)
	assert.False(t, ok)
	assert.Empty(t, nd.Restore(t0, []Outgoing{{ID: id, To: keys.Record.Owner, Expiry: t0.Add(time.Hour), State: Sent}}), "to oneself: ignored")
	_, ok = nd.State(id)
	assert.False(t, ok)
}

// TestKeyNotFoundAsksAgain: a failed chat key lookup is asked again at
// the next attempt, and not before the shell says it failed.
func TestKeyNotFoundAsksAgain(t *testing.T) {
	cfg := testConfig()
	_, _, keys := testKeys(t, 1)
	_, to, _ := testKeys(t, 2)
	nd, err := NewNode(cfg, keys, rnd(9))
	require.NoError(t, err)
	lookups := func(eff []Effect) int {
		k := 0
		for _, e := range eff {
			if _, ok := e.(LookupKey); ok {
				k++
			}
		}
		return k
	}
	_, eff, err := nd.Send(t0, to, []byte("hi"), SendOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, lookups(eff))
	now := t0.Add(cfg.RetryMin)
	assert.Zero(t, lookups(nd.Tick(now)), "the lookup is still outstanding")
	nd.KeyNotFound(to)
	now = nd.NextTick()
	assert.Equal(t, 1, lookups(nd.Tick(now)), "asked again after the failure")
}

package mixnet

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noCover() Config {
	c := DefaultConfig()
	c.Cover = false
	return c
}

func TestSendDeliversAndAcks(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no cover", noCover()},
		{"cover", DefaultConfig()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTestNet(t, tc.cfg, 12, 2, 1)
			id := tn.send(10, 11, "hello", SendOptions{})
			tn.run(12 * time.Second)
			require.Len(t, tn.inbox[tn.nodes[11].ID()], 1)
			in := tn.inbox[tn.nodes[11].ID()][0]
			assert.Equal(t, "hello", string(in.Body))
			assert.Equal(t, id, in.ID)
			assert.False(t, in.CanReply)
			require.Contains(t, tn.acked, id)
			assert.Equal(t, 1, tn.acked[id].Attempts)
			assert.Empty(t, tn.failed)
			s := tn.nodes[10].Stats()
			assert.EqualValues(t, 1, s.Acked)
			assert.Zero(t, s.Pending)
			if tc.cfg.Cover {
				assert.NotZero(t, s.LoopsBack, "loops come back")
			}
		})
	}
}

func TestDeadRelayCostsARetransmission(t *testing.T) {
	cfg := noCover()
	tn := newTestNet(t, cfg, 12, 2, 2)
	// Kill every relay of layer 1 but one: some route goes through a dead
	// one, and each retransmission draws a fresh route.
	var killed int
	for _, r := range tn.relays {
		if r.Layer == 1 && killed == 0 {
			tn.dead[r.ID] = true
			killed++
		}
	}
	var ids []MsgID
	for i := range 20 {
		ids = append(ids, tn.send(6+i%4, 10+i%2, "m", SendOptions{}))
	}
	tn.run(2 * time.Minute)
	var retrans uint64
	for _, nd := range tn.nodes {
		retrans += nd.Stats().Retransmitted
	}
	for _, id := range ids {
		assert.Contains(t, tn.acked, id)
	}
	assert.NotZero(t, retrans, "some routes went through the dead relay")
	assert.Empty(t, tn.failed)
}

func TestExpiredMessageFails(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 3)
	tn.dead[tn.nodes[7].ID()] = true
	id := tn.send(6, 7, "lost", SendOptions{Deadline: tn.now.Add(20 * time.Second)})
	tn.run(time.Minute)
	require.Contains(t, tn.failed, id)
	assert.ErrorIs(t, tn.failed[id].Err, ErrExpired)
	assert.Greater(t, tn.nodes[6].Stats().Retransmitted, uint64(0))
}

func TestLostAckDeliversOnce(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 4)
	// The first ACK from the recipient vanishes: the sender retransmits and
	// the recipient delivers once, acknowledging twice.
	dropped := false
	rec := tn.nodes[7]
	tn.tamper = func(to NodeID, f []byte) {
		if !dropped && tn.byID[to] != rec && tn.inboxLen(rec) == 1 && rec.Stats().AcksSent == 1 {
			for i := range f {
				f[i] = 0xff // garbage: dropped by the hop that reads it
			}
			dropped = true
		}
	}
	id := tn.send(6, 7, "once", SendOptions{})
	tn.run(time.Minute)
	require.True(t, dropped)
	require.Contains(t, tn.acked, id)
	assert.Equal(t, 2, tn.acked[id].Attempts)
	assert.Len(t, tn.inbox[rec.ID()], 1)
	assert.EqualValues(t, 1, rec.Stats().Duplicates)
}

func (tn *testNet) inboxLen(n *Node) int { return len(tn.inbox[n.ID()]) }

func TestReplyThroughReplyBlock(t *testing.T) {
	tn := newTestNet(t, noCover(), 10, 2, 5)
	q := tn.send(8, 9, "question", SendOptions{WantReply: true})
	tn.run(10 * time.Second)
	require.Len(t, tn.inbox[tn.nodes[9].ID()], 1)
	in := tn.inbox[tn.nodes[9].ID()][0]
	require.True(t, in.CanReply)
	rid, eff, err := tn.nodes[9].Reply(tn.now, q, []byte("answer"))
	require.NoError(t, err)
	tn.apply(tn.nodes[9], eff)
	_, _, err = tn.nodes[9].Reply(tn.now, q, []byte("again"))
	require.ErrorIs(t, err, ErrNoReplyBlock, "a reply block is single-use")
	tn.run(10 * time.Second)
	got := tn.inbox[tn.nodes[8].ID()]
	require.Len(t, got, 1)
	assert.Equal(t, "answer", string(got[0].Body))
	require.NotNil(t, got[0].InReplyTo)
	assert.Equal(t, q, *got[0].InReplyTo)
	assert.Contains(t, tn.acked, rid, "the reply is acknowledged to its sender")
}

func TestReplyBlockExpiresWithItsEpoch(t *testing.T) {
	tn := newTestNet(t, noCover(), 10, 2, 13)
	q := tn.send(8, 9, "question", SendOptions{WantReply: true})
	tn.run(10 * time.Second)
	require.Len(t, tn.inbox[tn.nodes[9].ID()], 1)
	tn.nodes[9].DropEpoch(1)
	_, _, err := tn.nodes[9].Reply(tn.now, q, []byte("too late"))
	require.ErrorIs(t, err, ErrNoReplyBlock)
	assert.Contains(t, err.Error(), "epoch 1")
}

func TestMaxBody(t *testing.T) {
	tn := newTestNet(t, noCover(), 6, 1, 14)
	n := tn.nodes[4]
	to := tn.nodes[5].ID()
	for _, reply := range []bool{false, true} {
		max := n.MaxBody(reply)
		_, _, err := n.Send(tn.now, to, make([]byte, max), SendOptions{WantReply: reply})
		require.NoError(t, err, "reply %v: %d bytes fit", reply, max)
		_, _, err = n.Send(tn.now, to, make([]byte, max+1), SendOptions{WantReply: reply})
		require.ErrorIs(t, err, ErrTooLarge)
	}
	assert.Greater(t, n.MaxBody(false), 1300)
	assert.Greater(t, n.MaxBody(false)-n.MaxBody(true), 600, "a reply block takes a SURB's room")
}

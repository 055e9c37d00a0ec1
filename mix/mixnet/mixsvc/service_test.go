package mixsvc

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/mixnet"
)

func TestSendOverElectedRelays(t *testing.T) {
	for _, cover := range []bool{false, true} {
		t.Run(map[bool]string{false: "no cover", true: "cover"}[cover], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testSend(t, cover) })
		})
	}
}

func testSend(t *testing.T, cover bool) {
	mc := DefaultConfig()
	mc.Cover = cover
	// Ten-second epochs: a reply block lives two epochs after the
	// directory it was made with closes, and the test's reply goes out
	// after the question's ACK.
	m := newMixnetWith(t, 10, mc, netOptions{epoch: 10 * time.Second})
	m.waitRoutable(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	from, to := m.mixes[8], m.mixes[9]
	start := time.Now()
	id, err := from.Send(ctx, m.net.Hosts[9].ID(), []byte("hello over the mix"), mixnet.SendOptions{WantReply: true})
	require.NoError(t, err)
	r, err := from.Wait(ctx, id)
	require.NoError(t, err)
	require.NoError(t, r.Err)
	require.NotNil(t, r.Acked)
	t.Logf("acknowledged after %v (virtual), %d attempts", time.Since(start), r.Acked.Attempts)
	in := to.Inbox(0)
	require.Len(t, in, 1)
	assert.Equal(t, "hello over the mix", string(in[0].Body))
	assert.True(t, in[0].CanReply)

	rid, err := to.Reply(ctx, in[0].ID, []byte("and back"))
	require.NoError(t, err)
	rr, err := to.Wait(ctx, rid)
	if err != nil {
		for i, s := range m.mixes {
			st := s.Status()
			t.Logf("node %d: relaying %v dirs %v in %d relayed %d fwd %d drops %v linkdrops %d open %d rate %d delivered %d", i, st.Relaying, st.Directories, st.PacketsIn, st.Relayed, st.Forwarded, st.Drops, st.LinkDrops, st.OpenErrors, st.RateDrops, st.Delivered)
		}
	}
	require.NoError(t, err)
	require.NoError(t, rr.Err)
	back := from.Inbox(0)
	require.Len(t, back, 1)
	assert.Equal(t, "and back", string(back[0].Body))
	require.NotNil(t, back[0].InReplyTo)
	assert.Equal(t, id, *back[0].InReplyTo)

	var relayed uint64
	for _, s := range m.mixes {
		relayed += s.Status().Relayed
	}
	assert.GreaterOrEqual(t, relayed, uint64(12), "two messages and two ACKs, three relays each")
	if cover {
		// Let the cover streams run for a while: loops come back.
		time.Sleep(10 * time.Second)
		st := from.Status()
		assert.NotZero(t, st.LoopsBack)
		assert.Zero(t, st.Failed)
	}
}

package mixsvc

import (
	"crypto/rand"
	"encoding/binary"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/sphinx"
)

// relayFrame builds a frame for relay a of epoch e that a relays on to
// relay b, where the packet ends (as drop cover does).
func relayFrame(t *testing.T, e uint64, a, b lottery.Relay) []byte {
	t.Helper()
	var ida, idb [32]byte
	copy(ida[:], a.Claimant)
	copy(idb[:], b.Claimant)
	geo := sphinx.DefaultGeometry()
	pkt, err := sphinx.NewPacket(rand.Reader, geo, []sphinx.PathHop{
		{ID: ida, PublicKey: a.MixKey, Commands: []sphinx.Command{sphinx.NodeDelay{Delay: 10}}},
		{ID: idb, PublicKey: b.MixKey, Commands: []sphinx.Command{sphinx.Recipient{ID: idb}}},
	}, make([]byte, geo.PayloadLength))
	require.NoError(t, err)
	f := make([]byte, 9, 9+len(pkt))
	f[0] = 1 // a relay frame
	binary.BigEndian.PutUint64(f[1:], e)
	return append(f, pkt...)
}

// 1,000 replays of a packet are dropped, before and after the relay
// restarts: its replay tags are in the store.
func TestReplaysDroppedAcrossRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mc := DefaultConfig()
		mc.Cover = false
		m := newMixnet(t, 10, mc)
		e := m.waitRoutable(0)
		d, ok := m.lots[0].Directory(e)
		require.True(t, ok)
		rs := d.Relays()
		require.GreaterOrEqual(t, len(rs), 2)
		a, b := rs[0], rs[1]
		ia, ib := m.index(a), m.index(b)
		f := relayFrame(t, e, a, b)
		from := m.net.Hosts[(ia+1)%len(m.net.Hosts)].ID()
		if from == m.net.Hosts[ib].ID() {
			from = m.net.Hosts[(ia+2)%len(m.net.Hosts)].ID()
		}
		send := func(n int) {
			for range n {
				m.mixes[ia].receive(from, append([]byte(nil), f...))
			}
			time.Sleep(time.Second) // the delay, the tags' sync and the link
			synctest.Wait()
		}
		send(1)
		require.EqualValues(t, 1, m.mixes[ia].Status().Forwarded)
		require.EqualValues(t, 1, m.mixes[ib].Status().CoverDropped, "the packet reached b")
		send(499)
		st := m.mixes[ia].Status()
		assert.EqualValues(t, 1, st.Forwarded)
		assert.EqualValues(t, 499, st.Replays)

		// Restart a's mix on the same store: the tags come back.
		m.stop(2*ia + 1)
		m.startMix(ia, mc)
		send(500)
		st = m.mixes[ia].Status()
		assert.Zero(t, st.Forwarded, "no replay forwarded after the restart")
		assert.EqualValues(t, 500, st.Replays)
		assert.EqualValues(t, 1, m.mixes[ib].Status().CoverDropped)

		// A new packet still goes through.
		f = relayFrame(t, e, a, b)
		send(1)
		assert.EqualValues(t, 1, m.mixes[ia].Status().Forwarded)
	})
}

func (m *testMix) index(r lottery.Relay) int {
	for i, k := range m.net.Keys {
		raw, _ := k.GetPublic().Raw()
		if string(raw) == string(r.Claimant) {
			return i
		}
	}
	m.t.Fatal("relay not in the network")
	return -1
}

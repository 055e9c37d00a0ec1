package mixsvc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/cputime"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/sphinx"
)

// BenchmarkThreeRelays measures three relays in one process (layers 0, 1
// and 2 of a real lottery's directory, each its own Service on a mocknet)
// forwarding as fast as they can: packets built beforehand go to the first
// relay over one 1.1.0 stream, with no delays, and end at the third as drop
// cover. It reports packets per second end to end (wall clock) and the CPU
// time per packet.
func BenchmarkThreeRelays(b *testing.B) {
	mc := DefaultConfig()
	mc.Cover = false
	mc.FrameRate = 1 << 30 // the benchmark's one sender is not a flood
	mc.LinkQueue = 1 << 16
	m := newMixnetWith(b, 6, mc, netOptions{epoch: 20 * time.Second, noLatency: true})
	var e uint64
	var path []lottery.Relay
	for e = 0; e < 5; e++ {
		m.waitDirectory(e)
		d, _ := m.lots[0].Directory(e)
		path = path[:0]
		for l := range 3 {
			if rs := d.Layer(l); len(rs) > 0 {
				path = append(path, rs[0])
			}
		}
		if len(path) == 3 {
			break
		}
	}
	require.Len(b, path, 3, "no epoch with a relay in every layer")
	time.Sleep(mc.SyncEvery + 100*time.Millisecond)
	geo := sphinx.DefaultGeometry()
	hops := make([]sphinx.PathHop, 3)
	for i, r := range path {
		copy(hops[i].ID[:], r.Claimant)
		hops[i].PublicKey = r.MixKey
		hops[i].Commands = []sphinx.Command{sphinx.NodeDelay{}}
	}
	hops[2].Commands = []sphinx.Command{sphinx.Recipient{ID: hops[2].ID}}
	frames := make([][]byte, b.N)
	for i := range frames {
		pkt, err := sphinx.NewPacket(rand.Reader, geo, hops, make([]byte, geo.PayloadLength))
		require.NoError(b, err)
		f := make([]byte, 9, 9+len(pkt))
		f[0] = 1
		binary.BigEndian.PutUint64(f[1:], e)
		frames[i] = append(f, pkt...)
	}
	first, last := m.mixes[m.index(path[0])], m.mixes[m.index(path[2])]
	sender, _, err := m.net.AddHost()
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, m.net.Connect(ctx, sender, m.net.Hosts[m.index(path[0])]))
	st, err := sender.NewStream(network.WithAllowLimitedConn(ctx, "bench"), m.net.Hosts[m.index(path[0])].ID(), version11)
	require.NoError(b, err)
	before := last.Status().CoverDropped
	cpu0, _ := cputime.Process()
	b.ResetTimer()
	start := time.Now()
	for _, f := range frames {
		if _, err := st.Write(f); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Duration(b.N)*time.Millisecond + 10*time.Second)
	for last.Status().CoverDropped-before < uint64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	cpu1, _ := cputime.Process()
	got := last.Status().CoverDropped - before
	_ = st.Close()
	_ = sender.Close()
	fs := first.Status()
	require.EqualValues(b, b.N, got, "packets lost: first relay %+v", fs)
	b.ReportMetric(float64(b.N)/el.Seconds(), "packets/s")
	b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1e3, "cpu-µs/packet")
}

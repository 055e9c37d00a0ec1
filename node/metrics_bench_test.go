package node

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/p2p"
)

// BenchmarkMetricsCost measures what the Prometheus metrics cost a node
// ([api] metrics = true against false) on two paths: a JSON-RPC call over
// loopback HTTP (node.status, counted and timed by fog_rpc_*), and a libp2p
// stream to a peer (an echo on a fresh stream, which libp2p's swarm and
// resource manager metrics count). Each path runs on nodes with the
// metrics on and on nodes with them off, all started before the timer,
// one operation on each in turn (the order alternating), so that a shared
// machine's changing load falls on both alike. It reports each one's time
// per operation and their ratio (on/off; 1.05 is 5 % more with metrics).
func BenchmarkMetricsCost(b *testing.B) {
	for _, p := range []struct {
		name  string
		setup func(b *testing.B, metrics bool) func()
	}{
		{"rpc", benchMetricsRPC},
		{"stream", benchMetricsStream},
	} {
		b.Run(p.name, func(b *testing.B) {
			off, on := p.setup(b, false), p.setup(b, true)
			var tOff, tOn time.Duration
			timed := func(op func(), total *time.Duration) {
				start := time.Now()
				op()
				*total += time.Since(start)
			}
			ops := 0
			for b.Loop() {
				if ops%2 == 0 {
					timed(off, &tOff)
					timed(on, &tOn)
				} else {
					timed(on, &tOn)
					timed(off, &tOff)
				}
				ops++
			}
			b.ReportMetric(float64(tOff.Nanoseconds())/float64(ops), "off-ns/op")
			b.ReportMetric(float64(tOn.Nanoseconds())/float64(ops), "on-ns/op")
			b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
		})
	}
}

func benchNode(b *testing.B, metrics bool) *testNode {
	return startTestNode(b, func(c *Config) { c.API.Metrics = metrics })
}

// benchMetricsRPC returns a node.status call, one caller, to a new node.
func benchMetricsRPC(b *testing.B, metrics bool) func() {
	c := benchNode(b, metrics).client(b)
	var st Status
	return func() {
		require.NoError(b, c.Call(context.Background(), "node.status", nil, &st))
	}
}

// benchMetricsStream starts two nodes and returns an echo of 64 bytes from
// one to the other on a new stream over their connection, served by
// p2p.Protocol.Handle.
func benchMetricsStream(b *testing.B, metrics bool) func() {
	first, second := benchNode(b, metrics), benchNode(b, metrics)
	echo := p2p.MustProtocol("bench-echo", p2p.Version{Major: 1})
	_, err := echo.Handle(first.Host(), p2p.Limits{Streams: 64, StreamsPerPeer: 64, Idle: 10 * time.Second, Lifetime: time.Minute},
		func(st network.Stream) {
			_, _ = io.Copy(st, st)
			_ = st.Close()
		})
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, second.Host().Connect(ctx, first.Host().Peerstore().PeerInfo(first.Host().ID())))
	msg := make([]byte, 64)
	return func() {
		st, err := echo.Open(ctx, second.Host(), first.Host().ID())
		require.NoError(b, err)
		_, err = st.Write(msg)
		require.NoError(b, err)
		require.NoError(b, st.CloseWrite())
		got, err := io.ReadAll(st)
		require.NoError(b, err)
		require.Len(b, got, len(msg))
		require.NoError(b, st.Close())
	}
}

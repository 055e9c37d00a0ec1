package compute_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/computetest"
	"github.com/fog-compute/fog/compute/wasm"
)

// BenchmarkRemoteThroughput measures end-to-end remote tasks per second on
// a 5-node mocknet network: node 0 submits (and does not offer compute,
// so every run is remote), nodes 1-4 provide. Each task is echo.wasm with
// its own stdin; b.N tasks are submitted at once and waited for, so many
// are in flight. Submit, placement, the task protocol, the providers'
// queues and runners, signing and verification, the quorum and the
// submitter's records are all in the measured path.
//
// The variants: replicas 1 and 3 on links without latency and in-memory
// stores; with 2 ms links; on disk (Badger with synced writes, as a node
// runs); all with providers queueing up to 32 tasks per core; and with
// TestConfig's 4 per core ("shallow").
func BenchmarkRemoteThroughput(b *testing.B) {
	for _, v := range []struct {
		name     string
		replicas int
		latency  time.Duration
		disk     bool
		shallow  bool
	}{
		{"replicas=1", 1, 0, false, false},
		{"replicas=3", 3, 0, false, false},
		{"replicas=1/latency=2ms", 1, 2 * time.Millisecond, false, false},
		{"replicas=3/latency=2ms", 3, 2 * time.Millisecond, false, false},
		{"replicas=1/disk", 1, 0, true, false},
		{"replicas=3/disk", 3, 0, true, false},
		{"replicas=1/shallow", 1, 0, false, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			dir := ""
			if v.disk {
				dir = b.TempDir()
			}
			cfg := compute.TestConfig()
			if !v.shallow {
				cfg.MaxQueuedPerCore, cfg.Prefetch = 32, 16
			}
			benchThroughput(b, cfg, v.replicas, v.latency, dir)
		})
	}
}

func benchThroughput(b *testing.B, cfg compute.Config, replicas int, latency time.Duration, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg.MaxInFlight = 4096
	nw, err := computetest.NewNetwork(ctx, computetest.NetworkConfig{
		Nodes: 5, Seed: 7, Config: cfg, MinLatency: latency, MaxLatency: latency, Dir: dir,
		Configure: func(i int, c *compute.Config) { c.Offer = i != 0 },
	})
	require.NoError(b, err)
	defer nw.Close()
	svc := nw.Nodes[0].Compute()
	mod := module(b, "echo")
	// Warm up: every provider fetches and compiles the module.
	warm, err := svc.Submit(ctx, compute.Spec{Replicas: 4}, mod)
	require.NoError(b, err)
	_, err = svc.Wait(ctx, warm)
	require.NoError(b, err)

	b.ResetTimer()
	start := time.Now()
	ids := make(chan compute.TaskID, b.N)
	var wg sync.WaitGroup
	const submitters = 16
	for w := range submitters {
		wg.Go(func() {
			for i := w; i < b.N; i += submitters {
				id, err := svc.Submit(ctx, compute.Spec{Module: wasm.IDOf(mod), Stdin: fmt.Appendf(nil, "task %d", i), Replicas: replicas}, nil)
				if err != nil {
					b.Error(err)
					return
				}
				ids <- id
			}
		})
	}
	wg.Wait()
	close(ids)
	failed := 0
	for id := range ids {
		res, err := svc.Wait(ctx, id)
		require.NoError(b, err)
		if res.State != compute.StateDone {
			failed++
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	require.Zero(b, failed)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tasks/s")
}

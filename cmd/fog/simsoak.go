package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/sim"
)

func (a *app) simSoakCmd() *cobra.Command {
	var f simFlags
	var minutes float64
	var every time.Duration
	var lim sim.SoakLimits
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run every kind of traffic on N nodes for a while and check that heap, goroutines and open files stay flat",
		Long: `soak boots N complete nodes (compute offered, so capacity adverts flow; the
relay lottery and the mix with cover traffic; chat, every node in one
channel) and drives a steady mixture of DHT lookups, WASM tasks, mix
messages, chat direct messages and channel posts for --minutes. Every
--sample-every it samples this process's live heap (/gc/heap/live:bytes),
the size of the nodes' Badger tables, goroutine count and open file
descriptors (/proc/self/fd), printing a line each minute.

At the end it fits a least-squares line to the second half of each series
(the first half is warm-up) and reports its slope per minute. The heap is
judged less the Badger tables: the simulated nodes' stores are in memory,
so every byte written stays on the heap, as it stays on disk on a real
node (fog's disk use is another test's). It exits
non-zero naming each series whose slope exceeds its limit (--max-heap-pct,
--max-goroutines, --max-fds). With --out it writes soak.json (the summary
and every sample) and soak.png (the series in percent of their mean, with
the fitted lines), and goroutine.pprof and heap.pprof, profiles taken
after the last sample while the traffic still runs (go tool pprof), to find
where a leak grows.`,
		Example: `  fog sim soak --minutes 30 --out /tmp/soak
  fog sim soak --nodes 6 --minutes 2 --sample-every 1s --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if minutes <= 0 {
				return fmt.Errorf("--minutes %v must be positive", minutes)
			}
			if every <= 0 {
				return fmt.Errorf("--sample-every %s must be positive", every)
			}
			s := sim.DefaultSoakScenario(f.nodes, time.Duration(minutes*float64(time.Minute)))
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			if f.nodes < 4 {
				return fmt.Errorf("--nodes %d: the soak needs 4", f.nodes)
			}
			if s.Duration < 4*every {
				return fmt.Errorf("--minutes %v must hold 4 samples of --sample-every %s", minutes, every)
			}
			s.SampleEvery, s.Limits = every, lim
			var profErr error
			if f.out != "" {
				s.AtEnd = func() { profErr = writeProfiles(f.out) }
			}
			var last sim.SoakResult
			run := func(ctx context.Context, p sim.Progress) (sim.SoakResult, error) {
				r, err := s.Run(ctx, p)
				last = r
				return r, err
			}
			err := runScenario(cmd, a, &f, "soak", run, func(dir string, res sim.SoakResult) error {
				return sim.SoakPlot(filepath.Join(dir, "soak.png"), res)
			}, func(w io.Writer, res sim.SoakResult) error {
				fmt.Fprintf(w, "nodes %d, seed %d, boot %.0f s, %.1f min of traffic, %d samples every %.0f s, fit over the last %.1f min\n",
					res.Nodes, res.Seed, res.BootSeconds, res.Minutes, len(res.Samples), res.SampleSeconds, res.Minutes-res.FitFromSeconds/60)
				fmt.Fprintf(w, "operations ok/failed: lookups %d/%d, tasks %d/%d, mix sends %d/%d, dms %d/%d, posts %d/%d\n",
					res.Lookups.OK, res.Lookups.Failed, res.Tasks.OK, res.Tasks.Failed, res.Mix.OK, res.Mix.Failed,
					res.DMs.OK, res.DMs.Failed, res.Posts.OK, res.Posts.Failed)
				verdict := func(ok bool) string {
					if ok {
						return "flat"
					}
					return "GROWING"
				}
				fmt.Fprintf(w, "heap live:  mean %.1f MiB, slope %+.3f MiB/min = %+.3f %%/min, of which the stores' tables (data written, on disk on a real node): mean %.1f MiB, slope %+.3f MiB/min\n",
					res.HeapLive.Mean, res.HeapLive.SlopePerMin, res.HeapLive.PctPerMin, res.Store.Mean, res.Store.SlopePerMin)
				fmt.Fprintf(w, "heap less the stores' tables: mean %.1f MiB, slope %+.3f MiB/min = %+.3f %%/min (limit %.2f %%/min), %+.2f %% over the fit: %s\n",
					res.Heap.Mean, res.Heap.SlopePerMin, res.Heap.PctPerMin, res.Heap.Limit, res.Heap.GrowthPct, verdict(res.Heap.OK))
				fmt.Fprintf(w, "goroutines: mean %.0f, slope %+.2f/min = %+.3f %%/min (limit %.1f/min), %+.2f %% over the fit: %s\n",
					res.Goroutines.Mean, res.Goroutines.SlopePerMin, res.Goroutines.PctPerMin, res.Goroutines.Limit, res.Goroutines.GrowthPct, verdict(res.Goroutines.OK))
				fmt.Fprintf(w, "open fds:   mean %.1f, slope %+.3f/min (limit %.2f/min): %s\n",
					res.FDs.Mean, res.FDs.SlopePerMin, res.FDs.Limit, verdict(res.FDs.OK))
				return nil
			})
			if err != nil {
				return err
			}
			if profErr != nil {
				return profErr
			}
			return last.Err()
		},
	}
	def := sim.DefaultSoakScenario(12, 30*time.Minute)
	f.register(cmd, def.Network)
	fl := cmd.Flags()
	fl.Float64Var(&minutes, "minutes", def.Duration.Minutes(), "minutes of traffic (after the boot and the first relay directory)")
	fl.DurationVar(&every, "sample-every", def.SampleEvery, "sampling period")
	fl.Float64Var(&lim.HeapPctPerMin, "max-heap-pct", def.Limits.HeapPctPerMin, "greatest slope of the live heap less the stores' tables that passes, percent of its mean per minute")
	fl.Float64Var(&lim.GoroutinesPerMin, "max-goroutines", def.Limits.GoroutinesPerMin, "greatest goroutine slope that passes, per minute")
	fl.Float64Var(&lim.FDsPerMin, "max-fds", def.Limits.FDsPerMin, "greatest open-file slope that passes, per minute")
	return cmd
}

// writeProfiles writes this process's goroutine and heap profiles to dir.
func writeProfiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"goroutine", "heap"} {
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			return err
		}
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s profile: %w", name, err)
		}
	}
	return nil
}

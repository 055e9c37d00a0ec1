package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/sim"
)

func (a *app) simLedgerCmd() *cobra.Command {
	var f simFlags
	var churn, crash, slowdown float64
	var partition bool
	var reps, transfers, spenders int
	var transferFor, confirm, churnDown, churnUp, partFor, settle time.Duration
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Measure the ledger: confirmation latency of transfers under churn, and double spenders across a partition",
		Long: `ledger boots N nodes running the ledger (docs/token.md) from a genesis that
funds every node and delegates every account's weight to one of
--representatives principal representatives (as Nano's), then:

 1. --transfers sends between random nodes that do not churn, spread over
    --transfer-for, while a --churn share of the other non-representative
    nodes alternate between down and up: confirm_ms_p50/p99 is from the
    Send call to the send confirmed on both the sender's and the
    recipient's node.
 2. --double-spenders accounts each make two conflicting sends of their
    whole balance on two nodes; with --partition, on the two sides of a
    network split in halves for --partition-for, which then heals.
 3. Every running node must then confirm every send, settle every pair,
    and hold the same confirmed heads (--settle-timeout at most).

double_spends_confirmed (pairs with both sends confirmed, on one node or
two) must be 0; sum_constant says that on every node at every check the
balances, stakes and credits in flight added up to the genesis supply.
The command fails if either does not hold.`,
		Example: `  fog sim ledger --nodes 100
  fog sim ledger --nodes 100 --partition --double-spenders 2 --json
  fog sim ledger --nodes 100 --slowdown 4 --out sim-out/ledger`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := sim.DefaultLedgerScenario(f.nodes)
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			switch {
			case churn < 0 || churn > 0.9:
				return fmt.Errorf("--churn %v: want a share of the nodes between 0 and 0.9", churn)
			case crash < 0 || crash > 1:
				return fmt.Errorf("--crash-share %v: want 0 to 1", crash)
			case transfers < 0 || spenders < 0:
				return fmt.Errorf("--transfers and --double-spenders must not be negative")
			case slowdown < 1:
				return fmt.Errorf("--slowdown %v: want 1 (real time) or more", slowdown)
			case cmd.Flags().Changed("representatives") && (reps < 1 || reps > f.nodes):
				return fmt.Errorf("--representatives %d: want 1 to --nodes", reps)
			}
			if cmd.Flags().Changed("representatives") {
				s.Representatives = reps
			}
			s.Transfers, s.Churn, s.CrashShare, s.Slowdown = transfers, churn, crash, slowdown
			s.DoubleSpenders, s.Partition = spenders, partition
			for _, d := range []struct {
				flag string
				v    time.Duration
				dst  *time.Duration
			}{
				{"--transfer-for", transferFor, &s.TransferFor}, {"--confirm-timeout", confirm, &s.ConfirmTimeout},
				{"--churn-down", churnDown, &s.ChurnDown}, {"--churn-up", churnUp, &s.ChurnUp},
				{"--partition-for", partFor, &s.PartitionFor}, {"--settle-timeout", settle, &s.SettleTimeout},
			} {
				if d.v < 0 {
					return fmt.Errorf("%s %s must not be negative", d.flag, d.v)
				}
				if d.v > 0 {
					*d.dst = d.v
				}
			}
			var res sim.LedgerResult
			var stalled error
			err := runScenario(cmd, a, &f, "ledger", func(ctx context.Context, p sim.Progress) (sim.LedgerResult, error) {
				var err error
				res, err = s.Run(ctx, p)
				if errors.Is(err, sim.ErrStalled) {
					// What was measured is printed, then the command fails.
					stalled, err = err, nil
				}
				return res, err
			}, writeLedgerPlots, func(w io.Writer, res sim.LedgerResult) error {
				if res.Stalled != "" {
					fmt.Fprintf(w, "STALLED: %s; the figures below are those of what had finished\n", res.Stalled)
				}
				fmt.Fprintf(w, "nodes %d (%d representatives), seed %d, slowdown %g, boot %.0f s, run %.0f s\n",
					res.Nodes, res.Representatives, res.Seed, res.Slowdown, res.BootSeconds, res.RunSeconds)
				fmt.Fprintf(w, "transfers %d (%d refused at Send), %d churners (%d departures)\n", res.Transfers, res.SendErrors, res.Churners, res.Departures)
				fmt.Fprintf(w, "confirmed on both ends: %d, latency p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d later than --confirm-timeout\n",
					res.Measured, res.ConfirmMsP50, res.ConfirmMsP99, res.ConfirmMsMax, res.Late)
				if res.DoubleSpenders > 0 {
					where := "at once"
					if res.Partition {
						where = "across a partition"
					}
					fmt.Fprintf(w, "double spenders %d (%s): forks detected %d, double spends confirmed %d, settled everywhere %d\n",
						res.DoubleSpenders, where, res.ForksDetected, res.DoubleSpendsConfirmed, res.DoubleSpendsSettled)
				}
				fmt.Fprintf(w, "sum constant: %v (%d checks of %d micro-credits); converged: %v after %.1f s, %d sends unconfirmed somewhere\n",
					res.SumConstant, res.SumChecks, res.Supply, res.Converged, res.SettleSeconds, res.Unconfirmed)
				for _, d := range res.Diverged {
					fmt.Fprintf(w, "  node %d (churned %v): %d forks held; accounts behind %d, ahead %d, on another head %d; %d elections open, %d asks (%d failed, %d blocks), %d peers\n",
						d.Node, d.Churned, d.Forks, d.Behind, d.Ahead, d.Other, d.Elections, d.Asks, d.AskFailures, d.AskBlocks, d.Peers)
				}
				fmt.Fprintf(w, "validators ignored %d (%s), rejected %d; gossip's rules ignored %s; the core refused %s\n",
					res.ValidatorIgnored, byKey(res.ValidatorIgnoredByReason), res.ValidatorRejected, byKey(res.GossipIgnoredByRule), byKey(res.CoreRefused))
				fmt.Fprintf(w, "pubsub dropped: %s\n", byKey(res.GossipDropped))
				if len(res.LateSends) > 0 {
					where := map[string]uint64{}
					for _, l := range res.LateSends {
						where[l.Where]++
					}
					fmt.Fprintf(w, "late sends by the end that had not confirmed them: %s\n", byKey(where))
				}
				if res.StuckCloses > 0 {
					fmt.Fprintf(w, "%d stops or crashes of a node whose close did not return (left behind, cut off)\n", res.StuckCloses)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return errors.Join(stalled, res.Check())
		},
	}
	def := sim.DefaultLedgerScenario(100)
	f.register(cmd, def.Network)
	fl := cmd.Flags()
	fl.IntVar(&reps, "representatives", 0, "principal representatives every account delegates to (default: a sixth of --nodes, 3 to 20)")
	fl.IntVar(&transfers, "transfers", def.Transfers, "sends between random nodes")
	fl.DurationVar(&transferFor, "transfer-for", def.TransferFor, "how long the sends are spread over")
	fl.DurationVar(&confirm, "confirm-timeout", def.ConfirmTimeout, "longest wait for one send's confirmation on both ends")
	fl.Float64Var(&churn, "churn", def.Churn, "share of the non-representative nodes that churn during the transfers")
	fl.DurationVar(&churnDown, "churn-down", def.ChurnDown, "mean time a churning node stays down")
	fl.DurationVar(&churnUp, "churn-up", def.ChurnUp, "mean time a churning node stays up")
	fl.Float64Var(&crash, "crash-share", def.CrashShare, "share of the churn departures that are crashes (the rest clean stops)")
	fl.IntVar(&spenders, "double-spenders", 0, "accounts that each make two conflicting sends on two nodes")
	fl.BoolVar(&partition, "partition", false, "make the double spenders' sends on the two sides of a partition")
	fl.DurationVar(&partFor, "partition-for", def.PartitionFor, "how long the partition lasts")
	fl.DurationVar(&settle, "settle-timeout", def.SettleTimeout, "longest wait at the end for every node to agree")
	fl.Float64Var(&slowdown, "slowdown", def.Slowdown,
		"run the scenario this many times slower than real time, so that each node gets that much more CPU per simulated second (1: real time)")
	return cmd
}

// writeLedgerPlots writes the CDF of the confirmation latency.
func writeLedgerPlots(dir string, res sim.LedgerResult) error {
	if len(res.LatenciesMs) == 0 {
		return nil
	}
	return sim.CDF(filepath.Join(dir, "ledger-confirm-cdf.png"), fmt.Sprintf("ledger confirmation latency, %d nodes, %d representatives", res.Nodes, res.Representatives), "ms", res.LatenciesMs)
}

// byKey prints counts as "key n, key n" in the keys' order ("none" when
// there are none).
func byKey(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

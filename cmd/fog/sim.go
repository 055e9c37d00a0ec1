package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/sim"
)

func (a *app) simCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim SCENARIO",
		Short: "Run a simulated network of real nodes in this process and report figures",
		Long: `sim runs N real fog nodes in this process on libp2p's in-process network
(mocknet), each with an in-memory store, with link latency, loss, churn and
partitions, and measures how the network behaves. Every random choice comes
from --seed, so a run can be repeated.`,
	}
	cmd.AddCommand(a.simDHTCmd(), a.simGossipCmd(), a.simComputeCmd(), a.simLotteryCmd(), a.simMixCmd(), a.simChatCmd(), a.simLedgerCmd(), a.simSoakCmd())
	return cmd
}

// simFlags are the flags every scenario shares.
type simFlags struct {
	nodes   int
	seed    uint64
	out     string
	latMin  time.Duration
	latMax  time.Duration
	loss    float64
	bw      float64
	quiet   bool
	timeout time.Duration
}

// register adds the shared flags, with the defaults of def, the network of
// the scenario's default.
func (f *simFlags) register(cmd *cobra.Command, def sim.Config) {
	cmd.Flags().IntVar(&f.nodes, "nodes", def.Nodes, "number of nodes")
	cmd.Flags().Uint64Var(&f.seed, "seed", def.Seed, "seed of every random choice")
	cmd.Flags().StringVar(&f.out, "out", "", "directory to write the JSON result and PNG plots to")
	cmd.Flags().DurationVar(&f.latMin, "latency-min", def.Links.LatencyMin, "least one-way link latency")
	cmd.Flags().DurationVar(&f.latMax, "latency-max", def.Links.LatencyMax, "greatest one-way link latency")
	cmd.Flags().Float64Var(&f.loss, "loss", def.Links.Loss, "probability that a request on a link is lost (retried after a timeout)")
	cmd.Flags().Float64Var(&f.bw, "bandwidth", def.Links.Bandwidth, "bandwidth of every link in bytes per second (0: unlimited)")
	cmd.Flags().BoolVar(&f.quiet, "quiet", false, "no progress bar")
	cmd.Flags().DurationVar(&f.timeout, "timeout", time.Hour, "give up after this long")
}

// runScenario runs one scenario within --timeout, stopping on Ctrl-C, with
// progress on stderr; then writes name.json (and whatever more writes) to
// --out and prints the result as JSON or with human.
func runScenario[R any](cmd *cobra.Command, a *app, f *simFlags, name string,
	run func(context.Context, sim.Progress) (R, error), more func(dir string, res R) error, human func(io.Writer, R) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	ctx, stop := signalContext(ctx, a.errOut)
	defer stop()
	prog, done := a.progress(f.quiet)
	res, err := run(ctx, prog)
	done()
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := sim.WriteJSON(f.out, name+".json", res); err != nil {
			return err
		}
		if more != nil {
			if err := more(f.out, res); err != nil {
				return err
			}
		}
	}
	return a.print(res, func(w io.Writer) error {
		if err := human(w, res); err != nil {
			return err
		}
		if f.out != "" {
			fmt.Fprintf(w, "wrote %s\n", f.out)
		}
		return nil
	})
}

// apply sets the flags' seed and links on a scenario's network, after
// checking --nodes.
func (f *simFlags) apply(c *sim.Config) error {
	if f.nodes < 2 || f.nodes > 5000 {
		return fmt.Errorf("--nodes %d: want 2 to 5000", f.nodes)
	}
	c.Seed = f.seed
	c.Links.LatencyMin, c.Links.LatencyMax, c.Links.Loss, c.Links.Bandwidth = f.latMin, f.latMax, f.loss, f.bw
	if err := c.Links.Validate(); err != nil {
		// sim names the Go fields; the user typed flags.
		msg := strings.TrimPrefix(err.Error(), sim.ErrConfig.Error()+": ")
		return fmt.Errorf("%s", linkFlags.Replace(msg))
	}
	return nil
}

// linkFlags maps the fields of sim.Links to the flags that set them.
var linkFlags = strings.NewReplacer("LatencyMin", "--latency-min", "LatencyMax", "--latency-max", "Loss", "--loss", "Bandwidth", "--bandwidth")

// bar draws scenario progress on w.
type bar struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (b *bar) Phase(name string, total int) {
	if b.bar != nil {
		b.bar.Finish()
		fmt.Fprintln(b.w)
	}
	b.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(fmt.Sprintf("%-34s", name)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
	)
}

func (b *bar) Step(n int) {
	if b.bar != nil {
		b.bar.Add(n)
	}
}

func (b *bar) done() {
	if b.bar != nil {
		b.bar.Finish()
		fmt.Fprintln(b.w)
	}
}

func (a *app) progress(quiet bool) (sim.Progress, func()) {
	if quiet {
		return nil, func() {}
	}
	if f, ok := a.errOut.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		l := &lines{w: a.errOut, clk: a.clk}
		return l, l.done
	}
	b := &bar{w: a.errOut}
	return b, b.done
}

// lines reports progress as one line per phase, for logs and pipes, and a
// line with the count so far when a phase has been quiet for linesEvery.
type lines struct {
	mu      sync.Mutex
	w       io.Writer
	clk     clock.Clock
	name    string
	total   int
	done0   int
	start   time.Time
	printed time.Time
}

// linesEvery is how often lines reports a long phase's progress.
const linesEvery = 10 * time.Second

func (l *lines) Phase(name string, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finish()
	l.name, l.total, l.done0, l.start = name, total, 0, l.clk.Now()
	l.printed = l.start
	fmt.Fprintf(l.w, "%s (%d)...\n", name, total)
}

func (l *lines) Step(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done0 += n
	if now := l.clk.Now(); l.name != "" && now.Sub(l.printed) >= linesEvery {
		l.printed = now
		fmt.Fprintf(l.w, "%s: %d/%d after %s\n", l.name, l.done0, l.total, now.Sub(l.start).Round(time.Second))
	}
}

func (l *lines) done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finish()
}

func (l *lines) finish() {
	if l.name != "" {
		fmt.Fprintf(l.w, "%s: %d/%d in %s\n", l.name, l.done0, l.total, clock.Since(l.clk, l.start).Round(time.Millisecond))
		l.name = ""
	}
}

func (a *app) simDHTCmd() *cobra.Command {
	var f simFlags
	var churn float64
	var partition bool
	var lookups int
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "dht",
		Short: "Boot a network and measure DHT lookups (optionally under churn or across a healed partition)",
		Example: `  fog sim dht --nodes 200
  fog sim dht --nodes 200 --churn 0.1 --json
  fog sim dht --nodes 200 --partition --out sim-out/partition`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if churn < 0 || churn > 1 {
				return fmt.Errorf("--churn %v: want a fraction of nodes per minute between 0 and 1", churn)
			}
			if churn > 0 && partition {
				return fmt.Errorf("--churn and --partition are separate scenarios: give one")
			}
			s := sim.DefaultDHTScenario(f.nodes)
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			s.Churn, s.Partition, s.Lookups, s.Duration = churn, partition, lookups, duration
			return runScenario(cmd, a, &f, "dht", s.Run, writeDHTPlots, func(w io.Writer, res sim.DHTResult) error {
				fmt.Fprintf(w, "nodes %d, seed %d: boot %.1fs, %.2f MiB heap and %.0f goroutines per node, routing table p50 %.0f peers\n",
					res.Nodes, res.Seed, res.BootSeconds, res.HeapMiBPerNode, res.GoroutinesPerNode, res.RoutingTableP50)
				if res.Churn > 0 {
					fmt.Fprintf(w, "churn %.0f%%/min: %d departures; %d lookups whose target left were not counted\n", res.Churn*100, res.Departures, res.TargetLeft)
				}
				if res.Partition {
					fmt.Fprintf(w, "partition: within-group success %.2f%%\n", res.WithinGroupOK*100)
					for _, b := range res.Batches {
						fmt.Fprintf(w, "  %5.0fs after heal: %3d cross-cut lookups, %.2f%% found\n", b.AfterHealSeconds, b.Lookups, b.SuccessRate*100)
					}
					if res.RecoverySecs != nil {
						fmt.Fprintf(w, "cross-cut lookups at >= 99%% from %.0f s after the heal\n", *res.RecoverySecs)
					} else {
						fmt.Fprintln(w, "cross-cut lookups never reached 99% in the window")
					}
				}
				fmt.Fprintf(w, "lookups %d: success %.2f%%, hops p50 %.0f p99 %.0f, latency p50 %.0f ms p99 %.0f ms\n",
					res.Lookups, res.LookupSuccessRate*100, res.HopsP50, res.HopsP99, res.LatencyMsP50, res.LatencyMsP99)
				if len(res.Failures) > 0 {
					keys := make([]string, 0, len(res.Failures))
					for k := range res.Failures {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						fmt.Fprintf(w, "  failed (%s): %d\n", k, res.Failures[k])
					}
				}
				return nil
			})
		},
	}
	def := sim.DefaultDHTScenario(50)
	f.register(cmd, def.Network)
	cmd.Flags().Float64Var(&churn, "churn", def.Churn, fmt.Sprintf("fraction of nodes that leave per minute (each returns after %s; half crash, half stop)", humanDuration(def.ChurnDowntime)))
	cmd.Flags().BoolVar(&partition, "partition", def.Partition, fmt.Sprintf("split the network in two for %s, heal it, and measure cross-cut lookups for %s", humanDuration(def.PartitionFor), humanDuration(def.RecoveryWindow)))
	cmd.Flags().IntVar(&lookups, "lookups", def.Lookups, "number of lookups")
	cmd.Flags().DurationVar(&duration, "duration", def.Duration, "with --churn: how long the lookups are spread over")
	return cmd
}

// writeDHTPlots writes the hop histogram and the latency CDF.
func writeDHTPlots(dir string, res sim.DHTResult) error {
	if err := sim.Histogram(filepath.Join(dir, "dht-hops.png"), fmt.Sprintf("DHT lookup hops, %d nodes", res.Nodes), "hops", res.Hops); err != nil {
		return err
	}
	return sim.CDF(filepath.Join(dir, "dht-latency-cdf.png"), fmt.Sprintf("DHT lookup latency, %d nodes", res.Nodes), "ms", res.LatenciesMs)
}

func (a *app) simGossipCmd() *cobra.Command {
	var f simFlags
	var attackers, targets, rounds int
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "gossip",
		Short: "Measure how capacity adverts spread, directory convergence, and resistance to attackers",
		Example: `  fog sim gossip --nodes 200
  fog sim gossip --nodes 160 --attackers 40 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if attackers < 0 || attackers > 5000 {
				return fmt.Errorf("--attackers %d: want 0 to 5000", attackers)
			}
			s := sim.DefaultGossipScenario(f.nodes)
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			s.Attackers, s.AttackTargets, s.Rounds = attackers, targets, rounds
			if interval != 0 {
				s.Interval = interval
			}
			return runScenario(cmd, a, &f, "gossip", s.Run, nil, func(w io.Writer, res sim.GossipResult) error {
				fmt.Fprintf(w, "nodes %d honest + %d attackers, seed %d: %d adverts measured over %d intervals of %s\n",
					res.Nodes, res.Attackers, res.Seed, res.Adverts, rounds, s.Interval)
				for _, sp := range res.Spread {
					p99 := fmt.Sprintf("%.0f ms", sp.P99Ms)
					if sp.P99Ms < 0 {
						p99 = "never (some adverts did not get there)"
					}
					fmt.Fprintf(w, "  reached %3.0f%% of nodes: p50 %.0f ms, p99 %s\n", sp.Share*100, sp.P50Ms, p99)
				}
				fmt.Fprintf(w, "coverage %.2f%%, duplicates per message %.2f\n", res.CoverageFraction*100, res.DuplicatesPerMessage)
				fmt.Fprintf(w, "directories converged: %v (after %.0f ms)\n", res.DirectoriesConverged, res.ConvergenceMs)
				if res.Attackers > 0 {
					fmt.Fprintf(w, "attack: %d messages; honest delivery %.2f%%; %d/%d attackers graylisted by every honest neighbour (p50 %.1f s, max %.1f s)\n",
						res.AttackMessages, res.HonestDeliveryRate*100, res.Graylisted, res.Attackers, res.GraylistP50Seconds, res.GraylistMaxSeconds)
				}
				fmt.Fprintf(w, "honest nodes graylisted by honest peers: %d\n", res.HonestGraylisted)
				return nil
			})
		},
	}
	def := sim.DefaultGossipScenario(50)
	f.register(cmd, def.Network)
	cmd.Flags().IntVar(&attackers, "attackers", def.Attackers, "hostile hosts flooding invalid, oversized and replayed messages")
	cmd.Flags().IntVar(&targets, "attack-targets", def.AttackTargets, "honest nodes each attacker connects to")
	cmd.Flags().IntVar(&rounds, "rounds", def.Rounds, "advert intervals to measure")
	cmd.Flags().DurationVar(&interval, "interval", 0, "advert interval of every node (default: nodes × 100 ms, at least 5s, so that the network publishes 10 adverts/s)")
	return cmd
}

func (a *app) simComputeCmd() *cobra.Command {
	var f simFlags
	var churn float64
	var tasks, replicas int
	var duration, deadline time.Duration
	cmd := &cobra.Command{
		Use:   "compute",
		Short: "Submit tasks from random nodes while nodes churn; count how many end and succeed in time",
		Example: `  fog sim compute --nodes 50 --churn 0.1
  fog sim compute --nodes 50 --churn 0.1 --replicas 3 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if churn < 0 || churn > 1 {
				return fmt.Errorf("--churn %v: want a fraction of nodes per minute between 0 and 1", churn)
			}
			s := sim.DefaultComputeScenario(f.nodes)
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			s.Churn, s.Tasks, s.Replicas, s.Duration, s.Deadline = churn, tasks, replicas, duration, deadline
			return runScenario(cmd, a, &f, "compute", s.Run, nil, func(w io.Writer, res sim.ComputeResult) error {
				fmt.Fprintf(w, "nodes %d, seed %d, churn %.0f%%/min (%d departures), replicas %d\n", res.Nodes, res.Seed, res.Churn*100, res.Departures, res.Replicas)
				fmt.Fprintf(w, "tasks submitted %d (%d refused at submission)\n", res.Submitted, res.SubmitErrors)
				fmt.Fprintf(w, "reached a terminal state: %d (%.2f%%)\n", res.Terminal, res.TerminalRate*100)
				fmt.Fprintf(w, "succeeded before their deadline: %d (%.2f%%); %d needed a retry\n", res.Succeeded, res.SuccessRate*100, res.Retried)
				fmt.Fprintf(w, "latency p50 %.0f ms, p99 %.0f ms\n", res.LatencyMsP50, res.LatencyMsP99)
				for _, k := range slices.Sorted(maps.Keys(res.Failed)) {
					fmt.Fprintf(w, "  %s: %d\n", k, res.Failed[k])
				}
				return nil
			})
		},
	}
	def := sim.DefaultComputeScenario(50)
	f.register(cmd, def.Network)
	cmd.Flags().Float64Var(&churn, "churn", def.Churn, fmt.Sprintf("fraction of nodes that leave per minute (each returns after %s; half crash, half stop)", humanDuration(def.ChurnDowntime)))
	cmd.Flags().IntVar(&tasks, "tasks", def.Tasks, "tasks to submit")
	cmd.Flags().IntVar(&replicas, "replicas", def.Replicas, "providers per task")
	cmd.Flags().DurationVar(&duration, "duration", def.Duration, "how long submissions are spread over")
	cmd.Flags().DurationVar(&deadline, "deadline", def.Deadline, "each task's deadline after its submission")
	return cmd
}

func (a *app) simLotteryCmd() *cobra.Command {
	var f simFlags
	var candidates, relays, epochs int
	var epoch time.Duration
	var static bool
	cmd := &cobra.Command{
		Use:   "lottery",
		Short: "Run the relay lottery on a network and check every node holds the same relay directory",
		Example: `  fog sim lottery --nodes 100
  fog sim lottery --nodes 100 --candidates 40 --relays 10 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := sim.DefaultLotteryScenario(f.nodes)
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			if candidates > 0 {
				s.Candidates = candidates
			}
			s.TargetRelays, s.Epochs, s.EpochLength, s.Static = relays, epochs, epoch, static
			return runScenario(cmd, a, &f, "lottery", s.Run, nil, func(w io.Writer, res sim.LotteryResult) error {
				fmt.Fprintf(w, "nodes %d, %d candidates (%s), R = %d, seed %d\n", res.Nodes, res.Candidates, res.Mode, res.TargetRelays, res.Seed)
				for _, e := range res.Epochs {
					fmt.Fprintf(w, "  epoch %d: %d/%d nodes closed it, %d distinct directories, %d relays / %d seats; last node final %.0f ms, closed %.0f ms after the epoch start\n",
						e.Epoch, e.Closed, e.Nodes, e.Digests, e.Relays, e.Seats,
						float64(e.Complete)/float64(time.Millisecond), float64(e.Close)/float64(time.Millisecond))
				}
				fmt.Fprintf(w, "every node identical in every epoch: %v; latest final directory %.0f ms after an epoch start\n", res.AllAgree, res.AgreementMsMax)
				fmt.Fprintf(w, "claims verified: %d (%.0f/s over the network, %.0f per core-second)\n", res.ClaimsVerified, res.ClaimsPerSecond, res.ClaimsPerCoreSecond)
				return nil
			})
		},
	}
	def := sim.DefaultLotteryScenario(100)
	f.register(cmd, def.Network)
	cmd.Flags().IntVar(&candidates, "candidates", 0, "how many nodes stand for election (default: all)")
	cmd.Flags().IntVar(&relays, "relays", def.TargetRelays, "target relay seats per epoch (R)")
	cmd.Flags().IntVar(&epochs, "epochs", def.Epochs, "epochs to measure")
	cmd.Flags().DurationVar(&epoch, "epoch", def.EpochLength, "epoch length")
	cmd.Flags().BoolVar(&static, "static", def.Static, "fix the candidate set in config instead of candidates announcing themselves")
	return cmd
}

func (a *app) simMixCmd() *cobra.Command {
	var f simFlags
	var relays, kill int
	var noCover, noDelay bool
	var rate, slowdown, sendRate, loopRate, dropRate, relayLoopRate float64
	var duration, deadline time.Duration
	cmd := &cobra.Command{
		Use:   "mix",
		Short: "Run the mix network on relays the lottery elects, exchange messages between pairs of nodes, and measure delivery and what a global passive observer learns",
		Long: `mix boots N nodes running the relay lottery and the mix network (every node a
candidate), has node 2k and 2k+1 exchange messages, and reports delivery,
latency and retransmissions, and the anonymity figures of a global passive
observer who sees the time, sender and receiver of every frame on every link:
flow correlation, linking accuracy and sender entropy (docs/mix.md defines
them). The anonymity figures count only when sim_lag_ms_p99, how far the
simulator itself ran behind schedule, is under 10 % of the mean delay per hop.
--no-cover --no-delay is the baseline the defences are measured against.`,
		Example: `  fog sim mix --nodes 100
  fog sim mix --nodes 100 --no-cover --no-delay
  fog sim mix --nodes 100 --kill-relays 3 --out sim-out/mix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := sim.DefaultMixScenario(f.nodes)
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			if relays < 1 {
				return fmt.Errorf("--relays %d: want at least 1", relays)
			}
			if kill < 0 || kill >= relays {
				return fmt.Errorf("--kill-relays %d: want 0 to --relays - 1", kill)
			}
			if rate <= 0 {
				return fmt.Errorf("--message-rate %v: want a positive rate", rate)
			}
			if slowdown < 1 {
				return fmt.Errorf("--slowdown %v: want 1 (real time) or more", slowdown)
			}
			s.TargetRelays, s.KillRelays, s.MessageRate, s.Slowdown = relays, kill, rate, slowdown
			if duration > 0 {
				s.Duration = duration
			}
			if deadline > 0 {
				s.Deadline = deadline
			}
			s.Mix.Cover = !noCover
			s.Mix.SendRate, s.Mix.LoopRate, s.Mix.DropRate = sendRate, loopRate, dropRate
			s.Mix.RelayLoopRate = relayLoopRate
			if err := s.Mix.Validate(); err != nil {
				return fmt.Errorf("--send-rate, --loop-rate, --drop-rate or --relay-loop-rate: %w", err)
			}
			if noDelay {
				s.Mix.MeanDelay = 0
			}
			return runScenario(cmd, a, &f, "mix", s.Run, writeMixPlots, func(w io.Writer, res sim.MixResult) error {
				fmt.Fprintf(w, "nodes %d, seed %d, R = %d (relays per epoch %v), mean delay %.0f ms, cover %v (%.1f+%.1f+%.1f/s, relays' loops %.1f/s), %.2f messages/s per node, %gx slower than real time\n",
					res.Nodes, res.Seed, res.TargetRelays, res.Relays, res.MeanDelayMs, res.Cover, res.SendRate, res.LoopRate, res.DropRate, res.RelayLoopRate, res.MessageRate, res.Slowdown)
				if len(res.Killed) > 0 {
					fmt.Fprintf(w, "killed relays (nodes) %v mid-epoch; %d messages from or to them not counted\n", res.Killed, res.Excluded)
				}
				fmt.Fprintf(w, "messages %d from %d senders: delivered %.2f%%, first attempt %.2f%%, %d retransmissions\n",
					res.Messages, res.Senders, res.DeliveryRate*100, res.FirstAttemptRate*100, res.Retransmissions)
				fmt.Fprintf(w, "latency p50 %.0f ms, p99 %.0f ms\n", res.LatencyMsP50, res.LatencyMsP99)
				fmt.Fprintf(w, "flow correlation %.3f (pairs that do not talk: %.3f; all nodes' traffic together: %.3f)\n", res.FlowCorrelation, res.FlowCorrelationOther, res.CommonMode)
				fmt.Fprintf(w, "linking accuracy %.3f (chance 1/senders = %.3f)\n", res.LinkingAccuracy, res.LinkingChance)
				fmt.Fprintf(w, "sender entropy %.2f bits (log2 senders = %.2f)\n", res.SenderEntropyBits, res.SenderEntropyMax)
				if res.PerfectMixEntropyBits > 0 {
					fmt.Fprintf(w, "a perfect mix at these rates and delays: linking %.3f, entropy %.2f bits (the best reachable)\n",
						res.PerfectMixLinking, res.PerfectMixEntropyBits)
				}
				verdict := "the anonymity figures count"
				if !res.LagOK {
					verdict = "TOO HIGH: the anonymity figures do not count"
				}
				fmt.Fprintf(w, "simulator lag p99 %.1f ms (ticks %.1f, links %.1f): %s\n", res.SimLagMsP99, res.TickLagMsP99, res.LinkLagMsP99, verdict)
				fmt.Fprintf(w, "frames %d observed, %d written and never read; drops %v, %d duplicates\n", res.Frames, res.FramesUnread, res.Drops, res.Duplicates)
				return nil
			})
		},
	}
	def := sim.DefaultMixScenario(100)
	f.register(cmd, def.Network)
	cmd.Flags().IntVar(&relays, "relays", def.TargetRelays, "target relay seats per epoch (the lottery's R)")
	cmd.Flags().IntVar(&kill, "kill-relays", 0, "relays to crash mid-epoch halfway through, one per layer in turn")
	cmd.Flags().BoolVar(&noCover, "no-cover", false, "no cover traffic: real packets leave at once")
	cmd.Flags().BoolVar(&noDelay, "no-delay", false, "no mixing delay at the relays")
	cmd.Flags().Float64Var(&rate, "message-rate", def.MessageRate, "messages per second each node sends its partner")
	cmd.Flags().DurationVar(&duration, "duration", def.Duration, "how long messages are sent (and the observer watches)")
	cmd.Flags().DurationVar(&deadline, "deadline", def.Deadline, "each message's deadline after it is sent")
	cmd.Flags().Float64Var(&sendRate, "send-rate", def.Mix.SendRate, "packets per second of each node's send stream (real packets or cover in their place)")
	cmd.Flags().Float64Var(&loopRate, "loop-rate", def.Mix.LoopRate, "loop cover packets per second of each node")
	cmd.Flags().Float64Var(&dropRate, "drop-rate", def.Mix.DropRate, "drop cover packets per second of each node")
	cmd.Flags().Float64Var(&relayLoopRate, "relay-loop-rate", def.Mix.RelayLoopRate, "loop cover packets per second each relay sends of its own while it serves")
	cmd.Flags().Float64Var(&slowdown, "slowdown", def.Slowdown,
		"run the scenario this many times slower than real time, so that each node gets that much more CPU per simulated second (1: real time)")
	return cmd
}

// writeMixPlots writes the latency CDF and the correlation histogram.
func writeMixPlots(dir string, res sim.MixResult) error {
	if err := sim.CDF(filepath.Join(dir, "mix-latency-cdf.png"), fmt.Sprintf("mix message latency, %d nodes", res.Nodes), "ms", res.LatenciesMs); err != nil {
		return err
	}
	return sim.CorrelationHistogram(filepath.Join(dir, "mix-correlation.png"),
		fmt.Sprintf("flow correlation per pair, %d nodes, cover %v, %.0f ms delay", res.Nodes, res.Cover, res.MeanDelayMs),
		res.Correlations, res.CorrelationsOther)
}

package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/sim"
)

func (a *app) simChatCmd() *cobra.Command {
	var f simFlags
	var churn, crash, anon, slowdown float64
	var partition bool
	var dms, away, awayDMs, posts, relays int
	var onlineFor, awayFor, window, churnDown, churnUp, partFor, converge, drain time.Duration
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Measure the chat: direct messages between online nodes, to nodes that are away (mailboxes under churn), and a channel across a partition that heals",
		Long: `chat boots N nodes with the chat on (their default chat configuration) and
runs three phases on them (docs/chat.md, docs/mailbox.md, docs/channels.md):

 1. --dms direct messages between random online pairs over --online-for:
    dm_latency_ms_p50/p99, from Send on the sender to the recipient's inbox.
    An --anonymous-share of them go through the mix (fog chat send
    --anonymous), reported apart (anonymous_delivery_rate,
    anonymous_latency_ms_p50/p99); then every node runs the relay lottery
    (--relays seats, every node a candidate) and the mix with its defaults,
    as in fog sim mix, and the phase starts once every mix routes.
 2. --away nodes stop for --away-for; each gets --away-dms messages from
    nodes that stay up, while a --churn share of the other nodes alternate
    between down (--churn-down on average, --crash-share of the departures
    crashes) and up (--churn-up). Then the away nodes start again:
    mailbox_delivery_rate is the share of their messages delivered within
    --return-window of their return.
 3. With --partition, the network splits in two halves for --partition-for,
    each half posts --posts posts on one channel, and the split heals:
    channel_convergence_seconds is how long until every node holds every
    post (history sync), at most --converge-timeout.

dm_delivery_rate counts every message delivered by the end, after waiting
--drain-timeout at most for the last ones.

--slowdown K runs everything K times slower than real time (as fog sim
mix): a hundred nodes with the mix on two cores need it. Every time given
and reported is the scenario's; --timeout is real time.`,
		Example: `  fog sim chat --nodes 100
  fog sim chat --nodes 100 --churn 0.3 --partition --json
  fog sim chat --nodes 50 --away-for 1h --out sim-out/chat
  fog sim chat --nodes 100 --anonymous-share 0.5 --slowdown 4 --away 0 --partition=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := sim.DefaultChatScenario(f.nodes)
			if err := f.apply(&s.Network); err != nil {
				return err
			}
			switch {
			case churn < 0 || churn > 0.9:
				return fmt.Errorf("--churn %v: want a share of the nodes between 0 and 0.9", churn)
			case crash < 0 || crash > 1:
				return fmt.Errorf("--crash-share %v: want 0 to 1", crash)
			case dms < 0 || awayDMs < 0 || posts < 0:
				return fmt.Errorf("--dms, --away-dms and --posts must not be negative")
			case away < 0 || away > f.nodes/2:
				return fmt.Errorf("--away %d: want 0 to half of --nodes", away)
			case anon < 0 || anon > 1:
				return fmt.Errorf("--anonymous-share %v: want 0 to 1", anon)
			case relays < 1:
				return fmt.Errorf("--relays %d: want at least 1", relays)
			case slowdown < 1:
				return fmt.Errorf("--slowdown %v: want 1 (real time) or more", slowdown)
			}
			s.AnonymousShare, s.TargetRelays, s.Slowdown = anon, relays, slowdown
			s.OnlineDMs, s.AwayDMs, s.Churn, s.CrashShare = dms, awayDMs, churn, crash
			if cmd.Flags().Changed("away") {
				s.Away = away
			}
			s.Partition, s.PartitionPosts = partition, posts
			for _, d := range []struct {
				flag string
				v    time.Duration
				dst  *time.Duration
			}{
				{"--online-for", onlineFor, &s.OnlineFor}, {"--away-for", awayFor, &s.AwayFor},
				{"--return-window", window, &s.ReturnWindow}, {"--churn-down", churnDown, &s.ChurnDown},
				{"--churn-up", churnUp, &s.ChurnUp}, {"--partition-for", partFor, &s.PartitionFor},
				{"--converge-timeout", converge, &s.ConvergeTimeout}, {"--drain-timeout", drain, &s.DrainTimeout},
			} {
				if d.v < 0 {
					return fmt.Errorf("%s %s must not be negative", d.flag, d.v)
				}
				if d.v > 0 {
					*d.dst = d.v
				}
			}
			return runScenario(cmd, a, &f, "chat", s.Run, writeChatPlots, func(w io.Writer, res sim.ChatResult) error {
				fmt.Fprintf(w, "nodes %d, seed %d, boot %.0f s, run %.0f s", res.Nodes, res.Seed, res.BootSeconds, res.RunSeconds)
				if res.Slowdown > 1 {
					fmt.Fprintf(w, " (slowed %g times: scenario time)", res.Slowdown)
				}
				fmt.Fprintln(w)
				fmt.Fprintf(w, "direct messages: %d, delivered %.2f%% by the end", res.DMs, res.DMDeliveryRate*100)
				if res.SendErrors > 0 {
					fmt.Fprintf(w, " (%d refused at Send)", res.SendErrors)
				}
				fmt.Fprintln(w)
				fmt.Fprintf(w, "both online, not anonymous: %d, delivered %.2f%%, latency p50 %.0f ms, p99 %.0f ms, max %.0f ms (routes: %d direct, %d mailbox)\n",
					res.OnlineDMs, res.OnlineDeliveryRate*100, res.DMLatencyMsP50, res.DMLatencyMsP99, res.DMLatencyMsMax,
					res.OnlineRoutes.Direct, res.OnlineRoutes.Mailbox)
				if res.AnonymousDMs > 0 {
					fmt.Fprintf(w, "anonymous, both online: %d through the mix (R = %d), delivered %.2f%%, latency p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
						res.AnonymousDMs, res.TargetRelays, res.AnonymousDeliveryRate*100, res.AnonymousLatencyMsP50, res.AnonymousLatencyMsP99, res.AnonymousLatencyMsMax)
				}
				if res.AwayNodes > 0 {
					fmt.Fprintf(w, "away: %d nodes for %.0f s, %d churners (%.0f%% of the others, %d departures), %d mailbox items held at the return\n",
						res.AwayNodes, res.AwaySeconds, res.Churners, res.Churn*100, res.Departures, res.MailboxItemsAtReturn)
					fmt.Fprintf(w, "  %d messages: %.2f%% delivered within %.0f s of the return, %.2f%% by the end; after the return p50 %.0f ms, p99 %.0f ms (routes: %d mailbox, %d direct)\n",
						res.MailboxDMs, res.MailboxDeliveryRate*100, res.ReturnWindowSeconds, res.MailboxEventualRate*100,
						res.AfterReturnMsP50, res.AfterReturnMsP99, res.AwayRoutes.Mailbox, res.AwayRoutes.Direct)
				}
				if res.Partition {
					verdict := fmt.Sprintf("every node holds every post %.1f s after the heal (p50 %.1f s)", res.ChannelConvergenceSeconds, res.ChannelConvergenceP50)
					if !res.ChannelConverged {
						verdict = fmt.Sprintf("NOT converged: %.0f%% of the nodes hold every post after %.0f s", res.ChannelConvergedShare*100, res.ChannelConvergenceSeconds)
					}
					fmt.Fprintf(w, "channel: %d posts across a partition; %s\n", res.Posts, verdict)
				}
				return nil
			})
		},
	}
	def := sim.DefaultChatScenario(100)
	f.register(cmd, def.Network)
	fl := cmd.Flags()
	fl.IntVar(&dms, "dms", def.OnlineDMs, "direct messages between random online pairs")
	fl.DurationVar(&onlineFor, "online-for", def.OnlineFor, "how long the online messages are spread over")
	fl.Float64Var(&anon, "anonymous-share", def.AnonymousShare, "share of the online messages sent anonymously, through the mix (runs the lottery and the mix on every node)")
	fl.IntVar(&relays, "relays", def.TargetRelays, "the lottery's seats per epoch, with --anonymous-share")
	fl.Float64Var(&slowdown, "slowdown", def.Slowdown, "run the scenario this many times slower than real time (every node's timers, the links, the schedules)")
	fl.IntVar(&away, "away", 0, "nodes that go away (default: a tenth of --nodes, at least 1; 0 skips the phase)")
	fl.DurationVar(&awayFor, "away-for", def.AwayFor, "how long the away nodes stay away")
	fl.IntVar(&awayDMs, "away-dms", def.AwayDMs, "messages to each away node while it is away")
	fl.DurationVar(&window, "return-window", def.ReturnWindow, "window after the return in which the away nodes' messages count as delivered")
	fl.Float64Var(&churn, "churn", def.Churn, "share of the other nodes that churn while nodes are away")
	fl.DurationVar(&churnDown, "churn-down", def.ChurnDown, "mean time a churning node stays down")
	fl.DurationVar(&churnUp, "churn-up", def.ChurnUp, "mean time a churning node stays up")
	fl.Float64Var(&crash, "crash-share", def.CrashShare, "share of the churn departures that are crashes (the rest clean stops)")
	fl.BoolVar(&partition, "partition", def.Partition, "split the network in two, post on both sides, heal, and measure channel convergence")
	fl.DurationVar(&partFor, "partition-for", def.PartitionFor, "how long the partition lasts")
	fl.IntVar(&posts, "posts", def.PartitionPosts, "posts per half during the partition")
	fl.DurationVar(&converge, "converge-timeout", def.ConvergeTimeout, "longest wait for the channel to converge after the heal")
	fl.DurationVar(&drain, "drain-timeout", def.DrainTimeout, "longest wait at the end for undelivered messages")
	return cmd
}

// writeChatPlots writes the CDFs of the online latency (direct and
// anonymous), of the away nodes' delivery after their return, and of the
// channel convergence.
func writeChatPlots(dir string, res sim.ChatResult) error {
	if len(res.LatenciesMs) > 0 {
		if err := sim.CDF(filepath.Join(dir, "chat-dm-latency-cdf.png"), fmt.Sprintf("DM latency, both online, %d nodes", res.Nodes), "ms", res.LatenciesMs); err != nil {
			return err
		}
	}
	if len(res.AnonymousMs) > 0 {
		if err := sim.CDF(filepath.Join(dir, "chat-anonymous-latency-cdf.png"), fmt.Sprintf("anonymous DM latency (mix), both online, %d nodes", res.Nodes), "ms", res.AnonymousMs); err != nil {
			return err
		}
	}
	if len(res.AfterReturnMs) > 0 {
		if err := sim.CDF(filepath.Join(dir, "chat-after-return-cdf.png"), fmt.Sprintf("DM delivery after the recipient's return, %d nodes, churn %.0f%%", res.Nodes, res.Churn*100), "ms", res.AfterReturnMs); err != nil {
			return err
		}
	}
	if len(res.ConvergenceSec) > 0 {
		return sim.CDF(filepath.Join(dir, "chat-channel-convergence-cdf.png"), fmt.Sprintf("channel history complete after the heal, %d nodes", res.Nodes), "s", res.ConvergenceSec)
	}
	return nil
}

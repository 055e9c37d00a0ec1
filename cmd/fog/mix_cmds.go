package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
	"github.com/fog-compute/fog/node"
)

func (a *app) mixCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mix",
		Short: "Send and receive onion-routed messages through the elected relays",
		Long: `The mix network carries a message to another node through one relay of each
layer of the current epoch (elected by the relay lottery), each holding it for
a random delay, in Sphinx packets of one size: no single relay, and no
observer of the links, learns who talks to whom. Cover traffic (mix.cover)
keeps the packet rate of a node's links the same whether it talks or not.
Every message is acknowledged through a reply block and sent again over a
fresh route until then, or until mix.ttl. See docs/mix.md.`,
	}
	cmd.AddCommand(a.mixSendCmd(), a.mixReplyCmd(), a.mixInboxCmd(), a.mixStatsCmd())
	return cmd
}

// mixBody returns the message from the argument or --file.
func mixBody(args []string, file string) ([]byte, error) {
	switch {
	case file != "" && len(args) > 0:
		return nil, errors.New("give the message as TEXT or --file, not both")
	case file != "":
		return os.ReadFile(file)
	case len(args) == 0:
		return nil, errors.New("no message: give TEXT or --file")
	}
	return []byte(args[0]), nil
}

func (a *app) printSent(r node.MixSendResult, wait bool) error {
	err := a.print(r, func(w io.Writer) error {
		switch {
		case !wait:
			fmt.Fprintf(w, "sent %s\n", r.ID)
		case r.Acked:
			fmt.Fprintf(w, "delivered %s in %s (%s)\n", r.ID,
				(time.Duration(r.LatencyMS * float64(time.Millisecond))).Round(time.Millisecond), plural(r.Attempts, "attempt"))
		default:
			fmt.Fprintf(w, "not delivered %s\n", r.ID)
		}
		return nil
	})
	if err == nil && wait && !r.Acked {
		return fmt.Errorf("message %s not delivered: %s", r.ID, r.Error)
	}
	return err
}

func (a *app) mixSendCmd() *cobra.Command {
	var file string
	var wait, reply bool
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "send PEER [TEXT]",
		Short: "Send a message to a node over the mix",
		Long: `Send TEXT (or the contents of --file) to the node PEER over the mix. It
returns at once with the message's ID, or with --wait once the recipient has
acknowledged it (printing the delivery time) or it is given up (exit 1).
--reply attaches a single-use reply block: the recipient can answer with
'fog mix reply' without learning who sent.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := peer.Decode(args[0]); err != nil {
				return usageError(cmd, fmt.Errorf("PEER %q is not a peer ID: %w", args[0], err))
			}
			body, err := mixBody(args[1:], file)
			if err != nil {
				return usageError(cmd, err)
			}
			p := node.MixSendParams{To: args[0], Data: body, Reply: reply, Wait: wait}
			if cmd.Flags().Changed("ttl") {
				d := node.Duration(ttl)
				p.TTL = &d
			}
			var r node.MixSendResult
			if err := a.callWait(cmd.Context(), "mix.send", p, &r); err != nil {
				return err
			}
			return a.printSent(r, wait)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "send this file's contents")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the recipient's acknowledgement and print the delivery time")
	cmd.Flags().BoolVar(&reply, "reply", false, "attach a reply block so the recipient can answer")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "retry for this long before giving up (default: the node's mix.ttl)")
	return cmd
}

func (a *app) mixReplyCmd() *cobra.Command {
	var file string
	var wait bool
	cmd := &cobra.Command{
		Use:   "reply ID [TEXT]",
		Short: "Answer a received message through its reply block",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := mixBody(args[1:], file)
			if err != nil {
				return usageError(cmd, err)
			}
			var r node.MixSendResult
			if err := a.callWait(cmd.Context(), "mix.reply", node.MixReplyParams{To: args[0], Data: body, Wait: wait}, &r); err != nil {
				return err
			}
			return a.printSent(r, wait)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "send this file's contents")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the acknowledgement")
	return cmd
}

func (a *app) mixInboxCmd() *cobra.Command {
	var after uint64
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "List the messages received over the mix (the sender is not known)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ms []node.MixMessage
			if err := a.call(cmd.Context(), "mix.inbox", node.MixInboxParams{After: after}, &ms); err != nil {
				return err
			}
			return a.print(ms, func(w io.Writer) error {
				if len(ms) == 0 {
					fmt.Fprintln(w, "no messages")
					return nil
				}
				for _, m := range ms {
					flags := ""
					if m.CanReply {
						flags = " (can reply)"
					}
					if m.InReplyTo != "" {
						flags = " (reply to " + m.InReplyTo + ")"
					}
					fmt.Fprintf(w, "#%d %s %s%s\n", m.Seq, m.At.Local().Format(time.DateTime), m.ID, flags)
					if utf8.Valid(m.Data) {
						fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(string(m.Data), "\n", "\n  "))
					} else {
						fmt.Fprintf(w, "  (%d bytes of binary data; --json shows them)\n", len(m.Data))
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&after, "after", 0, "only messages after this sequence number")
	return cmd
}

func (a *app) mixStatsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Show this node's mix counters: as a relay and as a sender",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st mixsvc.Status
			if err := a.call(cmd.Context(), "mix.status", nil, &st); err != nil {
				return err
			}
			return a.print(st, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				if len(st.Relaying) == 0 {
					fmt.Fprintln(tw, "relay\tnot a relay in the epochs held")
				}
				for _, r := range st.Relaying {
					fmt.Fprintf(tw, "relay\tepoch %d, layer %d\n", r.Epoch, r.Layer)
				}
				fmt.Fprintf(tw, "packets\tin %d, relayed %d, forwarded %d, held now %d, mean delay %.1f ms\n",
					st.PacketsIn, st.Relayed, st.Forwarded, st.Held, st.MeanDelayMS)
				reasons := make([]string, 0, len(st.Drops))
				for k, v := range st.Drops {
					reasons = append(reasons, fmt.Sprintf("%s %d", k, v))
				}
				sort.Strings(reasons)
				fmt.Fprintf(tw, "dropped\t%s (replays %d)\n", orNone(strings.Join(reasons, ", ")), st.Replays)
				fmt.Fprintf(tw, "messages\tsent %d, acknowledged %d, retransmitted %d, failed %d, pending %d, queued %d\n",
					st.Sent, st.Acked, st.Retransmitted, st.Failed, st.Pending, st.Queued)
				fmt.Fprintf(tw, "received\t%d (duplicates %d)\n", st.Delivered, st.Duplicates)
				cover := "off"
				if st.Cover {
					cover = fmt.Sprintf("send %.2g/s, loop %.2g/s, drop %.2g/s", st.SendRate, st.LoopRate, st.DropRate)
				}
				fmt.Fprintf(tw, "cover\t%s; loops %d sent, %d back\n", cover, st.LoopsSent, st.LoopsBack)
				if len(st.Relaying) > 0 || st.RelayLoops > 0 {
					fmt.Fprintf(tw, "relay loops\t%.2g/s while relaying; %d sent\n", st.RelayLoopRate, st.RelayLoops)
				}
				fmt.Fprintf(tw, "links\t%d open, %d frames dropped, %d refused over rate\n", st.Links, st.LinkDrops, st.RateDrops)
				fmt.Fprintf(tw, "inbound streams\t%d served, %d refused over limits, %d idle, %d ended in error\n",
					st.Streams.Served, st.Streams.Refused, st.Streams.TimedOut, st.ReadErrors)
				return tw.Flush()
			})
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

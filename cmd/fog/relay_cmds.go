package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/node"
)

func (a *app) relayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "The relay lottery: this node's candidacy and wins, and each epoch's relay directory",
		Long: `Mix relays are elected per epoch by a verifiable lottery: every candidate
evaluates a VRF (ECVRF, RFC 9381) over the epoch's seed with its own key and
wins seats by binomial sortition; winners publish a claim with a fresh X25519
mix key, and every node verifies every claim and builds the same directory.
Stand as a candidate with relay.candidate = true in config.toml.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show this node's candidacy, wins, and the current and next epoch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st node.RelayStatus
			if err := a.call(cmd.Context(), "relay.status", nil, &st); err != nil {
				return err
			}
			return a.print(st, func(w io.Writer) error {
				role := "observer (verifies claims, holds directories)"
				if st.Candidate {
					role = "candidate"
				}
				fmt.Fprintf(w, "network %s, %s, candidates %s, chain %s\n", st.NetworkID, role, st.Mode, confirmedWord(st.Confirmed))
				for _, e := range []struct {
					name string
					s    lottery.EpochStatus
				}{{"current", st.Current}, {"next", st.Next}} {
					fmt.Fprintf(w, "%-7s epoch %d  %s – %s", e.name, e.s.Epoch, e.s.Start.Local().Format(time.TimeOnly), e.s.End.Local().Format(time.TimeOnly))
					if e.s.Phase != "" {
						fmt.Fprintf(w, "  phase %s", e.s.Phase)
					}
					fmt.Fprintf(w, "  %d candidates", e.s.Candidates)
					if e.name == "current" {
						fmt.Fprintf(w, "  %d relays", e.s.Relays)
						if e.s.Closed {
							fmt.Fprint(w, " (directory closed)")
						}
					}
					if st.Candidate {
						fmt.Fprintf(w, "  eligible %v", e.s.Eligible)
					}
					fmt.Fprintln(w)
				}
				if len(st.Wins) == 0 {
					fmt.Fprintln(w, "wins: none kept")
				}
				for _, win := range st.Wins {
					fmt.Fprintf(w, "won epoch %d: layer %d, %d seats, mix key %s…\n", win.Epoch, win.Layer, win.Seats, shortHash(win.MixKey))
				}
				fmt.Fprintf(w, "claims verified %d, accepted %d\n", st.Stats.ClaimsVerified, st.Stats.ClaimsAccepted)
				if st.Stake != nil {
					fmt.Fprintf(w, "stake %s of %s staked on the ledger (epoch %d)\n",
						creditsShort(st.Stake.Staked), creditsShort(st.Stake.Total), st.Stake.Epoch)
					if lw := st.Stake.Lottery; lw != nil {
						fmt.Fprintf(w, "weight %s of %s in epoch %d (stake as of ledger epoch %d), target relays %d, min stake %s\n",
							creditsShort(lw.Weight), creditsShort(lw.TotalWeight), lw.Epoch, lw.SnapshotEpoch, lw.TargetRelays, creditsShort(lw.MinStake))
					} else {
						fmt.Fprintln(w, "the lottery does not weigh by stake (relay.candidates fixes the candidates)")
					}
				}
				return nil
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "ls [EPOCH]",
		Short: "List the relays elected for an epoch (default: the current one)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p node.RelayDirectoryParams
			if len(args) == 1 {
				e, err := strconv.ParseUint(args[0], 10, 64)
				if err != nil {
					return fmt.Errorf("epoch %q: want a number", args[0])
				}
				p.Epoch = &e
			}
			var d lottery.DirectoryInfo
			if err := a.call(cmd.Context(), "relay.directory", p, &d); err != nil {
				return err
			}
			return a.print(d, func(w io.Writer) error {
				state := "open (claims still arriving)"
				if d.Closed {
					state = "closed"
				}
				fmt.Fprintf(w, "epoch %d, %s, %d relays, %d seats, digest %s\n", d.Epoch, state, len(d.Relays), d.Seats, shortHash(d.Digest))
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PEER\tLAYER\tSEATS\tMIX KEY")
				for _, r := range d.Relays {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", r.Peer, r.Layer, r.Seats, shortHash(r.MixKey))
				}
				for _, q := range d.Equivocators {
					fmt.Fprintf(tw, "%s\texcluded: equivocated\t\t\n", q)
				}
				return tw.Flush()
			})
		},
	})
	return cmd
}

func confirmedWord(c bool) string {
	if c {
		return "confirmed"
	}
	return "not yet confirmed (joined late; adopts the network's seed at the next claim window)"
}

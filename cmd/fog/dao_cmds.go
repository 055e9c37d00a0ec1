package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/creachadair/jrpc2"
	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

func (a *app) daoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dao",
		Short: "Proposals to change network parameters, and stake-weighted votes on them",
		Long: `A proposal sets a network parameter to a value: lottery.target_relays
(the relay lottery's seats per epoch), lottery.min_stake (the least stake,
in micro-credits, that weighs in the lottery), lottery.epoch_length (the
relay lottery's epoch in milliseconds, 1000 to 86400000 and long enough for
the lottery's claim and reveal windows; it changes from the second lottery
epoch boundary after the change's ledger epoch starts, and the epoch
numbers and seeds run on) or compute.min_price (the least max price per
CPU-second a paid task may offer). Staked accounts vote yes, no or abstain
during its window of epochs; at the window's end the stake of the confirmed
votes is tallied, in integer arithmetic, the same on every node: accepted
with a turnout of at least 33.4% of all stake and more than half of yes
plus no. An accepted change takes effect at the epoch boundary after its
delay, on every node alike. See docs/token.md.`,
	}
	cmd.AddCommand(a.daoProposeCmd(), a.daoVoteCmd(), a.daoListCmd(), a.daoShowCmd())
	return cmd
}

// callUsage calls method, turning invalid parameters into a usage error.
func (a *app) callUsage(cmd *cobra.Command, call func() error) error {
	err := call()
	var je *jrpc2.Error
	if errors.As(err, &je) && je.Code == jrpc2.InvalidParams {
		return usageError(cmd, errors.New(je.Message))
	}
	return err
}

func (a *app) daoProposeCmd() *cobra.Command {
	var window, delay uint64
	cmd := &cobra.Command{
		Use:   "propose PARAM VALUE",
		Short: "Propose setting a network parameter to a value",
		Long: `Propose setting PARAM to VALUE, a whole number:

  lottery.target_relays  seats per lottery epoch, 1 to 100000
  lottery.min_stake      least stake that weighs in the lottery, micro-credits
  lottery.epoch_length   the lottery's epoch, milliseconds: 1000 to 86400000
                         and at least the lottery's claim window + reveal
                         window + 4 x clock skew (68000 on the public network)
  compute.min_price      least max price of a paid task, micro-credits per
                         CPU-second

Proposing needs a confirmed stake of 0.1 credit (fog stake lock 100000) and
at most four of your proposals still being voted or settled. A value the
network cannot apply is refused. An accepted change applies from
ledger epoch window end + delay + 1; a new epoch length from the second
lottery epoch boundary after that epoch starts (epoch numbers and seeds run
on).`,
		Example: "  fog dao propose lottery.target_relays 12 --window 100\n  fog dao propose lottery.epoch_length 300000",
		Args:    exactArgs(2, "a parameter and a value"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil {
				return usageError(cmd, fmt.Errorf("value %q: want a whole number", args[1]))
			}
			var p node.DAOProposal
			if err := a.callUsage(cmd, func() error {
				return a.call(cmd.Context(), "dao.propose", node.DAOProposeParams{Param: args[0], Value: v, WindowEpochs: window, ExecDelay: delay}, &p)
			}); err != nil {
				return err
			}
			return a.print(p, func(w io.Writer) error {
				fmt.Fprintf(w, "proposal %s: %s = %d\n", p.ID, p.Param, p.Value)
				fmt.Fprintf(w, "votes in epochs %d to %d; applies from epoch %d if accepted\n", p.Start, p.End, p.ExecuteAt)
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&window, "window", 0, "epochs the vote lasts, from now (default 10)")
	cmd.Flags().Uint64Var(&delay, "delay", 0, "epochs between the window's end and the change (default and least: the network's minimum)")
	return cmd
}

func (a *app) daoVoteCmd() *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "vote ID yes|no|abstain",
		Short: "Vote on a proposal with this node's stake",
		Args:  exactArgs(2, "a proposal ID and a choice"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r node.DAOVoteResult
			call := a.call
			if wait {
				call = a.callWait
			}
			if err := a.callUsage(cmd, func() error {
				return call(cmd.Context(), "dao.vote", node.DAOVoteParams{ID: args[0], Choice: args[1], Wait: wait}, &r)
			}); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				state := "confirmed"
				if !r.Confirmed {
					state = "not confirmed yet"
				}
				fmt.Fprintf(w, "voted %s: %s (block %s)\n", args[1], state, r.Hash)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the network confirms the vote")
	return cmd
}

func (a *app) daoListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the proposals this node knows, with their tally now",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []node.DAOProposal
			if err := a.call(cmd.Context(), "dao.list", nil, &ps); err != nil {
				return err
			}
			return a.print(ps, func(w io.Writer) error {
				if len(ps) == 0 {
					fmt.Fprintln(w, "no proposals")
					return nil
				}
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPARAM\tVALUE\tWINDOW\tSTATE\tYES\tNO\tABSTAIN")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d-%d\t%s\t%s\t%s\t%s\n", shortHash(p.ID), p.Param, p.Value, p.Start, p.End, p.State,
						creditsShort(p.Yes), creditsShort(p.No), creditsShort(p.Abstain))
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) daoShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a proposal, its ballots and its tally",
		Args:  exactArgs(1, "a proposal ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p node.DAOProposal
			if err := a.callUsage(cmd, func() error {
				return a.call(cmd.Context(), "dao.show", node.DAOIDParams{ID: args[0]}, &p)
			}); err != nil {
				return err
			}
			return a.print(p, func(w io.Writer) error {
				fmt.Fprintf(w, "proposal %s by %s\n", p.ID, p.Proposer)
				fmt.Fprintf(w, "%s = %d, votes in epochs %d to %d (now %d), applies from %d: %s\n", p.Param, p.Value, p.Start, p.End, p.Epoch, p.ExecuteAt, p.State)
				if !p.Applies {
					fmt.Fprintln(w, "this proposal cannot take effect: unknown parameter, value out of bounds or delay below the network's minimum")
				}
				fmt.Fprintf(w, "yes %s, no %s, abstain %s of %s staked; quorum %v, accepted %v\n",
					creditsShort(p.Yes), creditsShort(p.No), creditsShort(p.Abstain), creditsShort(p.TotalStake), p.Quorum, p.Accepted)
				for _, b := range p.Ballots {
					fmt.Fprintf(w, "  %s %s (%s)\n", b.Voter, b.Choice, creditsShort(b.Weight))
				}
				return nil
			})
		},
	}
}

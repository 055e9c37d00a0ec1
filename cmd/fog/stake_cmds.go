package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/creachadair/jrpc2"
	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

func (a *app) stakeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stake",
		Short: "Lock credits as stake, or unlock them",
		Long: `Staked credits weigh this node in the relay lottery and in DAO votes. Unlocked
credits unbond for the network's unbonding period (some epochs, see
docs/token.md), then return to the balance at the next fog stake command.
Amounts are in micro-credits (2500000), or in credits with "cr" (2.5cr).`,
	}
	cmd.AddCommand(a.stakeOpCmd("lock", "stake.lock", "Move AMOUNT of the balance to the stake"),
		a.stakeOpCmd("unlock", "stake.unlock", "Start unbonding AMOUNT of the stake"))
	return cmd
}

func (a *app) stakeOpCmd(use, method, short string) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:     use + " AMOUNT",
		Short:   short,
		Example: fmt.Sprintf("  fog stake %s 100cr --wait", use),
		Args:    exactArgs(1, "an amount"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[0])
			if err != nil {
				return usageError(cmd, err)
			}
			var r node.StakeResult
			call := a.call
			if wait {
				call = a.callWait
			}
			if err := call(cmd.Context(), method, node.StakeParams{Amount: amount, Wait: wait}, &r); err != nil {
				var je *jrpc2.Error
				if errors.As(err, &je) && je.Code == jrpc2.InvalidParams {
					return usageError(cmd, errors.New(je.Message))
				}
				return err
			}
			return a.print(r, func(w io.Writer) error {
				state := "confirmed"
				if !r.Confirmed {
					state = "not confirmed yet (see fog wallet pending)"
				}
				if use == "lock" {
					fmt.Fprintf(w, "staked %s: %s\n", credits(r.Amount), state)
				} else {
					fmt.Fprintf(w, "unlocked %s: %s; it unbonds until epoch %d (now %d)\n", credits(r.Amount), state, r.ReleaseEpoch, r.Epoch)
				}
				if len(r.Released) > 0 {
					fmt.Fprintf(w, "released %d earlier unstake(s) whose unbonding was over\n", len(r.Released))
				}
				fmt.Fprintf(w, "block %s, balance %s, staked %s\n", r.Hash, credits(r.Balance), credits(r.Staked))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the network confirms the block")
	return cmd
}

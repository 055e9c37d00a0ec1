package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/creachadair/jrpc2"
	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

func (a *app) walletCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wallet",
		Short: "This node's credits: balance, send, history, pending, more accounts",
		Long: `Each node holds an account on the network's ledger: its identity key, with
a chain of signed blocks (see docs/token.md). Amounts are in micro-credits,
millionths of a credit: 2500000 is 2.5 credits; "2.5cr" says the same in
credits. A send is final once the network's representatives confirm it;
the recipient's node then receives it. The ledger runs when token.genesis
in config.toml names the network's genesis file (fog devnet writes one).
The wallet may hold more accounts than the node's own: fog wallet new makes
one (its key is kept in the data directory's wallet/), fog wallet ls lists
them, and --from or --account picks one.`,
	}
	cmd.AddCommand(a.walletBalanceCmd(), a.walletSendCmd(), a.walletHistoryCmd(), a.walletPendingCmd(),
		a.walletNewCmd(), a.walletListCmd())
	return cmd
}

func (a *app) walletBalanceCmd() *cobra.Command {
	var account string
	cmd := &cobra.Command{
		Use:   "balance",
		Short: "Show this node's account and balance (or another account's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var b node.WalletBalance
			if err := a.call(cmd.Context(), "wallet.balance", node.WalletBalanceParams{Account: account}, &b); err != nil {
				return rpcUsage(cmd, err)
			}
			return a.print(b, func(w io.Writer) error {
				fmt.Fprintf(w, "account  %s (peer %s)\n", b.Account, b.PeerID)
				fmt.Fprintf(w, "balance  %s\n", credits(b.Balance))
				if b.Staked > 0 {
					fmt.Fprintf(w, "staked   %s\n", credits(b.Staked))
				}
				if b.Pending > 0 {
					fmt.Fprintf(w, "pending  %s (sent to you, not received yet)\n", credits(b.Pending))
				}
				fmt.Fprintf(w, "chain    %d blocks, %d confirmed\n", b.Height, b.ConfirmedHeight)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "the account shown: a peer ID or 64 hex digits (default this node's)")
	return cmd
}

func (a *app) walletSendCmd() *cobra.Command {
	var (
		wait bool
		from string
	)
	cmd := &cobra.Command{
		Use:   "send PEER AMOUNT",
		Short: "Send credits to a peer or account",
		Long: `Send AMOUNT to PEER, a peer ID or an account (64 hex digits). AMOUNT is in
micro-credits (2500000), or in credits with "cr" (2.5cr). It returns once the
send is made and stored; with --wait, once the network has confirmed it.
--from sends from another account of this node's wallet (fog wallet ls).`,
		Example: "  fog wallet send 12D3KooW... 2500000 --wait\n  fog wallet send 12D3KooW... 2.5cr",
		Args:    exactArgs(2, "a peer and an amount"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[1])
			if err != nil {
				return usageError(cmd, err)
			}
			p := node.WalletSendParams{From: from, To: args[0], Amount: amount, Wait: wait}
			var r node.WalletSendResult
			call := a.call
			if wait {
				call = a.callWait
			}
			if err := call(cmd.Context(), "wallet.send", p, &r); err != nil {
				return rpcUsage(cmd, err)
			}
			return a.print(r, func(w io.Writer) error {
				state := "confirmed"
				if !r.Confirmed {
					state = "not confirmed yet (see fog wallet pending)"
				}
				fmt.Fprintf(w, "sent %s to %s: %s\n", credits(r.Amount), r.ToPeer, state)
				fmt.Fprintf(w, "block %s, balance %s\n", r.Hash, credits(r.Balance))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the network confirms the send")
	cmd.Flags().StringVar(&from, "from", "", "the sending account, one of this node's wallet: a peer ID or 64 hex digits (default this node's)")
	return cmd
}

// rpcUsage turns an RPC's invalid-parameters error into a usage error.
func rpcUsage(cmd *cobra.Command, err error) error {
	var je *jrpc2.Error
	if errors.As(err, &je) && je.Code == jrpc2.InvalidParams {
		return usageError(cmd, errors.New(je.Message))
	}
	return err
}

func (a *app) walletNewCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "new",
		Short: "Make a new account in this node's wallet",
		Long: `Make a new account: a new Ed25519 key, kept (synced to disk) in the data
directory's wallet/ before this returns. Its credits come from sends to it;
spend them with fog wallet send --from ACCOUNT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r node.WalletAccount
			if err := a.call(cmd.Context(), "wallet.create", nil, &r); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				fmt.Fprintf(w, "account %s (peer %s)\n", r.Account, r.PeerID)
				return nil
			})
		},
	}
}

func (a *app) walletListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the accounts of this node's wallet",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var as []node.WalletAccount
			if err := a.call(cmd.Context(), "wallet.list", nil, &as); err != nil {
				return err
			}
			return a.print(as, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ACCOUNT\tBALANCE\tPENDING\t")
				for _, x := range as {
					note := ""
					if x.Identity {
						note = "this node's identity"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Account, creditsShort(x.Balance), creditsShort(x.Pending), note)
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) walletHistoryCmd() *cobra.Command {
	var (
		limit   int
		account string
	)
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List this account's blocks, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var es []node.WalletEntry
			if err := a.call(cmd.Context(), "wallet.history", node.WalletHistoryParams{Limit: limit, Account: account}, &es); err != nil {
				return rpcUsage(cmd, err)
			}
			return a.print(es, func(w io.Writer) error {
				if len(es) == 0 {
					fmt.Fprintln(w, "no blocks yet: this account's credits are those of the genesis, or it has none")
					return nil
				}
				return entryTable(w, es)
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "most blocks listed (default 50, at most 1000)")
	cmd.Flags().StringVar(&account, "account", "", "the account listed: a peer ID or 64 hex digits (default this node's)")
	return cmd
}

func (a *app) walletPendingCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pending",
		Short: "List sends to this account not received yet, and this account's unconfirmed blocks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p node.WalletPending
			if err := a.call(cmd.Context(), "wallet.pending", nil, &p); err != nil {
				return err
			}
			return a.print(p, func(w io.Writer) error {
				if len(p.Receivable) == 0 && len(p.Unconfirmed) == 0 {
					fmt.Fprintln(w, "nothing pending")
					return nil
				}
				if len(p.Receivable) > 0 {
					fmt.Fprintln(w, "sent to this account, not received yet:")
					if err := entryTable(w, p.Receivable); err != nil {
						return err
					}
				}
				if len(p.Unconfirmed) > 0 {
					fmt.Fprintln(w, "this account's blocks not confirmed yet:")
					return entryTable(w, p.Unconfirmed)
				}
				return nil
			})
		},
	}
}

// entryTable prints blocks one a line.
func entryTable(w io.Writer, es []node.WalletEntry) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tAMOUNT\tWITH\tBALANCE\tSTATE\tBLOCK")
	for _, e := range es {
		state := "confirmed"
		if !e.Confirmed {
			state = "unconfirmed"
		}
		with := e.CounterpartyPeer
		if with == "" {
			with = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Kind, creditsShort(e.Amount), with, creditsShort(e.Balance), state, shortHash(e.Hash))
	}
	return tw.Flush()
}

// parseAmount reads micro-credits ("2500000") or credits with "cr"
// ("2.5cr", at most six decimals).
func parseAmount(s string) (uint64, error) {
	bad := fmt.Errorf("amount %q: want a whole number of micro-credits (1 credit = 1000000), or credits ending in cr (2.5cr)", s)
	var v uint64
	if c, ok := strings.CutSuffix(s, "cr"); ok {
		whole, frac, _ := strings.Cut(c, ".")
		if whole == "" && frac == "" || len(frac) > 6 || strings.ContainsAny(whole+frac, "+-") {
			return 0, bad
		}
		w := uint64(0)
		if whole != "" {
			var err error
			if w, err = strconv.ParseUint(whole, 10, 64); err != nil {
				return 0, bad
			}
		}
		f := uint64(0)
		if frac != "" {
			var err error
			if f, err = strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
				return 0, bad
			}
		}
		hi, lo := bits.Mul64(w, microPerCredit)
		if hi != 0 || lo > math.MaxUint64-f {
			return 0, fmt.Errorf("amount %q: too large", s)
		}
		v = lo + f
	} else {
		var err error
		if v, err = strconv.ParseUint(s, 10, 64); err != nil {
			return 0, bad
		}
	}
	if v == 0 {
		return 0, fmt.Errorf("amount %q: must be more than 0", s)
	}
	return v, nil
}

// credits writes micro-credits as credits, with the exact figure.
func credits(m uint64) string {
	return fmt.Sprintf("%s credits (%d micro-credits)", creditsShort(m), m)
}

// creditsShort writes micro-credits as a decimal number of credits.
func creditsShort(m uint64) string {
	s := strconv.FormatUint(m/microPerCredit, 10)
	if f := m % microPerCredit; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", f), "0")
	}
	return s
}

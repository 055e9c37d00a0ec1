package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

func (a *app) nodesCmd() *cobra.Command {
	var p node.DirectoryParams
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List the nodes offering compute, from this node's capacity directory",
		Long: `nodes shows the newest valid capacity advert of every node this node has
heard of over gossip (its own included when it offers compute): cores, free
memory, load (tasks queued and running per core), price per CPU-second in
micro-credits and how old the advert is.`,
		Example: "  fog nodes\n  fog nodes --sort load --min-cores 4 --limit 10",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var es []node.DirectoryEntry
			if err := a.call(cmd.Context(), "directory.list", p, &es); err != nil {
				return err
			}
			return a.print(es, func(w io.Writer) error {
				if len(es) == 0 {
					return a.noNodes(cmd, w, p)
				}
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PEER\tCORES\tMEMORY\tLOAD\tPRICE\tAGE\t")
				for _, e := range es {
					self := ""
					if e.Self {
						self = "(this node)"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t%d\t%s\t%s\n", e.Peer, e.Cores, mib(e.MemoryMiB), e.Load, e.Price,
						humanDuration(time.Duration(e.AgeSeconds*float64(time.Second))), self)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().Uint32Var(&p.MinCores, "min-cores", 0, "only nodes offering at least this many cores")
	cmd.Flags().Uint64Var(&p.MinMemoryMiB, "min-memory", 0, "only nodes offering at least this much free memory, in MiB")
	cmd.Flags().StringVar(&p.Sort, "sort", "price", "order: price, load or latency")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "most nodes to list")
	return cmd
}

// noNodes explains an empty list: no node offers compute yet, or none of
// those that do passes the filters.
func (a *app) noNodes(cmd *cobra.Command, w io.Writer, p node.DirectoryParams) error {
	var filters []string
	for _, f := range []string{"min-cores", "min-memory"} {
		if fl := cmd.Flags().Lookup(f); fl.Changed && fl.Value.String() != "0" {
			filters = append(filters, "--"+f+" "+fl.Value.String())
		}
	}
	if len(filters) == 0 {
		_, err := fmt.Fprintln(w, "no node offers compute yet (adverts arrive within one advert interval)")
		return err
	}
	var all []node.DirectoryEntry
	if err := a.call(cmd.Context(), "directory.list", node.DirectoryParams{Limit: 10000}, &all); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "no node matches %s (%s offering compute)\n", strings.Join(filters, " "), plural(len(all), "node"))
	return err
}

func mib(m uint64) string {
	if m >= 10*1024 {
		return fmt.Sprintf("%.0f GiB", float64(m)/1024)
	}
	if m >= 1024 {
		return fmt.Sprintf("%.1f GiB", float64(m)/1024)
	}
	return fmt.Sprintf("%d MiB", m)
}

package main

import (
	"fmt"
	"io"

	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/node"
)

func (a *app) dhtCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dht",
		Short: "Use the running node's Kademlia DHTs (WAN and LAN): find peers, provide keys, signed records, the routing tables",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "find-peer PEER_ID",
			Short: "Look a peer's addresses up in the DHT",
			Args:  exactArgs(1, "a peer ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				var r node.DHTFindPeerResult
				if err := a.call(cmd.Context(), "dht.findPeer", node.DHTPeerParams{Peer: args[0]}, &r); err != nil {
					return err
				}
				return a.print(r, func(w io.Writer) error {
					fmt.Fprintf(w, "%s (%d hops, %d peers asked, %.0f ms)\n", r.ID, r.Hops, r.Queried, r.DurationMS)
					for _, ad := range r.Addrs {
						fmt.Fprintf(w, "  %s\n", ad)
					}
					return nil
				})
			},
		},
		&cobra.Command{
			Use:   "provide KEY",
			Short: "Announce that this node provides KEY",
			Args:  exactArgs(1, "a key"),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := a.call(cmd.Context(), "dht.provide", node.DHTKeyParams{Key: args[0]}, nil); err != nil {
					return err
				}
				return a.print(map[string]string{"provided": args[0]}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "providing %q\n", args[0])
					return err
				})
			},
		},
		a.dhtProvidersCmd(),
		&cobra.Command{
			Use:   "put NAME VALUE",
			Short: "Publish a record /fog/<this node>/NAME signed by this node (a higher sequence each time)",
			Args:  exactArgs(2, "a name and a value"),
			RunE: func(cmd *cobra.Command, args []string) error {
				var r node.DHTRecord
				if err := a.call(cmd.Context(), "dht.put", node.DHTPutParams{Name: args[0], Value: args[1]}, &r); err != nil {
					return err
				}
				return a.print(r, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "published %s seq %d\n", r.Key, r.Seq)
					return err
				})
			},
		},
		&cobra.Command{
			Use:   "get PEER_ID NAME",
			Short: "Read the newest valid record NAME published by PEER_ID",
			Args:  exactArgs(2, "a peer ID and a name"),
			RunE: func(cmd *cobra.Command, args []string) error {
				var r node.DHTRecord
				if err := a.call(cmd.Context(), "dht.get", node.DHTGetParams{Peer: args[0], Name: args[1]}, &r); err != nil {
					return err
				}
				return a.print(r, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "%s seq %d\n%s\n", r.Key, r.Seq, r.Value)
					return err
				})
			},
		},
		&cobra.Command{
			Use:   "table",
			Short: "Show the WAN and LAN routing tables: whether each DHT serves, size, buckets, last refresh",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				var t dht.TableInfo
				if err := a.call(cmd.Context(), "dht.routingTable", nil, &t); err != nil {
					return err
				}
				return a.print(t, func(w io.Writer) error {
					fmt.Fprintf(w, "mode %s, %d peers in all (k=%d)\n", t.Mode, t.Size, t.BucketSize)
					for _, x := range []struct {
						name string
						st   dht.TableStats
					}{{"wan", t.WAN}, {"lan", t.LAN}} {
						fmt.Fprintf(w, "\n%s %s (%s), %d peers, %d refreshes", x.name, x.st.Mode, x.st.Protocol, x.st.Peers, x.st.Refreshes)
						if !x.st.LastRefresh.IsZero() {
							fmt.Fprintf(w, ", last %s", x.st.LastRefresh.Format("15:04:05"))
						}
						if x.st.Restored > 0 {
							fmt.Fprintf(w, ", %d restored from the store at start", x.st.Restored)
						}
						fmt.Fprintln(w)
						if x.st.RefreshErr != "" {
							fmt.Fprintf(w, "last refresh error: %s\n", x.st.RefreshErr)
						}
						if len(x.st.Buckets) == 0 {
							continue
						}
						tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "BUCKET\tPEERS\t")
						for _, b := range x.st.Buckets {
							fmt.Fprintf(tw, "%d\t%d\t%s\n", b.Index, b.Peers, strings.Repeat("#", b.Peers))
						}
						if err := tw.Flush(); err != nil {
							return err
						}
					}
					return nil
				})
			},
		},
	)
	return cmd
}

func (a *app) dhtProvidersCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "providers KEY",
		Short: "List peers that provide KEY",
		Args:  exactArgs(1, "a key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ps []node.DHTProvider
			if err := a.call(cmd.Context(), "dht.findProviders", node.DHTKeyParams{Key: args[0], Limit: limit}, &ps); err != nil {
				return err
			}
			return a.print(ps, func(w io.Writer) error {
				if len(ps) == 0 {
					_, err := fmt.Fprintln(w, "no providers")
					return err
				}
				for _, p := range ps {
					fmt.Fprintf(w, "%s %s\n", p.ID, strings.Join(p.Addrs, " "))
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "most providers to return")
	return cmd
}

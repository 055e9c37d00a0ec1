package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary and of the running daemon, if any",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := struct {
				Client node.VersionInfo  `json:"client"`
				Daemon *node.VersionInfo `json:"daemon,omitempty"`
			}{Client: node.BuildVersion()}
			var dv node.VersionInfo
			if err := a.call(cmd.Context(), "node.version", nil, &dv); err == nil {
				out.Daemon = &dv
			}
			return a.print(out, func(w io.Writer) error {
				fmt.Fprintln(w, "fog "+versionOf(out.Client))
				if out.Daemon != nil {
					fmt.Fprintf(w, "daemon: fog %s\n", out.Daemon.Version)
				} else {
					fmt.Fprintln(w, "daemon: not running")
				}
				return nil
			})
		},
	}
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the running node's identity, addresses, peers and services",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st node.Status
			if err := a.call(cmd.Context(), "node.status", nil, &st); err != nil {
				return err
			}
			return a.print(st, func(w io.Writer) error {
				fmt.Fprintf(w, "peer id:   %s\n", st.PeerID)
				fmt.Fprintf(w, "version:   %s\n", st.Version)
				fmt.Fprintf(w, "uptime:    %s\n", humanDuration(time.Duration(st.UptimeSeconds*float64(time.Second))))
				fmt.Fprintf(w, "peers:     %d\n", st.Peers)
				fmt.Fprintf(w, "dht:       %s: wan %s (%d peers), lan %s (%d peers)\n", st.DHT.Mode,
					st.DHT.WAN.Mode, st.DHT.WAN.Peers, st.DHT.LAN.Mode, st.DHT.LAN.Peers)
				fmt.Fprintln(w, "listening:")
				for _, l := range st.ListenAddrs {
					fmt.Fprintf(w, "  %s/p2p/%s\n", l, st.PeerID)
				}
				if len(st.ObservedAddrs) > 0 {
					fmt.Fprintln(w, "observed by peers:")
					for _, l := range st.ObservedAddrs {
						fmt.Fprintf(w, "  %s\n", l)
					}
				}
				if len(st.Bootstrap) > 0 {
					fmt.Fprintln(w, "bootstrap:")
					for _, b := range st.Bootstrap {
						state := "connected"
						if !b.Connected {
							state = fmt.Sprintf("unreachable (%d attempts): %s", b.Attempts, b.LastError)
						}
						fmt.Fprintf(w, "  %s  %s\n", b.ID, state)
					}
				}
				fmt.Fprintln(w, "services:")
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  NAME\tSTATE\tHEALTH\tRESTARTS\tLAST ERROR")
				for _, s := range st.Services {
					health := "ok"
					if !s.Healthy {
						health = "unhealthy: " + s.Health
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", s.Name, s.State, health, s.Restarts, s.LastError)
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) peersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "peers",
		Short: "List the peers the running node is connected to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var peers []node.PeerInfo
			if err := a.call(cmd.Context(), "node.peers", nil, &peers); err != nil {
				return err
			}
			return a.print(peers, func(w io.Writer) error {
				if len(peers) == 0 {
					_, err := fmt.Fprintln(w, "no peers")
					return err
				}
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PEER\tDIRECTION\tLATENCY\tCONNECTED\tADDRESS")
				for _, p := range peers {
					lat := "-"
					if p.LatencyMS > 0 {
						lat = fmt.Sprintf("%.1fms", p.LatencyMS)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, strings.ToLower(p.Direction), lat,
						humanDuration(time.Duration(p.ConnectedSeconds*float64(time.Second))), strings.Join(p.Addrs, " "))
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) connectCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "connect MULTIADDR",
		Short:   "Connect the running node to a peer",
		Example: "  fog connect /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...",
		Args:    exactArgs(1, "a multiaddr ending in /p2p/<peer id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p node.PeerInfo
			if err := a.call(cmd.Context(), "node.connect", node.ConnectParams{Addr: args[0]}, &p); err != nil {
				return err
			}
			return a.print(p, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "connected to %s\n", p.ID)
				return err
			})
		},
	}
}

func (a *app) disconnectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "disconnect PEER_ID",
		Short: "Close the running node's connections to a peer",
		Args:  exactArgs(1, "a peer ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r node.DisconnectResult
			if err := a.call(cmd.Context(), "node.disconnect", node.DisconnectParams{Peer: args[0]}, &r); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				msg := "disconnected"
				if !r.Closed {
					msg = "was not connected"
				}
				_, err := fmt.Fprintln(w, msg)
				return err
			})
		},
	}
}

// exactArgs is cobra.ExactArgs with a message that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return errors.New(cmd.UseLine() + ": want " + what)
		}
		return nil
	}
}

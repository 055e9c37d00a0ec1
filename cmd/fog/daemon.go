package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
)

func (a *app) initCmd() *cobra.Command {
	var api string
	var listen, bootstrap []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node: config, identity key and API token in the data dir",
		Long: `init creates the data directory with a commented config.toml, a new Ed25519
identity key (identity.key, mode 0600) and a token for the local API
(api.token, mode 0600). It refuses to overwrite an existing node.

The flags are written into config.toml; edit the file to change them later.`,
		Example: `  fog init
  fog init --path /tmp/n2 --api 127.0.0.1:5152 --listen /ip4/0.0.0.0/tcp/4002 \
    --bootstrap /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.dataDir()
			if err != nil {
				return err
			}
			cfg := node.DefaultConfig()
			if cmd.Flags().Changed("api") {
				cfg.API.Listen = api
			}
			if len(listen) > 0 {
				cfg.P2P.Listen = listen
			}
			cfg.P2P.Bootstrap = append(cfg.P2P.Bootstrap, bootstrap...)
			res, err := node.Init(dir, cfg)
			if err != nil {
				return err
			}
			return a.print(res, func(w io.Writer) error {
				fmt.Fprintf(w, "initialised node %s in %s\n", res.PeerID, res.Dir)
				fmt.Fprintf(w, "config: %s\n", dir.Config())
				fmt.Fprintf(w, "start it with: %s\n", a.fogCmd("run"))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&api, "api", node.DefaultConfig().API.Listen, "host:port of the local JSON-RPC API")
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "multiaddr to listen on (repeatable; default TCP and QUIC on port 4001)")
	cmd.Flags().StringArrayVar(&bootstrap, "bootstrap", nil, "bootstrap peer multiaddr ending in /p2p/<id> (repeatable)")
	return cmd
}

func (a *app) runCmd() *cobra.Command {
	var level string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node until interrupted",
		Long: `run starts the node of the data directory: it opens the store, starts the
libp2p host, joins the network through the bootstrap list and serves the
local API. SIGINT or SIGTERM shuts it down gracefully (streams closed, store
closed); a second signal forces an immediate exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.dataDir()
			if err != nil {
				return err
			}
			cfg, err := dir.LoadConfig()
			if err != nil {
				return err
			}
			if level != "" {
				cfg.Log.Level = level
				if err := cfg.Validate(); err != nil {
					return err
				}
			}
			if _, created, err := dir.EnsureToken(); err != nil {
				return err
			} else if created {
				fmt.Fprintf(a.errOut, "the API token was missing or empty: wrote a new one to %s (mode 0600)\n", dir.Token())
			}
			ctx, stop := signalContext(cmd.Context(), a.errOut)
			defer stop()
			n, err := node.Start(ctx, cfg, node.Options{Dir: dir, Logger: node.NewLogger(a.errOut, cfg.Log), Clock: a.clk})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "fog node %s running\napi: http://%s/rpc\ndashboard: http://%s/\n", n.Host().ID(), n.APIAddr(), n.APIAddr())
			for _, addr := range n.Host().Addrs() {
				fmt.Fprintf(a.out, "listening on %s/p2p/%s\n", addr, n.Host().ID())
			}
			select {
			case <-ctx.Done():
				fmt.Fprintln(a.errOut, "shutting down (press Ctrl-C again to force)")
			case <-n.ShutdownRequested():
				fmt.Fprintln(a.errOut, "shutting down: asked through the API (fog shutdown)")
			}
			return n.Close()
		},
	}
	cmd.Flags().StringVar(&level, "log-level", "", "override log.level: debug, info, warn or error")
	return cmd
}

// signalContext is cancelled by the first SIGINT or SIGTERM, with
// errInterrupted as its cause; a second one exits the process at once.
func signalContext(parent context.Context, errOut io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel(errInterrupted)
		case <-done:
			return
		}
		select {
		case s := <-ch:
			fmt.Fprintf(errOut, "fog: second %s, exiting now\n", s)
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

func (a *app) idCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Print this node's peer ID, agent version and addresses (needs no running daemon)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.dataDir()
			if err != nil {
				return err
			}
			priv, err := p2p.LoadIdentity(dir.Identity())
			if err != nil {
				return err
			}
			id, err := peer.IDFromPrivateKey(priv)
			if err != nil {
				return err
			}
			out := idInfo{PeerID: id.String(), AgentVersion: node.AgentVersion(), Addresses: []string{}}
			// The running daemon knows where it listens and is seen; without
			// one, the configured listen addresses are what it would use.
			var st node.Status
			if err := a.call(cmd.Context(), "node.status", nil, &st); err == nil && st.PeerID == out.PeerID {
				out.Running = true
				out.AgentVersion = "fog/" + st.Version
				for _, l := range append(st.ListenAddrs, st.ObservedAddrs...) {
					out.Addresses = append(out.Addresses, l+"/p2p/"+st.PeerID)
				}
			} else if cfg, err := dir.LoadConfig(); err == nil {
				for _, l := range cfg.P2P.Listen {
					out.Addresses = append(out.Addresses, l+"/p2p/"+out.PeerID)
				}
			}
			return a.print(out, func(w io.Writer) error {
				fmt.Fprintf(w, "peer id: %s\nagent:   %s\n", out.PeerID, out.AgentVersion)
				if !out.Running {
					fmt.Fprintln(w, "not running: the addresses configured:")
				} else {
					fmt.Fprintln(w, "addresses:")
				}
				for _, l := range out.Addresses {
					fmt.Fprintf(w, "  %s\n", l)
				}
				return nil
			})
		},
	}
}

// idInfo is what `fog id` prints.
type idInfo struct {
	PeerID       string   `json:"peer_id"`
	AgentVersion string   `json:"agent_version"`
	Addresses    []string `json:"addresses"`
	// Running says the addresses are the running daemon's; otherwise they
	// are the configured listen addresses.
	Running bool `json:"running"`
}

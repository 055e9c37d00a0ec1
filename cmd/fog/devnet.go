package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// devnetOptions are the flags of fog devnet.
type devnetOptions struct {
	nodes   int
	keep    bool
	dir     string
	level   string
	timeout time.Duration
	noDemo  bool
}

func (a *app) devnetCmd() *cobra.Command {
	o := devnetOptions{}
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local network of N real nodes on loopback",
		Long: `devnet starts N real fog nodes in this process, on 127.0.0.1 with ports
chosen by the OS and a data directory each under a temporary directory.
Every node bootstraps to the first. It prints each node's API address and
data directory, then submits a demo task from node0 — the examples/wordcount
program built for WASI, run by three nodes that must agree on its output —
and prints the result, and commands to try from another terminal. Ctrl-C
stops the network and deletes the data directories unless --keep is given.`,
		Example: "  fog devnet --nodes 5\n  fog devnet --nodes 3 --keep --dir /tmp/fognet",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd.Context(), a.errOut)
			defer stop()
			return a.runDevnet(ctx, o)
		},
	}
	cmd.Flags().IntVar(&o.nodes, "nodes", 5, "number of nodes (1-100)")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "keep the data directories after exit")
	cmd.Flags().StringVar(&o.dir, "dir", "", "parent directory for the nodes' data directories (default: a new temporary directory)")
	cmd.Flags().StringVar(&o.level, "log-level", "warn", "log level of the nodes: debug, info, warn or error")
	cmd.Flags().DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for the network to connect")
	cmd.Flags().BoolVar(&o.noDemo, "no-demo", false, "do not submit the demo task (examples/wordcount, three replicas) once the network is up")
	return cmd
}

// devnet is a running local network.
type devnet struct {
	base  string
	nodes []*node.Node
	dirs  []node.DataDir
}

// startDevnet starts n nodes in base, the others bootstrapping to the first.
func startDevnet(ctx context.Context, clk clock.Clock, base string, n int, logCfg node.LogConfig, logOut io.Writer) (*devnet, error) {
	d := &devnet{base: base}
	p2pBase, dhtBase, gossipBase := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig()
	// Channels' topics fit the test gossip's 30 s memory, and their
	// histories reconcile every 2 s.
	chatBase := chatsvc.DefaultConfig()
	chatBase.Channel = channel.TestConfig()
	// A devnet's DHT answers within a second: --wait to a peer without a
	// chat key gives up after a few.
	chatBase.KeyLookupWait = 3 * time.Second
	// The ledger's timers fit the test gossip's, like the chat's.
	ledgerBase := ledgersvc.TestConfig()
	var boot string
	// Every node of the devnet stands in the relay lottery, whose epoch 0
	// starts just after they are up (10 s epochs; candidates announce
	// themselves, so relays are elected from epoch 1 on).
	genesis := clk.Now().Add(3 * time.Second).Truncate(time.Second).UTC().Format(time.RFC3339)
	// Every node is made first, so that the ledger's genesis file can fund
	// all of them; each then starts bootstrapping to node0.
	genesisFile := filepath.Join(base, devnetGenesisFile)
	cfgs := make([]node.Config, n)
	for i := range n {
		dir := node.DataDir(filepath.Join(base, fmt.Sprintf("node%d", i)))
		cfg := node.TestConfig()
		cfg.Log = logCfg
		cfg.Relay.Candidate, cfg.Relay.Genesis, cfg.Relay.TargetRelays = true, genesis, min(n, 3)
		cfg.Token.Genesis = genesisFile
		if _, err := node.Init(dir, cfg); err != nil {
			return nil, err
		}
		cfgs[i] = cfg
		d.dirs = append(d.dirs, dir)
	}
	if err := writeDevnetGenesis(genesisFile, d.dirs); err != nil {
		return nil, err
	}
	for i, dir := range d.dirs {
		cfg := cfgs[i]
		if boot != "" {
			cfg.P2P.Bootstrap = []string{boot}
			if err := rewriteConfig(dir, cfg); err != nil {
				d.Close()
				return nil, err
			}
		}
		nd, err := node.Start(ctx, cfg, node.Options{Dir: dir, P2P: &p2pBase, DHT: &dhtBase, Gossip: &gossipBase,
			Chat: &chatBase, Ledger: &ledgerBase, Logger: node.NewLogger(logOut, cfg.Log), Clock: clk})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("node%d: %w", i, err)
		}
		d.nodes = append(d.nodes, nd)
		if i == 0 {
			boot = tcpAddr(nd)
		}
	}
	return d, nil
}

// tcpAddr is the first node's TCP loopback address with its peer ID.
func tcpAddr(n *node.Node) string {
	for _, a := range n.Host().Addrs() {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			return fmt.Sprintf("%s/p2p/%s", a, n.Host().ID())
		}
	}
	return fmt.Sprintf("%s/p2p/%s", n.Host().Addrs()[0], n.Host().ID())
}

// connected reports how many nodes besides the first are connected to it.
func (d *devnet) connected() int {
	c := 0
	first := d.nodes[0].Host().ID()
	for _, n := range d.nodes[1:] {
		if n.Host().Network().Connectedness(first) == network.Connected {
			c++
		}
	}
	return c
}

// waitConnected waits until every node is connected to the first.
func (d *devnet) waitConnected(ctx context.Context, progress func(done, total int)) error {
	// Every change of node0's connections is an event: wait for them
	// rather than polling.
	sub, err := d.nodes[0].Host().EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	defer sub.Close()
	last := -1
	for {
		c := d.connected()
		if c != last && progress != nil {
			progress(c, len(d.nodes)-1)
			last = c
		}
		if c == len(d.nodes)-1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devnet: %d of %d nodes connected to node0: %w", c, len(d.nodes)-1, ctx.Err())
		case <-sub.Out():
		}
	}
}

// Close stops the nodes, last first.
func (d *devnet) Close() error {
	var errs []error
	for i := len(d.nodes) - 1; i >= 0; i-- {
		errs = append(errs, d.nodes[i].Close())
	}
	return errors.Join(errs...)
}

func (a *app) runDevnet(ctx context.Context, o devnetOptions) (err error) {
	if o.nodes < 1 || o.nodes > 100 {
		return fmt.Errorf("--nodes %d: want 1 to 100", o.nodes)
	}
	logCfg := node.LogConfig{Level: o.level, Format: "text"}
	if err := (node.Config{Log: logCfg}).Validate(); err != nil && !errors.Is(err, node.ErrConfig) {
		return err
	}
	base := o.dir
	created := base == ""
	if created {
		if base, err = os.MkdirTemp("", "fog-devnet-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}
	defer func() {
		switch {
		case o.keep:
			fmt.Fprintf(a.errOut, "data directories kept in %s\n", base)
		case created:
			os.RemoveAll(base)
		default: // only what we made in a directory the user named
			for i := range o.nodes {
				os.RemoveAll(filepath.Join(base, fmt.Sprintf("node%d", i)))
			}
			os.Remove(filepath.Join(base, devnetGenesisFile))
		}
	}()
	started := a.clk.Now()
	fmt.Fprintf(a.errOut, "starting %d nodes in %s\n", o.nodes, base)
	d, err := startDevnet(ctx, a.clk, base, o.nodes, logCfg, a.errOut)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(a.errOut, "stopping the devnet")
		err = errors.Join(err, d.Close())
	}()
	wctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := d.waitConnected(wctx, func(done, total int) {
		fmt.Fprintf(a.errOut, "\rconnected to node0: %d/%d", done, total)
	}); err != nil {
		fmt.Fprintln(a.errOut)
		return err
	}
	fmt.Fprintf(a.errOut, "\nnetwork connected in %s\n\n", clock.Since(a.clk, started).Round(time.Millisecond))
	a.printDevnet(d)
	if !o.noDemo {
		fmt.Fprintln(a.out)
		if err := a.runDemo(ctx, d, base); err != nil && ctx.Err() == nil {
			fmt.Fprintf(a.errOut, "the demo task did not work: %v\n", err)
		}
		fmt.Fprintf(a.out, "\nSubmit your own (make examples builds examples/bin/*.wasm):\n")
		fmt.Fprintf(a.out, "  fog --path %s task submit examples/bin/primes.wasm --replicas %d --wait -- 1000000\n", d.dirs[0], min(3, len(d.nodes)))
		fmt.Fprintf(a.out, "\nPress Ctrl-C to stop.\n")
	}
	<-ctx.Done()
	return nil
}

func (a *app) printDevnet(d *devnet) {
	w := a.out
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPEER ID\tAPI\tDATA DIR (token: api.token)")
	for i, n := range d.nodes {
		fmt.Fprintf(tw, "node%d\t%s\thttp://%s/rpc\t%s\n", i, n.Host().ID(), n.APIAddr(), d.dirs[i])
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTry, from another terminal (build fog first: go build -o bin/fog ./cmd/fog, or go install ./cmd/fog):\n")
	fmt.Fprintf(w, "  fog --path %s status\n", d.dirs[0])
	fmt.Fprintf(w, "  fog --path %s peers\n", d.dirs[0])
	if len(d.nodes) > 1 {
		fmt.Fprintf(w, "  fog --path %s wallet balance\n", d.dirs[0])
		fmt.Fprintf(w, "  fog --path %s wallet send %s 2500000 --wait   # 2.5 credits, in micro-credits\n", d.dirs[0], d.nodes[1].Host().ID())
	}
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $(cat %s)\" -H 'Content-Type: application/json' \\\n", d.dirs[0].Token())
	fmt.Fprintf(w, "    -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"node.status\"}' http://%s/rpc\n", d.nodes[0].APIAddr())
}

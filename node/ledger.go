package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgerstore"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// TokenConfig is the [token] section: the ledger of credits (package
// token and its shell token/ledgersvc).
type TokenConfig struct {
	// Enabled runs the ledger when Genesis names a file.
	Enabled bool `toml:"enabled" comment:"Run the ledger and the node's wallet (fog wallet) when genesis names a genesis file."`
	// Genesis is the path of the network's genesis file.
	Genesis string `toml:"genesis" comment:"The network's genesis file (JSON, see docs/token.md): the accounts funded at the start. A relative path is taken from the data directory.\nEmpty: this node runs no ledger and its wallet commands say so. fog devnet writes one for its nodes."`
	// EpochLength is ledgersvc.Config.EpochLength.
	EpochLength Duration `toml:"epoch_length" comment:"The ledger's epoch (unbonding periods and escrow deadlines count in epochs); a constant of the network."`
	// AutoReceive is ledgersvc.Config.AutoReceive.
	AutoReceive bool `toml:"auto_receive" comment:"Receive every confirmed send to this node's account at once."`
}

// defaultTokenConfig is the [token] section fog init writes: on, but
// without a genesis, so no ledger runs until the network's file is named.
func defaultTokenConfig() TokenConfig {
	lc := ledgersvc.DefaultConfig()
	return TokenConfig{Enabled: true, EpochLength: Duration(lc.EpochLength), AutoReceive: lc.AutoReceive}
}

// tokenKeys maps ledgersvc.Config's fields to the [token] keys.
var tokenKeys = map[string]string{"EpochLength": "epoch_length", "AutoReceive": "auto_receive"}

// runsLedger reports whether the [token] section asks for a ledger.
func (c Config) runsLedger() bool { return c.Token.Enabled && c.Token.Genesis != "" }

// ledgerConfig derives the ledger service's configuration; timers not in
// the file come from base (ledgersvc.DefaultConfig or TestConfig).
func (c Config) ledgerConfig(base ledgersvc.Config) ledgersvc.Config {
	base.EpochLength = time.Duration(c.Token.EpochLength)
	base.AutoReceive = c.Token.AutoReceive
	return base
}

// validateToken checks the [token] section (the genesis file itself is
// read when the node starts).
func (c Config) validateToken() error {
	if err := c.ledgerConfig(ledgersvc.DefaultConfig()).Validate(); err != nil {
		return tomlError(err, ledgersvc.ErrConfig, "token", tokenKeys)
	}
	return nil
}

// genesisPath resolves token.genesis against the data directory.
func (c Config) genesisPath(dir DataDir) string {
	p := c.Token.Genesis
	if !filepath.IsAbs(p) && dir != "" {
		p = filepath.Join(string(dir), p)
	}
	return p
}

// LoadGenesis reads and checks the genesis file token.genesis names,
// relative to dir.
func (c Config) LoadGenesis(dir DataDir) (token.Genesis, error) {
	p := c.genesisPath(dir)
	f, err := os.Open(p)
	if err != nil {
		return token.Genesis{}, fmt.Errorf("%w: token.genesis: %w", ErrConfig, err)
	}
	defer f.Close()
	g, err := token.LoadGenesis(f)
	if err != nil {
		return token.Genesis{}, fmt.Errorf("%w: token.genesis %s: %w", ErrConfig, p, err)
	}
	return g, nil
}

// ledgerService runs a ledgersvc.Service under the supervisor.
type ledgerService struct{ *ledgersvc.Service }

func (ledgerService) Name() string { return "ledger" }

// startLedger opens the ledger in the store and runs it under the
// supervisor, if [token] names a genesis.
func (s *starter) startLedger(ctx context.Context) error {
	n := s.n
	if !s.cfg.runsLedger() {
		return nil
	}
	g, err := s.cfg.LoadGenesis(s.opts.Dir)
	if err != nil {
		return err
	}
	base := ledgersvc.DefaultConfig()
	if s.opts.Ledger != nil {
		base = *s.opts.Ledger
	}
	lc := s.cfg.ledgerConfig(base)
	lc.Clock = n.clk
	ds := n.store.Datastore(store.PrefixToken)
	l, err := ledgersvc.New(ctx, lc, ledgersvc.Options{
		Gossip: n.gossip, Store: ds, Genesis: g, Identity: s.priv,
	})
	switch {
	case errors.Is(err, ledgersvc.ErrConfig):
		return tomlError(err, ledgersvc.ErrConfig, "token", tokenKeys)
	case errors.Is(err, ledgerstore.ErrGenesis):
		return fmt.Errorf("node: token.genesis %s is not the genesis this node's ledger was made with: %w", s.cfg.genesisPath(s.opts.Dir), err)
	case err != nil:
		return err
	}
	n.ledger = l
	if n.wallet, err = openWalletKeys(s.opts.Dir); err != nil {
		return err
	}
	// The DAO first: the ledger's first catch-up pulls the proposals
	// published while this node was away.
	d, err := ledgersvc.NewDAO(ctx, l, n.gossip, ds)
	if err != nil {
		return err
	}
	n.dao = d
	if err := n.sup.start(ctx, ledgerService{l}); err != nil {
		return err
	}
	return n.sup.start(ctx, d)
}

// Ledger returns the node's ledger service, nil if it runs none (no
// token.genesis, or token.enabled off).
func (n *Node) Ledger() *ledgersvc.Service { return n.ledger }

package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token"
)

// The devnet's ledger: node0 is the faucet, holding more than the others;
// every node starts with credits of its own, so that anyone trying fog can
// pay at once.
const (
	devnetGenesisFile = "genesis.json"
	microPerCredit    = 1_000_000
	devnetFaucet      = 10_000 * microPerCredit // node0
	devnetFunds       = 1_000 * microPerCredit  // every other node
	devnetStake       = 100 * microPerCredit    // every node, staked
	// devnetUnbonding is the unbonding period in ledger epochs (1 s
	// with ledgersvc.TestConfig).
	devnetUnbonding = 10
)

// writeDevnetGenesis writes the genesis file funding the accounts of the
// nodes in dirs (their identity keys), node0 as the faucet, each account
// its own representative with a stake (which fog relay status shows).
func writeDevnetGenesis(path string, dirs []node.DataDir) error {
	g := token.Genesis{Network: "fog-devnet", UnbondingEpochs: devnetUnbonding}
	for i, dir := range dirs {
		priv, err := p2p.LoadIdentity(dir.Identity())
		if err != nil {
			return err
		}
		raw, err := priv.GetPublic().Raw()
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return fmt.Errorf("devnet: node%d's key is not an Ed25519 key", i)
		}
		acct := hex.EncodeToString(raw)
		funds := uint64(devnetFunds)
		if i == 0 {
			funds, g.Faucet = devnetFaucet, acct
		}
		g.Accounts = append(g.Accounts, token.Allocation{Account: acct, Balance: funds, Staked: devnetStake})
	}
	if err := g.Validate(); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	body, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	if err := os.WriteFile(path, append(body, '\n'), 0o644); err != nil {
		return fmt.Errorf("devnet: write genesis: %w", err)
	}
	return nil
}

// rewriteConfig writes cfg over the config.toml of dir (a devnet node
// learns its bootstrap address only once node0 runs).
func rewriteConfig(dir node.DataDir, cfg node.Config) error {
	body, err := node.MarshalConfig(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dir.Config(), body, 0o600); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	return nil
}

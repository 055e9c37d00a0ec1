package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

const ledgerFunds = 1_000_000

// ledgerNet makes n data directories, a genesis file funding each node's
// account with ledgerFunds, and returns them with their configs (token.genesis
// set to the file, relative to each data dir).
func ledgerNet(t *testing.T, n int) ([]DataDir, []Config) {
	t.Helper()
	g := token.Genesis{Network: "node-test", UnbondingEpochs: 2}
	var dirs []DataDir
	var cfgs []Config
	for range n {
		dir, cfg := initTestDir(t, nil)
		priv, err := p2p.LoadIdentity(dir.Identity())
		require.NoError(t, err)
		raw, err := priv.GetPublic().Raw()
		require.NoError(t, err)
		g.Accounts = append(g.Accounts, token.Allocation{Account: hex.EncodeToString(raw), Balance: ledgerFunds})
		dirs, cfgs = append(dirs, dir), append(cfgs, cfg)
	}
	body, err := json.Marshal(g)
	require.NoError(t, err)
	for i, dir := range dirs {
		require.NoError(t, os.WriteFile(filepath.Join(string(dir), "genesis.json"), body, 0o600))
		cfgs[i].Token.Genesis = "genesis.json"
	}
	return dirs, cfgs
}

// startLedgerNode starts a node with the ledger's test timers.
func startLedgerNode(t *testing.T, dir DataDir, cfg Config) *testNode {
	t.Helper()
	p2pc, dhtc, gc, lc := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig(), ledgersvc.TestConfig()
	n, err := Start(context.Background(), cfg, Options{
		Dir: dir, P2P: &p2pc, DHT: &dhtc, Gossip: &gc, Ledger: &lc, Supervisor: TestSupervisorConfig(),
		Logger: NewLogger(io.Discard, cfg.Log),
	})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return &testNode{Node: n, dir: dir, cfg: cfg}
}

// awaitLedger waits until cond holds on n's ledger (and is durable), a
// minute at most.
func awaitLedger(t *testing.T, n *testNode, cond func(l *token.Ledger) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, n.Ledger().Wait(ctx, cond))
}

func rpcCode(t *testing.T, err error) (jrpc2.Code, string) {
	t.Helper()
	var je *jrpc2.Error
	require.True(t, errors.As(err, &je), "%v is not an RPC error", err)
	return je.Code, je.Message
}

// TestWalletOverRPC: three real nodes on loopback, funded by one genesis
// file; node0 sends to node1 with wait, the send is confirmed by the
// network's votes, node1 receives it, both histories show it, and an
// over-spend is refused saying what is available. node1 restarts from its
// store with the same chain.
func TestWalletOverRPC(t *testing.T) {
	dirs, cfgs := ledgerNet(t, 3)
	first := startLedgerNode(t, dirs[0], cfgs[0])
	nodes := []*testNode{first}
	for i := 1; i < 3; i++ {
		cfgs[i].P2P.Bootstrap = []string{first.p2pAddr()}
		nodes = append(nodes, startLedgerNode(t, dirs[i], cfgs[i]))
	}
	awaitConns(t, 20*time.Second, func() bool {
		for _, n := range nodes[1:] {
			if first.Host().Network().Connectedness(n.Host().ID()) != network.Connected {
				return false
			}
		}
		return true
	}, nodes...)
	ctx := context.Background()
	c0, c1 := nodes[0].client(t), nodes[1].client(t)

	var b0 WalletBalance
	require.NoError(t, c0.Call(ctx, "wallet.balance", nil, &b0))
	assert.Equal(t, nodes[0].Host().ID().String(), b0.PeerID)
	assert.Equal(t, uint64(ledgerFunds), b0.Balance)
	assert.Equal(t, uint64(3*ledgerFunds), b0.Supply)

	var sent WalletSendResult
	require.NoError(t, c0.Call(ctx, "wallet.send", WalletSendParams{To: nodes[1].Host().ID().String(), Amount: 2500, Wait: true}, &sent))
	assert.True(t, sent.Confirmed)
	assert.Equal(t, uint64(ledgerFunds-2500), sent.Balance)
	assert.Equal(t, nodes[1].Host().ID().String(), sent.ToPeer)

	// node1 receives the confirmed send by itself (auto_receive), and its
	// receive is confirmed too.
	acct1 := nodes[1].Ledger().Account()
	awaitLedger(t, nodes[1], func(l *token.Ledger) bool {
		info, _ := l.Account(acct1)
		return info.Balance == ledgerFunds+2500 && info.ConfirmedHeight == 1
	})
	var b1 WalletBalance
	require.NoError(t, c1.Call(ctx, "wallet.balance", nil, &b1))
	assert.Equal(t, uint64(ledgerFunds+2500), b1.Balance)
	assert.Zero(t, b1.Pending)

	var h0, h1 []WalletEntry
	require.NoError(t, c0.Call(ctx, "wallet.history", nil, &h0))
	require.Len(t, h0, 1)
	assert.Equal(t, WalletEntry{Hash: sent.Hash, Kind: "send", Amount: 2500, Account: b0.Account,
		Counterparty: acct1.String(), CounterpartyPeer: nodes[1].Host().ID().String(),
		Balance: ledgerFunds - 2500, Epoch: h0[0].Epoch, Confirmed: true}, h0[0])
	require.NoError(t, c1.Call(ctx, "wallet.history", WalletHistoryParams{Limit: 10}, &h1))
	require.Len(t, h1, 1)
	assert.Equal(t, "receive", h1[0].Kind)
	assert.Equal(t, uint64(2500), h1[0].Amount)
	assert.Equal(t, nodes[0].Host().ID().String(), h1[0].CounterpartyPeer)

	var p1 WalletPending
	require.NoError(t, c1.Call(ctx, "wallet.pending", nil, &p1))
	assert.Empty(t, p1.Receivable)
	assert.Empty(t, p1.Unconfirmed)

	err := c1.Call(ctx, "wallet.send", WalletSendParams{To: nodes[2].Host().ID().String(), Amount: 10 * ledgerFunds}, nil)
	code, msg := rpcCode(t, err)
	assert.Equal(t, CodeConflict, code)
	assert.Equal(t, "insufficient balance: 1002500 micro-credits available, 10000000 asked", msg)

	for _, tc := range []struct {
		name string
		p    WalletSendParams
		want string
	}{
		{"zero", WalletSendParams{To: nodes[2].Host().ID().String()}, "amount: must be positive"},
		{"not a peer", WalletSendParams{To: "bob", Amount: 1}, `"bob" is neither a peer ID nor an account`},
		// y = 2 is on no point of the curve.
		{"not a key", WalletSendParams{To: "02" + strings.Repeat("00", 31), Amount: 1}, "not an Ed25519 public key"},
		{"self", WalletSendParams{To: acct1.String(), Amount: 1}, "this node's own account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := rpcCode(t, c1.Call(ctx, "wallet.send", tc.p, nil))
			assert.Equal(t, jrpc2.InvalidParams, code)
			assert.Contains(t, msg, tc.want)
		})
	}

	// A restart replays the ledger from the store.
	require.NoError(t, nodes[1].Close())
	again := startLedgerNode(t, dirs[1], cfgs[1])
	var b1again WalletBalance
	require.NoError(t, again.client(t).Call(ctx, "wallet.balance", nil, &b1again))
	assert.Equal(t, b1, b1again)
}

// TestWalletWithoutLedger: a node without a genesis runs no ledger, and
// its wallet calls say why.
func TestWalletWithoutLedger(t *testing.T) {
	n := startTestNode(t, nil)
	assert.Nil(t, n.Ledger())
	for _, m := range []string{"wallet.balance", "wallet.pending", "wallet.history", "wallet.create", "wallet.list"} {
		code, msg := rpcCode(t, n.client(t).Call(context.Background(), m, nil, nil))
		assert.Equal(t, CodeUnavailable, code, m)
		assert.Contains(t, msg, "this node runs no ledger", m)
		assert.Contains(t, msg, "token.genesis", m)
	}
	off := startTestNode(t, func(c *Config) { c.Token.Enabled, c.Token.Genesis = false, "genesis.json" })
	code, msg := rpcCode(t, off.client(t).Call(context.Background(), "wallet.balance", nil, nil))
	assert.Equal(t, CodeUnavailable, code)
	assert.Contains(t, msg, "token.enabled = false")
}

// TestTokenConfigErrors: [token] mistakes name config.toml's keys.
func TestTokenConfigErrors(t *testing.T) {
	c := TestConfig()
	c.Token.EpochLength = 0
	err := c.Validate()
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "token.epoch_length must be positive")

	for _, tc := range []struct {
		name    string
		genesis string
		want    string
	}{
		{"missing file", "nowhere.json", "token.genesis: open "},
		{"not a genesis", "config.toml", "token.genesis "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, cfg := initTestDir(t, func(c *Config) { c.Token.Genesis = tc.genesis })
			_, err := Start(context.Background(), cfg, Options{Dir: dir, Logger: NewLogger(io.Discard, cfg.Log)})
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// The ledger's timers must fit gossip's memory: a node with the test
	// gossip and the default ledger is refused, naming the field.
	dirs, cfgs := ledgerNet(t, 1)
	p2pc, dhtc, gc := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig()
	_, err = Start(context.Background(), cfgs[0], Options{Dir: dirs[0], P2P: &p2pc, DHT: &dhtc, Gossip: &gc,
		Supervisor: TestSupervisorConfig(), Logger: NewLogger(io.Discard, cfgs[0].Log)})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "token.MaxAge")
}

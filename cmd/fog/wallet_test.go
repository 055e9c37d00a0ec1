package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/token"
)

// The wallet commands on a 3-node devnet: every node is funded by the
// devnet's genesis, node0 sends to node1 and waits for the confirmation,
// node1's balance rises by itself, both histories show the transfer, and
// an over-spend, a bad amount and an unknown peer are refused clearly.
func TestDevnetWallet(t *testing.T) {
	d, ctx := testDevnet(t, 3, 2*time.Minute)
	run := fogOn(t, ctx, d)
	balance := func(i int) node.WalletBalance {
		t.Helper()
		var b node.WalletBalance
		require.NoError(t, json.Unmarshal([]byte(run(i, "wallet", "balance", "--json")), &b))
		return b
	}
	peer1 := d.nodes[1].Host().ID().String()

	b0, b1 := balance(0), balance(1)
	assert.Equal(t, uint64(devnetFaucet), b0.Balance)
	assert.Equal(t, uint64(devnetFunds), b1.Balance)
	assert.Equal(t, d.nodes[0].Host().ID().String(), b0.PeerID)
	assert.Contains(t, run(2, "wallet", "balance"), "balance  1000 credits (1000000000 micro-credits)")
	assert.Equal(t, uint64(devnetStake), b1.Staked)
	status := run(1, "relay", "status")
	assert.Contains(t, status, "stake 100 of 300 staked on the ledger")
	assert.Contains(t, status, "weight 100 of 300 in epoch")
	var rst node.RelayStatus
	require.NoError(t, json.Unmarshal([]byte(run(1, "--json", "relay", "status")), &rst))
	require.NotNil(t, rst.Stake)
	// The lottery weighs each node by its stake (the genesis's, here).
	require.NotNil(t, rst.Stake.Lottery)
	assert.Equal(t, node.RelayStake{Epoch: rst.Stake.Epoch, Staked: devnetStake, Total: 3 * devnetStake, Lottery: rst.Stake.Lottery}, *rst.Stake)
	assert.Equal(t, node.LotteryWeight{Epoch: rst.Stake.Lottery.Epoch, SnapshotEpoch: rst.Stake.Lottery.SnapshotEpoch,
		Weight: devnetStake, TotalWeight: 3 * devnetStake, TargetRelays: 3}, *rst.Stake.Lottery)
	assert.Equal(t, uint64(3*devnetStake), rst.Current.Candidates, "the lottery's total weight is the stake")

	out := run(0, "wallet", "send", peer1, "2.5cr", "--wait")
	assert.Contains(t, out, "sent 2.5 credits (2500000 micro-credits) to "+peer1+": confirmed")
	var sent node.WalletSendResult
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "wallet", "send", peer1, "1000", "--wait")), &sent))
	assert.True(t, sent.Confirmed)
	assert.Equal(t, uint64(devnetFaucet-2_501_000), sent.Balance)

	// node1 receives both sends once they are confirmed.
	acct1 := d.nodes[1].Ledger().Account()
	require.NoError(t, d.nodes[1].Ledger().Wait(ctx, func(l *token.Ledger) bool {
		info, _ := l.Account(acct1)
		return info.Balance == devnetFunds+2_501_000 && info.ConfirmedHeight == 2
	}))
	assert.Equal(t, uint64(devnetFunds+2_501_000), balance(1).Balance)

	var h0, h1 []node.WalletEntry
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "wallet", "history")), &h0))
	require.Len(t, h0, 2)
	assert.Equal(t, sent.Hash, h0[0].Hash, "newest first")
	for i, amount := range []uint64{1000, 2_500_000} {
		assert.Equal(t, "send", h0[i].Kind)
		assert.Equal(t, amount, h0[i].Amount)
		assert.Equal(t, peer1, h0[i].CounterpartyPeer)
	}
	require.NoError(t, json.Unmarshal([]byte(run(1, "--json", "wallet", "history")), &h1))
	require.Len(t, h1, 2)
	assert.Equal(t, "receive", h1[1].Kind)
	assert.Equal(t, uint64(2_500_000), h1[1].Amount)
	assert.Contains(t, run(1, "wallet", "history"), "receive  2.5")
	assert.Contains(t, run(1, "wallet", "pending"), "nothing pending")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"insufficient", []string{"wallet", "send", peer1, "5000cr"}, exitFailed,
			"fog: insufficient balance: 1000000000 micro-credits available, 5000000000 asked"},
		{"bad amount", []string{"wallet", "send", peer1, "1.5"}, exitUsage, `amount "1.5": want a whole number of micro-credits`},
		{"zero", []string{"wallet", "send", peer1, "0"}, exitUsage, "must be more than 0"},
		{"unknown peer", []string{"wallet", "send", "alice", "10"}, exitUsage, `"alice" is neither a peer ID nor an account`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := fog(t, ctx, append([]string{"--path", string(d.dirs[2])}, tc.args...)...)
			require.Error(t, err)
			assert.Equal(t, tc.code, exitCode(err))
			var buf bytes.Buffer
			printError(&buf, err)
			assert.Contains(t, buf.String()+errOut, tc.want)
		})
	}
}

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"1", 1, ""}, {"2500000", 2_500_000, ""}, {"2.5cr", 2_500_000, ""}, {"3cr", 3_000_000, ""},
		{".5cr", 500_000, ""}, {"0.000001cr", 1, ""}, {"18446744073709551615", 1<<64 - 1, ""},
		{"0", 0, "more than 0"}, {"0cr", 0, "more than 0"}, {"1.5", 0, "whole number"}, {"-1", 0, "whole number"},
		{"1.0000001cr", 0, "whole number"}, {"cr", 0, "whole number"}, {"+1cr", 0, "whole number"},
		{"18446744073709551616", 0, "whole number"}, {"18446744073710cr", 0, "too large"},
	} {
		got, err := parseAmount(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	assert.Equal(t, "2.5", creditsShort(2_500_000))
	assert.Equal(t, "0.000001", creditsShort(1))
	assert.Equal(t, "1000", creditsShort(1_000_000_000))
}

// The wallet's extra accounts from the command line: fog wallet new
// makes one, the faucet funds it, fog wallet send --from spends from it,
// fog wallet balance and history --account show it, fog wallet ls lists
// it after the identity, and an unknown --from is refused.
func TestDevnetWalletAccounts(t *testing.T) {
	d, ctx := testDevnet(t, 2, 2*time.Minute)
	run := fogOn(t, ctx, d)
	var acc node.WalletAccount
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "wallet", "new")), &acc))
	assert.True(t, acc.Created)
	assert.Contains(t, run(0, "wallet", "new"), "account ")

	run(0, "wallet", "send", acc.Account, "3cr", "--wait")
	peer1 := d.nodes[1].Host().ID().String()
	var sent node.WalletSendResult
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "wallet", "send", "--from", acc.Account, peer1, "1cr", "--wait")), &sent))
	assert.True(t, sent.Confirmed)
	assert.Equal(t, acc.Account, sent.From)
	assert.Equal(t, uint64(2*microPerCredit), sent.Balance)

	var b node.WalletBalance
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "wallet", "balance", "--account", acc.PeerID)), &b))
	assert.Equal(t, acc.Account, b.Account)
	assert.Equal(t, uint64(2*microPerCredit), b.Balance)
	var h []node.WalletEntry
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "wallet", "history", "--account", acc.Account)), &h))
	require.Len(t, h, 2)
	assert.Equal(t, sent.Hash, h[0].Hash)

	var ls []node.WalletAccount
	require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "wallet", "ls")), &ls))
	require.Len(t, ls, 3)
	assert.True(t, ls[0].Identity)
	assert.Contains(t, run(0, "wallet", "ls"), acc.Account+"  2 ")

	_, errOut, err := fog(t, ctx, "--path", string(d.dirs[1]), "wallet", "send", "--from", acc.Account, peer1, "1")
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	var buf bytes.Buffer
	printError(&buf, err)
	assert.Contains(t, buf.String()+errOut, "holds no key for account "+acc.Account)
}

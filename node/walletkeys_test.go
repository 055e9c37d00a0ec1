package node

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creachadair/jrpc2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

// The wallet's accounts beyond the identity: wallet.create makes one,
// kept in wallet/ (mode 0600, the seed only); the node funds it with a
// confirmed send, wallet.send from it spends what it was sent (received
// first), wallet.balance and wallet.history show it by account, and
// after a restart the wallet still holds it and can spend from it.
// wallet.import takes a known seed once; bad seeds, unknown senders and
// over-spends are refused.
func TestWalletAccountsOverRPC(t *testing.T) {
	dirs, cfgs := ledgerNet(t, 1)
	n := startLedgerNode(t, dirs[0], cfgs[0])
	ctx := context.Background()
	c := n.client(t)
	self := n.Ledger().Account()

	var created WalletAccount
	require.NoError(t, c.Call(ctx, "wallet.create", nil, &created))
	assert.True(t, created.Created)
	acct, err := parseAccount(created.Account)
	require.NoError(t, err)
	assert.Equal(t, peerOf(acct), created.PeerID)
	path := filepath.Join(dirs[0].Wallet(), created.Account+".key")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	seed, err := hex.DecodeString(strings.TrimSpace(string(body)))
	require.NoError(t, err)
	assert.Equal(t, acct, token.AccountOf(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)))

	var sent WalletSendResult
	require.NoError(t, c.Call(ctx, "wallet.send", WalletSendParams{To: created.Account, Amount: 5000, Wait: true}, &sent))
	require.True(t, sent.Confirmed)
	assert.Equal(t, self.String(), sent.From)

	// The new account spends what it was sent: SendFrom receives first.
	var back WalletSendResult
	require.NoError(t, c.Call(ctx, "wallet.send", WalletSendParams{From: created.PeerID, To: self.String(), Amount: 1200, Wait: true}, &back))
	assert.True(t, back.Confirmed)
	assert.Equal(t, created.Account, back.From)
	assert.Equal(t, uint64(3800), back.Balance)

	var b WalletBalance
	require.NoError(t, c.Call(ctx, "wallet.balance", WalletBalanceParams{Account: created.Account}, &b))
	assert.Equal(t, created.Account, b.Account)
	assert.Equal(t, uint64(3800), b.Balance)
	assert.Equal(t, uint64(2), b.ConfirmedHeight)
	var h []WalletEntry
	require.NoError(t, c.Call(ctx, "wallet.history", WalletHistoryParams{Account: created.Account}, &h))
	require.Len(t, h, 2)
	assert.Equal(t, []string{"send", "open"}, []string{h[0].Kind, h[1].Kind})
	assert.Equal(t, back.Hash, h[0].Hash)

	seed2 := make([]byte, 32)
	seed2[0] = 7
	want := token.AccountOf(ed25519.NewKeyFromSeed(seed2).Public().(ed25519.PublicKey))
	for i, wantCreated := range []bool{true, false} {
		var imp WalletAccount
		require.NoError(t, c.Call(ctx, "wallet.import", WalletImportParams{Seed: hex.EncodeToString(seed2)}, &imp), i)
		assert.Equal(t, want.String(), imp.Account)
		assert.Equal(t, wantCreated, imp.Created)
	}
	var list []WalletAccount
	require.NoError(t, c.Call(ctx, "wallet.list", nil, &list))
	require.Len(t, list, 3)
	assert.True(t, list[0].Identity)
	assert.Equal(t, self.String(), list[0].Account)
	assert.ElementsMatch(t, []string{created.Account, want.String()}, []string{list[1].Account, list[2].Account})

	for _, tc := range []struct {
		name   string
		method string
		params any
		code   jrpc2.Code
		want   string
	}{
		{"short seed", "wallet.import", WalletImportParams{Seed: "00ff"}, jrpc2.InvalidParams, "64 hex digits"},
		{"not hex", "wallet.import", WalletImportParams{Seed: strings.Repeat("zz", 32)}, jrpc2.InvalidParams, "64 hex digits"},
		{"unknown from", "wallet.send", WalletSendParams{From: "03" + strings.Repeat("00", 31), To: self.String(), Amount: 1}, CodeNotFound, "holds no key"},
		{"bad from", "wallet.send", WalletSendParams{From: "bob", To: self.String(), Amount: 1}, jrpc2.InvalidParams, "from:"},
		{"to itself", "wallet.send", WalletSendParams{From: created.Account, To: created.Account, Amount: 1}, jrpc2.InvalidParams, "the sending account itself"},
		{"over-spend", "wallet.send", WalletSendParams{From: created.Account, To: self.String(), Amount: 3801}, CodeConflict,
			"insufficient balance: 3800 micro-credits available, 3801 asked"},
		{"bad account", "wallet.balance", WalletBalanceParams{Account: "bob"}, jrpc2.InvalidParams, "account:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := rpcCode(t, c.Call(ctx, tc.method, tc.params, nil))
			assert.Equal(t, tc.code, code)
			assert.Contains(t, msg, tc.want)
		})
	}

	// After a restart the wallet holds the same accounts and spends.
	require.NoError(t, n.Close())
	again := startLedgerNode(t, dirs[0], cfgs[0])
	c2 := again.client(t)
	var list2 []WalletAccount
	require.NoError(t, c2.Call(ctx, "wallet.list", nil, &list2))
	assert.Equal(t, list, list2)
	require.NoError(t, c2.Call(ctx, "wallet.send", WalletSendParams{From: created.Account, To: want.String(), Amount: 800, Wait: true}, &back))
	assert.Equal(t, uint64(3000), back.Balance)
}

// A wallet/ file that holds another account's key stops the node at
// start rather than losing the account silently.
func TestWalletKeysRefuseMismatch(t *testing.T) {
	dir := DataDir(t.TempDir())
	w, err := openWalletKeys(dir)
	require.NoError(t, err)
	a, created, err := w.add(make([]byte, 32))
	require.NoError(t, err)
	require.True(t, created)
	w2, err := openWalletKeys(dir)
	require.NoError(t, err)
	assert.Equal(t, []token.Account{a}, w2.accounts())

	other := "11" + strings.Repeat("22", 31)
	body, err := os.ReadFile(filepath.Join(dir.Wallet(), a.String()+".key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir.Wallet(), other+".key"), body, 0o600))
	_, err = openWalletKeys(dir)
	assert.ErrorContains(t, err, "holds the key of account "+a.String())

	_, _, err = (&walletKeys{keys: map[token.Account]ed25519.PrivateKey{}}).add(make([]byte, 32))
	assert.ErrorContains(t, err, "no data directory")
}

package token

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notAPoint returns 32 bytes in hex that are not an Ed25519 point.
func notAPoint(t *testing.T) string {
	for i := range 256 {
		b := make([]byte, 32)
		b[0] = byte(i)
		b[1] = 1
		if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
			return hex.EncodeToString(b)
		}
	}
	t.Fatal("no invalid point found")
	return ""
}

func TestLoadGenesis(t *testing.T) {
	valid := fmt.Sprintf(`{"network":"devnet","unbonding_epochs":4,"faucet":%q,
		"accounts":[{"account":%q,"balance":1000},{"account":%q,"balance":5,"staked":7,"representative":%q}],
		"frozen":[%q]}`, hexAcct(0), hexAcct(0), hexAcct(1), hexAcct(0), hexAcct(2))
	g, err := LoadGenesis(strings.NewReader(valid))
	require.NoError(t, err)
	l, err := NewLedger(g)
	require.NoError(t, err)
	assert.Equal(t, uint64(1012), l.Supply())
	assert.Equal(t, uint64(1012), l.Weight(acct(0)), "account 1 delegates to account 0")
	assert.True(t, l.Frozen(acct(2)))
	info, ok := l.Account(acct(1))
	require.True(t, ok)
	assert.Equal(t, uint64(7), info.Staked)

	acc := func(s string) string { return fmt.Sprintf(`{"account":%q,"balance":1}`, s) }
	tests := []struct {
		name, in string
	}{
		{"not JSON", `{`},
		{"unknown field", `{"network":"x","unbonding_epochs":1,"accounts":[` + acc(hexAcct(0)) + `],"extra":1}`},
		{"trailing data", `{"network":"x","unbonding_epochs":1,"accounts":[` + acc(hexAcct(0)) + `]} {}`},
		{"no network", `{"unbonding_epochs":1,"accounts":[` + acc(hexAcct(0)) + `]}`},
		{"no unbonding", `{"network":"x","accounts":[` + acc(hexAcct(0)) + `]}`},
		{"no accounts", `{"network":"x","unbonding_epochs":1,"accounts":[]}`},
		{"bad hex", `{"network":"x","unbonding_epochs":1,"accounts":[` + acc("zz") + `]}`},
		{"short key", `{"network":"x","unbonding_epochs":1,"accounts":[` + acc("abcd") + `]}`},
		{"not a point", `{"network":"x","unbonding_epochs":1,"accounts":[` + acc(notAPoint(t)) + `]}`},
		{"duplicate", `{"network":"x","unbonding_epochs":1,"accounts":[` + acc(hexAcct(0)) + `,` + acc(hexAcct(0)) + `]}`},
		{"faucet not funded", `{"network":"x","unbonding_epochs":1,"faucet":"` + hexAcct(1) + `","accounts":[` + acc(hexAcct(0)) + `]}`},
		{"bad representative", `{"network":"x","unbonding_epochs":1,"accounts":[{"account":"` + hexAcct(0) + `","representative":"00"}]}`},
		{"bad frozen", `{"network":"x","unbonding_epochs":1,"accounts":[` + acc(hexAcct(0)) + `],"frozen":["x"]}`},
		{"supply overflow", `{"network":"x","unbonding_epochs":1,"accounts":[{"account":"` + hexAcct(0) + `","balance":18446744073709551615},{"account":"` + hexAcct(1) + `","balance":1}]}`},
		{"negative balance", `{"network":"x","unbonding_epochs":1,"accounts":[{"account":"` + hexAcct(0) + `","balance":-1}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadGenesis(strings.NewReader(tt.in))
			require.ErrorIs(t, err, ErrGenesis)
		})
	}
}

func TestGenesisDigest(t *testing.T) {
	g := genesisOf(1, 2, 3)
	d1, err := g.Digest()
	require.NoError(t, err)
	g.Accounts[0], g.Accounts[2] = g.Accounts[2], g.Accounts[0]
	d2, err := g.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "the order of the file does not matter")
	g.Network = "other"
	d3, err := g.Digest()
	require.NoError(t, err)
	assert.NotEqual(t, d1, d3, "the network name does")

	// A chain of one network does not continue on another.
	l1 := newLedger(t, 100, 0)
	g2 := genesisOf(100, 0)
	g2.Network = "other"
	l2, err := NewLedger(g2)
	require.NoError(t, err)
	b, err := NewWallet(l1, key(0)).Send(acct(1), 1, 0)
	require.NoError(t, err)
	_, err = l2.Apply(b)
	require.ErrorIs(t, err, ErrGap)
}

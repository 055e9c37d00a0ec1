package token

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// key returns the i-th test key (deterministic).
func key(i int) ed25519.PrivateKey {
	var seed [ed25519.SeedSize]byte
	copy(seed[:], "fog token test key")
	binary.BigEndian.PutUint32(seed[28:], uint32(i))
	return ed25519.NewKeyFromSeed(seed[:])
}

func acct(i int) Account { return AccountOf(key(i).Public().(ed25519.PublicKey)) }

func hexAcct(i int) string { a := acct(i); return hex.EncodeToString(a[:]) }

// genesisOf funds keys 0..len(balances)-1 with the balances, each its own
// representative.
func genesisOf(balances ...uint64) Genesis {
	g := Genesis{Network: "test", UnbondingEpochs: 3}
	for i, b := range balances {
		g.Accounts = append(g.Accounts, Allocation{Account: hexAcct(i), Balance: b})
	}
	return g
}

func newLedger(t testing.TB, balances ...uint64) *Ledger {
	t.Helper()
	l, err := NewLedger(genesisOf(balances...))
	require.NoError(t, err)
	return l
}

// apply applies b and confirms it, failing the test on an error.
func applyConfirm(t testing.TB, l *Ledger, b Block, err error) Hash {
	t.Helper()
	require.NoError(t, err)
	h, err := l.Apply(b)
	require.NoError(t, err)
	require.NoError(t, l.Confirm(h))
	return h
}

// conserved checks the supply invariant.
func conserved(t testing.TB, l *Ledger) {
	t.Helper()
	require.Equal(t, l.Supply(), l.Total()+l.InFlight(), "balances, stakes and credits in flight must add up to the supply")
}

package lottery

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testConfig is SimConfig with a fixed genesis.
func testConfig() Config {
	c := SimConfig()
	c.Genesis = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	return c
}

// testKey returns the i-th reproducible identity key.
func testKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("lottery test key"), uint64(i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// mapStake is a StakeOracle with fixed weights for every epoch.
type mapStake struct {
	w     map[pkKey]uint64
	total uint64
}

func newMapStake(keys []ed25519.PrivateKey, weights []uint64) *mapStake {
	m := &mapStake{w: map[pkKey]uint64{}}
	for i, k := range keys {
		m.w[pkKey(pubOf(k))] = weights[i]
		m.total += weights[i]
	}
	return m
}

func (m *mapStake) Weight(_ uint64, pk ed25519.PublicKey) uint64 {
	if len(pk) != ed25519.PublicKeySize {
		return 0
	}
	return m.w[pkKey(pk)]
}

func (m *mapStake) TotalWeight(uint64) uint64 { return m.total }

// detRand is a reproducible random stream for mix keys.
func detRand(label string) io.Reader {
	var buf bytes.Buffer
	for i := range 256 {
		s := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(label), uint64(i)))
		buf.Write(s[:])
	}
	return &buf
}

// winningClaim returns a valid claim for epoch e by the first of keys that
// wins seats, with its key index.
func winningClaim(t *testing.T, cfg Config, keys []ed25519.PrivateKey, stake StakeOracle, e uint64, seed Seed) (*Claim, int) {
	t.Helper()
	p := Probability(cfg.TargetRelays, stake.TotalWeight(e))
	for i, k := range keys {
		c, _, won, err := NewClaim(k, e, seed, stake.Weight(e, pubOf(k)), p, cfg, detRand("mix"))
		require.NoError(t, err)
		if won {
			return c, i
		}
	}
	t.Fatal("no key wins")
	return nil, 0
}

func mustEncode(t *testing.T, c interface{ Encode() ([]byte, error) }) []byte {
	t.Helper()
	b, err := c.Encode()
	require.NoError(t, err)
	return b
}

type bigInt = big.Int

// leBytes encodes v < 2^256 as 32 little-endian bytes.
func leBytes(v *big.Int) []byte {
	be := v.FillBytes(make([]byte, 32))
	le := make([]byte, 32)
	for i := range be {
		le[31-i] = be[i]
	}
	return le
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

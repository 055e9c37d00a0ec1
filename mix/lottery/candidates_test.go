package lottery

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCandidacyCodec(t *testing.T) {
	k := pubOf(testKey(1))
	c := Candidacy{Epoch: 7, Key: k}
	b, err := c.Encode()
	require.NoError(t, err)
	require.Len(t, b, CandidacySize)
	got, err := DecodeCandidacy(b)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	b[9] ^= 1
	assert.Equal(t, k[0], got.Key[0], "decoded candidacy must not alias its input")

	bad := map[string][]byte{
		"empty":     nil,
		"short":     b[:CandidacySize-1],
		"long":      append(bytes.Clone(b), 0),
		"kind":      append([]byte{kindClaim}, b[1:]...),
		"epoch 0":   append(append([]byte{kindCandidacy}, make([]byte, 8)...), k...),
		"all zeros": make([]byte, CandidacySize),
	}
	for name, in := range bad {
		_, err := DecodeCandidacy(in)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
	_, err = Candidacy{Epoch: 0, Key: k}.Encode()
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = Candidacy{Epoch: 1, Key: k[:31]}.Encode()
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestCandidateBookWindow(t *testing.T) {
	cfg := testConfig()
	b := NewCandidateBook(cfg, 100)
	k := pubOf(testKey(1))
	sk := 2 * cfg.MaxClockSkew
	tests := []struct {
		name string
		at   time.Time
		v    Verdict
		err  error
	}{
		{"before the window", cfg.EpochStart(2).Add(-sk - time.Nanosecond), Ignore, ErrEarly},
		{"window opens (early within skew)", cfg.EpochStart(2).Add(-sk), Accept, nil},
		{"duplicate", cfg.EpochStart(2).Add(time.Second), Ignore, ErrDuplicate},
		{"window closed, already a candidate", cfg.ClaimClose(2), Ignore, ErrDuplicate},
	}
	for _, tt := range tests {
		v, err := b.Receive(tt.at, Candidacy{Epoch: 3, Key: k})
		assert.Equal(t, tt.v, v, tt.name)
		if tt.err == nil {
			assert.NoError(t, err, tt.name)
		} else {
			assert.ErrorIs(t, err, tt.err, tt.name)
		}
	}
	assert.False(t, b.Disputed(3, k), "an announcement at the window's start is not disputed")
	assert.False(t, b.Disputed(3, nil))
	nearDeadline, late := pubOf(testKey(2)), pubOf(testKey(3))
	v, err := b.Receive(cfg.ClaimClose(2).Add(-time.Millisecond), Candidacy{Epoch: 3, Key: nearDeadline})
	require.NoError(t, err)
	assert.Equal(t, Accept, v)
	v, err = b.Receive(cfg.ClaimClose(2).Add(time.Second), Candidacy{Epoch: 3, Key: late})
	assert.Equal(t, Ignore, v)
	assert.ErrorIs(t, err, ErrLate)
	assert.True(t, b.Disputed(3, nearDeadline), "accepted at the deadline: others may have missed it")
	assert.True(t, b.Disputed(3, late), "missed here: others may have it")
	assert.False(t, b.Disputed(3, k))
	assert.True(t, b.Disputed(3, nil))
	assert.Equal(t, uint64(2), b.TotalWeight(3))
	assert.Equal(t, uint64(1), b.Weight(3, k))
	assert.Equal(t, uint64(0), b.Weight(2, k), "a candidacy counts for its epoch only")
	assert.Equal(t, uint64(0), b.Weight(3, k[:5]))
	_, _, ok := b.Window(0)
	assert.False(t, ok, "epoch 0 has no announced candidates")
	v, err = b.Receive(cfg.EpochStart(0), Candidacy{Epoch: 0, Key: k})
	assert.Equal(t, Reject, v)
	assert.ErrorIs(t, err, ErrMalformed)
	b.Prune(4)
	assert.Equal(t, uint64(0), b.TotalWeight(3))
	assert.False(t, b.Disputed(3, nil))
}

// TestCandidateBookBoundIsOrderFree fills books beyond their bound with the
// same announcements in different orders: every book must keep the same
// candidates, those of smallest rank.
func TestCandidateBookBoundIsOrderFree(t *testing.T) {
	cfg := testConfig()
	const limit, n = 16, 60
	var keys []ed25519.PublicKey
	for i := range n {
		keys = append(keys, pubOf(testKey(100+i)))
	}
	at := cfg.EpochStart(4).Add(time.Second)
	var want []ed25519.PublicKey
	for round := range 5 {
		order := rand.New(rand.NewPCG(uint64(round), 1)).Perm(n)
		b := NewCandidateBook(cfg, limit)
		full := 0
		for _, i := range order {
			v, err := b.Receive(at, Candidacy{Epoch: 5, Key: keys[i]})
			if v == Ignore {
				require.ErrorIs(t, err, ErrCandidatesFull)
				full++
			}
		}
		assert.Positive(t, full)
		got := b.Candidates(5)
		require.Len(t, got, limit)
		assert.Equal(t, uint64(limit), b.TotalWeight(5))
		if round == 0 {
			want = got
			continue
		}
		assert.Equal(t, want, got, "order %d kept other candidates", round)
	}
	// The kept keys are those of smallest rank.
	kept := map[pkKey]bool{}
	for _, k := range want {
		kept[pkKey(k)] = true
	}
	worstKept := [DigestSize]byte{}
	for k := range kept {
		if r := candidateRank(5, k); bytes.Compare(r[:], worstKept[:]) > 0 {
			worstKept = r
		}
	}
	for _, k := range keys {
		if !kept[pkKey(k)] {
			r := candidateRank(5, pkKey(k))
			assert.Positive(t, bytes.Compare(r[:], worstKept[:]), "a dropped key outranks a kept one")
		}
	}
}

// TestCandidateBookDrivesState checks that a State fed by announced
// candidates verifies claims against them: a candidate wins, a key that
// announced too late is not a candidate.
func TestCandidateBookDrivesState(t *testing.T) {
	cfg := testConfig()
	cfg.TargetRelays = 2
	b := NewCandidateBook(cfg, 100)
	keys := []ed25519.PrivateKey{testKey(1), testKey(2)}
	for _, k := range keys {
		v, err := b.Receive(cfg.EpochStart(0).Add(time.Second), Candidacy{Epoch: 1, Key: pubOf(k)})
		require.NoError(t, err)
		require.Equal(t, Accept, v)
	}
	late := testKey(3)
	v, _ := b.Receive(cfg.ClaimClose(0), Candidacy{Epoch: 1, Key: pubOf(late)})
	require.Equal(t, Ignore, v)

	st, err := New(cfg, b, keys[0], GenesisCheckpoint(cfg), detRand("x"))
	require.NoError(t, err)
	var claim []byte
	for _, eff := range st.Tick(cfg.EpochStart(1).Add(time.Second)) {
		if pc, ok := eff.(PublishClaim); ok {
			claim = pc.Data
		}
	}
	require.NotNil(t, claim, "p = 1: the candidate wins")
	obs, err := New(cfg, b, nil, GenesisCheckpoint(cfg), nil)
	require.NoError(t, err)
	v, err = obs.Receive(cfg.EpochStart(1).Add(time.Second), claim)
	require.NoError(t, err)
	assert.Equal(t, Accept, v)

	seed, _ := obs.Seed(1)
	c, _, won, err := NewClaim(late, 1, seed, 1, 1, cfg, detRand("y"))
	require.NoError(t, err)
	require.True(t, won)
	v, err = obs.Receive(cfg.EpochStart(1).Add(time.Second), mustEncode(t, c))
	assert.Equal(t, Reject, v)
	assert.ErrorIs(t, err, ErrNotCandidate)
}

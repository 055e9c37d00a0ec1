package token

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleBlocks returns one signed block of each kind.
func sampleBlocks() []Block {
	base := Block{Account: acct(0), Previous: Hash{1}, Representative: acct(1), Balance: 500, Staked: 20, Epoch: 7}
	var out []Block
	for k := KindOpen; k < kindEnd; k++ {
		b := base
		b.Kind = k
		switch k {
		case KindOpen:
			b.Previous, b.Staked, b.Link = Hash{}, 0, [32]byte{2}
		case KindStake, KindUnstake, KindChange:
		case KindVote:
			b.Link, b.Aux = [32]byte{3}, uint64(No)
		case KindEscrowLock:
			b.Link, b.Aux = [32]byte{4}, 9
		case KindEscrowClaim:
			b.Link, b.Ticket = [32]byte{5}, [64]byte{6, 7}
		default:
			b.Link = [32]byte{8}
		}
		b.Sign(key(0))
		out = append(out, b)
	}
	return out
}

func TestBlockRoundTrip(t *testing.T) {
	for _, b := range sampleBlocks() {
		t.Run(b.Kind.String(), func(t *testing.T) {
			enc := b.Encode()
			want := BlockSize
			if b.Kind == KindEscrowClaim {
				want = ClaimBlockSize
			}
			require.Len(t, enc, want)
			got, err := DecodeBlock(enc)
			require.NoError(t, err)
			assert.Equal(t, b, got)
			h, err := got.Verify()
			require.NoError(t, err)
			assert.Equal(t, b.Hash(), h)
			assert.Equal(t, enc, got.Encode(), "the encoding is canonical")
		})
	}
}

func TestBlockHashCoversEveryField(t *testing.T) {
	b := sampleBlocks()[int(KindEscrowClaim)-1]
	h := b.Hash()
	for _, f := range []func(*Block){
		func(b *Block) { b.Account[0] ^= 1 },
		func(b *Block) { b.Previous[0] ^= 1 },
		func(b *Block) { b.Representative[0] ^= 1 },
		func(b *Block) { b.Balance++ },
		func(b *Block) { b.Staked++ },
		func(b *Block) { b.Link[0] ^= 1 },
		func(b *Block) { b.Epoch++ },
		func(b *Block) { b.Aux++ },
		func(b *Block) { b.Ticket[0] ^= 1 },
		func(b *Block) { b.Kind = KindReceive },
	} {
		c := b
		f(&c)
		assert.NotEqual(t, h, c.Hash())
		_, err := c.Verify()
		assert.ErrorIs(t, err, ErrSignature)
	}
	c := b
	c.Signature[5] ^= 1
	assert.Equal(t, h, c.Hash(), "the signature is not hashed")
	_, err := c.Verify()
	assert.ErrorIs(t, err, ErrSignature)
}

func TestDecodeBlockRejects(t *testing.T) {
	good := sampleBlocks()[int(KindSend)-1].Encode()
	claim := sampleBlocks()[int(KindEscrowClaim)-1].Encode()
	set := func(p []byte, off int, v ...byte) []byte {
		c := bytes.Clone(p)
		copy(c[off:], v)
		return c
	}
	const (
		offKind    = 1
		offAccount = 2
		offPrev    = 34
		offRep     = 66
		offLink    = 114
		offAux     = 154
	)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"claim without its ticket", set(claim[:BlockSize], 0)},
		{"send with a ticket", set(claim, offKind, byte(KindSend))},
		{"version 2", set(good, 0, 2)},
		{"kind 0", set(good, offKind, 0)},
		{"kind 11", set(good, offKind, 11)},
		{"zero account", set(good, offAccount, make([]byte, 32)...)},
		{"zero representative", set(good, offRep, make([]byte, 32)...)},
		{"send with no previous", set(good, offPrev, make([]byte, 32)...)},
		{"open with a previous", set(good, offKind, byte(KindOpen))},
		{"send with no link", set(good, offLink, make([]byte, 32)...)},
		{"stake with a link", set(good, offKind, byte(KindStake))},
		{"send with aux", set(good, offAux+7, 1)},
		{"vote of choice 4", set(set(good, offKind, byte(KindVote)), offAux+7, 4)},
		{"vote of choice 0", set(good, offKind, byte(KindVote))},
		{"lock with a deadline before its epoch", set(good, offKind, byte(KindEscrowLock))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBlock(tt.in)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestVoteRoundTrip(t *testing.T) {
	for _, final := range []bool{false, true} {
		v := Vote{Root: Hash{1}, Block: Hash{2}, Final: final}
		if !final {
			v.Seq = 3
		}
		v.Sign(key(4))
		enc := v.Encode()
		require.Len(t, enc, VoteSize)
		got, err := DecodeVote(enc)
		require.NoError(t, err)
		assert.Equal(t, v, got)
		require.NoError(t, got.Verify())
		got.Block[0] ^= 1
		require.ErrorIs(t, got.Verify(), ErrSignature)
	}
	v := Vote{Root: Hash{1}, Block: Hash{2}, Seq: 1}
	v.Sign(key(0))
	enc := v.Encode()
	for name, in := range map[string][]byte{
		"short":            enc[:VoteSize-1],
		"long":             append(bytes.Clone(enc), 0),
		"version":          append([]byte{2}, enc[1:]...),
		"flags":            append([]byte{1, 2}, enc[2:]...),
		"final with a seq": append([]byte{1, 1}, enc[2:]...),
	} {
		_, err := DecodeVote(in)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

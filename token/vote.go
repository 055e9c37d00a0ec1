package token

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// Vote is a representative's signed vote in the election of a root: for
// Block, one of the blocks competing there. A normal vote may be replaced
// by one with a higher Seq; a final vote is cast once a block has a quorum
// of normal votes and is never replaced. A block is confirmed by a quorum
// of final votes.
type Vote struct {
	Rep       Account
	Root      Hash
	Block     Hash
	Final     bool
	Seq       uint64 // normal votes: a higher Seq replaces a lower one
	Signature [ed25519.SignatureSize]byte
}

const (
	voteVersion  = 1
	voteBodySize = 2 + 32 + 32 + 32 + 8
	// VoteSize is the encoded size of a vote.
	VoteSize   = voteBodySize + ed25519.SignatureSize
	voteDomain = "fog/token/vote/v1\x00"
)

func (v *Vote) appendBody(dst []byte) []byte {
	var final byte
	if v.Final {
		final = 1
	}
	dst = append(dst, voteVersion, final)
	dst = append(dst, v.Rep[:]...)
	dst = append(dst, v.Root[:]...)
	dst = append(dst, v.Block[:]...)
	return binary.BigEndian.AppendUint64(dst, v.Seq)
}

func (v *Vote) digest() Hash {
	var buf [len(voteDomain) + voteBodySize]byte
	return blake2b.Sum256(v.appendBody(append(buf[:0], voteDomain...)))
}

// Sign sets Rep to priv's public key and signs the vote.
func (v *Vote) Sign(priv ed25519.PrivateKey) {
	v.Rep = AccountOf(priv.Public().(ed25519.PublicKey))
	d := v.digest()
	copy(v.Signature[:], ed25519.Sign(priv, d[:]))
}

// Verify checks the vote's signature by its representative.
func (v *Vote) Verify() error {
	d := v.digest()
	if !ed25519.Verify(v.Rep[:], d[:], v.Signature[:]) {
		return fmt.Errorf("%w: vote by %s", ErrSignature, v.Rep)
	}
	return nil
}

// Encode returns the vote's canonical encoding.
func (v *Vote) Encode() []byte {
	b := v.appendBody(make([]byte, 0, VoteSize))
	return append(b, v.Signature[:]...)
}

// DecodeVote decodes a canonical vote encoding (the signature is not
// checked).
func DecodeVote(p []byte) (Vote, error) {
	var v Vote
	if len(p) != VoteSize {
		return v, fmt.Errorf("%w: vote of %d bytes", ErrMalformed, len(p))
	}
	if p[0] != voteVersion {
		return v, fmt.Errorf("%w: vote version %d", ErrMalformed, p[0])
	}
	if p[1] > 1 {
		return v, fmt.Errorf("%w: vote flags %d", ErrMalformed, p[1])
	}
	v.Final = p[1] == 1
	off := 2
	off += copy(v.Rep[:], p[off:])
	off += copy(v.Root[:], p[off:])
	off += copy(v.Block[:], p[off:])
	v.Seq = binary.BigEndian.Uint64(p[off:])
	off += 8
	copy(v.Signature[:], p[off:])
	if v.Final && v.Seq != 0 {
		return Vote{}, fmt.Errorf("%w: a final vote has no sequence number", ErrMalformed)
	}
	return v, nil
}

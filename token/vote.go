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

// VoteBatch is a representative's votes in several elections under one
// signature, as Nano's vote by hash: a representative re-sending its
// votes of a backlog of open elections sends one message that every node
// checks once, where single votes cost every node a message and a
// signature check per election. A batch of one vote is a vote.
type VoteBatch struct {
	Rep       Account
	Votes     []BatchVote // 1 to MaxBatchVotes, at most one per root and kind
	Signature [ed25519.SignatureSize]byte
}

// BatchVote is one vote of a VoteBatch: as a Vote, without the
// representative and the signature that the batch holds.
type BatchVote struct {
	Root  Hash
	Block Hash
	Final bool
	Seq   uint64 // normal votes: a higher Seq replaces a lower one
}

const (
	batchVersion  = 2
	batchVoteSize = 1 + 32 + 32 + 8
	batchHeadSize = 1 + 32 + 1
	batchDomain   = "fog/token/votes/v1\x00"
	// MaxBatchVotes is the most votes a batch holds.
	MaxBatchVotes = 48
	// MaxBatchSize is the encoded size of a batch of MaxBatchVotes.
	MaxBatchSize = batchHeadSize + MaxBatchVotes*batchVoteSize + ed25519.SignatureSize
)

func (b *VoteBatch) appendBody(dst []byte) []byte {
	dst = append(dst, batchVersion)
	dst = append(dst, b.Rep[:]...)
	dst = append(dst, byte(len(b.Votes)))
	for i := range b.Votes {
		v := &b.Votes[i]
		var final byte
		if v.Final {
			final = 1
		}
		dst = append(dst, final)
		dst = append(dst, v.Root[:]...)
		dst = append(dst, v.Block[:]...)
		dst = binary.BigEndian.AppendUint64(dst, v.Seq)
	}
	return dst
}

func (b *VoteBatch) digest() Hash {
	buf := make([]byte, 0, len(batchDomain)+MaxBatchSize)
	return blake2b.Sum256(b.appendBody(append(buf, batchDomain...)))
}

// Sign sets Rep to priv's public key and signs the batch.
func (b *VoteBatch) Sign(priv ed25519.PrivateKey) {
	b.Rep = AccountOf(priv.Public().(ed25519.PublicKey))
	d := b.digest()
	copy(b.Signature[:], ed25519.Sign(priv, d[:]))
}

// Verify checks the batch's signature by its representative.
func (b *VoteBatch) Verify() error {
	d := b.digest()
	if !ed25519.Verify(b.Rep[:], d[:], b.Signature[:]) {
		return fmt.Errorf("%w: batch by %s", ErrSignature, b.Rep)
	}
	return nil
}

// Vote returns the batch's i-th vote as a Vote (unsigned: the batch's
// signature covers it).
func (b *VoteBatch) Vote(i int) Vote {
	v := &b.Votes[i]
	return Vote{Rep: b.Rep, Root: v.Root, Block: v.Block, Final: v.Final, Seq: v.Seq}
}

// Encode returns the batch's canonical encoding: version, representative,
// the number of votes (one byte), each vote (final flag, root, block,
// sequence number big-endian), then the signature.
func (b *VoteBatch) Encode() []byte {
	out := b.appendBody(make([]byte, 0, batchHeadSize+len(b.Votes)*batchVoteSize+ed25519.SignatureSize))
	return append(out, b.Signature[:]...)
}

// DecodeVoteBatch decodes a canonical batch encoding (the signature is not
// checked). It refuses an empty batch, one of more than MaxBatchVotes,
// a final vote with a sequence number, and two votes of one kind on one
// root.
func DecodeVoteBatch(p []byte) (VoteBatch, error) {
	var b VoteBatch
	if len(p) < batchHeadSize+ed25519.SignatureSize {
		return b, fmt.Errorf("%w: batch of %d bytes", ErrMalformed, len(p))
	}
	if p[0] != batchVersion {
		return b, fmt.Errorf("%w: batch version %d", ErrMalformed, p[0])
	}
	copy(b.Rep[:], p[1:])
	n := int(p[batchHeadSize-1])
	if n == 0 || n > MaxBatchVotes {
		return b, fmt.Errorf("%w: batch of %d votes", ErrMalformed, n)
	}
	if len(p) != batchHeadSize+n*batchVoteSize+ed25519.SignatureSize {
		return b, fmt.Errorf("%w: batch of %d votes in %d bytes", ErrMalformed, n, len(p))
	}
	b.Votes = make([]BatchVote, n)
	type key struct {
		root  Hash
		final bool
	}
	seen := make(map[key]bool, n)
	off := batchHeadSize
	for i := range b.Votes {
		v := &b.Votes[i]
		if p[off] > 1 {
			return VoteBatch{}, fmt.Errorf("%w: vote flags %d", ErrMalformed, p[off])
		}
		v.Final = p[off] == 1
		off++
		off += copy(v.Root[:], p[off:])
		off += copy(v.Block[:], p[off:])
		v.Seq = binary.BigEndian.Uint64(p[off:])
		off += 8
		if v.Final && v.Seq != 0 {
			return VoteBatch{}, fmt.Errorf("%w: a final vote has no sequence number", ErrMalformed)
		}
		k := key{v.Root, v.Final}
		if seen[k] {
			return VoteBatch{}, fmt.Errorf("%w: two votes on root %s in one batch", ErrMalformed, v.Root)
		}
		seen[k] = true
	}
	copy(b.Signature[:], p[off:])
	return b, nil
}

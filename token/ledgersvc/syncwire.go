package ledgersvc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/fog-compute/fog/token"
)

// The catch-up protocol's messages. A stream carries requests and their
// responses in turn, each a frame: a 4-byte big-endian length, then the
// message, at most MaxSyncFrame bytes.
const (
	syncVersion = 1
	// SyncFrontiers asks for confirmed frontiers after an account.
	SyncFrontiers = 1
	// SyncChain asks for an account's confirmed blocks after a block.
	SyncChain = 2
	// SyncProposals asks for the DAO proposals held, by ID, after an ID.
	SyncProposals = 3

	// MaxSyncFrontiers is the most frontiers one response holds.
	MaxSyncFrontiers = 512
	// MaxSyncBlocks is the most blocks one response holds.
	MaxSyncBlocks = 64
	// MaxSyncProposals is the most proposals one response holds.
	MaxSyncProposals = 64
	frontierSize     = 32 + 32 + 8
	// MaxSyncFrame bounds a frame: the largest response, a chain page of
	// claim blocks each with a vote.
	MaxSyncFrame = 4 + MaxSyncBlocks*(2+token.MaxBlockSize+1+token.VoteSize)
)

// SyncRequest is a catch-up request: Kind SyncFrontiers names After (the
// zero account: from the first); SyncChain names Account and After (the
// zero hash: from the chain's first block); SyncProposals names After (a
// proposal ID; zero: from the first).
type SyncRequest struct {
	Kind    byte
	Account token.Account
	After   [32]byte
}

// SyncBlock is a block of a chain response with, if the responder
// represents weight, its final vote for the block.
type SyncBlock struct {
	Block token.Block
	Vote  *token.Vote
}

// SyncResponse answers a SyncRequest of the same Kind.
type SyncResponse struct {
	Kind      byte
	Frontiers []token.Frontier
	Blocks    []SyncBlock
	// Proposals are in increasing order of ID.
	Proposals []token.Proposal
}

// Encode returns the request's encoding: version, kind, then the zero-padded
// fields of the kind (32 bytes for frontiers and proposals, 64 for a
// chain).
func (r *SyncRequest) Encode() []byte {
	b := []byte{syncVersion, r.Kind}
	if r.Kind == SyncChain {
		b = append(b, r.Account[:]...)
	}
	return append(b, r.After[:]...)
}

// DecodeSyncRequest decodes a canonical request.
func DecodeSyncRequest(p []byte) (SyncRequest, error) {
	if len(p) < 2 || p[0] != syncVersion {
		return SyncRequest{}, fmt.Errorf("%w: sync request header", ErrMalformed)
	}
	r := SyncRequest{Kind: p[1]}
	switch {
	case (r.Kind == SyncFrontiers || r.Kind == SyncProposals) && len(p) == 2+32:
		copy(r.After[:], p[2:])
	case r.Kind == SyncChain && len(p) == 2+64:
		copy(r.Account[:], p[2:34])
		copy(r.After[:], p[34:])
		if r.Account.IsZero() {
			return SyncRequest{}, fmt.Errorf("%w: sync request for the zero account", ErrMalformed)
		}
	default:
		return SyncRequest{}, fmt.Errorf("%w: sync request kind %d of %d bytes", ErrMalformed, r.Kind, len(p))
	}
	return r, nil
}

// Encode returns the response's encoding: version, kind, a 2-byte count,
// then each frontier (account, head, height), each block (its length in
// 2 bytes, the block, 1 and a vote or 0) or each proposal (its length in 2
// bytes, the proposal).
func (r *SyncResponse) Encode() ([]byte, error) {
	b := []byte{syncVersion, r.Kind}
	switch r.Kind {
	case SyncFrontiers:
		if len(r.Frontiers) > MaxSyncFrontiers {
			return nil, fmt.Errorf("%w: %d frontiers", ErrMalformed, len(r.Frontiers))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Frontiers)))
		for _, f := range r.Frontiers {
			b = append(b, f.Account[:]...)
			b = append(b, f.Head[:]...)
			b = binary.BigEndian.AppendUint64(b, f.Height)
		}
	case SyncChain:
		if len(r.Blocks) > MaxSyncBlocks {
			return nil, fmt.Errorf("%w: %d blocks", ErrMalformed, len(r.Blocks))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Blocks)))
		for _, sb := range r.Blocks {
			enc := sb.Block.Encode()
			b = binary.BigEndian.AppendUint16(b, uint16(len(enc)))
			b = append(b, enc...)
			if sb.Vote == nil {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = append(b, sb.Vote.Encode()...)
		}
	case SyncProposals:
		if len(r.Proposals) > MaxSyncProposals {
			return nil, fmt.Errorf("%w: %d proposals", ErrMalformed, len(r.Proposals))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Proposals)))
		for i := range r.Proposals {
			enc := r.Proposals[i].Encode()
			b = binary.BigEndian.AppendUint16(b, uint16(len(enc)))
			b = append(b, enc...)
		}
	default:
		return nil, fmt.Errorf("%w: sync response kind %d", ErrMalformed, r.Kind)
	}
	return b, nil
}

// DecodeSyncResponse decodes a canonical response: frontiers in strictly
// increasing account order with positive heights, blocks and votes in
// their canonical layouts (signatures are checked by the ledger),
// proposals in strictly increasing order of ID (signatures are checked by
// the DAO), no trailing bytes.
func DecodeSyncResponse(p []byte) (SyncResponse, error) {
	if len(p) < 4 || len(p) > MaxSyncFrame || p[0] != syncVersion {
		return SyncResponse{}, fmt.Errorf("%w: sync response header", ErrMalformed)
	}
	r := SyncResponse{Kind: p[1]}
	n := int(binary.BigEndian.Uint16(p[2:]))
	rest := p[4:]
	switch r.Kind {
	case SyncFrontiers:
		if n > MaxSyncFrontiers || len(rest) != n*frontierSize {
			return SyncResponse{}, fmt.Errorf("%w: %d frontiers in %d bytes", ErrMalformed, n, len(rest))
		}
		r.Frontiers = make([]token.Frontier, n)
		for i := range n {
			f := &r.Frontiers[i]
			q := rest[i*frontierSize:]
			copy(f.Account[:], q[:32])
			copy(f.Head[:], q[32:64])
			f.Height = binary.BigEndian.Uint64(q[64:])
			if f.Height == 0 || f.Head.IsZero() || (i > 0 && bytes.Compare(r.Frontiers[i-1].Account[:], f.Account[:]) >= 0) {
				return SyncResponse{}, fmt.Errorf("%w: frontier %d", ErrMalformed, i)
			}
		}
	case SyncChain:
		if n > MaxSyncBlocks {
			return SyncResponse{}, fmt.Errorf("%w: %d blocks", ErrMalformed, n)
		}
		r.Blocks = make([]SyncBlock, n)
		for i := range n {
			if len(rest) < 2 {
				return SyncResponse{}, fmt.Errorf("%w: block %d", ErrMalformed, i)
			}
			l := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+l+1 {
				return SyncResponse{}, fmt.Errorf("%w: block %d", ErrMalformed, i)
			}
			b, err := token.DecodeBlock(rest[2 : 2+l])
			if err != nil {
				return SyncResponse{}, fmt.Errorf("%w: block %d: %w", ErrMalformed, i, err)
			}
			r.Blocks[i].Block = b
			flag := rest[2+l]
			rest = rest[2+l+1:]
			switch flag {
			case 0:
			case 1:
				if len(rest) < token.VoteSize {
					return SyncResponse{}, fmt.Errorf("%w: vote %d", ErrMalformed, i)
				}
				v, err := token.DecodeVote(rest[:token.VoteSize])
				if err != nil {
					return SyncResponse{}, fmt.Errorf("%w: vote %d: %w", ErrMalformed, i, err)
				}
				r.Blocks[i].Vote = &v
				rest = rest[token.VoteSize:]
			default:
				return SyncResponse{}, fmt.Errorf("%w: vote flag %d", ErrMalformed, flag)
			}
		}
		if len(rest) != 0 {
			return SyncResponse{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
		}
	case SyncProposals:
		if n > MaxSyncProposals {
			return SyncResponse{}, fmt.Errorf("%w: %d proposals", ErrMalformed, n)
		}
		r.Proposals = make([]token.Proposal, n)
		var last token.Hash
		for i := range n {
			if len(rest) < 2 {
				return SyncResponse{}, fmt.Errorf("%w: proposal %d", ErrMalformed, i)
			}
			l := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+l {
				return SyncResponse{}, fmt.Errorf("%w: proposal %d", ErrMalformed, i)
			}
			pr, err := token.DecodeProposal(rest[2 : 2+l])
			if err != nil {
				return SyncResponse{}, fmt.Errorf("%w: proposal %d: %w", ErrMalformed, i, err)
			}
			id := pr.ID()
			if i > 0 && bytes.Compare(last[:], id[:]) >= 0 {
				return SyncResponse{}, fmt.Errorf("%w: proposal %d out of order", ErrMalformed, i)
			}
			last = id
			r.Proposals[i] = pr
			rest = rest[2+l:]
		}
		if len(rest) != 0 {
			return SyncResponse{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
		}
	default:
		return SyncResponse{}, fmt.Errorf("%w: sync response kind %d", ErrMalformed, r.Kind)
	}
	return r, nil
}

// writeFrame writes p with its length.
func writeFrame(w io.Writer, p []byte) error {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(p)), uint32(len(p)))
	_, err := w.Write(append(b, p...))
	return err
}

// readFrame reads one frame of at most MaxSyncFrame bytes.
func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	l := binary.BigEndian.Uint32(n[:])
	if l == 0 || l > MaxSyncFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, l)
	}
	p := make([]byte, l)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, err
	}
	return p, nil
}

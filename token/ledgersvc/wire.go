package ledgersvc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/token"
)

// ErrMalformed reports bytes that are not a canonical ledger message.
var ErrMalformed = errors.New("ledgersvc: malformed message")

// Message is what the ledger's topics carry: a block (on BlocksTopic) or
// a representative's batch of votes (on VotesTopic) with the gossip
// header of the node that published it. Blocks and batches carry their
// own signatures; the publisher is whoever relays them (an election's
// candidates are re-sent by every node that holds them).
type Message struct {
	Author peer.ID   // the publisher, who signed the gossip envelope
	Seq    uint64    // grows with each message of the author
	Time   time.Time // when the author published it
	Block  *token.Block
	Votes  *token.VoteBatch
}

const (
	wireVersion = 1
	tagBlock    = 1
	tagVotes    = 3 // 2 was a single vote, before batches
	maxIDLen    = 64
	// MaxMessageSize is the largest encoded message.
	MaxMessageSize = 2 + 1 + maxIDLen + 8 + 8 + max(token.MaxBlockSize, token.MaxBatchSize)
)

// Encode returns the message's canonical encoding: version, tag, the
// author's ID with its length (one byte), the sequence number and the
// time in Unix nanoseconds (big-endian), then the block or batch encoding.
func (m *Message) Encode() ([]byte, error) {
	id := []byte(m.Author)
	if len(id) == 0 || len(id) > maxIDLen {
		return nil, fmt.Errorf("%w: author ID of %d bytes", ErrMalformed, len(id))
	}
	if (m.Block == nil) == (m.Votes == nil) {
		return nil, fmt.Errorf("%w: a message holds a block or a batch of votes", ErrMalformed)
	}
	b := make([]byte, 0, MaxMessageSize)
	tag := byte(tagBlock)
	if m.Votes != nil {
		tag = tagVotes
	}
	b = append(b, wireVersion, tag, byte(len(id)))
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Time.UnixNano()))
	if m.Block != nil {
		return m.Block.Append(b), nil
	}
	return append(b, m.Votes.Encode()...), nil
}

// DecodeMessage decodes a canonical message. It checks the block's or
// batch's layout, not their signatures.
func DecodeMessage(p []byte) (*Message, error) {
	if len(p) < 3 || len(p) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(p))
	}
	if p[0] != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, p[0])
	}
	tag, n := p[1], int(p[2])
	if n == 0 || n > maxIDLen || len(p) < 3+n+16 {
		return nil, fmt.Errorf("%w: author ID of %d bytes", ErrMalformed, n)
	}
	id, err := peer.IDFromBytes(p[3 : 3+n])
	if err != nil {
		return nil, fmt.Errorf("%w: author: %w", ErrMalformed, err)
	}
	off := 3 + n
	m := &Message{Author: id, Seq: binary.BigEndian.Uint64(p[off:])}
	t := binary.BigEndian.Uint64(p[off+8:])
	if t > 1<<63-1 {
		return nil, fmt.Errorf("%w: time", ErrMalformed)
	}
	m.Time = time.Unix(0, int64(t))
	body := p[off+16:]
	switch tag {
	case tagBlock:
		b, err := token.DecodeBlock(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		m.Block = &b
	case tagVotes:
		v, err := token.DecodeVoteBatch(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		m.Votes = &v
	default:
		return nil, fmt.Errorf("%w: tag %d", ErrMalformed, tag)
	}
	return m, nil
}

package lottery

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Kind says what a lottery message carries: its first byte on the wire,
// which names the kind and its version.
type Kind byte

// The message kinds, version 1.
const (
	KindClaim     = Kind(kindClaim)
	KindReveal    = Kind(kindReveal)
	KindCandidacy = Kind(kindCandidacy)
)

// String returns "claim", "reveal", "candidacy" or the byte in hex.
func (k Kind) String() string {
	switch k {
	case KindClaim:
		return "claim"
	case KindReveal:
		return "reveal"
	case KindCandidacy:
		return "candidacy"
	}
	return fmt.Sprintf("kind 0x%02x", byte(k))
}

// Message is one lottery message as it travels between nodes (a claim, a
// reveal or a candidacy), decoded once: the gossip topic decodes it with
// DecodeMessage before its checks run and hands the result to
// Node.Receive, which does not decode it again. The zero value is a
// malformed message. A Message is immutable.
type Message struct {
	kind   byte
	data   []byte
	claim  *Claim
	reveal *Reveal
	cand   Candidacy
	epoch  uint64
	key    ed25519.PublicKey
	author peer.ID
}

// DecodeMessage decodes a claim, reveal or candidacy and derives the peer ID
// of the key that must have signed its gossip envelope (Author). Errors wrap
// ErrMalformed; it never panics. The Message keeps b.
func DecodeMessage(b []byte) (*Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	m := &Message{kind: b[0], data: b}
	switch b[0] {
	case kindClaim:
		c, err := DecodeClaim(b)
		if err != nil {
			return nil, err
		}
		m.claim, m.epoch, m.key = c, c.Epoch, c.Claimant
	case kindReveal:
		r, err := DecodeReveal(b)
		if err != nil {
			return nil, err
		}
		m.reveal, m.epoch, m.key = r, r.Epoch, r.Relay
	case kindCandidacy:
		c, err := DecodeCandidacy(b)
		if err != nil {
			return nil, err
		}
		m.cand, m.epoch, m.key = c, c.Epoch, c.Key
	default:
		return nil, fmt.Errorf("%w: unknown kind 0x%02x", ErrMalformed, b[0])
	}
	id, err := keyPeerID(m.key)
	if err != nil {
		return nil, err
	}
	m.author = id
	return m, nil
}

// Kind returns what m carries.
func (m *Message) Kind() Kind { return Kind(m.kind) }

// Data returns m's bytes as they travel (the caller must not modify them).
func (m *Message) Data() []byte { return m.data }

// Epoch returns the epoch m is for (a candidacy: the epoch it stands in).
func (m *Message) Epoch() uint64 { return m.epoch }

// Author returns the peer whose key made m: the claimant, the relay, or the
// candidate. An honest node publishes only its own messages, so the gossip
// envelope of m must be signed by Author.
func (m *Message) Author() peer.ID { return m.author }

// NominalTime is when an honest author publishes m, by the schedule of cfg:
// the start of the claim window for claims and candidacies (of the epoch
// before the one a candidacy is for), the reveal time for reveals. The
// gossip topic's time rule judges messages by it, so replays from past
// epochs and messages for far-future epochs are dropped before any
// cryptography runs.
func (m *Message) NominalTime(cfg Config) time.Time {
	switch m.kind {
	case kindReveal:
		return cfg.revealAt(m.epoch)
	case kindCandidacy:
		return cfg.EpochStart(m.epoch - 1)
	}
	return cfg.EpochStart(m.epoch)
}

// keyPeerID returns the libp2p peer ID of an Ed25519 identity key.
func keyPeerID(pk ed25519.PublicKey) (peer.ID, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(pk)
	if err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrMalformed, err)
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrMalformed, err)
	}
	return id, nil
}

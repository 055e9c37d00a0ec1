package lottery

import (
	"crypto/ed25519"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
)

// TopicName returns the gossip topic that carries a network's claims,
// reveals and candidacies: /fog/lottery/1/<network ID>. The network ID is
// in the name so that nodes of two networks never judge (and penalise) each
// other's messages, and the envelope signature, which covers the topic,
// binds a candidacy to its network.
func TopicName(networkID string) string { return "/fog/lottery/1/" + networkID }

// topicBurst is the per-author token bucket of the lottery topic, refilled
// once per epoch. An honest node sends at most three messages per epoch (a
// candidacy, a claim, a reveal) and an equivocator's second claim is the
// fourth a node may accept from one author; only accepted messages take a
// token.
const topicBurst = 6

// topicMaxAuthors bounds the gossip validator's per-author state.
const topicMaxAuthors = 100_000

// wireMsg is one lottery message on the topic, decoded once by the gossip
// validator chain.
type wireMsg struct {
	kind   byte
	data   []byte
	claim  *Claim
	reveal *Reveal
	cand   Candidacy
	epoch  uint64
	key    ed25519.PublicKey
	author peer.ID
}

// decodeWire decodes a claim, reveal or candidacy and derives the peer ID
// of the key that must have signed its gossip envelope. Errors wrap
// ErrMalformed; it never panics.
func decodeWire(b []byte) (*wireMsg, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	m := &wireMsg{kind: b[0], data: b}
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

// nominalTime is when an honest author publishes a message, by the
// schedule: the start of the claim window for claims and candidacies (of
// the epoch before the one a candidacy is for), the reveal time for
// reveals. The gossip chain's time rule judges messages by it, so replays
// from past epochs and messages for far-future epochs are rejected before
// any cryptography runs.
func nominalTime(cfg Config, m *wireMsg) time.Time {
	switch m.kind {
	case kindReveal:
		return cfg.revealAt(m.epoch)
	case kindCandidacy:
		return cfg.EpochStart(m.epoch - 1)
	}
	return cfg.EpochStart(m.epoch)
}

// TopicParams returns the gossip validator parameters of the lottery topic
// under cfg:
//
//   - MaxSize is MaxMessageSize.
//   - MaxSkew is 2*MaxClockSkew: the State buffers claims and reveals up to
//     2*MaxClockSkew early, so the chain must let those through; beyond
//     4*MaxClockSkew ahead of the schedule no honest relay forwards a
//     message and the chain rejects it.
//   - MaxAge is the longer window plus 2*MaxClockSkew: nothing older is
//     accepted by the State, and beyond gossip's RejectAge (about twice
//     that) a message is a replay and is rejected.
//   - Rate and Burst allow topicBurst accepted messages per author per
//     epoch, twice an honest node's need.
//
// Every node of a network must use the same values.
func TopicParams(cfg Config) gossip.TopicParams {
	skew := max(2*cfg.MaxClockSkew, time.Millisecond)
	rate := topicBurst / max(cfg.EpochLength.Seconds(), 1e-3)
	return gossip.TopicParams{
		MaxSize:    cfg.MaxMessageSize,
		MaxSkew:    skew,
		MaxAge:     max(cfg.ClaimWindow, cfg.RevealWindow) + skew,
		Rate:       rate,
		Burst:      topicBurst,
		MaxAuthors: topicMaxAuthors,
		Weight:     1,
	}
}

// topicConfig returns the typed topic for s: the codec, the schedule-based
// header and the State as the topic check. seq gives every message a
// sequence number above all earlier ones, which turns gossip's per-author
// sequence rule off for this topic: the State orders and deduplicates
// lottery messages itself, and an equivocator's second claim, which must be
// forwarded, carries no higher sequence than its first.
func topicConfig(cfg Config, seq *atomic.Uint64, check func(*wireMsg, time.Time, bool) error) gossip.TopicConfig[*wireMsg] {
	return gossip.TopicConfig[*wireMsg]{
		Name:   TopicName(cfg.NetworkID),
		Params: TopicParams(cfg),
		Encode: func(m *wireMsg) ([]byte, error) { return m.data, nil },
		Decode: decodeWire,
		Header: func(m *wireMsg) gossip.Header {
			return gossip.Header{Author: m.author, Seq: seq.Add(1), Time: nominalTime(cfg, m)}
		},
		Check: check,
	}
}

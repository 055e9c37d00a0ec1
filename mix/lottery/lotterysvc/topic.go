package lotterysvc

import (
	"sync/atomic"
	"time"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/mix/lottery"
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
//     epoch, twice an honest node's need: per EpochLength, or, when
//     cfg.Epochs may change the length, per the shortest epoch
//     CheckEpochLength allows (ClaimWindow + RevealWindow +
//     4*MaxClockSkew), since the topic's limits cannot follow it.
//
// Every node of a network must use the same values.
func TopicParams(cfg lottery.Config) gossip.TopicParams {
	skew := max(2*cfg.MaxClockSkew, time.Millisecond)
	rate := topicBurst / max(shortestEpoch(cfg).Seconds(), 1e-3)
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

// shortestEpoch returns the shortest epoch the topic's rate must allow
// for.
func shortestEpoch(cfg lottery.Config) time.Duration {
	if cfg.Epochs == nil {
		return cfg.EpochLength
	}
	return min(cfg.EpochLength, cfg.ClaimWindow+cfg.RevealWindow+4*cfg.MaxClockSkew)
}

// topicConfig returns the typed topic for a Service: the codec
// (lottery.DecodeMessage), the schedule-based header (Message.NominalTime)
// and check. seq gives every message a sequence number above all earlier
// ones, which turns gossip's per-author sequence rule off for this topic:
// the Node orders and deduplicates lottery messages itself, and an
// equivocator's second claim, which must be forwarded, carries no higher
// sequence than its first.
func topicConfig(cfg lottery.Config, seq *atomic.Uint64, check func(*lottery.Message, time.Time, bool) error) gossip.TopicConfig[*lottery.Message] {
	return gossip.TopicConfig[*lottery.Message]{
		Name:   TopicName(cfg.NetworkID),
		Params: TopicParams(cfg),
		Encode: func(m *lottery.Message) ([]byte, error) { return m.Data(), nil },
		Decode: lottery.DecodeMessage,
		Header: func(m *lottery.Message) gossip.Header {
			return gossip.Header{Author: m.Author(), Seq: seq.Add(1), Time: m.NominalTime(cfg)}
		},
		Check: check,
	}
}

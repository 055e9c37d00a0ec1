package gossip

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"net"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MsgID returns the gossipsub message ID of data published on topic by
// author: SHA-256 over the topic, the author and the data, each but the
// last length-prefixed. It is a hash of the content, so the same message
// signed again or replayed is a duplicate; the author is part of it so
// that a copycat re-publishing someone's advert under its own key cannot
// make the genuine message look already seen (its own copy is rejected by
// the author rule and would otherwise shadow the original), and the topic
// so that equal payloads on two topics are not confused.
func MsgID(topic string, author peer.ID, data []byte) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(topic)))])
	h.Write([]byte(topic))
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(author)))])
	h.Write([]byte(author))
	h.Write(data)
	var sum [sha256.Size]byte
	return string(h.Sum(sum[:0]))
}

// msgID is the pubsub.MsgIdFunction built on MsgID.
func msgID(m *pb.Message) string {
	return MsgID(m.GetTopic(), peer.ID(m.GetFrom()), m.GetData())
}

// halfLifeDecay returns the per-interval factor that halves a counter every
// halfLife.
func halfLifeDecay(interval, halfLife time.Duration) float64 {
	return math.Pow(0.5, interval.Seconds()/halfLife.Seconds())
}

func (s ScoreConfig) thresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             s.GossipThreshold,
		PublishThreshold:            s.PublishThreshold,
		GraylistThreshold:           s.GraylistThreshold,
		AcceptPXThreshold:           s.AcceptPXThreshold,
		OpportunisticGraftThreshold: s.OpportunisticGraftThreshold,
	}
}

func (s ScoreConfig) peerParams(seenTTL time.Duration, app func(peer.ID) float64) *pubsub.PeerScoreParams {
	var wl []*net.IPNet
	for _, c := range s.IPColocationWhitelist {
		if _, n, err := net.ParseCIDR(c); err == nil { // Validate checked
			wl = append(wl, n)
		}
	}
	if app == nil {
		app = func(peer.ID) float64 { return 0 }
	}
	return &pubsub.PeerScoreParams{
		Topics:                      map[string]*pubsub.TopicScoreParams{},
		TopicScoreCap:               s.TopicScoreCap,
		AppSpecificScore:            app,
		AppSpecificWeight:           s.AppSpecificWeight,
		IPColocationFactorWeight:    s.IPColocationWeight,
		IPColocationFactorThreshold: s.IPColocationThreshold,
		IPColocationFactorWhitelist: wl,
		BehaviourPenaltyWeight:      s.BehaviourWeight,
		BehaviourPenaltyThreshold:   s.BehaviourThreshold,
		BehaviourPenaltyDecay:       halfLifeDecay(s.DecayInterval, s.BehaviourHalfLife),
		DecayInterval:               s.DecayInterval,
		DecayToZero:                 s.DecayToZero,
		RetainScore:                 s.RetainScore,
		SeenMsgTTL:                  seenTTL,
	}
}

// topicParams returns the score parameters of a topic. Mesh delivery
// rates (P3, P3b) stay off: adverts are infrequent and bursty, so no
// delivery threshold separates a quiet honest mesh peer from a silent
// attacker without punishing the former in small networks; gossip
// (IHAVE/IWANT) repairs what a non-forwarding peer withholds, and P7
// punishes broken IHAVE promises.
func (s ScoreConfig) topicParams(p TopicParams) *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight:                    p.Weight,
		TimeInMeshWeight:               s.TimeInMeshWeight,
		TimeInMeshQuantum:              s.TimeInMeshQuantum,
		TimeInMeshCap:                  s.TimeInMeshCap,
		FirstMessageDeliveriesWeight:   s.FirstDeliveryWeight,
		FirstMessageDeliveriesDecay:    halfLifeDecay(s.DecayInterval, s.FirstDeliveryHalfLife),
		FirstMessageDeliveriesCap:      s.FirstDeliveryCap,
		InvalidMessageDeliveriesWeight: s.InvalidWeight,
		InvalidMessageDeliveriesDecay:  halfLifeDecay(s.DecayInterval, s.InvalidHalfLife),
	}
}

// PeerScore is one peer's gossipsub score and its components, as of the
// last snapshot (Config.Score.InspectPeriod).
type PeerScore struct {
	// Score is the total; Graylisted says it is below the graylist
	// threshold, so every RPC from the peer is dropped unread.
	Score      float64 `json:"score"`
	Graylisted bool    `json:"graylisted"`
	// AppSpecific, IPColocation and Behaviour are the unweighted P5, P6
	// and P7 components.
	AppSpecific  float64 `json:"app_specific"`
	IPColocation float64 `json:"ip_colocation"`
	Behaviour    float64 `json:"behaviour"`
	// Topics holds the per-topic counters.
	Topics map[string]TopicScore `json:"topics,omitempty"`
}

// TopicScore is a peer's counters in one topic.
type TopicScore struct {
	TimeInMesh        time.Duration `json:"time_in_mesh"`
	FirstDeliveries   float64       `json:"first_deliveries"`
	MeshDeliveries    float64       `json:"mesh_deliveries"`
	InvalidDeliveries float64       `json:"invalid_deliveries"`
}

// scoreBook holds the latest score snapshot pubsub handed us.
type scoreBook struct {
	graylist float64
	now      func() time.Time
	mu       sync.RWMutex
	at       time.Time
	scores   map[peer.ID]PeerScore
	notify   chan struct{} // closed and replaced on every update
}

func newScoreBook(graylist float64, now func() time.Time) *scoreBook {
	return &scoreBook{graylist: graylist, now: now, scores: map[peer.ID]PeerScore{}, notify: make(chan struct{})}
}

// update is the pubsub.ExtendedPeerScoreInspectFn.
func (b *scoreBook) update(snap map[peer.ID]*pubsub.PeerScoreSnapshot) {
	m := make(map[peer.ID]PeerScore, len(snap))
	for p, s := range snap {
		ps := PeerScore{
			Score:        s.Score,
			Graylisted:   s.Score < b.graylist,
			AppSpecific:  s.AppSpecificScore,
			IPColocation: s.IPColocationFactor,
			Behaviour:    s.BehaviourPenalty,
		}
		if len(s.Topics) > 0 {
			ps.Topics = make(map[string]TopicScore, len(s.Topics))
			for t, ts := range s.Topics {
				ps.Topics[t] = TopicScore{
					TimeInMesh:        ts.TimeInMesh,
					FirstDeliveries:   ts.FirstMessageDeliveries,
					MeshDeliveries:    ts.MeshMessageDeliveries,
					InvalidDeliveries: ts.InvalidMessageDeliveries,
				}
			}
		}
		m[p] = ps
	}
	b.mu.Lock()
	b.scores, b.at = m, b.now()
	close(b.notify)
	b.notify = make(chan struct{})
	b.mu.Unlock()
}

func (b *scoreBook) get(p peer.ID) (PeerScore, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s, ok := b.scores[p]
	return s, ok
}

func (b *scoreBook) all() (map[peer.ID]PeerScore, time.Time) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	m := make(map[peer.ID]PeerScore, len(b.scores))
	for p, s := range b.scores {
		m[p] = s
	}
	return m, b.at
}

func (b *scoreBook) updated() <-chan struct{} {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.notify
}

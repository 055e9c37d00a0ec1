package mixsvc

import (
	"maps"
	"slices"
	"time"

	"github.com/fog-compute/fog/p2p"
)

// Status is what mix.status reports: the relay side, the sender side and
// the shell's own counters.
type Status struct {
	// Epochs this node relays in, with its layer in each.
	Relaying []RelayEpoch `json:"relaying"`
	// Epochs whose directory the node routes with (the newest is used).
	Directories []uint64 `json:"directories"`

	PacketsIn     uint64            `json:"packets_in"`
	Relayed       uint64            `json:"relayed"`
	Forwarded     uint64            `json:"forwarded"`
	Held          int               `json:"held"`
	MeanDelayMS   float64           `json:"mean_delay_ms"`
	Replays       uint64            `json:"replays"`
	Drops         map[string]uint64 `json:"drops"`
	CoverDropped  uint64            `json:"cover_dropped"`
	PacketsOut    uint64            `json:"packets_out"`
	Sent          uint64            `json:"sent"`
	Acked         uint64            `json:"acked"`
	Retransmitted uint64            `json:"retransmitted"`
	Failed        uint64            `json:"failed"`
	Delivered     uint64            `json:"delivered"`
	Duplicates    uint64            `json:"duplicates"`
	LoopsSent     uint64            `json:"loops_sent"`
	LoopsBack     uint64            `json:"loops_back"`
	RelayLoops    uint64            `json:"relay_loops"`
	Queued        int               `json:"queued"`
	Pending       int               `json:"pending"`

	Cover    bool    `json:"cover"`
	SendRate float64 `json:"send_rate"`
	LoopRate float64 `json:"loop_rate"`
	DropRate float64 `json:"drop_rate"`
	// RelayLoopRate is the relay loop stream's rate while relaying.
	RelayLoopRate float64 `json:"relay_loop_rate"`

	Links      int    `json:"links"`
	LinkDrops  uint64 `json:"link_drops"`
	RateDrops  uint64 `json:"rate_drops"`
	OpenErrors uint64 `json:"open_errors"`
	// Streams are the inbound link streams' counters: served, refused
	// beyond the per-peer or total limits (reset after the version was
	// agreed, so the writer's first frame on it is lost), and reset for
	// idleness. ReadErrors counts inbound streams that ended in an error
	// rather than at the writer's close.
	Streams    p2p.ServerStats `json:"streams"`
	ReadErrors uint64          `json:"read_errors"`
	TagSyncs   uint64          `json:"tag_syncs"`
	// MaxLagMS is the longest a tick ran behind the core's schedule: how
	// late delays and the Poisson streams were kept on this machine.
	MaxLagMS float64 `json:"max_lag_ms"`
}

// RelayEpoch is an epoch this node relays in.
type RelayEpoch struct {
	Epoch uint64 `json:"epoch"`
	Layer int    `json:"layer"`
}

// Status returns the counters.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.node.Stats()
	st := Status{
		PacketsIn: n.PacketsIn, Relayed: n.Relayed, Forwarded: n.Forwarded, Held: n.Held,
		Replays: n.Replays, Drops: n.Drops, CoverDropped: n.CoverDropped, PacketsOut: n.PacketsOut,
		Sent: n.Sent, Acked: n.Acked, Retransmitted: n.Retransmitted, Failed: n.Failed,
		Delivered: n.Delivered, Duplicates: n.Duplicates, LoopsSent: n.LoopsSent, LoopsBack: n.LoopsBack, RelayLoops: n.RelayLoops,
		Queued: n.Queued, Pending: n.Pending,
		Cover: s.cfg.Cover, SendRate: s.cfg.SendRate, LoopRate: s.cfg.LoopRate, DropRate: s.cfg.DropRate, RelayLoopRate: s.cfg.RelayLoopRate,
		Links: len(s.links), LinkDrops: s.stats.linkDrops, RateDrops: s.stats.rateDrops,
		OpenErrors: s.stats.openErrors, TagSyncs: s.stats.tagSyncs, ReadErrors: s.stats.readErrors,
		MaxLagMS:    float64(s.stats.lagMax) / float64(time.Millisecond),
		Directories: slices.Sorted(maps.Keys(s.given)),
	}
	if n.Relayed > 0 {
		st.MeanDelayMS = float64(n.DelaySum) / float64(n.Relayed) / float64(time.Millisecond)
	}
	if srv := s.server.Load(); srv != nil {
		st.Streams = srv.Stats()
	}
	for _, e := range slices.Sorted(maps.Keys(s.keyed)) {
		st.Relaying = append(st.Relaying, RelayEpoch{Epoch: e, Layer: s.keyed[e]})
	}
	return st
}

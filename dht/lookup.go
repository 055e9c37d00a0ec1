package dht

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/fog-compute/fog/internal/clock"
)

// LookupStats describes one FindPeer lookup.
type LookupStats struct {
	// Found reports whether the target's addresses were found.
	Found bool `json:"found"`
	// Hops is the length of the chain of peers that led to the target: 1
	// when a peer of our own routing table knew it, 0 when we were already
	// connected to it.
	Hops int `json:"hops"`
	// Queried counts the peers asked.
	Queried int `json:"queried"`
	// Duration is the lookup's time on the DHT's clock.
	Duration time.Duration `json:"duration"`
}

// FindPeerStats looks target up like FindPeer, in both DHTs (it answers at
// once for a peer it is connected to), and reports how the lookup went. It
// follows the lookups through go-libp2p's routing query events: a
// peer first learnt from a response of a peer at depth d has depth d+1, and
// the hops are the depth of the peer whose response named the target.
func (d *DHT) FindPeerStats(ctx context.Context, target peer.ID) (peer.AddrInfo, LookupStats, error) {
	start := d.clk.Now()
	if d.h.Network().Connectedness(target) == network.Connected {
		ai := d.h.Peerstore().PeerInfo(target)
		d.observe(ctx, KindFindPeer, start, true, nil)
		return ai, LookupStats{Found: true, Duration: clock.Since(d.clk, start)}, nil
	}
	var ai peer.AddrInfo
	st, err := d.traced(ctx, target, func(ctx context.Context) error {
		var err error
		ai, err = d.dual.FindPeer(ctx, target)
		return err
	})
	st.Duration = clock.Since(d.clk, start)
	d.observe(ctx, KindFindPeer, start, true, err)
	if err != nil {
		st.Found = false
		return peer.AddrInfo{}, st, fmt.Errorf("dht: find peer %s: %w", target, err)
	}
	st.Found = true
	return ai, st, nil
}

// Lookup runs a full Kademlia lookup for target's key in one DHT (the WAN
// one once its routing table holds peers, the LAN one until then, as kubo
// chooses where to publish), whether or not this node is connected to
// target, and reports whether target was reached: being
// the closest peer to its own key, a reachable target is queried and
// answers; an unreachable one (or one no peer knows) is not found. The
// simulator measures routing with it, as FindPeer short-circuits for
// connected peers.
func (d *DHT) Lookup(ctx context.Context, target peer.ID) (LookupStats, error) {
	start := d.clk.Now()
	st, err := d.traced(ctx, target, func(ctx context.Context) error {
		_, err := d.active().kad.GetClosestPeers(ctx, string(target))
		return err
	})
	st.Duration = clock.Since(d.clk, start)
	d.observe(ctx, KindClosestPeers, start, st.Found, err)
	if err != nil {
		return st, fmt.Errorf("dht: lookup %s: %w", target, err)
	}
	if !st.Found {
		return st, fmt.Errorf("dht: lookup %s: %w", target, ErrNotFound)
	}
	return st, nil
}

// traced runs one lookup with routing query events on and counts its hops
// and queries.
func (d *DHT) traced(ctx context.Context, target peer.ID, run func(context.Context) error) (LookupStats, error) {
	ectx, cancel := context.WithCancel(ctx)
	ectx, events := routing.RegisterForQueryEvents(ectx)
	type tally struct {
		hops, queried int
		answered      bool // the target itself responded
	}
	done := make(chan tally, 1)
	go func() {
		depth := map[peer.ID]int{}
		var t tally
		for ev := range events {
			switch ev.Type {
			case routing.SendingQuery:
				if _, ok := depth[ev.ID]; !ok {
					depth[ev.ID] = 1
				}
				t.queried++
			case routing.PeerResponse:
				if ev.ID == target {
					t.answered = true
				}
				dd := depth[ev.ID]
				if dd == 0 {
					dd = 1
				}
				for _, r := range ev.Responses {
					if _, ok := depth[r.ID]; !ok {
						depth[r.ID] = dd + 1
					}
					if r.ID == target && t.hops == 0 {
						t.hops = dd
					}
				}
			}
		}
		done <- t
	}()
	err := run(ectx)
	cancel() // closes events once the lookup's publishers are done
	t := <-done
	return LookupStats{Hops: t.hops, Queried: t.queried, Found: t.answered}, err
}

// active is the WAN DHT once its routing table holds peers, the LAN DHT
// until then.
func (d *DHT) active() *table {
	if d.wan.kad.RoutingTable().Size() > 0 {
		return d.wan
	}
	return d.lan
}

// ClosestPeers runs a Kademlia lookup for key in each DHT whose routing
// table holds peers (the LAN one if neither does) and returns up to k
// peers (k <= 0: Config.BucketSize) closest to key, closest first, by the
// XOR distance of their IDs' SHA-256 to key's, as kad-dht measures it.
// The node itself is never among them. Their addresses are in the host's
// peerstore, so a caller can open streams to them. Subsystems that place
// data at the peers responsible for a key (chat mailboxes) use it; a
// lookup cut short by ctx returns the closest peers found so far with
// ctx's error.
func (d *DHT) ClosestPeers(ctx context.Context, key string, k int) ([]peer.ID, error) {
	if k <= 0 {
		k = d.cfg.BucketSize
	}
	var targets []*table
	for _, t := range d.tables {
		if t.kad.RoutingTable().Size() > 0 {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		targets = []*table{d.lan}
	}
	start := d.clk.Now()
	found := make([][]peer.ID, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			ps, err := t.kad.GetClosestPeers(ctx, key)
			found[i] = ps
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", t.name, err)
			}
		})
	}
	wg.Wait()
	seen := map[peer.ID]bool{d.h.ID(): true}
	var all []peer.ID
	for _, ps := range found {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				all = append(all, p)
			}
		}
	}
	all = kb.SortClosestPeers(all, kb.ConvertKey(key))
	if len(all) > k {
		all = all[:k]
	}
	if len(all) > 0 {
		d.observe(ctx, KindClosestPeers, start, true, ctx.Err())
	} else {
		d.observe(ctx, KindClosestPeers, start, false, errors.Join(errs...))
	}
	if len(all) == 0 {
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("dht: closest peers: %w", err)
		}
		return nil, fmt.Errorf("dht: closest peers: %w", ErrNotFound)
	}
	if ctx.Err() != nil {
		return all, fmt.Errorf("dht: closest peers: %w", ctx.Err())
	}
	return all, nil
}

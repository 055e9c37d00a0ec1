package dht

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/clock"
)

// The kinds of lookup Stats counts, one per operation of a DHT.
const (
	KindFindPeer      = "find_peer"      // FindPeer, FindPeerStats
	KindClosestPeers  = "closest_peers"  // ClosestPeers, Lookup
	KindFindProviders = "find_providers" // FindProviders, FindProvidersCID
	KindProvide       = "provide"        // Provide, ProvideCID
	KindGetRecord     = "get_record"     // GetRecord
	KindPutRecord     = "put_record"     // PutRecord
)

// The outcomes of a lookup in Stats.
const (
	OutcomeOK        = "ok"        // found, or published
	OutcomeNotFound  = "not_found" // the lookup ended and found nothing
	OutcomeCancelled = "cancelled" // its context ended first
	OutcomeError     = "error"     // any other failure
)

// lookupBuckets are the upper bounds, in seconds, of Lookups.Buckets: a
// lookup among the peers of one machine takes milliseconds, one across the
// Internet seconds, and one that times out a minute.
var lookupBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Lookups counts the lookups of one kind since the DHT started.
type Lookups struct {
	// Outcomes counts them by outcome (OutcomeOK, ...).
	Outcomes map[string]uint64 `json:"outcomes"`
	// Count is their number, Seconds their total duration on the DHT's
	// clock.
	Count   uint64  `json:"count"`
	Seconds float64 `json:"seconds"`
	// Buckets maps upper bounds in seconds to how many lookups took at
	// most that long (cumulative, as a Prometheus histogram counts).
	Buckets map[float64]uint64 `json:"-"`
}

// Stats counts a DHT's lookups and publications by kind (KindFindPeer, ...).
type Stats struct {
	Lookups map[string]Lookups `json:"lookups"`
}

// lookupStats is a DHT's tally behind Stats.
type lookupStats struct {
	mu    sync.Mutex
	kinds map[string]*lookupTally
}

type lookupTally struct {
	outcomes map[string]uint64
	sum      time.Duration
	buckets  [len(lookupBuckets) + 1]uint64 // per bound, then above the last
}

// observe counts one lookup of kind that started at start and ended with
// err (a nil err with found false is a lookup that found nothing).
func (d *DHT) observe(ctx context.Context, kind string, start time.Time, found bool, err error) {
	took := clock.Since(d.clk, start)
	outcome := OutcomeOK
	switch {
	case err == nil && found:
	case err == nil || errors.Is(err, ErrNotFound):
		outcome = OutcomeNotFound
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		outcome = OutcomeCancelled
	default:
		outcome = OutcomeError
	}
	s := &d.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds == nil {
		s.kinds = map[string]*lookupTally{}
	}
	t := s.kinds[kind]
	if t == nil {
		t = &lookupTally{outcomes: map[string]uint64{}}
		s.kinds[kind] = t
	}
	t.outcomes[outcome]++
	t.sum += took
	i := 0
	for i < len(lookupBuckets) && took.Seconds() > lookupBuckets[i] {
		i++
	}
	t.buckets[i]++
}

// Stats returns the DHT's counts of lookups so far (a copy).
func (d *DHT) Stats() Stats {
	s := &d.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Lookups: make(map[string]Lookups, len(s.kinds))}
	for kind, t := range s.kinds {
		l := Lookups{Outcomes: maps.Clone(t.outcomes), Seconds: t.sum.Seconds(), Buckets: make(map[float64]uint64, len(lookupBuckets))}
		var cum uint64
		for i, b := range lookupBuckets {
			cum += t.buckets[i]
			l.Buckets[b] = cum
		}
		for _, v := range t.outcomes {
			l.Count += v
		}
		out.Lookups[kind] = l
	}
	return out
}

// countProviders forwards the providers of a lookup started at start from
// in to the channel it returns, and counts the lookup once in is closed.
// The goroutine ends with in, which the DHT closes when the lookup ends or
// ctx does; it stops forwarding when ctx ends.
func (d *DHT) countProviders(ctx context.Context, start time.Time, in <-chan peer.AddrInfo) <-chan peer.AddrInfo {
	out := make(chan peer.AddrInfo, cap(in))
	go func() {
		defer close(out)
		found := false
		for ai := range in {
			select {
			case out <- ai:
				found = true
			case <-ctx.Done():
			}
		}
		var err error
		if !found {
			err = ctx.Err()
		}
		d.observe(ctx, KindFindProviders, start, found, err)
	}()
	return out
}

// findProvidersAsync is the dual DHT's provider lookup, counted.
func (d *DHT) findProvidersAsync(ctx context.Context, c cid.Cid, limit int) <-chan peer.AddrInfo {
	start := d.clk.Now()
	return d.countProviders(ctx, start, d.dual.FindProvidersAsync(ctx, c, limit))
}

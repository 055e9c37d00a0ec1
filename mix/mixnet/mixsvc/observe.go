package mixsvc

import (
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Observation is one frame on a link as a global passive observer sees it:
// who sent it to whom and when, never its contents (every frame has the
// same size). The simulator collects them to measure anonymity.
type Observation struct {
	From, To peer.ID
	At       time.Time
	// Received: the frame arrived at To (before any check of it); false:
	// From handed it to its link to To.
	Received bool
}

// observe reports a frame to Options.Observe, if set.
func (s *Service) observe(from, to peer.ID, received bool) {
	if s.o.Observe != nil {
		s.observeAt(from, to, received, s.clock.Now())
	}
}

// observeAt reports a frame seen at at.
func (s *Service) observeAt(from, to peer.ID, received bool, at time.Time) {
	if s.o.Observe != nil {
		s.o.Observe(Observation{From: from, To: to, At: at, Received: received})
	}
}

// LagHistogram counts how late the service's ticks ran against the core's
// schedule (NextTick): the timer firing late, or the service's goroutine
// waiting for a CPU or its lock. Bucket i counts lags in [Bound(i-1),
// Bound(i)); the bounds step by 0.1 ms up to 10 ms, by 1 ms up to 100 ms,
// by 10 ms up to 1 s, and the last bucket holds everything later. Two
// histograms of one service subtract (Sub) to give the lags of the time
// between them, and histograms of several services add (Add).
type LagHistogram struct {
	Counts [lagBuckets]uint64
}

const lagBuckets = 100 + 90 + 90 + 1

// LagBound returns the upper bound of bucket i (math.MaxInt64 for the
// last).
func LagBound(i int) time.Duration {
	switch {
	case i < 100:
		return time.Duration(i+1) * 100 * time.Microsecond
	case i < 190:
		return 10*time.Millisecond + time.Duration(i-99)*time.Millisecond
	case i < 280:
		return 100*time.Millisecond + time.Duration(i-189)*10*time.Millisecond
	}
	return math.MaxInt64
}

// lagBucket returns the bucket of lag d.
func lagBucket(d time.Duration) int {
	switch {
	case d < 0:
		return 0
	case d < 10*time.Millisecond:
		return int(d / (100 * time.Microsecond))
	case d < 100*time.Millisecond:
		return 100 + int((d-10*time.Millisecond)/time.Millisecond)
	case d < time.Second:
		return 190 + int((d-100*time.Millisecond)/(10*time.Millisecond))
	}
	return lagBuckets - 1
}

// Add adds o's counts to h.
func (h *LagHistogram) Add(o LagHistogram) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
}

// Sub returns h's counts less earlier's: the lags recorded since then.
func (h LagHistogram) Sub(earlier LagHistogram) LagHistogram {
	for i, c := range earlier.Counts {
		h.Counts[i] -= c
	}
	return h
}

// Total returns the number of ticks counted.
func (h LagHistogram) Total() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket that holds the q-th
// quantile (0 < q ≤ 1) of the lags, an upper bound of the quantile within
// the bucket's width; 0 if nothing was counted.
func (h LagHistogram) Quantile(q float64) time.Duration {
	total := h.Total()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= max(rank, 1) {
			return LagBound(i)
		}
	}
	return LagBound(lagBuckets - 1)
}

// Lags returns the histogram of the service's tick lags since it was made.
func (s *Service) Lags() LagHistogram {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lags
}

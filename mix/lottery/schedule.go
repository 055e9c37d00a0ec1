package lottery

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Epochs maps the lottery's epochs to time. Config.Epochs, when set, is
// the network's Epochs; every node of a network must get the same answers
// for every epoch whose start it has passed and the next one, or their
// directories and seeds part. Implementations must be safe for concurrent
// use if shared; a Schedule is.
type Epochs interface {
	// EpochStart returns when epoch e starts. It is strictly increasing
	// in e until it saturates.
	EpochStart(e uint64) time.Time
	// EpochAt returns the epoch running at t, and false before epoch 0.
	EpochAt(t time.Time) (uint64, bool)
}

// Segment is a run of epochs of one length: epoch From starts at Start,
// and every epoch from From until the next segment's lasts Length.
type Segment struct {
	From   uint64
	Start  time.Time
	Length time.Duration
}

// Schedule is a piecewise map of epochs to time: a list of segments, the
// first from epoch 0 at the genesis, each later one starting at an epoch
// boundary of the one before it. Epoch numbers run on across a change of
// length; only the durations change, so the seed chain is untouched. A
// Schedule is an immutable value (Change returns a new one), safe for
// concurrent use; its zero value is not valid: start from NewSchedule.
type Schedule struct {
	segs []Segment // ascending by From and Start; segs[0].From == 0
}

var _ Epochs = Schedule{}

// NewSchedule returns the schedule of epochs of length l from genesis.
// l must be positive.
func NewSchedule(genesis time.Time, l time.Duration) (Schedule, error) {
	if l <= 0 {
		return Schedule{}, fmt.Errorf("%w: epoch length %s must be positive", ErrConfig, l)
	}
	return Schedule{segs: []Segment{{From: 0, Start: genesis, Length: l}}}, nil
}

// Segments returns a copy of the schedule's segments, oldest first.
func (s Schedule) Segments() []Segment { return slices.Clone(s.segs) }

// seg returns the index of the segment epoch e belongs to.
func (s Schedule) seg(e uint64) int {
	return sort.Search(len(s.segs), func(i int) bool { return s.segs[i].From > e }) - 1
}

// EpochStart returns when epoch e starts. It saturates at the largest
// offset from its segment's start a Duration can express instead of
// overflowing; the zero Schedule answers the zero time.
func (s Schedule) EpochStart(e uint64) time.Time {
	if len(s.segs) == 0 {
		return time.Time{}
	}
	g := s.segs[max(s.seg(e), 0)]
	n := e - g.From
	if maxN := uint64(maxDuration / g.Length); n > maxN {
		n = maxN
	}
	return g.Start.Add(time.Duration(n) * g.Length)
}

// EpochAt returns the epoch running at t, and false before epoch 0 (or on
// the zero Schedule).
func (s Schedule) EpochAt(t time.Time) (uint64, bool) {
	if len(s.segs) == 0 || t.Before(s.segs[0].Start) {
		return 0, false
	}
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].Start.After(t) }) - 1
	g := s.segs[i]
	return g.From + uint64(t.Sub(g.Start)/g.Length), true
}

// Length returns how long epoch e lasts.
func (s Schedule) Length(e uint64) time.Duration {
	if len(s.segs) == 0 {
		return 0
	}
	return s.segs[max(s.seg(e), 0)].Length
}

// ChangeFrom returns the first epoch a change of length decided at time
// at applies from: the second epoch boundary after at, that is the start
// of the epoch after the one that follows the epoch running at at (epoch
// 2 if at is before epoch 0). Every node that knows of the change by at
// so has at least one whole epoch, under the lengths in force before the
// change, to learn of it before any of its answers differ; and the epoch
// in which a node learns of it ends as it would have without it.
func (s Schedule) ChangeFrom(at time.Time) uint64 {
	e, _ := s.EpochAt(at)
	return e + 2
}

// Change returns the schedule whose epochs from ChangeFrom(at) on last l,
// and that epoch. Segments of s from that epoch on are replaced: of
// changes applied in the order of their times, the last applied at one
// epoch wins. l must be positive.
func (s Schedule) Change(at time.Time, l time.Duration) (Schedule, uint64, error) {
	if len(s.segs) == 0 {
		return s, 0, fmt.Errorf("%w: change of the zero Schedule", ErrConfig)
	}
	if l <= 0 {
		return s, 0, fmt.Errorf("%w: epoch length %s must be positive", ErrConfig, l)
	}
	from := s.ChangeFrom(at)
	if from < 2 { // e+2 overflowed
		return s, 0, fmt.Errorf("%w: change at %s: no epoch after it", ErrConfig, at)
	}
	start := s.EpochStart(from)
	if !start.After(s.EpochStart(from - 1)) {
		return s, 0, fmt.Errorf("%w: change at %s: the schedule saturates before it", ErrConfig, at)
	}
	keep := s.seg(from)
	if s.segs[keep].From < from {
		keep++
	}
	segs := slices.Clone(s.segs[:keep]) // keep >= 1: segs[0].From is 0 < from
	if segs[len(segs)-1].Length != l {  // else the segment in force runs on
		segs = append(segs, Segment{From: from, Start: start, Length: l})
	}
	return Schedule{segs: segs}, from, nil
}

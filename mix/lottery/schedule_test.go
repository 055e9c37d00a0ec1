package lottery

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var schedGenesis = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// changed applies changes (at, length) in order to the 10-minute schedule
// from schedGenesis.
func changed(t *testing.T, changes ...struct {
	at time.Time
	l  time.Duration
}) Schedule {
	t.Helper()
	s, err := NewSchedule(schedGenesis, 10*time.Minute)
	require.NoError(t, err)
	for _, c := range changes {
		s, _, err = s.Change(c.at, c.l)
		require.NoError(t, err)
	}
	return s
}

type change = struct {
	at time.Time
	l  time.Duration
}

func at(d time.Duration) time.Time { return schedGenesis.Add(d) }

func TestScheduleChange(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name    string
		changes []change
		want    []Segment
		starts  map[uint64]time.Time
	}{
		{"none", nil,
			[]Segment{{0, at(0), 10 * m}},
			map[uint64]time.Time{0: at(0), 1: at(10 * m), 7: at(70 * m)}},
		{"inside epoch 3: from epoch 5", []change{{at(35 * m), 5 * m}},
			[]Segment{{0, at(0), 10 * m}, {5, at(50 * m), 5 * m}},
			map[uint64]time.Time{4: at(40 * m), 5: at(50 * m), 6: at(55 * m), 10: at(75 * m)}},
		{"at the start of epoch 3: still from epoch 5", []change{{at(30 * m), 20 * m}},
			[]Segment{{0, at(0), 10 * m}, {5, at(50 * m), 20 * m}},
			map[uint64]time.Time{5: at(50 * m), 6: at(70 * m), 8: at(110 * m)}},
		{"before genesis: from epoch 2", []change{{at(-time.Hour), 1 * m}},
			[]Segment{{0, at(0), 10 * m}, {2, at(20 * m), 1 * m}},
			map[uint64]time.Time{1: at(10 * m), 2: at(20 * m), 3: at(21 * m)}},
		{"two changes, the second on the new lengths", []change{{at(35 * m), 5 * m}, {at(61 * m), 30 * m}},
			// 61 min is in epoch 7 (60-65); the second applies from epoch 9 (70 min)
			[]Segment{{0, at(0), 10 * m}, {5, at(50 * m), 5 * m}, {9, at(70 * m), 30 * m}},
			map[uint64]time.Time{8: at(65 * m), 9: at(70 * m), 10: at(100 * m)}},
		{"two changes at one epoch: the later wins", []change{{at(35 * m), 5 * m}, {at(39 * m), 7 * m}},
			[]Segment{{0, at(0), 10 * m}, {5, at(50 * m), 7 * m}},
			map[uint64]time.Time{6: at(57 * m)}},
		{"back to the length in force: one segment", []change{{at(35 * m), 10 * m}},
			[]Segment{{0, at(0), 10 * m}},
			map[uint64]time.Time{9: at(90 * m)}},
		{"a change undone at the same epoch", []change{{at(35 * m), 5 * m}, {at(31 * m), 10 * m}},
			[]Segment{{0, at(0), 10 * m}},
			map[uint64]time.Time{9: at(90 * m)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := changed(t, tt.changes...)
			require.Equal(t, tt.want, s.Segments())
			for e, want := range tt.starts {
				assert.Equal(t, want, s.EpochStart(e), "start of epoch %d", e)
				got, ok := s.EpochAt(want)
				assert.True(t, ok)
				assert.Equal(t, e, got, "epoch at %s", want)
			}
		})
	}
}

// TestScheduleRoundTrip walks every epoch of a schedule with several
// changes: EpochAt(EpochStart(e)) is e, the instant before a start is in
// the epoch before, EpochStart(EpochAt(t)) <= t < EpochStart(EpochAt(t)+1),
// and Length is the distance between starts.
func TestScheduleRoundTrip(t *testing.T) {
	m := time.Minute
	s := changed(t,
		change{at(25 * m), 3 * m},
		change{at(50 * m), 17 * m},
		change{at(140 * m), 10 * time.Second},
		change{at(200 * m), time.Hour},
	)
	require.Len(t, s.Segments(), 5)
	_, ok := s.EpochAt(at(-time.Nanosecond))
	require.False(t, ok, "before genesis")
	for e := uint64(0); e < 120; e++ {
		start := s.EpochStart(e)
		got, ok := s.EpochAt(start)
		require.True(t, ok)
		require.Equal(t, e, got, "epoch at the start of %d", e)
		require.Equal(t, s.EpochStart(e+1).Sub(start), s.Length(e), "length of %d", e)
		require.Positive(t, s.Length(e))
		if e > 0 {
			got, _ = s.EpochAt(start.Add(-time.Nanosecond))
			require.Equal(t, e-1, got, "epoch just before the start of %d", e)
		}
	}
	for d := time.Duration(0); d < 10*time.Hour; d += 7*time.Second + 3*time.Millisecond {
		e, ok := s.EpochAt(at(d))
		require.True(t, ok)
		require.False(t, s.EpochStart(e).After(at(d)), "at %s", d)
		require.True(t, s.EpochStart(e+1).After(at(d)), "at %s", d)
	}
}

func TestScheduleEdges(t *testing.T) {
	_, err := NewSchedule(schedGenesis, 0)
	require.ErrorIs(t, err, ErrConfig)
	s := changed(t)
	_, _, err = s.Change(at(time.Hour), -time.Second)
	require.ErrorIs(t, err, ErrConfig)
	_, _, err = Schedule{}.Change(at(0), time.Second)
	require.ErrorIs(t, err, ErrConfig)
	assert.True(t, Schedule{}.EpochStart(3).IsZero())
	_, ok := Schedule{}.EpochAt(at(0))
	assert.False(t, ok)

	// far epochs saturate, as Config.EpochStart does
	far := s.EpochStart(^uint64(0))
	assert.Equal(t, far, s.EpochStart(^uint64(0)-1), "saturated")
	assert.True(t, far.After(at(100*365*24*time.Hour)))
	_, _, err = s.Change(far, time.Second)
	require.ErrorIs(t, err, ErrConfig, "no boundary after the saturated end")

	// Segments is a copy
	s2 := changed(t, change{at(35 * time.Minute), time.Minute})
	segs := s2.Segments()
	segs[1].Length = time.Hour
	assert.Equal(t, time.Minute, s2.Length(5))
}

// TestConfigEpochs checks that a Config with Epochs answers by it, that
// Validate ties the schedule to Genesis and EpochLength, and
// CheckEpochLength's bounds.
func TestConfigEpochs(t *testing.T) {
	cfg := DefaultConfig()
	s, err := NewSchedule(cfg.Genesis, cfg.EpochLength)
	require.NoError(t, err)
	s, from, err := s.Change(cfg.Genesis.Add(time.Hour), 5*time.Minute)
	require.NoError(t, err)
	require.Equal(t, uint64(8), from)
	cfg.Epochs = s
	require.NoError(t, cfg.Validate())
	assert.Equal(t, cfg.Genesis.Add(85*time.Minute), cfg.EpochStart(9))
	assert.Equal(t, cfg.Genesis.Add(85*time.Minute).Add(-cfg.RevealWindow), cfg.revealAt(8))
	e, ok := cfg.EpochAt(cfg.Genesis.Add(86 * time.Minute))
	assert.True(t, ok)
	assert.Equal(t, uint64(9), e)

	bad := cfg
	bad.Genesis = bad.Genesis.Add(time.Second)
	require.ErrorIs(t, bad.Validate(), ErrConfig)
	bad = cfg
	bad.EpochLength = time.Hour
	require.ErrorIs(t, bad.Validate(), ErrConfig)

	require.NoError(t, cfg.CheckEpochLength(2*time.Minute))
	require.NoError(t, cfg.CheckEpochLength(MaxEpochLength))
	require.ErrorIs(t, cfg.CheckEpochLength(MaxEpochLength+1), ErrConfig)
	// 30 s claim + 30 s reveal + 4*2 s skew
	require.NoError(t, cfg.CheckEpochLength(68*time.Second))
	require.ErrorIs(t, cfg.CheckEpochLength(68*time.Second-1), ErrConfig)
	require.ErrorIs(t, cfg.CheckEpochLength(0), ErrConfig)
}

// TestNodesFollowEpochLengthChanges runs the whole protocol of nine
// candidates and an observer on the discrete-event network (clock offsets
// within MaxClockSkew, candidates announced, not fixed) under a schedule
// whose epochs last 10 s, then 20 s from epoch 3, then 7 s from epoch 7.
// Every node switches at the same epochs: all agree on every directory
// and seed, every epoch has relays, every seed was drawn from its
// predecessor's reveals (the reveal phase moved with the epoch's end),
// and no honest message is refused as early or late. An eleventh node
// that keeps the old 10-second epochs agrees up to the change and parts
// from the network at the first seed the change moves: the schedule is
// what the nodes follow.
func TestNodesFollowEpochLengthChanges(t *testing.T) {
	cfg := nodeConfig()
	cfg.TargetRelays = 5
	s, err := NewSchedule(cfg.Genesis, cfg.EpochLength)
	require.NoError(t, err)
	s, from, err := s.Change(cfg.EpochStart(1).Add(time.Second), 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, uint64(3), from)
	s, from, err = s.Change(s.EpochStart(5).Add(3*time.Second), 7*time.Second)
	require.NoError(t, err)
	require.Equal(t, uint64(7), from)
	for _, l := range []time.Duration{20 * time.Second, 7 * time.Second} {
		require.NoError(t, cfg.CheckEpochLength(l))
	}
	stale := cfg
	cfg.Epochs = s
	require.NoError(t, cfg.Validate())

	const nodes, observer, staleNode = 11, 9, 10
	keys := make([]ed25519.PrivateKey, nodes)
	for i := range keys {
		keys[i] = testKey(i)
	}
	net := newNodeNet(t, cfg, keys, 100*time.Millisecond, 7)
	net.cfgOf = map[int]ServiceConfig{staleNode: stale}
	net.observer[observer], net.observer[staleNode] = true, true
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range net.offset {
		net.offset[i] = time.Duration(rng.Int64N(int64(cfg.MaxClockSkew))) - cfg.MaxClockSkew/2
		net.start(i, cfg.Genesis.Add(-2*time.Second))
	}
	honest := span(0, staleNode)

	const last = 11
	for e := uint64(1); e <= last; e++ {
		now := cfg.ClaimClose(e).Add(time.Second)
		net.run(now)
		for _, i := range honest {
			assert.Equal(t, e, net.node(i).Epoch(), "node %d at the close of epoch %d", i, e)
		}
		requireAgree(t, net, e, honest)
		d, _ := net.node(0).Directory(e)
		assert.Positive(t, d.Len(), "epoch %d has relays", e)
		seed, _ := net.node(0).Seed(e)
		prev, ok := net.node(0).Seed(e - 1)
		require.True(t, ok)
		if e >= 2 {
			assert.NotEqual(t, NextSeed(cfg.Config, e-1, prev, nil), seed, "epoch %d's seed used the reveals of %d", e, e-1)
		}
		if e == 4 {
			// Epoch 4 under the schedule is epoch 5 on the stale
			// node's clock, which still keeps seeds 3 and 4.
			stale3, ok := net.node(staleNode).Seed(3)
			require.True(t, ok)
			stale4, ok := net.node(staleNode).Seed(4)
			require.True(t, ok)
			assert.Equal(t, prev, stale3, "the seed before the change is the same on the old schedule")
			assert.NotEqual(t, seed, stale4, "a node on the old schedule closes epoch 3 before its reveals")
		}
	}
	assert.Equal(t, cfg.Genesis.Add(30*time.Second+4*20*time.Second+4*7*time.Second), cfg.EpochStart(last))
	for _, i := range honest {
		st := net.node(i).Stats()
		assert.Empty(t, st.Rejected, "node %d", i)
		assert.Zero(t, st.Ignored["late"], "node %d", i)
		assert.Zero(t, st.Ignored["early"], "node %d", i)
		assert.Zero(t, st.WrongSeed, "node %d", i)
		assert.Empty(t, net.adopted[i], "node %d", i)
		assert.True(t, net.node(i).Confirmed(), "node %d", i)
	}
}

package queue

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/fog-compute/fog/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleJobs() []Job {
	t0 := time.Unix(1_700_000_000, 123456789)
	return []Job{
		{ID: "a", State: StateQueued},
		{
			ID: "job/with/slashes and spaces", Owner: "12D3KooWPeer", Priority: -7, State: StateDone,
			CrashPolicy: CrashFail, CancelRequested: true, Attempts: 3, MaxAttempts: 5, Seq: 1 << 40,
			Deadline: t0.Add(time.Hour), Payload: []byte("payload"), Result: []byte{0, 1, 2},
			Error: "why", Created: t0, Started: t0.Add(time.Second), Finished: t0.Add(2 * time.Second),
		},
		{ID: "max", Priority: math.MaxInt32, State: StateCancelled, Attempts: math.MaxUint32, MaxAttempts: math.MaxUint32, Seq: math.MaxUint64},
		{ID: "min", Priority: math.MinInt32, State: StateFailed, Created: time.Unix(0, -5)},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, j := range sampleJobs() {
		t.Run(j.ID, func(t *testing.T) {
			b := appendJob(nil, &j)
			require.Len(t, b, recordSize(&j), "recordSize must predict the encoding")
			got, err := decodeJob(b)
			require.NoError(t, err)
			assert.Equal(t, j.ID, got.ID)
			assert.Equal(t, appendJob(nil, &got), b, "re-encoding the decoded job")
			for _, p := range [][2]time.Time{{j.Deadline, got.Deadline}, {j.Created, got.Created}, {j.Started, got.Started}, {j.Finished, got.Finished}} {
				assert.True(t, p[0].Equal(p[1]), "%v != %v", p[0], p[1])
			}
		})
	}
}

func TestRecordRejects(t *testing.T) {
	good := appendJob(nil, &sampleJobs()[1])
	cases := map[string][]byte{
		"empty":          nil,
		"short":          good[:3],
		"version":        append([]byte{9}, good[1:]...),
		"state 0":        slices.Concat(good[:1], []byte{0}, good[2:]),
		"state 6":        slices.Concat(good[:1], []byte{6}, good[2:]),
		"policy":         slices.Concat(good[:2], []byte{2}, good[3:]),
		"flags":          slices.Concat(good[:3], []byte{2}, good[4:]),
		"truncated":      good[:len(good)-1],
		"trailing":       append(slices.Clone(good), 0),
		"huge length":    append(appendJob(nil, &Job{ID: "x", State: StateQueued})[:len(appendJob(nil, &Job{ID: "x", State: StateQueued}))-5], 0xff, 0xff, 0xff, 0xff, 0x0f),
		"priority range": slices.Concat(good[:4], []byte{0x80, 0x80, 0x80, 0x80, 0x20}, good[5:]),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeJob(b)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

func TestOrderSortsAsServed(t *testing.T) {
	type ps struct {
		prio int32
		seq  uint64
	}
	in := []ps{{0, 5}, {0, 1}, {math.MaxInt32, 9}, {-1, 0}, {math.MinInt32, 0}, {7, 3}, {7, 2}, {1, math.MaxUint64}}
	keys := make([][orderLen]byte, len(in))
	for i, p := range in {
		keys[i] = order(p.prio, p.seq)
		s := string(hexAppendForTest(keys[i][:]))
		prio, seq, err := parseOrder(s)
		require.NoError(t, err)
		assert.Equal(t, p, ps{prio, seq})
	}
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(keys[a][:], keys[b][:]) })
	var got []ps
	for _, i := range idx {
		got = append(got, in[i])
	}
	assert.Equal(t, []ps{{math.MaxInt32, 9}, {7, 2}, {7, 3}, {1, math.MaxUint64}, {0, 1}, {0, 5}, {-1, 0}, {math.MinInt32, 0}}, got)
}

func hexAppendForTest(b []byte) []byte {
	const digits = "0123456789abcdef"
	var out []byte
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

func TestLiveRoundTrip(t *testing.T) {
	for _, l := range []live{
		{state: StateQueued, id: "x"},
		{state: StateRunning, cancel: true, attempts: 4, started: 1 << 60, deadline: -3, id: "a/b"},
	} {
		got, err := decodeLive(l.encode())
		require.NoError(t, err)
		assert.Equal(t, l, got)
	}
	for _, b := range [][]byte{nil, {1}, {3, 0, 0, 0, 0, 'x'}, {1, 4, 0, 0, 0, 'x'}, {1, 0, 0, 0, 0}, {1, 0, 0x80}} {
		_, err := decodeLive(b)
		assert.ErrorIs(t, err, ErrCorrupt, "%x", b)
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the decoders of stored values:
// they must never panic, and a record they accept must survive being
// written back and read again unchanged.
func FuzzDecodeRecord(f *testing.F) {
	for _, j := range sampleJobs() {
		f.Add(appendJob(nil, &j))
	}
	f.Add((&live{state: StateRunning, cancel: true, attempts: 2, started: 5, id: "id"}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if j, err := decodeJob(b); err == nil {
			enc := appendJob(nil, &j)
			if recordSize(&j) != len(enc) {
				t.Fatal("recordSize disagrees with appendJob")
			}
			j2, err := decodeJob(enc)
			if err != nil || !bytes.Equal(appendJob(nil, &j2), enc) {
				t.Fatalf("record %x does not survive a round trip: %v", b, err)
			}
		}
		if l, err := decodeLive(b); err == nil {
			l2, err := decodeLive(l.encode())
			if err != nil || l2 != l {
				t.Fatalf("live value %x does not survive a round trip: %v", b, err)
			}
		}
	})
}

func TestKeysMatchStore(t *testing.T) {
	q := &Queue{cfg: Config{Namespace: "ns-1"}}
	q.livePrefix = kindPrefix("ns-1.live")
	for _, id := range []string{"a", "x/y", "..", "", "100%"} {
		assert.Equal(t, store.PrefixCompute.Key("ns-1.job", id).String(), string(q.jobKey(id)))
	}
	o := order(-5, 77)
	assert.Equal(t, store.PrefixCompute.Key("ns-1.live", string(hexAppendForTest(o[:]))).String(), string(q.liveKey(-5, 77)))
}

// TestStaleLiveEntries: live index entries whose record is missing (which
// atomic commits should never leave) are dropped, not fatal.
func TestStaleLiveEntries(t *testing.T) {
	scfg := store.InMemoryConfig()
	scfg.Logger = nil
	db, err := store.Open(scfg)
	require.NoError(t, err)
	defer db.Close()
	ctx := t.Context()
	q, err := Open(ctx, db, TestConfig())
	require.NoError(t, err)
	_, err = q.Enqueue(ctx, Job{ID: "good", Priority: -1})
	require.NoError(t, err)
	for i, st := range []State{StateQueued, StateRunning} {
		l := live{state: st, id: fmt.Sprint("ghost", i)}
		require.NoError(t, q.com.commit([]op{{key: q.liveKey(5, uint64(100+i)), value: l.encode()}}))
	}
	require.NoError(t, q.Close())

	q, err = Open(ctx, db, TestConfig())
	require.NoError(t, err, "a running ghost is dropped at Open")
	defer q.Close()
	assert.Equal(t, 2, q.Counts().Queued, "the queued ghost is found when served")
	j, err := q.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, "good", j.ID)
	assert.Equal(t, Counts{Running: 1}, q.Counts())
}

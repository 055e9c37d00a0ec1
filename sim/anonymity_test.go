package sim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlowCorrelation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := Trace{Nodes: 4, End: 120}
	for range 600 {
		at := rng.Float64() * 119
		// 0 → 1 directly, 0.5 s on the way: perfectly correlated.
		tr.Events = append(tr.Events, LinkEvent{From: 0, To: 1, Sent: at, Arrived: at + 0.5})
		// 2 sends as much, and 3 receives as much at unrelated times.
		tr.Events = append(tr.Events,
			LinkEvent{From: 2, To: 0, Sent: rng.Float64() * 119, Arrived: math.NaN()},
			LinkEvent{From: 0, To: 3, Sent: math.NaN(), Arrived: rng.Float64() * 119})
	}
	c := tr.FlowCorrelations([][2]int{{0, 1}, {2, 3}}, 0.1, 3)
	assert.Greater(t, c[0], 0.99, "the same frames, 5 windows later")
	assert.Less(t, c[1], 0.15, "independent streams: the best of 31 lags of noise")
	assert.Greater(t, c[1], -0.1)
}

func TestCommonMode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	indep := Trace{Nodes: 10, End: 120}
	together := Trace{Nodes: 10, End: 120}
	for i := range 10 {
		for range 240 {
			indep.Events = append(indep.Events, LinkEvent{From: i, To: (i + 1) % 10, Sent: rng.Float64() * 120, Arrived: math.NaN()})
			// Every node sends only in the first half of each second: the
			// whole network stalls and bursts at once.
			at := float64(rng.IntN(120)) + rng.Float64()*0.5
			together.Events = append(together.Events, LinkEvent{From: i, To: (i + 1) % 10, Sent: at, Arrived: math.NaN()})
		}
	}
	assert.InDelta(t, 0, indep.CommonMode(0.1), 0.05, "independent senders")
	assert.Greater(t, together.CommonMode(0.1), 0.2, "a network that stalls as one")
	assert.Zero(t, Trace{}.CommonMode(0.1))
}

// chain makes a trace of senders 3.. sending one frame each through relays
// 0, 1, 2 (layers 0, 1, 2) to recipient 19, each relay holding a frame for
// an exponential delay of the given mean; links take 10 ms. It returns the
// trace, the senders and the arrival times at the recipient.
func chain(rng *rand.Rand, n int, gap, mean float64) (Trace, []int, []float64) {
	tr := Trace{Nodes: 20}
	var senders []int
	var at []float64
	t := 1.0
	for range n {
		t += rng.ExpFloat64() * gap
		s := 3 + rng.IntN(16)
		x, sent := s, t
		for _, r := range []int{0, 1, 2, 19} {
			tr.Events = append(tr.Events, LinkEvent{From: x, To: r, Sent: sent, Arrived: sent + 0.01})
			x, sent = r, sent+0.01+rng.ExpFloat64()*mean
		}
		senders = append(senders, s)
		at = append(at, tr.Events[len(tr.Events)-1].Arrived)
	}
	tr.End = t + 10
	return tr, senders, at
}

func TestLinker(t *testing.T) {
	layer := func(i int, _ float64) uint8 {
		if i < 3 {
			return 1 << i
		}
		return 0
	}
	lat := func(int, int) float64 { return 0.01 }
	for _, tc := range []struct {
		name      string
		gap, mean float64
		minHit    float64
		maxHit    float64
		minH      float64
	}{
		{"no mixing, sparse", 1, 0, 1, 1, 0},
		{"mixing, dense", 0.01, 0.05, 0, 0.3, 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			tr, senders, at := chain(rng, 400, tc.gap, tc.mean)
			l := NewLinker(Linker{Hops: 3, MeanDelay: tc.mean + 0.001, Latency: lat, Layer: layer}, tr)
			var hits, h float64
			for i, s := range senders {
				p := l.Senders(19, at[i])
				require.NotNil(t, p)
				var sum float64
				for _, v := range p {
					sum += v
				}
				assert.InDelta(t, 1, sum, 1e-9)
				hits += Hit(p, s)
				h += Entropy(p)
			}
			hits /= float64(len(senders))
			h /= float64(len(senders))
			t.Logf("linking accuracy %.3f, entropy %.2f bits (of log2 16 = 4)", hits, h)
			assert.GreaterOrEqual(t, hits, tc.minHit)
			assert.LessOrEqual(t, hits, tc.maxHit)
			assert.GreaterOrEqual(t, h, tc.minH)
		})
	}
}

func TestEntropyAndHit(t *testing.T) {
	assert.InDelta(t, 2, Entropy(map[int]float64{1: .25, 2: .25, 3: .25, 4: .25}), 1e-12)
	assert.Zero(t, Entropy(map[int]float64{7: 1}))
	assert.Equal(t, 1.0, Hit(map[int]float64{1: .6, 2: .4}, 1))
	assert.Equal(t, 0.0, Hit(map[int]float64{1: .6, 2: .4}, 2))
	assert.Equal(t, 0.5, Hit(map[int]float64{1: .5, 2: .5}, 2))
	assert.Equal(t, 0.0, Hit(map[int]float64{1: .5, 2: .5}, 3))
}

func TestPerfectMixBound(t *testing.T) {
	base := PerfectMix{Nodes: 100, Rate: 2, MeanDelay: 0.05, Hops: 3}
	link, h := base.Bound(2000, 1)
	t.Logf("100 nodes, 2 packets/s, 3 hops of 50 ms: linking %.3f, entropy %.2f bits", link, h)
	assert.Greater(t, h, 0.0)
	assert.Less(t, h, math.Log2(100))
	assert.Greater(t, link, 0.01, "better than a guess at random")

	// Delays far shorter than the gaps between packets: every message
	// is linked.
	short := base
	short.MeanDelay = 1e-6
	l, e := short.Bound(500, 1)
	assert.Greater(t, l, 0.99)
	assert.Less(t, e, 0.05)

	// More delay, or more packets, hide a sender better.
	for _, more := range []PerfectMix{
		{Nodes: 100, Rate: 2, MeanDelay: 0.2, Hops: 3},
		{Nodes: 100, Rate: 8, MeanDelay: 0.05, Hops: 3},
	} {
		l, e := more.Bound(2000, 1)
		assert.Less(t, l, link, "%+v", more)
		assert.Greater(t, e, h, "%+v", more)
	}
	l, e = PerfectMix{Nodes: 1, Rate: 2, MeanDelay: 0.05, Hops: 3}.Bound(10, 1)
	assert.True(t, math.IsNaN(l) && math.IsNaN(e), "one node: no bound")
	l, e = PerfectMix{Nodes: 10, Rate: 1e-9, MeanDelay: 0.05, Hops: 3}.Bound(10, 1)
	assert.True(t, math.IsNaN(l) && math.IsNaN(e), "no packets: no bound")
	l, _ = PerfectMix{Nodes: 10, Rate: 2, MeanDelay: 2, Hops: 3}.Bound(50, 1)
	assert.False(t, math.IsNaN(l), "delays beyond the default horizon: a longer one")
}

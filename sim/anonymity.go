package sim

import (
	"math"
	"math/rand/v2"
	"sort"
)

// This file holds the global passive observer of fog sim mix: what it sees
// is a trace of frames on links (who sent one to whom, when, and when it
// arrived), never a frame's contents, which are all the same size. Its
// figures are defined in docs/mix.md ("Anonymity, measured"); the
// functions here are pure, so a test checks them on traces whose answer is
// known.

// LinkEvent is one frame on a link: From handed it to its link to To at
// Sent, and it arrived at To at Arrived (seconds from the trace's start).
// Arrived is NaN if the observer did not see it arrive; Sent is NaN if the
// trace holds only its seenFrame.
type LinkEvent struct {
	From, To      int
	Sent, Arrived float64
}

// Trace is what the observer saw: every frame on every link between
// Start (0) and End, in seconds.
type Trace struct {
	Nodes  int
	End    float64
	Events []LinkEvent
}

// counts returns, per node, the frames it sent (out) and received (in) in
// each window of the given width.
func (t Trace) counts(window float64) (out, in [][]float64) {
	w := int(math.Ceil(t.End / window))
	out, in = make([][]float64, t.Nodes), make([][]float64, t.Nodes)
	for i := range t.Nodes {
		out[i], in[i] = make([]float64, w), make([]float64, w)
	}
	put := func(series []float64, at float64) {
		if k := int(at / window); at >= 0 && k < len(series) {
			series[k]++
		}
	}
	for _, e := range t.Events {
		if !math.IsNaN(e.Sent) {
			put(out[e.From], e.Sent)
		}
		if !math.IsNaN(e.Arrived) {
			put(in[e.To], e.Arrived)
		}
	}
	return out, in
}

// FlowCorrelations returns, for each pair (s, r), the Pearson correlation
// between s's outgoing frame counts and r's incoming frame counts in
// windows of the given width, r's series lagged behind s's by 0 to maxLag
// (in whole windows), at the lag where it is highest.
func (t Trace) FlowCorrelations(pairs [][2]int, window, maxLag float64) []float64 {
	out, in := t.counts(window)
	lags := int(maxLag / window)
	cs := make([]float64, len(pairs))
	for i, p := range pairs {
		best := math.Inf(-1)
		for k := 0; k <= lags; k++ {
			x, y := out[p[0]], in[p[1]]
			if k >= len(x)-1 {
				break
			}
			best = max(best, pearson(x[:len(x)-k], y[k:]))
		}
		if math.IsInf(best, -1) {
			best = 0
		}
		cs[i] = best
	}
	return cs
}

// CommonMode returns how much every node's traffic rises and falls
// together: the mean, over the nodes that sent frames, of the Pearson
// correlation (lag 0) between a node's outgoing frame counts and the other
// nodes' together, in windows of the given width. Independent Poisson
// senders give about 0; a network that stalls and bursts as one (the
// simulator's nodes share a process) gives more, and that raises every
// flow correlation, those of pairs that do not talk too.
func (t Trace) CommonMode(window float64) float64 {
	out, _ := t.counts(window)
	if len(out) == 0 {
		return 0
	}
	total := make([]float64, len(out[0]))
	for _, o := range out {
		for k, c := range o {
			total[k] += c
		}
	}
	var sum float64
	var n int
	rest := make([]float64, len(total))
	for _, o := range out {
		var sent float64
		for k, c := range o {
			rest[k] = total[k] - c
			sent += c
		}
		if sent == 0 {
			continue
		}
		sum += pearson(o, rest)
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// pearson returns the correlation of x and y (of one length); 0 if either
// is constant.
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
	}
	mx, my := sx/n, sy/n
	var cov, vx, vy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		cov += dx * dy
		vx += dx * dx
		vy += dy * dy
	}
	if vx == 0 || vy == 0 {
		return 0
	}
	return cov / math.Sqrt(vx*vy)
}

// Linker is the observer's attack on one delivered message: told which
// node received a message and when (the recipient's reaction to it is
// visible, say), it traces the frame that carried it back through the
// relays to a distribution over possible senders, from timing alone.
//
// It starts from the last frame that arrived at the recipient no later
// than the delivery. At each of Hops relays it spreads the frame's weight
// over the frames that arrived at the relay before the relay sent it on, in
// proportion to the density of the hold time under the mix's delay
// distribution (exponential, of mean MeanDelay plus the relays' handling
// time); a relay sends a frame on the link latency before it arrives. Where
// Layer says which relays serve which layer at that time, a frame that
// reaches a relay of layer l is taken to come from a relay of layer l−1,
// unless no frame does (a route drawn around an empty layer). After Hops
// relays the weight sits on the nodes that sent those first frames: the
// distribution over senders.
type Linker struct {
	// Hops is the number of relays on a route (mixnet.Config.Layers).
	Hops int
	// MeanDelay is the mean hold of a relay, seconds: the mix's mean delay
	// plus the relay's handling time, which is all there is without delays.
	MeanDelay float64
	// Latency is the one-way latency of the link from i to j, seconds
	// (the observer sees both ends of every link).
	Latency func(i, j int) float64
	// Layer, if set, returns a bit mask of the layers node i serves in the
	// directories in use at time at (bit l: layer l); 0 for a node that
	// relays in none.
	Layer func(i int, at float64) uint8

	in [][]seenFrame // frames that arrived at each node, by time
}

type seenFrame struct {
	from int
	at   float64
}

// NewLinker indexes a trace's arrivals for the linker l.
func NewLinker(l Linker, t Trace) *Linker {
	l.in = make([][]seenFrame, t.Nodes)
	for _, e := range t.Events {
		if !math.IsNaN(e.Arrived) {
			l.in[e.To] = append(l.in[e.To], seenFrame{from: e.From, at: e.Arrived})
		}
	}
	for _, a := range l.in {
		sort.Slice(a, func(i, j int) bool { return a[i].at < a[j].at })
	}
	return &l
}

// handling is the slack allowed for a frame's seenFrame being noted after
// the relay already sent it on (two goroutines noting times), seconds.
const handling = 0.0005

// window returns the range [i, j) of the frames that arrived at node x
// in [from, to].
func (l *Linker) window(x int, from, to float64) (int, int) {
	a := l.in[x]
	i := sort.Search(len(a), func(i int) bool { return a[i].at >= from })
	j := sort.Search(len(a), func(i int) bool { return a[i].at > to })
	return i, j
}

// Senders returns the observer's distribution over the senders of a
// message that node r received at time at (seconds), without r itself;
// nil if the trace holds no frame to start from.
func (l *Linker) Senders(r int, at float64) map[int]float64 {
	type state = linkState
	i, j := l.window(r, at-1, at+handling)
	if i == j {
		return nil
	}
	f := l.in[r][j-1]
	states := []state{{x: f.from, sent: f.at - l.Latency(f.from, r), w: 1}}
	mean := max(l.MeanDelay, 1e-4)
	span := 12*mean + 0.02
	for hop := 1; hop <= l.Hops; hop++ {
		// The frames that arrived at a relay, each once however many
		// of the relay's outputs it may have become.
		type frame struct{ to, i int }
		var next []state
		index := map[frame]int{}
		for _, s := range states {
			lo, hi := l.window(s.x, s.sent-span, s.sent+handling)
			if lo == hi {
				continue
			}
			cands := l.in[s.x][lo:hi]
			want := -1 // the layer the previous relay serves, if known
			if l.Layer != nil && hop < l.Hops {
				if m := l.Layer(s.x, s.sent); m != 0 {
					for b := 1; b < 8; b++ {
						if m&(1<<b) != 0 {
							want = b - 1
							break
						}
					}
				}
			}
			ws := make([]float64, len(cands))
			var sum float64
			for pass := 0; pass < 2 && sum == 0; pass++ {
				for i, c := range cands {
					if pass == 0 && want >= 0 && l.Layer(c.from, c.at)&(1<<want) == 0 {
						ws[i] = 0
						continue
					}
					h := max(s.sent-c.at, 0)
					ws[i] = math.Exp(-h/mean) / mean
					sum += ws[i]
				}
			}
			if sum == 0 {
				continue
			}
			for i, c := range cands {
				if ws[i] == 0 {
					continue
				}
				k := frame{s.x, lo + i}
				if at, ok := index[k]; ok {
					next[at].w += s.w * ws[i] / sum
					continue
				}
				index[k] = len(next)
				next = append(next, state{x: c.from, sent: c.at - l.Latency(c.from, s.x), w: s.w * ws[i] / sum})
			}
		}
		states = prune(next)
	}
	p := map[int]float64{}
	var total float64
	for _, s := range states {
		if s.x != r {
			p[s.x] += s.w
			total += s.w
		}
	}
	if total == 0 {
		return nil
	}
	for k := range p {
		p[k] /= total
	}
	return p
}

// linkState is a frame the linker traces: the node that sent it on, when,
// and the probability that it carried the message.
type linkState struct {
	x    int
	sent float64
	w    float64
}

// maxStates bounds the frames the linker traces at once: the tree of
// candidates grows by a relay's inputs per hop.
const maxStates = 20000

// prune keeps the heaviest maxStates states.
func prune(s []linkState) []linkState {
	if len(s) <= maxStates {
		return s
	}
	sort.Slice(s, func(i, j int) bool { return s[i].w > s[j].w })
	return s[:maxStates]
}

// Entropy returns the Shannon entropy of p in bits.
func Entropy(p map[int]float64) float64 {
	var h float64
	for _, v := range p {
		if v > 0 {
			h -= v * math.Log2(v)
		}
	}
	return h
}

// Hit returns how much a guess of the most likely sender counts as right:
// 1 if truth alone has the highest probability, 1/k if it shares it with
// k−1 others (a guess among them at random), 0 otherwise.
func Hit(p map[int]float64, truth int) float64 {
	best, ties := -1.0, 0
	for _, v := range p {
		switch {
		case v > best+1e-12:
			best, ties = v, 1
		case math.Abs(v-best) <= 1e-12:
			ties++
		}
	}
	if math.Abs(p[truth]-best) <= 1e-12 && ties > 0 {
		return 1 / float64(ties)
	}
	return 0
}

// PerfectMix describes the observer's best case against an ideal mix
// network: Nodes nodes each sending Poisson streams totalling Rate packets
// per second into it, every packet held by Hops relays for independent
// exponential delays of mean MeanDelay (seconds) in one pool shared by all
// (so that routes tell nothing), and an observer who sees when each packet
// enters and when a message reaches its recipient. Its distribution over a
// message's senders weighs each packet by the density of the sum of the
// delays (a gamma density) at the time between its entry and the
// delivery. Any real network with these rates and delays tells the
// observer at least as much (the relays a packet took, the links'
// latencies), so its linking accuracy and sender entropy bound what the
// mix network can reach at those rates.
type PerfectMix struct {
	Nodes     int
	Rate      float64
	MeanDelay float64
	Hops      int
}

// Bound draws messages (each riding a random packet of the streams over
// at least 200 s) and returns the observer's mean linking accuracy and
// sender entropy in bits (Hit and Entropy, as the linker's), from the
// seed; NaN for a network without a bound (fewer than two nodes, no
// packets, no delay).
func (m PerfectMix) Bound(messages int, seed uint64) (linking, entropy float64) {
	if m.Nodes < 2 || m.Rate <= 0 || m.MeanDelay <= 0 || m.Hops < 1 || messages < 1 {
		return math.NaN(), math.NaN()
	}
	span := 40 * m.MeanDelay * float64(m.Hops)
	horizon := max(200.0, 4*span)
	r := rand.New(rand.NewPCG(seed, 0x6d6978))
	type packet struct {
		at   float64
		node int
	}
	var ps []packet
	for i := range m.Nodes {
		for t := r.ExpFloat64() / m.Rate; t < horizon; t += r.ExpFloat64() / m.Rate {
			ps = append(ps, packet{t, i})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].at < ps[j].at })
	var n int
	for tries := 0; n < messages && tries < 100*messages && len(ps) > 0; tries++ {
		k := r.IntN(len(ps))
		p := ps[k]
		if p.at < span || p.at > horizon-span {
			continue
		}
		t := p.at
		for range m.Hops {
			t += r.ExpFloat64() * m.MeanDelay
		}
		lo := sort.Search(len(ps), func(i int) bool { return ps[i].at >= t-span })
		w := map[int]float64{}
		var sum float64
		for _, q := range ps[lo:] {
			x := t - q.at
			if x <= 0 {
				break
			}
			// The gamma density of x, but for factors common to all.
			f := math.Pow(x, float64(m.Hops-1)) * math.Exp(-x/m.MeanDelay)
			w[q.node] += f
			sum += f
		}
		if sum == 0 {
			continue
		}
		for i := range w {
			w[i] /= sum
		}
		linking += Hit(w, p.node)
		entropy += Entropy(w)
		n++
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return linking / float64(n), entropy / float64(n)
}

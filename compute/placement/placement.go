package placement

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
)

// Candidate is a provider a task may be placed on, as the submitting node
// sees it: from its capacity directory (or, for itself, from its own
// queue), plus what it knows of its own attempts there.
type Candidate struct {
	// Peer is the provider; Self says it is this node.
	Peer peer.ID
	Self bool
	// Cores is the number of cores it offers.
	Cores uint32
	// Queued and Running are its tasks as last advertised (live for this
	// node).
	Queued, Running uint32
	// InFlight counts this node's attempts there that have not ended: the
	// load it put on the provider since its last advert, at least.
	InFlight uint32
	// Price is its price per CPU-second, in micro-credits.
	Price uint64
	// Latency is its measured round trip; 0 means unmeasured, except for
	// this node itself.
	Latency time.Duration
}

// Load is the candidate's load in thousandths of a task per core: the
// larger of its advertised tasks and this node's attempts in flight,
// over its cores.
func (c *Candidate) Load() uint64 {
	tasks := max(uint64(c.Queued)+uint64(c.Running), uint64(c.InFlight))
	return tasks * 1000 / uint64(max(c.Cores, 1))
}

// latencyRank orders latencies: this node first, measured peers by their
// round trip, unmeasured peers last.
func (c *Candidate) latencyRank() int64 {
	switch {
	case c.Self:
		return 0
	case c.Latency <= 0:
		return math.MaxInt64
	}
	return int64(c.Latency)
}

// Strategy names how the submitting node chooses providers among the
// candidates of its capacity directory (see Pick).
type Strategy string

// The placement strategies.
const (
	// RoundRobin takes the candidates in turn, by peer ID, from where the
	// previous choice of this node left off.
	RoundRobin Strategy = "round-robin"
	// LeastLoaded takes the candidate with the fewest tasks queued and
	// running per core.
	LeastLoaded Strategy = "least-loaded"
	// LowestPrice takes the cheapest candidate per CPU-second.
	LowestPrice Strategy = "lowest-price"
	// LowestLatency takes the candidate with the smallest measured round
	// trip (this node itself first; unmeasured peers last).
	LowestLatency Strategy = "lowest-latency"
	// PowerOfTwo draws two candidates at random and takes the less loaded:
	// nearly the balance of LeastLoaded without every submitter piling onto
	// the same provider between two adverts.
	PowerOfTwo Strategy = "power-of-two"
)

// strategies lists every strategy.
var strategies = [...]Strategy{RoundRobin, LeastLoaded, LowestPrice, LowestLatency, PowerOfTwo}

// Strategies returns every strategy.
func Strategies() []Strategy { return slices.Clone(strategies[:]) }

// Known reports whether s is one of the strategies.
func (s Strategy) Known() bool { return slices.Contains(strategies[:], s) }

// CandidateOf converts a directory entry.
func CandidateOf(e gossip.Entry, self peer.ID) Candidate {
	a := &e.Advert
	return Candidate{
		Peer: a.Peer, Self: a.Peer == self, Cores: a.Cores, Queued: a.Queue, Running: a.Running,
		Price: a.Price, Latency: e.Latency,
	}
}

// PickState is the state placement carries from one choice to the next:
// the round-robin cursor and the random source of power-of-two. A
// submitting node keeps one; the zero value (with Rand set) is ready.
type PickState struct {
	// Cursor is the last peer round-robin chose: the next choice is the
	// first candidate after it in peer ID order, wrapping around. Keeping a
	// peer rather than an index stays fair while candidates come and go.
	Cursor peer.ID
	// Rand draws power-of-two's pairs.
	Rand *rand.Rand
}

// Pick returns the index in cands of the candidate strategy s chooses, or
// -1 if cands is empty. It is a pure function of its arguments (and of
// st.Rand's sequence): cands must be in a deterministic order (the
// service sorts them by peer ID) for a run to be reproducible. Ties are
// broken by price, load, latency and finally peer ID, so equal inputs
// give equal choices. RoundRobin advances st.Cursor; PowerOfTwo draws
// from st.Rand; an unknown strategy picks as LeastLoaded.
func Pick(s Strategy, cands []Candidate, st *PickState) int {
	if len(cands) == 0 {
		return -1
	}
	switch s {
	case RoundRobin:
		best := -1
		first := 0
		for i := range cands {
			if cands[i].Peer < cands[first].Peer {
				first = i
			}
			if cands[i].Peer > st.Cursor && (best < 0 || cands[i].Peer < cands[best].Peer) {
				best = i
			}
		}
		if best < 0 {
			best = first
		}
		st.Cursor = cands[best].Peer
		return best
	case LowestPrice:
		return argmin(cands, byPrice)
	case LowestLatency:
		return argmin(cands, byLatency)
	case PowerOfTwo:
		if len(cands) == 1 {
			return 0
		}
		i := st.Rand.IntN(len(cands))
		j := st.Rand.IntN(len(cands) - 1)
		if j >= i {
			j++
		}
		if byLoad(&cands[j], &cands[i]) < 0 {
			return j
		}
		return i
	default:
		return argmin(cands, byLoad)
	}
}

func argmin(cands []Candidate, less func(a, b *Candidate) int) int {
	best := 0
	for i := 1; i < len(cands); i++ {
		if less(&cands[i], &cands[best]) < 0 {
			best = i
		}
	}
	return best
}

func byLoad(a, b *Candidate) int {
	return cmp.Or(cmp.Compare(a.Load(), b.Load()), cmp.Compare(a.Price, b.Price),
		cmp.Compare(a.latencyRank(), b.latencyRank()), cmp.Compare(a.Peer, b.Peer))
}

func byPrice(a, b *Candidate) int {
	return cmp.Or(cmp.Compare(a.Price, b.Price), cmp.Compare(a.Load(), b.Load()),
		cmp.Compare(a.latencyRank(), b.latencyRank()), cmp.Compare(a.Peer, b.Peer))
}

func byLatency(a, b *Candidate) int {
	return cmp.Or(cmp.Compare(a.latencyRank(), b.latencyRank()), cmp.Compare(a.Load(), b.Load()),
		cmp.Compare(a.Price, b.Price), cmp.Compare(a.Peer, b.Peer))
}

// SortCandidates puts candidates in peer ID order, the deterministic
// order Pick expects.
func SortCandidates(c []Candidate) {
	slices.SortFunc(c, func(a, b Candidate) int { return cmp.Compare(a.Peer, b.Peer) })
}

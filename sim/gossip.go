package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
)

// GossipScenario boots a network in which every node advertises its
// capacity and measures how adverts spread, whether directories converge,
// and — with attackers flooding invalid, oversized and replayed messages —
// whether honest adverts still arrive and how fast attackers are graylisted.
type GossipScenario struct {
	// Network is the simulated network of honest nodes.
	Network Config
	// Attackers is how many hostile hosts join after boot.
	Attackers int
	// AttackTargets is how many honest nodes each attacker connects to.
	AttackTargets int
	// AttackRate is the messages per second each attacker sends each target.
	AttackRate float64
	// Interval is the advert interval of every node.
	Interval time.Duration
	// Rounds is how many advert intervals are measured.
	Rounds int
	// BootTimeout bounds the boot.
	BootTimeout time.Duration
}

// DefaultGossipScenario returns a scenario of n honest nodes advertising
// every GossipInterval(n), measured over 4 intervals.
func DefaultGossipScenario(n int) GossipScenario {
	return GossipScenario{
		Network:       DefaultConfig(n),
		AttackTargets: 8,
		AttackRate:    20,
		Interval:      GossipInterval(n),
		Rounds:        4,
		BootTimeout:   10 * time.Minute,
	}
}

// GossipInterval returns the advert interval at which n nodes publish 10
// adverts per second between them, and at least 5 s: 100 ms × n. Every
// simulated node verifies every advert on the machine's shared cores, so
// the simulator's cost grows with n² / interval (about 0.3 ms of CPU per
// advert per node, pubsub's bookkeeping included); at 10 adverts per
// second, 200 nodes need about 0.7 of a core. A real node pays n /
// interval verifications per second on its own CPU (7 per second for
// 200 nodes at the default 30 s).
func GossipInterval(n int) time.Duration {
	return max(5*time.Second, time.Duration(n)*100*time.Millisecond)
}

// Spread is the distribution, over the measured adverts, of the time an
// advert took to reach a share of the other honest nodes.
type Spread struct {
	// Share is the share of nodes reached (0.5, 0.95, 0.99, 1).
	Share float64 `json:"share"`
	// P50Ms and P99Ms are the median and 99th percentile over adverts, in
	// ms from the advert's issue time; Reached counts the adverts that got
	// there at all.
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	Reached int     `json:"reached"`
}

// GossipResult is what a GossipScenario measured.
type GossipResult struct {
	Nodes     int    `json:"nodes"`
	Attackers int    `json:"attackers"`
	Seed      uint64 `json:"seed"`
	// Adverts is the number of honest adverts measured.
	Adverts int `json:"adverts"`
	// Spread per share of nodes reached.
	Spread []Spread `json:"spread"`
	// CoverageP99Ms is the 99th percentile over adverts of the time to
	// reach 99 % of the other honest nodes.
	CoverageP99Ms float64 `json:"coverage_p99_ms"`
	// CoverageFraction is the mean share of the other honest nodes each
	// measured advert reached.
	CoverageFraction float64 `json:"coverage_fraction"`
	// DuplicatesPerMessage is duplicate copies received per message
	// delivered, over all honest nodes.
	DuplicatesPerMessage float64 `json:"duplicates_per_message"`
	// DirectoriesConverged says every honest directory held every honest
	// node within one advert interval of the start of measurement, and
	// ConvergenceMs when that happened.
	DirectoriesConverged bool    `json:"directories_converged"`
	ConvergenceMs        float64 `json:"convergence_ms"`
	// HonestDeliveryRate is delivered (advert, honest receiver) pairs over
	// all such pairs.
	HonestDeliveryRate float64 `json:"honest_delivery_rate"`
	// Graylisting: time from the attack's start until every honest
	// neighbour of an attacker graylisted it (over attackers), and how many
	// attackers were graylisted by all their neighbours.
	GraylistP50Seconds float64 `json:"graylist_p50_s,omitempty"`
	GraylistMaxSeconds float64 `json:"graylist_max_s,omitempty"`
	Graylisted         int     `json:"attackers_graylisted,omitempty"`
	// HonestGraylisted counts honest nodes graylisted by an honest peer.
	HonestGraylisted int `json:"honest_graylisted"`
	// Dropped counts, over honest nodes during the measurement, messages
	// refused by pubsub's reason ("validation ignored", "validation queue
	// full", ...) and deliveries lost to a slow subscriber
	// ("undeliverable").
	Dropped map[string]uint64 `json:"dropped,omitempty"`
	// AttackMessages is what the attackers sent.
	AttackMessages uint64  `json:"attack_messages,omitempty"`
	BootSeconds    float64 `json:"boot_seconds"`
	RunSeconds     float64 `json:"run_seconds"`
}

type advertKey struct {
	author peer.ID
	seq    uint64
}

// recorder remembers when each advert first reached each node.
type recorder struct {
	mu      sync.Mutex
	issued  map[advertKey]time.Time
	arrived map[advertKey]map[int]time.Time
}

func (r *recorder) record(i int, rc gossip.Received[gossip.Advert]) {
	k := advertKey{rc.Msg.Peer, rc.Msg.Seq}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.issued[k]; !ok {
		r.issued[k] = rc.Msg.Issued
		r.arrived[k] = map[int]time.Time{}
	}
	if _, ok := r.arrived[k][i]; !ok {
		r.arrived[k][i] = rc.At
	}
}

// Run runs the scenario.
func (s GossipScenario) Run(ctx context.Context, progress Progress) (GossipResult, error) {
	clk := s.Network.Clock
	if clk == nil {
		return GossipResult{}, fmt.Errorf("%w: Network.Clock is nil", ErrConfig)
	}
	progress = orNoProgress(progress)
	begin := clk.Now()
	if s.Rounds < 1 || s.Interval <= 0 {
		return GossipResult{}, errors.New("sim: rounds and interval must be positive")
	}
	if s.Attackers < 0 || s.AttackTargets < 1 || s.AttackRate <= 0 {
		return GossipResult{}, errors.New("sim: attackers, targets and rate must be positive")
	}
	cfg := s.Network
	cfg.Node.Gossip.AdvertInterval = node.Duration(s.Interval)
	cfg.Node.Compute.Offer = true
	res := GossipResult{Nodes: cfg.Nodes, Attackers: s.Attackers, Seed: cfg.Seed}
	nw, err := New(cfg)
	if err != nil {
		return res, err
	}
	defer nw.Close()
	bootStart := clk.Now()
	if err := Boot(ctx, nw, s.BootTimeout, progress); err != nil {
		return res, err
	}
	n := cfg.Nodes
	rec := &recorder{issued: map[advertKey]time.Time{}, arrived: map[advertKey]map[int]time.Time{}}
	var subs []*gossip.Subscription
	defer func() {
		for _, sub := range subs {
			sub.Close()
		}
	}()
	for i, nd := range nw.Nodes() {
		sub, err := nd.Running().Gossip().Capacity().Subscribe(func(r gossip.Received[gossip.Advert]) { rec.record(i, r) })
		if err != nil {
			return res, fmt.Errorf("sim: subscribe node %d: %w", i, err)
		}
		subs = append(subs, sub)
	}
	// Meshes form over a few heartbeats once nodes see each other.
	progress.Phase("forming gossip meshes", n)
	want := min(cfg.Gossip.Dlo, n-1)
	ready := make([]bool, n)
	meshBy := clk.Now().Add(s.BootTimeout)
	for done := 0; done < n; {
		if clk.Now().After(meshBy) {
			return res, fmt.Errorf("sim: gossip: %d of %d nodes have %d topic peers after %s", done, n, want, s.BootTimeout)
		}
		for i, nd := range nw.Nodes() {
			if !ready[i] && len(nd.Running().Gossip().TopicPeers(gossip.CapacityTopic)) >= want {
				ready[i] = true
				done++
				progress.Step(1)
			}
		}
		if done < n {
			if err := sleepCtx(ctx, clk, 100*time.Millisecond); err != nil {
				return res, err
			}
		}
	}
	if err := sleepCtx(ctx, clk, 3*cfg.Gossip.Heartbeat); err != nil {
		return res, err
	}
	res.BootSeconds = clock.Since(clk, bootStart).Seconds()

	statsBefore := make([]gossip.Stats, n)
	for i, nd := range nw.Nodes() {
		statsBefore[i] = nd.Running().Gossip().Stats()
	}
	t0 := clk.Now()
	attackers, err := s.startAttackers(nw)
	defer func() {
		for _, a := range attackers {
			a.a.Close()
		}
	}()
	if err != nil {
		return res, err
	}
	window := time.Duration(s.Rounds) * s.Interval
	progress.Phase("measuring", int(window/(100*time.Millisecond)))
	convergedAt := time.Duration(-1)
	graylistedAt := make([]time.Duration, len(attackers))
	for i := range graylistedAt {
		graylistedAt[i] = -1
	}
	tick := clk.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for clock.Since(clk, t0) < window {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C():
		}
		progress.Step(1)
		if convergedAt < 0 && allDirectoriesFull(nw) {
			convergedAt = clock.Since(clk, t0)
		}
		for k, a := range attackers {
			if graylistedAt[k] < 0 && a.graylistedByAll(nw) {
				graylistedAt[k] = clock.Since(clk, t0)
			}
		}
	}
	// Let the last adverts of the window finish spreading before counting.
	if err := sleepCtx(ctx, clk, 2*time.Second); err != nil {
		return res, err
	}
	for _, a := range attackers {
		for _, c := range a.a.Sent() {
			res.AttackMessages += c
		}
	}
	res.DirectoriesConverged = convergedAt >= 0 && convergedAt <= s.Interval
	if convergedAt >= 0 {
		res.ConvergenceMs = float64(convergedAt) / float64(time.Millisecond)
	}
	var gl []float64
	for _, at := range graylistedAt {
		if at >= 0 {
			res.Graylisted++
			gl = append(gl, at.Seconds())
		}
	}
	if len(gl) > 0 {
		res.GraylistP50Seconds, res.GraylistMaxSeconds = Percentile(gl, 50), Percentile(gl, 100)
	}
	s.summarize(&res, nw, rec, t0, window)
	var dups, delivered uint64
	for i, nd := range nw.Nodes() {
		st := nd.Running().Gossip().Stats()
		dups += st.Duplicates - statsBefore[i].Duplicates
		delivered += st.Delivered - statsBefore[i].Delivered
		for why, c := range st.Rejected {
			addDropped(&res, why, c-statsBefore[i].Rejected[why])
		}
		addDropped(&res, "undeliverable", st.Undeliverable-statsBefore[i].Undeliverable)
		for _, o := range nw.Nodes() {
			if o != nd && nd.Running().Gossip().Graylisted(o.ID) {
				res.HonestGraylisted++
			}
		}
	}
	if delivered > 0 {
		res.DuplicatesPerMessage = float64(dups) / float64(delivered)
	}
	res.RunSeconds = clock.Since(clk, begin).Seconds()
	return res, nil
}

// summarize computes spread and delivery over the honest adverts issued in
// [t0, t0+window).
func (s GossipScenario) summarize(res *GossipResult, nw *Network, rec *recorder, t0 time.Time, window time.Duration) {
	n := len(nw.Nodes())
	shares := []float64{0.5, 0.95, 0.99, 1}
	times := make([][]float64, len(shares))
	delivered, expected := 0, 0
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for k, issued := range rec.issued {
		author := nw.indexOf(k.author)
		if author < 0 || issued.Before(t0) || !issued.Before(t0.Add(window)) {
			continue
		}
		var ds []float64
		for i, at := range rec.arrived[k] {
			if i != author {
				ds = append(ds, float64(at.Sub(issued))/float64(time.Millisecond))
			}
		}
		sort.Float64s(ds)
		others := n - 1
		res.Adverts++
		delivered += len(ds)
		expected += others
		for j, q := range shares {
			need := int(float64(others)*q + 0.999999)
			if need <= len(ds) && need > 0 {
				times[j] = append(times[j], ds[need-1])
			}
		}
	}
	for j, q := range shares {
		sp := Spread{Share: q, Reached: len(times[j])}
		if len(times[j]) > 0 {
			sp.P50Ms, sp.P99Ms = Percentile(times[j], 50), Percentile(times[j], 99)
		}
		// an advert that never got there counts as infinitely slow
		if len(times[j]) < res.Adverts {
			sp.P99Ms = -1
		}
		res.Spread = append(res.Spread, sp)
		if q == 0.99 {
			res.CoverageP99Ms = sp.P99Ms
		}
	}
	// Every advert has the same n-1 honest recipients, so the mean share of
	// nodes an advert reached and the share of honest deliveries made are
	// one number, reported under both names.
	if expected > 0 {
		res.HonestDeliveryRate = float64(delivered) / float64(expected)
	}
	res.CoverageFraction = res.HonestDeliveryRate
}

// addDropped counts n messages dropped for reason why, if any.
func addDropped(res *GossipResult, why string, n uint64) {
	if n == 0 {
		return
	}
	if res.Dropped == nil {
		res.Dropped = map[string]uint64{}
	}
	res.Dropped[why] += n
}

// allDirectoriesFull reports whether every node's directory holds every
// node's advert.
func allDirectoriesFull(nw *Network) bool {
	for _, nd := range nw.Nodes() {
		dir := nd.Running().Gossip().Directory()
		if dir.Len() < len(nw.Nodes()) {
			return false
		}
		for _, o := range nw.Nodes() {
			if _, ok := dir.Get(o.ID); !ok {
				return false
			}
		}
	}
	return true
}

type simAttacker struct {
	a       *gossipnet.Attacker
	targets []int
}

// graylistedByAll reports whether every target connected to the attacker
// graylists it.
func (sa simAttacker) graylistedByAll(nw *Network) bool {
	for _, t := range sa.targets {
		if !nw.Node(t).Running().Gossip().Graylisted(sa.a.ID()) {
			return false
		}
	}
	return len(sa.targets) > 0
}

func (s GossipScenario) startAttackers(nw *Network) ([]simAttacker, error) {
	var out []simAttacker
	n := len(nw.Nodes())
	for k := range s.Attackers {
		var seed [32]byte
		var targets []int
		nw.Rand(func(r *rand.Rand) {
			for i := range seed {
				seed[i] = byte(r.Uint32())
			}
			targets = r.Perm(n)[:min(s.AttackTargets, n)]
		})
		key, _, err := crypto.GenerateEd25519Key(&seedReader{b: seed[:]})
		if err != nil {
			return out, err
		}
		h, err := nw.AddHost(key, n+k)
		if err != nil {
			return out, err
		}
		a, err := gossipnet.NewAttacker(h, gossipnet.AttackerConfig{Rate: s.AttackRate, ReplayAfter: 10 * time.Second})
		if err != nil {
			h.Close()
			return out, err
		}
		var ais []peer.AddrInfo
		for _, t := range targets {
			ais = append(ais, peer.AddrInfo{ID: nw.Node(t).ID, Addrs: []ma.Multiaddr{addr(t)}})
		}
		if err := a.Start(ais); err != nil {
			a.Close()
			return out, err
		}
		out = append(out, simAttacker{a: a, targets: targets})
	}
	return out, nil
}

package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// DHTScenario boots a network and measures DHT lookups: from random running
// nodes for random running targets, optionally under churn or across a
// partition that heals.
type DHTScenario struct {
	// Network is the simulated network.
	Network Config
	// Lookups is how many lookups to run (per phase).
	Lookups int
	// Concurrency is how many lookups run at once.
	Concurrency int
	// LookupTimeout bounds one lookup.
	LookupTimeout time.Duration
	// Churn is the fraction of nodes that leave per minute while lookups
	// run (0.1 = 10 %/min); each comes back after ChurnDowntime.
	Churn float64
	// ChurnDowntime is how long a churned node stays away.
	ChurnDowntime time.Duration
	// CrashShare is the share of departures that are crashes (the rest
	// are clean stops); a crashed node restarts from its store as of the
	// crash.
	CrashShare float64
	// Duration is how long lookups are spread over under churn.
	Duration time.Duration
	// Partition splits the network in two halves after boot, holds the
	// split for PartitionFor, heals it and measures lookups across the
	// former cut for RecoveryWindow.
	Partition bool
	// PartitionFor is how long the partition lasts.
	PartitionFor time.Duration
	// RecoveryWindow is how long after healing cross-cut lookups are
	// measured, in batches every RecoveryStep.
	RecoveryWindow, RecoveryStep time.Duration
	// BootTimeout bounds the boot.
	BootTimeout time.Duration
}

// DefaultDHTScenario returns a fault-free scenario of n nodes.
func DefaultDHTScenario(n int) DHTScenario {
	return DHTScenario{
		Network:        quietConfig(n),
		Lookups:        1000,
		Concurrency:    16,
		LookupTimeout:  30 * time.Second,
		ChurnDowntime:  30 * time.Second,
		CrashShare:     0.5,
		Duration:       2 * time.Minute,
		PartitionFor:   30 * time.Second,
		RecoveryWindow: 60 * time.Second,
		RecoveryStep:   10 * time.Second,
		BootTimeout:    10 * time.Minute,
	}
}

// quietConfig is DefaultConfig with compute offers off: scenarios that
// measure something else than gossip keep the nodes from advertising,
// because every simulated node verifies every advert on the same two
// cores (see GossipInterval): at 200 nodes, adverts every 10 s took more
// than half of the machine and slowed the DHT's boot sixfold.
func quietConfig(n int) Config {
	c := DefaultConfig(n)
	c.Node.Compute.Offer = false
	return c
}

// Batch is the outcome of one batch of post-heal lookups.
type Batch struct {
	// AfterHealSeconds is when the batch started, after the heal.
	AfterHealSeconds float64 `json:"after_heal_s"`
	Lookups          int     `json:"lookups"`
	SuccessRate      float64 `json:"success_rate"`
}

// DHTResult is what a DHTScenario measured.
type DHTResult struct {
	Nodes             int     `json:"nodes"`
	Seed              uint64  `json:"seed"`
	Lookups           int     `json:"lookups"`
	LookupSuccessRate float64 `json:"lookup_success_rate"`
	HopsP50           float64 `json:"hops_p50"`
	HopsP99           float64 `json:"hops_p99"`
	LatencyMsP50      float64 `json:"latency_ms_p50"`
	LatencyMsP99      float64 `json:"latency_ms_p99"`
	BootSeconds       float64 `json:"boot_seconds"`
	HeapMiBPerNode    float64 `json:"heap_mib_per_node"`
	GoroutinesPerNode float64 `json:"goroutines_per_node"`
	RoutingTableP50   float64 `json:"routing_table_p50"`
	// Churn: departures during the run, and lookups whose target left
	// while they ran (not counted in the success rate).
	Churn         float64 `json:"churn_per_min,omitempty"`
	Departures    int     `json:"departures,omitempty"`
	TargetLeft    int     `json:"target_left_during_lookup,omitempty"`
	Partition     bool    `json:"partition,omitempty"`
	WithinGroupOK float64 `json:"within_group_success_rate,omitempty"`
	Batches       []Batch `json:"post_heal_batches,omitempty"`
	// RecoverySecs is when, after the heal, the first batch of cross-cut
	// lookups reached 99 % success (nil if none did).
	RecoverySecs   *float64       `json:"recovery_seconds,omitempty"`
	Failures       map[string]int `json:"failures,omitempty"`
	Hops           []int          `json:"-"`
	LatenciesMs    []float64      `json:"-"`
	DurationSecond float64        `json:"run_seconds"`
}

// lookupOutcome is one lookup's record.
type lookupOutcome struct {
	ok         bool
	targetLeft bool
	hops       int
	ms         float64
	err        string
}

// Run runs the scenario.
func (s DHTScenario) Run(ctx context.Context, progress Progress) (DHTResult, error) {
	clk := s.Network.Clock
	if clk == nil {
		return DHTResult{}, fmt.Errorf("%w: Network.Clock is nil", ErrConfig)
	}
	progress = orNoProgress(progress)
	begin := clk.Now()
	if s.Lookups < 1 || s.Concurrency < 1 {
		return DHTResult{}, errors.New("sim: lookups and concurrency must be positive")
	}
	if s.Churn < 0 || s.Churn > 1 {
		return DHTResult{}, fmt.Errorf("sim: churn %v: want 0 to 1 (fraction of nodes per minute)", s.Churn)
	}
	res := DHTResult{Nodes: s.Network.Nodes, Seed: s.Network.Seed, Churn: s.Churn, Partition: s.Partition, Failures: map[string]int{}}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	nw, err := New(s.Network)
	if err != nil {
		return res, err
	}
	defer nw.Close()
	bootStart := clk.Now()
	if err := Boot(ctx, nw, s.BootTimeout, progress); err != nil {
		return res, err
	}
	res.BootSeconds = clock.Since(clk, bootStart).Seconds()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.HeapMiBPerNode = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(s.Network.Nodes) / (1 << 20)
	res.GoroutinesPerNode = float64(runtime.NumGoroutine()-g0) / float64(s.Network.Nodes)
	var sizes []float64
	for _, n := range nw.Nodes() {
		sizes = append(sizes, float64(n.Running().DHT().Table().Size))
	}
	res.RoutingTableP50 = Percentile(sizes, 50)

	var outcomes []lookupOutcome
	switch {
	case s.Partition:
		outcomes, err = s.runPartition(ctx, nw, &res, progress)
	case s.Churn > 0:
		outcomes, err = s.runChurn(ctx, nw, &res, progress)
	default:
		progress.Phase("lookups", s.Lookups)
		outcomes = s.lookups(ctx, nw, s.Lookups, nil, progress)
	}
	if err != nil {
		return res, err
	}
	summarize(&res, outcomes)
	res.DurationSecond = clock.Since(clk, begin).Seconds()
	return res, nil
}

func summarize(res *DHTResult, outcomes []lookupOutcome) {
	ok, counted := 0, 0
	for _, o := range outcomes {
		if o.targetLeft {
			res.TargetLeft++
			continue
		}
		counted++
		if o.ok {
			ok++
			res.Hops = append(res.Hops, o.hops)
			res.LatenciesMs = append(res.LatenciesMs, o.ms)
		} else {
			res.Failures[o.err]++
		}
	}
	res.Lookups = counted
	if counted > 0 {
		res.LookupSuccessRate = float64(ok) / float64(counted)
	}
	hops := make([]float64, len(res.Hops))
	for i, h := range res.Hops {
		hops[i] = float64(h)
	}
	res.HopsP50, res.HopsP99 = Percentile(hops, 50), Percentile(hops, 99)
	res.LatencyMsP50, res.LatencyMsP99 = Percentile(res.LatenciesMs, 50), Percentile(res.LatenciesMs, 99)
	for _, p := range []*float64{&res.HopsP50, &res.HopsP99, &res.LatencyMsP50, &res.LatencyMsP99} {
		if math.IsNaN(*p) {
			*p = 0
		}
	}
}

// Boot starts every node of nw in order and waits until every routing table
// holds min(10, nodes-1) peers and has been refreshed once.
func Boot(ctx context.Context, nw *Network, timeout time.Duration, progress Progress) error {
	clk := nw.cfg.Clock
	progress = orNoProgress(progress)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n := len(nw.Nodes())
	progress.Phase("starting nodes", n)
	for i := range n {
		if err := nw.Start(ctx, i); err != nil {
			return err
		}
		progress.Step(1)
	}
	want := min(10, n-1)
	progress.Phase("filling routing tables", n)
	ready := make([]bool, n)
	done := 0
	t := clk.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for done < n {
		for i, nd := range nw.Nodes() {
			if ready[i] {
				continue
			}
			if info := nd.Running().DHT().Table(); info.Size >= want && (info.WAN.Refreshes+info.LAN.Refreshes > 0 || n == 1) {
				ready[i] = true
				done++
				progress.Step(1)
			}
		}
		if done == n {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: boot: %d of %d routing tables ready: %w", done, n, ctx.Err())
		case <-t.C():
		}
	}
	return nil
}

// pickPair picks a random running source and a different running target,
// restricted by allow when it is not nil.
func pickPair(nw *Network, allow func(src, dst int) bool) (int, int, bool) {
	var src, dst int
	found := false
	nw.Rand(func(r *rand.Rand) {
		n := len(nw.Nodes())
		for range 1000 {
			src, dst = r.IntN(n), r.IntN(n)
			if src == dst || nw.Node(src).Running() == nil || nw.Node(dst).Running() == nil {
				continue
			}
			if allow != nil && !allow(src, dst) {
				continue
			}
			found = true
			return
		}
	})
	return src, dst, found
}

// lookups runs count lookups, Concurrency at a time.
func (s DHTScenario) lookups(ctx context.Context, nw *Network, count int, allow func(src, dst int) bool, progress Progress) []lookupOutcome {
	out := make([]lookupOutcome, 0, count)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.Concurrency)
	for range count {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := s.lookup(ctx, nw, allow)
			mu.Lock()
			out = append(out, o)
			mu.Unlock()
			progress.Step(1)
		}()
	}
	wg.Wait()
	return out
}

func (s DHTScenario) lookup(ctx context.Context, nw *Network, allow func(src, dst int) bool) lookupOutcome {
	src, dst, ok := pickPair(nw, allow)
	if !ok {
		return lookupOutcome{err: "no running pair"}
	}
	sn := nw.Node(src).Running()
	if sn == nil {
		return lookupOutcome{targetLeft: true}
	}
	lctx, cancel := context.WithTimeout(ctx, s.LookupTimeout)
	defer cancel()
	st, err := sn.DHT().Lookup(lctx, nw.Node(dst).ID)
	if nw.Node(dst).Running() == nil || nw.Node(src).Running() == nil {
		return lookupOutcome{targetLeft: true}
	}
	if err != nil {
		msg := "not found"
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			msg = "timeout"
		}
		return lookupOutcome{err: msg}
	}
	return lookupOutcome{ok: true, hops: st.Hops, ms: float64(st.Duration) / float64(time.Millisecond)}
}

// runChurn runs lookups spread over Duration while nodes leave at Churn per
// minute and come back after ChurnDowntime.
func (s DHTScenario) runChurn(ctx context.Context, nw *Network, res *DHTResult, progress Progress) ([]lookupOutcome, error) {
	clk := s.Network.Clock
	cctx, stop := context.WithCancel(ctx)
	var departures atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		churn(cctx, nw, s.Churn, s.ChurnDowntime, s.CrashShare, &departures)
	}()
	progress.Phase("lookups under churn", s.Lookups)
	// Pace the lookups evenly over the duration.
	interval := s.Duration / time.Duration(s.Lookups)
	var outs []lookupOutcome
	var mu sync.Mutex
	var lw sync.WaitGroup
	sem := make(chan struct{}, s.Concurrency)
	tick := clk.NewTicker(max(interval, time.Millisecond))
	for i := 0; i < s.Lookups && ctx.Err() == nil; i++ {
		<-tick.C()
		sem <- struct{}{}
		lw.Add(1)
		go func() {
			defer lw.Done()
			defer func() { <-sem }()
			o := s.lookup(ctx, nw, nil)
			mu.Lock()
			outs = append(outs, o)
			mu.Unlock()
			progress.Step(1)
		}()
	}
	tick.Stop()
	lw.Wait()
	stop()
	wg.Wait()
	res.Departures = int(departures.Load())
	return outs, ctx.Err()
}

// churn makes running nodes leave at rate (fraction of nodes per minute)
// and restarts each after downtime, until ctx ends; then it restarts every
// node still down.
func churn(ctx context.Context, nw *Network, rate float64, downtime time.Duration, crashShare float64, departures *atomic.Int64) {
	clk := nw.cfg.Clock
	n := len(nw.Nodes())
	every := time.Duration(float64(time.Minute) / (rate * float64(n)))
	type pending struct {
		at  time.Time
		idx int
	}
	var down []pending
	next := clk.NewTicker(every)
	defer next.Stop()
	check := clk.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	restart := func(all bool) {
		keep := down[:0]
		for _, p := range down {
			if all || clk.Now().After(p.at) {
				if err := nw.Start(context.WithoutCancel(ctx), p.idx); err != nil {
					nw.log.Warn("churn: restart failed", "node", p.idx, "err", err)
				}
				continue
			}
			keep = append(keep, p)
		}
		down = keep
	}
	for {
		select {
		case <-ctx.Done():
			restart(true)
			return
		case <-check.C():
			restart(false)
		case <-next.C():
			var idx int
			var crash bool
			nw.Rand(func(r *rand.Rand) {
				idx = r.IntN(n)
				crash = r.Float64() < crashShare
			})
			if nw.Node(idx).Running() == nil {
				continue
			}
			var err error
			if crash {
				err = nw.Crash(idx)
			} else {
				err = nw.Stop(idx)
			}
			if err != nil {
				nw.log.Warn("churn: departure", "node", idx, "err", err)
			}
			departures.Add(1)
			down = append(down, pending{at: clk.Now().Add(downtime), idx: idx})
		}
	}
}

// runPartition splits the network in two, checks lookups within the groups,
// heals, and measures cross-cut lookups in batches.
func (s DHTScenario) runPartition(ctx context.Context, nw *Network, res *DHTResult, progress Progress) ([]lookupOutcome, error) {
	clk := s.Network.Clock
	n := len(nw.Nodes())
	var perm []int
	nw.Rand(func(r *rand.Rand) { perm = r.Perm(n) })
	group := make([]int, n)
	for k, i := range perm {
		group[i] = k % 2
	}
	nw.Partition(func(i int) int { return group[i] })
	hold := clk.NewTimer(s.PartitionFor)
	within := func(a, b int) bool { return group[a] == group[b] }
	across := func(a, b int) bool { return group[a] != group[b] }
	progress.Phase("lookups within the partition", s.Lookups/4)
	inside := s.lookups(ctx, nw, s.Lookups/4, within, progress)
	ok := 0
	for _, o := range inside {
		if o.ok {
			ok++
		}
	}
	if len(inside) > 0 {
		res.WithinGroupOK = float64(ok) / float64(len(inside))
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-hold.C():
	}
	nw.Heal()
	healed := clk.Now()
	steps := int(s.RecoveryWindow / s.RecoveryStep)
	per := max(s.Lookups/steps, 1)
	progress.Phase("cross-cut lookups after the heal", per*steps)
	var all []lookupOutcome
	for k := range steps {
		at := healed.Add(time.Duration(k) * s.RecoveryStep)
		if d := clock.Until(clk, at); d > 0 {
			t := clk.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C():
			}
		}
		b := s.lookups(ctx, nw, per, across, progress)
		good := 0
		for _, o := range b {
			if o.ok {
				good++
			}
		}
		rate := float64(good) / float64(max(len(b), 1))
		res.Batches = append(res.Batches, Batch{AfterHealSeconds: at.Sub(healed).Seconds(), Lookups: len(b), SuccessRate: rate})
		if rate >= 0.99 && res.RecoverySecs == nil {
			secs := at.Sub(healed).Seconds()
			res.RecoverySecs = &secs
		}
		all = append(all, b...)
	}
	sort.Slice(res.Batches, func(i, j int) bool { return res.Batches[i].AfterHealSeconds < res.Batches[j].AfterHealSeconds })
	return all, ctx.Err()
}

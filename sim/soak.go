package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
)

// ErrLeak is wrapped by SoakResult.Err when a resource grew faster than
// its limit.
var ErrLeak = errors.New("sim: soak: resource growing")

// SoakScenario boots a network of complete nodes (compute offered, so
// capacity adverts flow; the relay lottery and the mix with cover; chat
// with every node in one channel) and drives a steady mixture of every
// workload the other scenarios drive for Duration: DHT lookups, WASM
// tasks, mix messages, chat direct messages and channel posts. Every
// SampleEvery it samples the process's live heap, goroutines and open
// file descriptors; at the end it fits a least-squares line to the second
// half of each series and flags a slope above Limits. The heap is judged
// less the nodes' Badger tables: the simulator's stores are in memory, so
// everything written stays on the heap, as it stays on disk on a real node.
//
// The ledger is not driven: a simulated node runs it only with a genesis
// (token.genesis), which no scenario sets up.
type SoakScenario struct {
	// Network is the simulated network.
	Network Config
	// Duration is how long the traffic runs, after the boot and the first
	// relay directory.
	Duration time.Duration
	// SampleEvery is the sampling period.
	SampleEvery time.Duration
	// Rates of the workloads, per second over the whole network.
	LookupRate, TaskRate, MixRate, DMRate, PostRate float64
	// TargetRelays and EpochLength configure the relay lottery.
	TargetRelays int
	EpochLength  time.Duration
	// GenesisDelay is how long after the nodes start epoch 0 begins.
	GenesisDelay time.Duration
	// Limits are the greatest slopes that pass.
	Limits SoakLimits
	// BootTimeout bounds the boot and the wait for the first directory.
	BootTimeout time.Duration
	// AtEnd, when set, runs after the last sample while the traffic and
	// the network still run: to take profiles of the process, say.
	AtEnd func()

	// leak, when set (tests only), runs at every sample: a way to inject
	// a leak the detector must flag.
	leak func()
}

// SoakLimits are the greatest slopes, per minute over the second half of
// a soak, that pass.
type SoakLimits struct {
	// HeapPctPerMin bounds the growth of the live heap less the stores'
	// tables, in percent of its mean per minute.
	HeapPctPerMin float64 `json:"heap_pct_per_min"`
	// GoroutinesPerMin and FDsPerMin bound the growth of the goroutine
	// count and of the open file descriptors, per minute.
	GoroutinesPerMin float64 `json:"goroutines_per_min"`
	FDsPerMin        float64 `json:"fds_per_min"`
}

// DefaultSoakLimits: a live heap that grows 2 % of its mean per minute
// doubles in under an hour, which no daemon may do, while a workload's
// in-memory stores growing with what is stored stay well under it. 30
// goroutines per minute is a sixth of the default workload's operations
// per minute: a goroutine left behind by one kind of operation in a few
// shows; the count's noise (streams and lookups in flight) fits to a few
// per minute over 15 minutes. File descriptors: mocknet and in-memory
// stores open none, so any steady growth (2 per minute) is a leak.
func DefaultSoakLimits() SoakLimits {
	return SoakLimits{HeapPctPerMin: 2, GoroutinesPerMin: 30, FDsPerMin: 2}
}

// DefaultSoakScenario returns a soak of n nodes for d: 12 nodes sample
// every 5 s; the network sends a lookup every second, a task every 2 s, a
// mix message every second, a DM every second and a post every 5 s, over
// 30-second lottery epochs.
func DefaultSoakScenario(n int, d time.Duration) SoakScenario {
	mc := mixsvc.DefaultConfig()
	return SoakScenario{
		Network:      soakConfig(n, mc),
		Duration:     d,
		SampleEvery:  5 * time.Second,
		LookupRate:   1,
		TaskRate:     0.5,
		MixRate:      1,
		DMRate:       1,
		PostRate:     0.2,
		TargetRelays: max(mc.Layers, min(24, n)),
		EpochLength:  30 * time.Second,
		Limits:       DefaultSoakLimits(),
		BootTimeout:  10 * time.Minute,
	}
}

// soakConfig is DefaultConfig (compute offered: adverts flow) with the
// mix and chat on.
func soakConfig(n int, mc mixsvc.Config) Config {
	c := DefaultConfig(n)
	c.Node.Compute.Offer = true
	c.Mix = &mc
	cc := chatsvc.DefaultConfig()
	c.Chat = &cc
	return c
}

// SoakSample is one sample of the process.
type SoakSample struct {
	// Seconds since the traffic started.
	Seconds float64 `json:"s"`
	// HeapLiveMiB is the heap live after the last GC
	// (/gc/heap/live:bytes); HeapObjectsMiB the heap's objects now, live
	// or not yet collected (/memory/classes/heap/objects:bytes).
	HeapLiveMiB    float64 `json:"heap_live_mib"`
	HeapObjectsMiB float64 `json:"heap_objects_mib"`
	// StoreMiB is the size of every node's Badger tables, which the
	// simulator's in-memory stores keep on the heap (a real node keeps
	// them on disk): the data written so far, which grows with it.
	StoreMiB   float64 `json:"store_tables_mib"`
	Goroutines int     `json:"goroutines"`
	// FDs counts /proc/self/fd; -1 where there is none.
	FDs int `json:"fds"`
}

// SoakTrend is a least-squares line through the second half of a series.
type SoakTrend struct {
	// Mean is the series' mean over the second half.
	Mean float64 `json:"mean"`
	// SlopePerMin is the line's slope per minute; PctPerMin the same in
	// percent of Mean.
	SlopePerMin float64 `json:"slope_per_min"`
	PctPerMin   float64 `json:"pct_per_min"`
	// Growth is the line's rise over the fitted half, in percent of Mean.
	GrowthPct float64 `json:"growth_pct"`
	// Limit is the greatest slope that passes, in the unit of the limit
	// (percent per minute for the heap, count per minute otherwise).
	Limit float64 `json:"limit"`
	OK    bool    `json:"ok"`
}

// SoakOps counts one workload's operations.
type SoakOps struct {
	OK     int64 `json:"ok"`
	Failed int64 `json:"failed"`
}

// SoakResult is what a SoakScenario measured.
type SoakResult struct {
	Nodes          int     `json:"nodes"`
	Seed           uint64  `json:"seed"`
	Minutes        float64 `json:"minutes"`
	SampleSeconds  float64 `json:"sample_seconds"`
	BootSeconds    float64 `json:"boot_seconds"`
	FitFromSeconds float64 `json:"fit_from_s"`

	// Heap is the live heap less the stores' tables (HeapLiveMiB -
	// StoreMiB), what the limit judges: the process's own memory beyond
	// the data written. HeapLive (the live heap as it is) and Store are
	// reported, not judged.
	Heap       SoakTrend `json:"heap_net_of_store"`
	HeapLive   SoakTrend `json:"heap_live"`
	Store      SoakTrend `json:"store_tables"`
	Goroutines SoakTrend `json:"goroutines"`
	FDs        SoakTrend `json:"fds"`
	// Leaks names every series over its limit.
	Leaks []string `json:"leaks,omitempty"`

	Lookups SoakOps `json:"lookups"`
	Tasks   SoakOps `json:"tasks"`
	Mix     SoakOps `json:"mix_sends"`
	DMs     SoakOps `json:"dms"`
	Posts   SoakOps `json:"posts"`

	Samples []SoakSample `json:"samples"`
}

// Err wraps ErrLeak naming every series over its limit, or is nil.
func (r SoakResult) Err() error {
	if len(r.Leaks) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrLeak, strings.Join(r.Leaks, "; "))
}

// Run runs the scenario.
func (s SoakScenario) Run(ctx context.Context, progress Progress) (SoakResult, error) {
	clk := s.Network.Clock
	if clk == nil {
		return SoakResult{}, fmt.Errorf("%w: Network.Clock is nil", ErrConfig)
	}
	n := s.Network.Nodes
	switch {
	case n < 4:
		return SoakResult{}, fmt.Errorf("%w: Nodes %d: the soak needs 4", ErrConfig, n)
	case s.Duration <= 0 || s.SampleEvery <= 0 || s.Duration < 4*s.SampleEvery:
		return SoakResult{}, fmt.Errorf("%w: Duration %s must hold 4 samples of SampleEvery %s", ErrConfig, s.Duration, s.SampleEvery)
	case s.LookupRate < 0 || s.TaskRate < 0 || s.MixRate < 0 || s.DMRate < 0 || s.PostRate < 0:
		return SoakResult{}, fmt.Errorf("%w: negative rate", ErrConfig)
	case s.Network.Mix == nil || s.Network.Chat == nil:
		return SoakResult{}, fmt.Errorf("%w: Network.Mix and Network.Chat must be set", ErrConfig)
	case s.TargetRelays < s.Network.Mix.Layers || s.EpochLength <= 0 || s.BootTimeout <= 0:
		return SoakResult{}, fmt.Errorf("%w: TargetRelays %d (at least the mix's layers), EpochLength %s and BootTimeout %s",
			ErrConfig, s.TargetRelays, s.EpochLength, s.BootTimeout)
	}
	progress = orNoProgress(progress)
	res := SoakResult{Nodes: n, Seed: s.Network.Seed, Minutes: s.Duration.Minutes(), SampleSeconds: s.SampleEvery.Seconds()}

	rc := lottery.SimServiceConfig()
	rc.Config = lottery.ScaledSimConfig(s.EpochLength)
	rc.NetworkID = "sim"
	rc.TargetRelays = s.TargetRelays
	rc.Layers = s.Network.Mix.Layers
	delay := s.GenesisDelay
	if delay <= 0 {
		delay = 20*time.Second + time.Duration(n)*100*time.Millisecond
	}
	rc.Genesis = clk.Now().Add(delay)
	cfg := s.Network
	cfg.Relay, cfg.RelayCandidates = &rc, n
	nw, err := New(cfg)
	if err != nil {
		return res, err
	}
	defer nw.Close()
	for i := range n {
		rc.Candidates = append(rc.Candidates, nw.Node(i).ID)
	}
	if err := rc.Validate(); err != nil {
		return res, err
	}
	begin := clk.Now()
	if err := Boot(ctx, nw, s.BootTimeout, progress); err != nil {
		return res, err
	}
	progress.Phase("joining the channel", n)
	for i := range n {
		c, err := chatOf(nw, i)
		if err != nil {
			return res, err
		}
		if err := c.Join(ctx, chatsvc.Joined{Name: ChatChannel}); err != nil {
			return res, fmt.Errorf("sim: node %d joins %s: %w", i, ChatChannel, err)
		}
		progress.Step(1)
	}
	ep := lotteryOf(nw, rc.Config)
	first, _ := ep.EpochAt(clk.Now())
	if err := waitSeconds(ctx, clk, fmt.Sprintf("waiting for epoch %d's directory", first+1), clock.Until(clk, ep.ClaimClose(first+1).Add(time.Second)), progress); err != nil {
		return res, err
	}
	progress.Phase("waiting for every mix to route", n)
	wctx, cancel := context.WithTimeout(ctx, s.BootTimeout)
	defer cancel()
	for ready := 0; ready < n; {
		ready = 0
		for _, nd := range nw.Nodes() {
			if len(nd.Running().Mix().Status().Directories) > 0 {
				ready++
			}
		}
		if ready < n {
			if err := sleepCtx(wctx, clk, 200*time.Millisecond); err != nil {
				return res, fmt.Errorf("sim: soak: %d of %d mixes route: %w", ready, n, err)
			}
		}
	}
	progress.Step(n)
	res.BootSeconds = clock.Since(clk, begin).Seconds()

	// The traffic, each kind on its own Poisson schedule.
	tctx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var ops [5]struct{ ok, failed atomic.Int64 }
	count := func(k int, err error) {
		if err != nil {
			ops[k].failed.Add(1)
		} else {
			ops[k].ok.Add(1)
		}
	}
	tasks := &soakTasks{}
	work := []struct {
		rate float64
		op   func(context.Context) error
	}{
		{s.LookupRate, func(ctx context.Context) error { return soakLookup(ctx, nw) }},
		{s.TaskRate, func(ctx context.Context) error { return tasks.submit(ctx, nw) }},
		{s.MixRate, func(ctx context.Context) error { return soakMix(ctx, nw) }},
		{s.DMRate, func(ctx context.Context) error { return soakDM(ctx, nw) }},
		{s.PostRate, func(ctx context.Context) error { return soakPost(ctx, nw) }},
	}
	var seeds []uint64
	nw.Rand(func(r *rand.Rand) {
		for range work {
			seeds = append(seeds, r.Uint64())
		}
	})
	for k, w := range work {
		if w.rate == 0 {
			continue
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seeds[k], 0x50a4))
			// At most 64 operations of a kind in flight: a stalled
			// network shows as failures, not as goroutines piling up.
			sem := make(chan struct{}, 64)
			var inflight sync.WaitGroup
			defer inflight.Wait()
			for {
				gap := time.Duration(rng.ExpFloat64() / w.rate * float64(time.Second))
				if sleepCtx(tctx, clk, gap) != nil {
					return
				}
				select {
				case sem <- struct{}{}:
				default:
					count(k, errors.New("too many in flight"))
					continue
				}
				inflight.Go(func() {
					defer func() { <-sem }()
					octx, cancel := context.WithTimeout(tctx, 30*time.Second)
					defer cancel()
					err := w.op(octx)
					if tctx.Err() == nil && !errors.Is(err, errSubmitted) {
						count(k, err)
					}
				})
			}
		})
	}
	// Tasks are counted when they end.
	wg.Go(func() {
		for sleepCtx(tctx, clk, 5*time.Second) == nil {
			ok, failed := tasks.poll(tctx, nw, clk.Now())
			ops[1].ok.Add(ok)
			ops[1].failed.Add(failed)
		}
	})

	start := clk.Now()
	perMin := max(1, int(time.Minute/s.SampleEvery))
	minutes := int((s.Duration + time.Minute - 1) / time.Minute)
	minute := -1
	t := clk.NewTicker(s.SampleEvery)
	for {
		if s.leak != nil {
			s.leak()
		}
		smp := sampleProcess(clock.Since(clk, start))
		smp.StoreMiB = storeTablesMiB(nw)
		res.Samples = append(res.Samples, smp)
		if m := int(smp.Seconds / 60); m != minute && m < minutes {
			minute = m
			progress.Phase(fmt.Sprintf("soak minute %d/%d: heap %.0f MiB live, %d goroutines, %d fds",
				m+1, minutes, smp.HeapLiveMiB, smp.Goroutines, smp.FDs), perMin)
		}
		progress.Step(1)
		if clock.Since(clk, start) >= s.Duration {
			break
		}
		select {
		case <-ctx.Done():
		case <-t.C():
		}
		if ctx.Err() != nil {
			break
		}
	}
	t.Stop()
	if s.AtEnd != nil && ctx.Err() == nil {
		s.AtEnd()
	}
	stopTraffic()
	wg.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	for k, o := range []*SoakOps{&res.Lookups, &res.Tasks, &res.Mix, &res.DMs, &res.Posts} {
		o.OK, o.Failed = ops[k].ok.Load(), ops[k].failed.Load()
	}
	s.judge(&res)
	return res, nil
}

// judge fits the trends to the second half of the samples and names the
// series over their limits.
func (s SoakScenario) judge(res *SoakResult) {
	if len(res.Samples) == 0 {
		return
	}
	half := res.Samples[len(res.Samples)-1].Seconds / 2
	res.FitFromSeconds = half
	var ts, heap, live, store, gor, fds []float64
	for _, x := range res.Samples {
		if x.Seconds >= half {
			ts = append(ts, x.Seconds/60)
			heap = append(heap, x.HeapLiveMiB-x.StoreMiB)
			live = append(live, x.HeapLiveMiB)
			store = append(store, x.StoreMiB)
			gor = append(gor, float64(x.Goroutines))
			fds = append(fds, float64(x.FDs))
		}
	}
	res.Heap = trend(ts, heap)
	res.HeapLive, res.Store = trend(ts, live), trend(ts, store)
	res.Heap.Limit = s.Limits.HeapPctPerMin
	res.Heap.OK = res.Heap.PctPerMin <= s.Limits.HeapPctPerMin
	res.Goroutines = trend(ts, gor)
	res.Goroutines.Limit = s.Limits.GoroutinesPerMin
	res.Goroutines.OK = res.Goroutines.SlopePerMin <= s.Limits.GoroutinesPerMin
	res.FDs = trend(ts, fds)
	res.FDs.Limit = s.Limits.FDsPerMin
	res.FDs.OK = res.FDs.SlopePerMin <= s.Limits.FDsPerMin || res.FDs.Mean < 0
	if !res.Heap.OK {
		res.Leaks = append(res.Leaks, fmt.Sprintf("live heap less the stores' tables grows %.2f %%/min of its mean %.0f MiB (limit %.2f %%/min)",
			res.Heap.PctPerMin, res.Heap.Mean, res.Heap.Limit))
	}
	if !res.Goroutines.OK {
		res.Leaks = append(res.Leaks, fmt.Sprintf("goroutines grow %.1f/min around %.0f (limit %.1f/min)",
			res.Goroutines.SlopePerMin, res.Goroutines.Mean, res.Goroutines.Limit))
	}
	if !res.FDs.OK {
		res.Leaks = append(res.Leaks, fmt.Sprintf("open files grow %.2f/min around %.0f (limit %.2f/min)",
			res.FDs.SlopePerMin, res.FDs.Mean, res.FDs.Limit))
	}
}

// trend fits y = a + b·x by least squares; x in minutes.
func trend(x, y []float64) SoakTrend {
	b, _, mean := fitLine(x, y)
	tr := SoakTrend{Mean: mean, SlopePerMin: b}
	if mean != 0 && len(x) > 0 {
		tr.PctPerMin = b / mean * 100
		tr.GrowthPct = b * (x[len(x)-1] - x[0]) / mean * 100
	}
	return tr
}

// fitLine returns the least-squares slope and intercept of y over x and
// the mean of y; the slope is 0 for fewer than two distinct x.
func fitLine(x, y []float64) (slope, intercept, meanY float64) {
	n := float64(len(x))
	if n == 0 {
		return 0, 0, 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if sxx == 0 {
		return 0, my, my
	}
	slope = sxy / sxx
	return slope, my - slope*mx, my
}

var soakMetrics = []string{"/gc/heap/live:bytes", "/memory/classes/heap/objects:bytes"}

// sampleProcess samples the process at elapsed.
func sampleProcess(elapsed time.Duration) SoakSample {
	ms := make([]metrics.Sample, len(soakMetrics))
	for i, name := range soakMetrics {
		ms[i].Name = name
	}
	metrics.Read(ms)
	mib := func(v metrics.Value) float64 {
		if v.Kind() != metrics.KindUint64 {
			return 0
		}
		return float64(v.Uint64()) / (1 << 20)
	}
	return SoakSample{
		Seconds:        elapsed.Seconds(),
		HeapLiveMiB:    mib(ms[0].Value),
		HeapObjectsMiB: mib(ms[1].Value),
		Goroutines:     runtime.NumGoroutine(),
		FDs:            openFDs(),
	}
}

// storeTablesMiB sums the sizes of every node's Badger tables.
func storeTablesMiB(nw *Network) float64 {
	var b int64
	for _, n := range nw.nodes {
		n.mu.Lock()
		if n.store != nil {
			for _, t := range n.store.Badger().Tables() {
				b += int64(t.OnDiskSize) + int64(t.IndexSz) + int64(t.BloomFilterSize)
			}
		}
		n.mu.Unlock()
	}
	return float64(b) / (1 << 20)
}

// openFDs counts the process's open file descriptors, or -1 where
// /proc/self/fd is missing.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory's own
}

// soakLookup looks a random running node up from another.
func soakLookup(ctx context.Context, nw *Network) error {
	src, dst, ok := pickPair(nw, nil)
	if !ok {
		return ErrDown
	}
	nd := nw.Node(src).Running()
	if nd == nil {
		return ErrDown
	}
	_, err := nd.DHT().Lookup(ctx, nw.Node(dst).ID)
	return err
}

// soakMix sends a mix message between a random pair.
func soakMix(ctx context.Context, nw *Network) error {
	src, dst, ok := pickPair(nw, nil)
	if !ok {
		return ErrDown
	}
	nd := nw.Node(src).Running()
	if nd == nil {
		return ErrDown
	}
	_, err := nd.Mix().Send(ctx, nw.Node(dst).ID, []byte("soak"), mixnet.SendOptions{Deadline: nw.cfg.Clock.Now().Add(30 * time.Second)})
	return err
}

// soakDM sends a chat direct message between a random pair.
func soakDM(ctx context.Context, nw *Network) error {
	src, dst, ok := pickPair(nw, nil)
	if !ok {
		return ErrDown
	}
	c, err := chatOf(nw, src)
	if err != nil {
		return err
	}
	_, _, err = c.Send(ctx, nw.Node(dst).ID.String(), fmt.Appendf(nil, "soak from %d to %d", src, dst), chatsvc.SendOptions{})
	return err
}

// soakPost posts on ChatChannel from a random node.
func soakPost(ctx context.Context, nw *Network) error {
	var src int
	nw.Rand(func(r *rand.Rand) { src = r.IntN(len(nw.Nodes())) })
	c, err := chatOf(nw, src)
	if err != nil {
		return err
	}
	_, err = c.Channels().Post(ctx, ChatChannel, fmt.Appendf(nil, "soak post from %d", src))
	return err
}

// soakTasks submits echo tasks and tracks them until they end.
type soakTasks struct {
	mu      sync.Mutex
	pending []submitted
}

// soakTaskDeadline is each task's deadline.
const soakTaskDeadline = time.Minute

func (t *soakTasks) submit(ctx context.Context, nw *Network) error {
	clk := nw.cfg.Clock
	var src int
	nw.Rand(func(r *rand.Rand) { src = r.IntN(len(nw.Nodes())) })
	nd := nw.Node(src).Running()
	if nd == nil {
		return ErrDown
	}
	spec := compute.Spec{Replicas: 1, Deadline: clk.Now().Add(soakTaskDeadline), Args: []string{"task"}, Stdin: []byte("soak\n")}
	id, err := nd.Compute().Submit(ctx, spec, echoWasm)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.pending = append(t.pending, submitted{id: id, node: src, at: clk.Now(), deadline: spec.Deadline})
	t.mu.Unlock()
	// Counted by poll when it ends: an error here is Submit's only.
	return errSubmitted
}

// errSubmitted marks a submission that poll counts later.
var errSubmitted = errors.New("submitted")

// poll checks the pending tasks and returns how many ended well and how
// many failed or passed their deadline by 30 s without ending.
func (t *soakTasks) poll(ctx context.Context, nw *Network, now time.Time) (ok, failed int64) {
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	var keep []submitted
	for _, p := range pending {
		nd := nw.Node(p.node).Running()
		if nd == nil {
			failed++
			continue
		}
		st, err := nd.Compute().Status(ctx, p.id)
		switch {
		case err == nil && st.State == compute.StateDone:
			ok++
		case err == nil && st.State.Terminal():
			failed++
		case now.After(p.deadline.Add(30 * time.Second)):
			failed++
		default:
			keep = append(keep, p)
		}
	}
	t.mu.Lock()
	t.pending = append(t.pending, keep...)
	t.mu.Unlock()
	return ok, failed
}

package sim

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
)

// MixScenario boots a network whose nodes run the relay lottery and the
// mix, has pairs of nodes exchange messages over it, and measures delivery,
// latency and what a global passive observer learns from the timing of the
// frames on every link (docs/mix.md defines each figure).
type MixScenario struct {
	// Network is the simulated network.
	Network Config
	// TargetRelays is the lottery's R, the seats elected per epoch.
	TargetRelays int
	// EpochLength is the lottery's epoch (claim and reveal windows scale as
	// in lottery.ScaledSimConfig).
	EpochLength time.Duration
	// Mix is every node's mix configuration.
	Mix mixsvc.Config
	// MessageRate is how many messages each node sends its partner per
	// second (a Poisson process): node 2k and 2k+1 are partners.
	MessageRate float64
	// Duration is how long messages are sent; the observer watches from
	// the first message to the end of Duration.
	Duration time.Duration
	// Deadline is each message's deadline after it is sent: the mix
	// retries until then.
	Deadline time.Duration
	// KillRelays relays of the epoch in use crash in the middle of an
	// epoch halfway through Duration, one per layer in turn. Messages from
	// or to them are not counted.
	KillRelays int
	// Window and MaxLag are the flow correlation's window and the greatest
	// lag tried.
	Window, MaxLag time.Duration
	// GenesisDelay is how long after the nodes start epoch 0 begins; 0
	// means 20 s plus 100 ms per node.
	GenesisDelay time.Duration
	// BootTimeout bounds the boot (in the scenario's time: slowed with
	// the rest).
	BootTimeout time.Duration
	// Slowdown runs the whole scenario that many times slower than its
	// Network.Clock (clock.Slowed): every node's timers, the links'
	// latencies, the schedules and every time measured. Two cores shared
	// by a hundred nodes fall behind the mix's 50 ms delays at full speed;
	// slowed, each node gets Slowdown times the CPU per simulated second,
	// as if the cores were that much faster, and the simulator's lag
	// (measured on the slowed clock) shrinks. Timers inside libp2p and
	// gossipsub keep real time. 1 (or less) runs at full speed.
	Slowdown float64
}

// DefaultMixScenario returns a scenario of n nodes, all lottery candidates,
// R = 24, 10-second epochs, the mix's defaults (50 ms mean delay per hop,
// cover on at 2 packets/s per node), a message every 10 s from every node
// for 2 minutes, 60-second deadlines.
func DefaultMixScenario(n int) MixScenario {
	return MixScenario{
		Network:      quietConfig(n),
		TargetRelays: 24,
		EpochLength:  10 * time.Second,
		Mix:          mixsvc.DefaultConfig(),
		MessageRate:  0.1,
		Duration:     2 * time.Minute,
		Deadline:     time.Minute,
		Window:       100 * time.Millisecond,
		MaxLag:       3 * time.Second,
		BootTimeout:  10 * time.Minute,
		Slowdown:     1,
	}
}

// MixResult is what a MixScenario measured.
type MixResult struct {
	Nodes        int     `json:"nodes"`
	Seed         uint64  `json:"seed"`
	TargetRelays int     `json:"target_relays"`
	Relays       []int   `json:"relays_per_epoch"`
	MeanDelayMs  float64 `json:"mean_delay_ms"`
	Cover        bool    `json:"cover"`
	SendRate     float64 `json:"send_rate"`
	LoopRate     float64 `json:"loop_rate"`
	DropRate     float64 `json:"drop_rate"`
	// RelayLoopRate is each relay's own loop cover, packets per second.
	RelayLoopRate float64 `json:"relay_loop_rate"`
	MessageRate   float64 `json:"message_rate"`
	Killed        []int   `json:"killed_relays,omitempty"`
	// Slowdown is how many times slower than real time the scenario ran
	// (every time reported is the scenario's).
	Slowdown float64 `json:"slowdown"`

	// Senders is how many nodes sent messages that count.
	Senders int `json:"senders"`
	// Messages counts the messages that count (neither end killed);
	// Excluded those that do not.
	Messages int `json:"messages"`
	Excluded int `json:"excluded"`
	// DeliveryRate is the share of messages delivered before their
	// deadline, FirstAttemptRate the share acknowledged after one packet.
	DeliveryRate     float64 `json:"delivery_rate"`
	FirstAttemptRate float64 `json:"first_attempt_rate"`
	// LatencyMs is from Send to the recipient's delivery.
	LatencyMsP50 float64 `json:"latency_ms_p50"`
	LatencyMsP99 float64 `json:"latency_ms_p99"`
	// Retransmissions: packets sent again for acknowledged messages.
	Retransmissions int `json:"retransmissions"`

	// FlowCorrelation: mean over communicating pairs; FlowCorrelationOther
	// the same over pairs that do not communicate (the baseline).
	FlowCorrelation      float64 `json:"flow_correlation"`
	FlowCorrelationOther float64 `json:"flow_correlation_noncommunicating"`
	// CommonMode says how much all nodes' traffic rises and falls together
	// (Trace.CommonMode): what the non-communicating baseline measures
	// when it is well above the noise of the best of 31 lags.
	CommonMode float64 `json:"common_mode"`
	// LinkingAccuracy is the share of delivered messages whose sender the
	// observer's best guess names, next to 1/Senders (LinkingChance).
	LinkingAccuracy float64 `json:"linking_accuracy"`
	LinkingChance   float64 `json:"linking_chance"`
	// SenderEntropyBits is the mean entropy of the observer's distribution
	// over senders, next to log2(Senders) (SenderEntropyMax).
	SenderEntropyBits float64 `json:"sender_entropy_bits"`
	SenderEntropyMax  float64 `json:"sender_entropy_max_bits"`
	// PerfectMixLinking and PerfectMixEntropyBits are what the observer
	// reaches against an ideal mix at the nodes' rates and the relays'
	// delays (PerfectMix.Bound: one shared pool, the observer seeing only
	// when packets enter and when the message arrives): the best any
	// mix network with these rates and delays can do, so the bound of
	// the two figures above. Absent without cover or without delays.
	PerfectMixLinking     float64 `json:"perfect_mix_linking,omitempty"`
	PerfectMixEntropyBits float64 `json:"perfect_mix_entropy_bits,omitempty"`

	// SimLagMsP99 is the larger of TickLagMsP99 (how late the mix's timers
	// ran against their schedule, upper bound of a 0.1 ms bucket below
	// 10 ms) and LinkLagMsP99 (how much longer than its link's latency a
	// frame took from one mix to the next). LagOK says it is under 10 % of
	// the mean per-hop delay (without delays: under 5 ms), the rule for
	// the anonymity figures to count.
	SimLagMsP99  float64 `json:"sim_lag_ms_p99"`
	TickLagMsP99 float64 `json:"tick_lag_ms_p99"`
	LinkLagMsP99 float64 `json:"link_lag_ms_p99"`
	LagOK        bool    `json:"lag_ok"`

	// ObservedSeconds is how long the observer watched: Duration, on the
	// scenario's clock.
	ObservedSeconds float64 `json:"observed_seconds"`
	Frames          int     `json:"frames_observed"`
	// FramesUnread are frames the observer saw written on a link more than
	// 10 s before the end and never read from it: lost between a
	// link's writer and its reader (a connection closed with frames in
	// flight), where no mix counts them.
	FramesUnread int    `json:"frames_unread"`
	LinkDrops    uint64 `json:"link_drops"`
	RateDrops    uint64 `json:"rate_drops"`
	// StreamsRefused and StreamsTimedOut are the mixes' inbound link
	// streams reset for their limits or idleness, and ReadErrors those
	// that ended in an error (summed over the nodes; mixsvc.Status).
	StreamsRefused  uint64 `json:"streams_refused"`
	StreamsTimedOut uint64 `json:"streams_timed_out"`
	ReadErrors      uint64 `json:"read_errors"`
	// Drops are the mixes' drops of packets of every kind (cover too) by
	// reason (mixnet's Drop… reasons), and Duplicates the copies of
	// messages their recipients had already (a retransmission whose first
	// packet arrived, but its ACK late or lost), summed over the nodes
	// from boot to the end: beside Retransmissions they say why first
	// attempts failed.
	Drops       map[string]uint64 `json:"drops"`
	Duplicates  uint64            `json:"duplicates"`
	BootSeconds float64           `json:"boot_seconds"`
	RunSeconds  float64           `json:"run_seconds"`

	// For the plots.
	LatenciesMs       []float64 `json:"-"`
	Correlations      []float64 `json:"-"`
	CorrelationsOther []float64 `json:"-"`
}

// observer collects every node's mix frames while on.
type observer struct {
	on  atomic.Bool
	mu  sync.Mutex
	obs []mixsvc.Observation
}

func (o *observer) record(ob mixsvc.Observation) {
	if !o.on.Load() {
		return
	}
	o.mu.Lock()
	o.obs = append(o.obs, ob)
	o.mu.Unlock()
}

// sentMsg is one message of the workload.
type sentMsg struct {
	from, to int
	at       time.Time
	id       mixnet.MsgID
	res      *mixsvc.Result
}

// Run runs the scenario.
func (s MixScenario) Run(ctx context.Context, progress Progress) (MixResult, error) {
	clk, slow, err := slowed(&s.Network, s.Slowdown)
	if err != nil {
		return MixResult{}, err
	}
	progress = orNoProgress(progress)
	begin := clk.Now()
	n := s.Network.Nodes
	if n < 4 || s.TargetRelays < 1 || s.MessageRate <= 0 || s.Duration <= 0 || s.Deadline <= 0 ||
		s.Window <= 0 || s.MaxLag < 0 || s.KillRelays < 0 || s.KillRelays >= s.TargetRelays {
		return MixResult{}, errors.New("sim: mix scenario needs 4 nodes, positive relays, rates and durations, and fewer kills than relays")
	}
	if err := s.Mix.Validate(); err != nil {
		return MixResult{}, err
	}
	rc := lottery.SimServiceConfig()
	if l := s.EpochLength; l > 0 {
		rc.Config = lottery.ScaledSimConfig(l)
	}
	rc.NetworkID = "sim"
	rc.TargetRelays = s.TargetRelays
	rc.Layers = s.Mix.Layers
	delay := s.GenesisDelay
	if delay <= 0 {
		delay = 20*time.Second + time.Duration(n)*100*time.Millisecond
	}
	rc.Genesis = clk.Now().Add(delay)
	cfg := s.Network
	mc := s.Mix
	obs := &observer{}
	cfg.Relay, cfg.RelayCandidates, cfg.Mix, cfg.MixObserve = &rc, n, &mc, obs.record
	res := MixResult{Nodes: n, Seed: cfg.Seed, TargetRelays: s.TargetRelays,
		MeanDelayMs: float64(mc.MeanDelay) / float64(time.Millisecond), Cover: mc.Cover,
		SendRate: mc.SendRate, LoopRate: mc.LoopRate, DropRate: mc.DropRate, RelayLoopRate: mc.RelayLoopRate, MessageRate: s.MessageRate,
		Slowdown: slow}
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
	bootStart := clk.Now()
	if err := Boot(ctx, nw, time.Duration(float64(s.BootTimeout)*slow), progress); err != nil {
		return res, err
	}
	res.BootSeconds = clock.Since(clk, bootStart).Seconds()

	// Wait for a closed directory with a relay in every layer, and for
	// every mix to route with it.
	ep := lotteryOf(nw, rc.Config)
	first, _ := ep.EpochAt(clk.Now())
	lot := func() (*lottery.Directory, uint64, bool) {
		l := nw.Node(0).Running().Lottery()
		for e := l.Epoch(); ; e-- {
			if _, ok := l.ClosedInfo(e); ok {
				d, ok := l.Directory(e)
				return d, e, ok
			}
			if e == 0 {
				return nil, 0, false
			}
		}
	}
	wait := clock.Until(clk, ep.ClaimClose(first+1).Add(time.Second))
	if err := waitSeconds(ctx, clk, fmt.Sprintf("waiting for epoch %d's directory", first+1), wait, progress); err != nil {
		return res, err
	}
	progress.Phase("waiting for every mix to route", n)
	for ready := 0; ready < n; {
		ready = 0
		for _, nd := range nw.Nodes() {
			if len(nd.Running().Mix().Status().Directories) > 0 {
				ready++
			}
		}
		if ready < n {
			if err := sleepCtx(ctx, clk, 200*time.Millisecond); err != nil {
				return res, err
			}
		}
	}
	progress.Step(n)
	// The cover streams run a few seconds before the observer starts.
	if err := sleepCtx(ctx, clk, 3*time.Second); err != nil {
		return res, err
	}

	// Directories, epoch by epoch, for the observer's layers.
	dirs := map[uint64][]lottery.Relay{}
	var dirMu sync.Mutex
	saveDirs := func() {
		l := nw.Node(0).Running().Lottery()
		dirMu.Lock()
		defer dirMu.Unlock()
		for e := l.Epoch(); e+3 > l.Epoch() && e <= l.Epoch(); e-- {
			if _, ok := dirs[e]; ok {
				continue
			}
			if _, ok := l.ClosedInfo(e); ok {
				if d, ok := l.Directory(e); ok {
					dirs[e] = d.Relays()
				}
			}
			if e == 0 {
				break
			}
		}
	}
	saveDirs()

	lags0 := make([]mixsvc.LagHistogram, n)
	for i, nd := range nw.Nodes() {
		lags0[i] = nd.Running().Mix().Lags()
	}
	start := clk.Now()
	obs.on.Store(true)
	killed := map[int]time.Time{}
	var msgs []*sentMsg
	var msgMu sync.Mutex
	var wg sync.WaitGroup
	runCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	partner := func(i int) int {
		if p := i ^ 1; p < n {
			return p
		}
		return 0
	}
	var seeds []uint64
	nw.Rand(func(r *rand.Rand) {
		for range n {
			seeds = append(seeds, r.Uint64())
		}
	})
	for i := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seeds[i], 7))
			end := start.Add(s.Duration)
			for {
				gap := time.Duration(rng.ExpFloat64() / s.MessageRate * float64(time.Second))
				if clk.Now().Add(gap).After(end) || sleepCtx(runCtx, clk, gap) != nil {
					return
				}
				nd := nw.Node(i).Running()
				if nd == nil {
					return
				}
				m := &sentMsg{from: i, to: partner(i), at: clk.Now()}
				msgMu.Lock()
				seq := len(msgs)
				msgs = append(msgs, m)
				msgMu.Unlock()
				body := binary.BigEndian.AppendUint64(nil, uint64(seq))
				id, err := nd.Mix().Send(runCtx, nw.Node(m.to).ID, body, mixnet.SendOptions{Deadline: m.at.Add(s.Deadline)})
				msgMu.Lock()
				m.id = id
				if err != nil {
					m.res = &mixsvc.Result{Err: err}
				}
				msgMu.Unlock()
				if err != nil {
					continue
				}
				wg.Go(func() {
					wctx, cancel := context.WithTimeout(ctx, time.Duration(float64(s.Deadline+10*time.Second)*slow))
					defer cancel()
					r, err := nd.Mix().Wait(wctx, id)
					if err != nil {
						r = mixsvc.Result{Err: err}
					}
					msgMu.Lock()
					m.res = &r
					msgMu.Unlock()
				})
			}
		})
	}
	steps := int(s.Duration / time.Second)
	progress.Phase("exchanging messages", steps)
	// On the scenario's clock: slowed, a real-time ticker would end the
	// observation after Duration/Slowdown of the scenario's time.
	tick := clk.NewTicker(time.Second)
	half := false
	for done := 0; done < steps; done++ {
		select {
		case <-ctx.Done():
			tick.Stop()
			stopSending()
			wg.Wait()
			return res, ctx.Err()
		case <-tick.C():
		}
		progress.Step(1)
		saveDirs()
		if !half && s.KillRelays > 0 && clock.Since(clk, start) >= s.Duration/2 {
			// Mid-epoch: the middle of the epoch running now.
			e, _ := ep.EpochAt(clk.Now())
			if mid := ep.EpochStart(e).Add(ep.EpochStart(e+1).Sub(ep.EpochStart(e)) / 2); clk.Now().Before(mid) {
				continue
			}
			half = true
			d, _, ok := lot()
			if !ok {
				continue
			}
			for k := 0; k < s.KillRelays; k++ {
				for _, r := range d.Layer(k % rc.Layers) {
					i := nw.indexOf(peerOfKey(r.Claimant))
					if _, dead := killed[i]; i < 0 || dead {
						continue
					}
					killed[i] = clk.Now()
					if err := nw.Crash(i); err != nil {
						return res, err
					}
					res.Killed = append(res.Killed, i)
					break
				}
			}
		}
	}
	tick.Stop()
	end := clk.Now()
	obs.on.Store(false)
	lagNow := make([]mixsvc.LagHistogram, n)
	for i, nd := range nw.Nodes() {
		if r := nd.Running(); r != nil {
			lagNow[i] = r.Mix().Lags().Sub(lags0[i])
		}
	}
	progress.Phase("waiting for the last deadlines", 1)
	wg.Wait()
	progress.Step(1)
	for _, e := range slices.Sorted(maps.Keys(dirs)) {
		res.Relays = append(res.Relays, len(dirs[e]))
	}

	// Delivery, from the recipients' inboxes.
	type delivery struct{ at time.Time }
	got := map[int]delivery{}
	for _, nd := range nw.Nodes() {
		r := nd.Running()
		if r == nil {
			continue
		}
		for _, in := range r.Mix().Inbox(0) {
			if len(in.Body) == 8 {
				seq := int(binary.BigEndian.Uint64(in.Body))
				if _, dup := got[seq]; !dup && seq < len(msgs) {
					got[seq] = delivery{at: in.At}
				}
			}
		}
		st := r.Mix().Status()
		res.LinkDrops += st.LinkDrops
		res.RateDrops += st.RateDrops
		res.StreamsRefused += st.Streams.Refused
		res.StreamsTimedOut += st.Streams.TimedOut
		res.ReadErrors += st.ReadErrors
		res.Duplicates += st.Duplicates
		for k, v := range st.Drops {
			if res.Drops == nil {
				res.Drops = map[string]uint64{}
			}
			res.Drops[k] += v
		}
	}
	senders := map[int]bool{}
	var first1 int
	type linkQ struct {
		seq     int
		from    int
		to      int
		deliver time.Time
	}
	var toLink []linkQ
	for seq, m := range msgs {
		if _, dead := killed[m.from]; dead {
			res.Excluded++
			continue
		}
		if _, dead := killed[m.to]; dead {
			res.Excluded++
			continue
		}
		res.Messages++
		senders[m.from] = true
		d, ok := got[seq]
		if ok && !d.at.After(m.at.Add(s.Deadline)) {
			res.DeliveryRate++
			res.LatenciesMs = append(res.LatenciesMs, float64(d.at.Sub(m.at))/float64(time.Millisecond))
			if d.at.Before(end) {
				toLink = append(toLink, linkQ{seq: seq, from: m.from, to: m.to, deliver: d.at})
			}
		}
		if m.res != nil && m.res.Acked != nil {
			if m.res.Acked.Attempts == 1 {
				first1++
			}
			res.Retransmissions += m.res.Acked.Attempts - 1
		}
	}
	res.Senders = len(senders)
	if res.Messages > 0 {
		res.DeliveryRate /= float64(res.Messages)
		res.FirstAttemptRate = float64(first1) / float64(res.Messages)
	}
	res.LatencyMsP50, res.LatencyMsP99 = Percentile(res.LatenciesMs, 50), Percentile(res.LatenciesMs, 99)

	// Lag: the mixes' tick lags, and each frame's time on its link beyond
	// the link's latency (frames on one link arrive in the order sent).
	var lags mixsvc.LagHistogram
	for _, h := range lagNow {
		lags.Add(h)
	}
	// The histogram's last bucket is open: 1,000 ms means 1 s or more.
	res.TickLagMsP99 = float64(min(lags.Quantile(0.99), time.Second)) / float64(time.Millisecond)
	tr := Trace{Nodes: n, End: end.Sub(start).Seconds()}
	res.ObservedSeconds = tr.End
	type pair struct{ from, to int }
	inFlight := map[pair][]int{} // events not yet arrived, by link
	var linkLags []float64
	obs.mu.Lock()
	all := obs.obs
	obs.mu.Unlock()
	// In the order they happened, not the order the nodes' goroutines
	// reported them: a reader may report a frame's arrival before its
	// descheduled writer reports the write, and pairing in report order
	// would then leave that write unread and pair every later frame of
	// its link with an earlier write.
	slices.SortStableFunc(all, func(a, b mixsvc.Observation) int { return a.At.Compare(b.At) })
	for _, o := range all {
		i, j := nw.indexOf(o.From), nw.indexOf(o.To)
		if i < 0 || j < 0 {
			continue
		}
		at := o.At.Sub(start).Seconds()
		p := pair{i, j}
		if !o.Received {
			inFlight[p] = append(inFlight[p], len(tr.Events))
			tr.Events = append(tr.Events, LinkEvent{From: i, To: j, Sent: at, Arrived: math.NaN()})
			continue
		}
		if q := inFlight[p]; len(q) > 0 {
			e := &tr.Events[q[0]]
			inFlight[p] = q[1:]
			e.Arrived = at
			linkLags = append(linkLags, (at-e.Sent-nw.latency(i, j).Seconds())*1000)
			continue
		}
		tr.Events = append(tr.Events, LinkEvent{From: i, To: j, Sent: math.NaN(), Arrived: at})
	}
	res.Frames = len(tr.Events)
	// Frames written on a link and never read from it, but for the last
	// 10 s's, which a lagging simulator may still have on their way.
	for _, q := range inFlight {
		for _, k := range q {
			if tr.Events[k].Sent < tr.End-10 {
				res.FramesUnread++
			}
		}
	}
	res.LinkLagMsP99 = Percentile(linkLags, 99)
	if len(linkLags) == 0 {
		res.LinkLagMsP99 = 0
	}
	res.SimLagMsP99 = max(res.TickLagMsP99, res.LinkLagMsP99)
	limit := max(0.1*res.MeanDelayMs, 5)
	res.LagOK = res.SimLagMsP99 < limit

	// Flow correlation: each sender with its partner, and with a node it
	// does not talk to.
	var talk, other [][2]int
	nw.Rand(func(r *rand.Rand) {
		for i := range n {
			if !senders[i] {
				continue
			}
			talk = append(talk, [2]int{i, partner(i)})
			for {
				j := r.IntN(n)
				if _, dead := killed[j]; j != i && j != partner(i) && partner(j) != i && !dead {
					other = append(other, [2]int{i, j})
					break
				}
			}
		}
	})
	res.Correlations = tr.FlowCorrelations(talk, s.Window.Seconds(), s.MaxLag.Seconds())
	res.CorrelationsOther = tr.FlowCorrelations(other, s.Window.Seconds(), s.MaxLag.Seconds())
	res.FlowCorrelation, res.FlowCorrelationOther = mean(res.Correlations), mean(res.CorrelationsOther)
	res.CommonMode = tr.CommonMode(s.Window.Seconds())

	// Linking: the observer traces each delivered message back.
	dirMu.Lock()
	layerOf := map[uint64]map[int]uint8{}
	for e, rs := range dirs {
		m := map[int]uint8{}
		for _, r := range rs {
			if i := nw.indexOf(peerOfKey(r.Claimant)); i >= 0 {
				m[i] |= 1 << r.Layer
			}
		}
		layerOf[e] = m
	}
	dirMu.Unlock()
	layerAt := func(i int, at float64) uint8 {
		e, _ := ep.EpochAt(start.Add(time.Duration(at * float64(time.Second))))
		b := layerOf[e][i]
		if e > 0 {
			b |= layerOf[e-1][i]
		}
		return b
	}
	l := NewLinker(Linker{
		Hops:      mc.Layers,
		MeanDelay: mc.MeanDelay.Seconds() + 0.001,
		Latency:   func(i, j int) float64 { return nw.latency(i, j).Seconds() },
		Layer:     layerAt,
	}, tr)
	res.LinkingChance = 1 / float64(max(res.Senders, 1))
	res.SenderEntropyMax = math.Log2(float64(max(res.Senders, 1)))
	var hit, h float64
	for _, q := range toLink {
		p := l.Senders(q.to, q.deliver.Sub(start).Seconds())
		if p == nil {
			// Nothing traced: the observer is left with every node.
			h += math.Log2(float64(n - 1))
			hit += 1 / float64(n-1)
			continue
		}
		hit += Hit(p, q.from)
		h += Entropy(p)
	}
	if len(toLink) > 0 {
		res.LinkingAccuracy = hit / float64(len(toLink))
		res.SenderEntropyBits = h / float64(len(toLink))
	}
	if mc.Cover && mc.MeanDelay > 0 {
		l, e := PerfectMix{
			Nodes: n, Rate: mc.SendRate + mc.LoopRate + mc.DropRate,
			MeanDelay: mc.MeanDelay.Seconds(), Hops: mc.Layers,
		}.Bound(2000, s.Network.Seed)
		if !math.IsNaN(l) { // JSON has no NaN
			res.PerfectMixLinking, res.PerfectMixEntropyBits = l, e
		}
	}
	res.RunSeconds = clock.Since(clk, begin).Seconds()
	return res, nil
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// peerOfKey returns the peer ID of an Ed25519 identity key ("" if it is
// not one).
func peerOfKey(k ed25519.PublicKey) peer.ID {
	var id mixnet.NodeID
	if len(k) != len(id) {
		return ""
	}
	copy(id[:], k)
	pk, err := crypto.UnmarshalEd25519PublicKey(id[:])
	if err != nil {
		return ""
	}
	p, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return ""
	}
	return p
}

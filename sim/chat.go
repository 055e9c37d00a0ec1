package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
)

// ChatChannel is the public channel every node of a ChatScenario joins.
const ChatChannel = "sim"

// ChatScenario boots a network and measures the chat (docs/chat.md) in
// three phases on it: direct messages between random online pairs, a
// share of them anonymous (through the mix); direct messages to nodes
// that are away, kept in mailboxes while a share of the other nodes
// churns and delivered when they return; and a channel whose members post
// on both sides of a partition, converging by history sync after it
// heals.
type ChatScenario struct {
	// Network is the simulated network; Network.Chat (nil:
	// chatsvc.DefaultConfig, what a node runs) is every node's chat.
	Network Config

	// OnlineDMs direct messages go from random running nodes to random
	// others, spread evenly over OnlineFor.
	OnlineDMs int
	OnlineFor time.Duration
	// AnonymousShare of the online messages (drawn at random) are sent
	// anonymously, through the mix (SendOptions.Anonymous). Above 0, every
	// node runs the relay lottery (every node a candidate, TargetRelays
	// seats, epochs of EpochLength; 0: lottery.SimServiceConfig's) and the
	// mix (Mix), as in MixScenario, and the online phase starts once every
	// mix routes. GenesisDelay is how long after the start epoch 0 begins;
	// 0 means 20 s plus 100 ms per node.
	AnonymousShare float64
	TargetRelays   int
	EpochLength    time.Duration
	Mix            mixsvc.Config
	GenesisDelay   time.Duration
	// Slowdown runs the whole scenario that many times slower than
	// Network.Clock (clock.Slowed), as MixScenario's: every node's timers,
	// the links' latencies, the schedules and every time measured. A
	// hundred nodes with the mix on two cores need it. 1 (or less) runs at
	// full speed.
	Slowdown float64

	// Away nodes stop (cleanly) for AwayFor; meanwhile each gets AwayDMs
	// direct messages from nodes that neither leave nor churn, sent at
	// random times over the first three quarters of AwayFor. Then they
	// start again, and ReturnWindow is the figure's window: the share of
	// their messages delivered within it of their return.
	Away         int
	AwayFor      time.Duration
	AwayDMs      int
	ReturnWindow time.Duration
	// Churn is the share of the other nodes that churn from the start of
	// the away phase until ReturnWindow after the return: each alternates
	// between down (ChurnDown on average) and up (ChurnUp on average),
	// uniformly between half and one and a half of each; CrashShare of the
	// departures are crashes, the rest clean stops.
	Churn              float64
	ChurnDown, ChurnUp time.Duration
	CrashShare         float64

	// Partition splits the network in two halves for PartitionFor, during
	// which each half posts PartitionPosts posts on ChatChannel from random
	// members; then it heals, and the scenario waits (at most
	// ConvergeTimeout) until every node holds every post.
	Partition       bool
	PartitionFor    time.Duration
	PartitionPosts  int
	ConvergeTimeout time.Duration

	// DrainTimeout bounds the wait at the end for messages not delivered
	// yet (the "eventually" of dm_delivery_rate).
	DrainTimeout time.Duration
	// BootTimeout bounds the boot.
	BootTimeout time.Duration
}

// DefaultChatScenario returns a scenario of n nodes: 200 direct messages
// over 40 s, none anonymous (with AnonymousShare: R = 24, 10-second
// epochs, the mix's defaults, as DefaultMixScenario); a tenth of the nodes
// (at least one) away for 2 minutes with 5 messages each, 30 % of the
// others churning (30 s down, 30 s up, half crashes), a 30 s window after
// the return; a 30 s partition with 20 posts per half and 3 minutes to
// converge; a minute for a node's services to start.
func DefaultChatScenario(n int) ChatScenario {
	nc := quietConfig(n)
	// A node that returns (or churns back) starts its services under the
	// load of a hundred others: on two busy cores the chat's start took
	// more than the test preset's 10 s and the run ended there.
	nc.Supervisor.StartTimeout = time.Minute
	return ChatScenario{
		Network:   nc,
		OnlineDMs: 200, OnlineFor: 40 * time.Second,
		Away: max(1, n/10), AwayFor: 2 * time.Minute, AwayDMs: 5, ReturnWindow: 30 * time.Second,
		Churn: 0.3, ChurnDown: 30 * time.Second, ChurnUp: 30 * time.Second, CrashShare: 0.5,
		Partition: true, PartitionFor: 30 * time.Second, PartitionPosts: 20, ConvergeTimeout: 3 * time.Minute,
		DrainTimeout: 2 * time.Minute, BootTimeout: 10 * time.Minute,
		TargetRelays: 24, EpochLength: 10 * time.Second, Mix: mixsvc.DefaultConfig(), Slowdown: 1,
	}
}

// ChatResult is what a ChatScenario measured.
type ChatResult struct {
	Nodes int    `json:"nodes"`
	Seed  uint64 `json:"seed"`

	// DMs counts every direct message of the run; DMDeliveryRate is the
	// share delivered by the end (after DrainTimeout at most).
	DMs            int     `json:"dms"`
	DMDeliveryRate float64 `json:"dm_delivery_rate"`
	// OnlineDMs were sent with both ends online, not anonymously; the
	// latency is from Send on the sender to the message in the
	// recipient's inbox.
	OnlineDMs          int     `json:"online_dms"`
	OnlineDeliveryRate float64 `json:"online_delivery_rate"`
	DMLatencyMsP50     float64 `json:"dm_latency_ms_p50"`
	DMLatencyMsP99     float64 `json:"dm_latency_ms_p99"`
	DMLatencyMsMax     float64 `json:"dm_latency_ms_max"`
	SendErrors         int     `json:"send_errors,omitempty"`
	OnlineRoutes       Routes  `json:"online_routes"`
	// AnonymousDMs were sent with both ends online through the mix; the
	// same figures.
	AnonymousDMs          int     `json:"anonymous_dms"`
	AnonymousDeliveryRate float64 `json:"anonymous_delivery_rate"`
	AnonymousLatencyMsP50 float64 `json:"anonymous_latency_ms_p50"`
	AnonymousLatencyMsP99 float64 `json:"anonymous_latency_ms_p99"`
	AnonymousLatencyMsMax float64 `json:"anonymous_latency_ms_max"`
	AnonymousRoutes       Routes  `json:"anonymous_routes"`
	// TargetRelays is the lottery's R when the mix runs.
	TargetRelays         int     `json:"target_relays,omitempty"`
	AwayNodes            int     `json:"away_nodes"`
	AwaySeconds          float64 `json:"away_seconds"`
	Churn                float64 `json:"churn"`
	Churners             int     `json:"churners"`
	Departures           int     `json:"departures"`
	MailboxDMs           int     `json:"mailbox_dms"`
	ReturnWindowSeconds  float64 `json:"return_window_seconds"`
	MailboxDeliveryRate  float64 `json:"mailbox_delivery_rate"`
	MailboxEventualRate  float64 `json:"mailbox_delivery_rate_eventual"`
	AfterReturnMsP50     float64 `json:"after_return_ms_p50"`
	AfterReturnMsP99     float64 `json:"after_return_ms_p99"`
	AwayRoutes           Routes  `json:"away_routes"`
	MailboxItemsAtReturn int     `json:"mailbox_items_at_return"`

	Partition                 bool    `json:"partition"`
	Posts                     int     `json:"posts,omitempty"`
	ChannelConverged          bool    `json:"channel_converged"`
	ChannelConvergedShare     float64 `json:"channel_converged_share"`
	ChannelConvergenceSeconds float64 `json:"channel_convergence_seconds"`
	ChannelConvergenceP50     float64 `json:"channel_convergence_seconds_p50"`
	// ChannelLast are the (at most 3) nodes that completed last, latest
	// first, with their time after the heal (the scenario's timeout for a
	// node that never did): the tail to trace in the nodes' logs.
	ChannelLast []ChatLate `json:"channel_last_nodes,omitempty"`

	// Slowdown is how many times slower than real time the scenario ran
	// (every time reported is the scenario's).
	Slowdown    float64 `json:"slowdown"`
	BootSeconds float64 `json:"boot_seconds"`
	RunSeconds  float64 `json:"run_seconds"`

	// For the plots.
	LatenciesMs    []float64 `json:"-"`
	AnonymousMs    []float64 `json:"-"`
	AfterReturnMs  []float64 `json:"-"`
	ConvergenceSec []float64 `json:"-"`
}

// ChatLate is one of the last nodes to hold every post after the heal.
type ChatLate struct {
	Node    int     `json:"node"`
	Seconds float64 `json:"seconds"`
}

// Routes counts delivered messages by the route of their first copy.
type Routes struct {
	Direct  int `json:"direct"`
	Mailbox int `json:"mailbox"`
	Mix     int `json:"mix"`
}

func (r *Routes) add(x dm.Route) {
	switch x {
	case dm.Direct:
		r.Direct++
	case dm.Mailbox:
		r.Mailbox++
	case dm.Mix:
		r.Mix++
	}
}

// chatDM is one direct message of the workload.
type chatDM struct {
	from, to int
	id       dm.MsgID
	at       time.Time
	away     bool
	anon     bool
	err      error

	delivered bool
	arrived   time.Time
	route     dm.Route
}

// Run runs the scenario.
func (s ChatScenario) Run(ctx context.Context, progress Progress) (ChatResult, error) {
	if err := s.validate(); err != nil {
		return ChatResult{}, err
	}
	clk, slow, err := slowed(&s.Network, s.Slowdown)
	if err != nil {
		return ChatResult{}, err
	}
	progress = orNoProgress(progress)
	begin := clk.Now()
	n := s.Network.Nodes
	res := ChatResult{Nodes: n, Seed: s.Network.Seed, Churn: s.Churn, Partition: s.Partition, Slowdown: slow}
	if s.AnonymousShare > 0 {
		res.TargetRelays = s.TargetRelays
	}
	cfg := s.Network
	var mix *chatMix
	if s.AnonymousShare > 0 {
		var err error
		if mix, err = s.withMix(&cfg); err != nil {
			return res, err
		}
	}
	nw, err := New(cfg)
	if err != nil {
		return res, err
	}
	defer nw.Close()
	if mix != nil {
		if err := mix.candidates(nw); err != nil {
			return res, err
		}
	}
	if err := Boot(ctx, nw, time.Duration(float64(s.BootTimeout)*slow), progress); err != nil {
		return res, err
	}
	res.BootSeconds = clock.Since(clk, begin).Seconds()

	// Every node joins the channel now, so that its mesh forms while the
	// direct messages run; the join is remembered across restarts.
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

	if mix != nil {
		if err := mix.ready(ctx, nw, progress); err != nil {
			return res, err
		}
	}

	var dms []*chatDM
	online, err := s.onlineDMs(ctx, nw, progress)
	dms = append(dms, online...)
	if err != nil {
		return res, err
	}
	away, returned, err := s.awayDMs(ctx, nw, &res, progress)
	dms = append(dms, away...)
	if err != nil {
		return res, err
	}
	if s.Partition {
		if err := s.partition(ctx, nw, &res, progress); err != nil {
			return res, err
		}
	}
	if err := s.drain(ctx, nw, dms, progress); err != nil {
		return res, err
	}
	s.summarize(&res, dms, returned)
	res.RunSeconds = clock.Since(clk, begin).Seconds()
	return res, nil
}

func (s ChatScenario) validate() error {
	n := s.Network.Nodes
	switch {
	case n < 4:
		return fmt.Errorf("%w: Nodes %d: the chat scenario needs 4", ErrConfig, n)
	case s.OnlineDMs < 0 || s.AwayDMs < 0 || s.PartitionPosts < 0:
		return fmt.Errorf("%w: negative message counts", ErrConfig)
	case s.OnlineDMs > 0 && s.OnlineFor <= 0:
		return fmt.Errorf("%w: OnlineFor %s must be positive", ErrConfig, s.OnlineFor)
	case s.AnonymousShare < 0 || s.AnonymousShare > 1:
		return fmt.Errorf("%w: AnonymousShare %v: want 0 to 1", ErrConfig, s.AnonymousShare)
	case s.AnonymousShare > 0 && (s.TargetRelays < 1 || s.EpochLength < 0):
		return fmt.Errorf("%w: TargetRelays %d must be positive and EpochLength %s not negative", ErrConfig, s.TargetRelays, s.EpochLength)
	case s.Away < 0 || s.Away > n/2:
		return fmt.Errorf("%w: Away %d: want 0 to half the nodes", ErrConfig, s.Away)
	case s.Away > 0 && (s.AwayFor <= 0 || s.ReturnWindow <= 0):
		return fmt.Errorf("%w: AwayFor %s and ReturnWindow %s must be positive", ErrConfig, s.AwayFor, s.ReturnWindow)
	case s.Churn < 0 || s.Churn > 0.9:
		return fmt.Errorf("%w: Churn %v: want 0 to 0.9", ErrConfig, s.Churn)
	case s.Churn > 0 && (s.ChurnDown <= 0 || s.ChurnUp <= 0):
		return fmt.Errorf("%w: ChurnDown %s and ChurnUp %s must be positive", ErrConfig, s.ChurnDown, s.ChurnUp)
	case s.CrashShare < 0 || s.CrashShare > 1:
		return fmt.Errorf("%w: CrashShare %v: want 0 to 1", ErrConfig, s.CrashShare)
	case s.Partition && (s.PartitionFor <= 0 || s.ConvergeTimeout <= 0):
		return fmt.Errorf("%w: PartitionFor %s and ConvergeTimeout %s must be positive", ErrConfig, s.PartitionFor, s.ConvergeTimeout)
	case s.DrainTimeout < 0 || s.BootTimeout <= 0:
		return fmt.Errorf("%w: DrainTimeout %s must not be negative, BootTimeout %s positive", ErrConfig, s.DrainTimeout, s.BootTimeout)
	}
	return nil
}

// chatOf returns node i's chat service.
func chatOf(nw *Network, i int) (*chatsvc.Service, error) {
	nd := nw.Node(i).Running()
	if nd == nil {
		return nil, fmt.Errorf("%w: node %d", ErrDown, i)
	}
	c := nd.Chat()
	if c == nil {
		return nil, fmt.Errorf("sim: node %d runs no chat (chat.enabled)", i)
	}
	return c, nil
}

// send sends one DM of the workload from m.from to m.to now.
func send(ctx context.Context, nw *Network, m *chatDM) {
	m.at = nw.cfg.Clock.Now()
	c, err := chatOf(nw, m.from)
	if err != nil {
		m.err = err
		return
	}
	m.id, _, m.err = c.Send(ctx, nw.Node(m.to).ID.String(), fmt.Appendf(nil, "sim message from %d to %d", m.from, m.to), chatsvc.SendOptions{Anonymous: m.anon})
}

// onlineDMs sends OnlineDMs messages between random running nodes and
// waits until they are delivered (DrainTimeout at most).
func (s ChatScenario) onlineDMs(ctx context.Context, nw *Network, progress Progress) ([]*chatDM, error) {
	if s.OnlineDMs == 0 {
		return nil, nil
	}
	clk := nw.cfg.Clock
	progress.Phase("direct messages, both online", s.OnlineDMs)
	every := s.OnlineFor / time.Duration(s.OnlineDMs)
	anon := make([]bool, s.OnlineDMs)
	if s.AnonymousShare > 0 {
		nw.Rand(func(r *rand.Rand) {
			for k := range anon {
				anon[k] = r.Float64() < s.AnonymousShare
			}
		})
	}
	var dms []*chatDM
	var wg sync.WaitGroup
	start := clk.Now()
	for k := range s.OnlineDMs {
		if d := clock.Until(clk, start.Add(time.Duration(k)*every)); d > 0 {
			if err := sleepCtx(ctx, clk, d); err != nil {
				wg.Wait()
				return dms, err
			}
		}
		from, to, ok := pickPair(nw, nil)
		if !ok {
			continue
		}
		m := &chatDM{from: from, to: to, anon: anon[k]}
		dms = append(dms, m)
		wg.Go(func() { send(ctx, nw, m) })
		progress.Step(1)
	}
	wg.Wait()
	return dms, s.await(ctx, nw, dms, "waiting for the direct messages", progress)
}

// await polls the recipients' inboxes until every message sent without
// error is delivered, or DrainTimeout passes.
func (s ChatScenario) await(ctx context.Context, nw *Network, dms []*chatDM, phase string, progress Progress) error {
	clk := nw.cfg.Clock
	want := 0
	for _, m := range dms {
		if m.err == nil {
			want++
		}
	}
	progress.Phase(phase, want)
	end := clk.Now().Add(s.DrainTimeout)
	reported := 0
	for {
		got := collect(nw, dms)
		progress.Step(got - reported)
		reported = got
		if got >= want || !clk.Now().Before(end) {
			return nil
		}
		if err := sleepCtx(ctx, clk, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// collect marks the messages found in their running recipients' inboxes
// and returns how many are delivered.
func collect(nw *Network, dms []*chatDM) int {
	byTo := map[int]map[dm.MsgID]*chatDM{}
	got := 0
	for _, m := range dms {
		if m.delivered {
			got++
			continue
		}
		if m.err != nil {
			continue
		}
		if byTo[m.to] == nil {
			byTo[m.to] = map[dm.MsgID]*chatDM{}
		}
		byTo[m.to][m.id] = m
	}
	for to, want := range byTo {
		c, err := chatOf(nw, to)
		if err != nil {
			continue
		}
		for _, r := range c.Inbox(0) {
			if m := want[r.ID]; m != nil && r.From == nw.Node(m.from).ID && !m.delivered {
				m.delivered, m.arrived, m.route = true, r.At, r.Route
				got++
			}
		}
	}
	return got
}

// awayDMs runs the away phase: it stops the away nodes, churns a share of
// the others, sends the away nodes messages, starts them again, and waits
// ReturnWindow (churn going on). It returns the messages and when each
// away node returned.
func (s ChatScenario) awayDMs(ctx context.Context, nw *Network, res *ChatResult, progress Progress) ([]*chatDM, map[int]time.Time, error) {
	if s.Away == 0 {
		return nil, nil, nil
	}
	clk := nw.cfg.Clock
	n := len(nw.Nodes())
	var perm []int
	nw.Rand(func(r *rand.Rand) { perm = r.Perm(n) })
	away := perm[:s.Away]
	churners := perm[s.Away : s.Away+int(s.Churn*float64(n-s.Away)+0.5)]
	stable := perm[s.Away+len(churners):]
	if len(stable) == 0 {
		return nil, nil, fmt.Errorf("%w: no node is left to send (Away %d, Churn %v)", ErrConfig, s.Away, s.Churn)
	}
	res.AwayNodes, res.Churners, res.AwaySeconds = len(away), len(churners), s.AwayFor.Seconds()
	res.ReturnWindowSeconds = s.ReturnWindow.Seconds()

	progress.Phase("stopping the away nodes", len(away))
	for _, i := range away {
		if err := nw.Stop(i); err != nil {
			return nil, nil, err
		}
		progress.Step(1)
	}
	start := clk.Now()
	// The plan runs past the window: the churn stops when the window after
	// the last return ends, however long the returns took.
	churnEnd := start.Add(s.AwayFor + s.ReturnWindow + 10*time.Minute)
	cctx, stopChurn := context.WithCancel(ctx)
	var churnWG sync.WaitGroup
	departures := 0
	if len(churners) > 0 {
		plan := churnPlan(nw, churners, start, churnEnd, s.ChurnDown, s.ChurnUp, s.CrashShare)
		churnWG.Go(func() { departures = runChurnPlan(cctx, nw, plan) })
	}
	defer func() {
		stopChurn()
		churnWG.Wait()
	}()

	// The messages, at random times over the first three quarters.
	var dms []*chatDM
	nw.Rand(func(r *rand.Rand) {
		for _, to := range away {
			for range s.AwayDMs {
				m := &chatDM{from: stable[r.IntN(len(stable))], to: to, away: true,
					at: start.Add(time.Duration(r.Int64N(int64(s.AwayFor * 3 / 4))))}
				dms = append(dms, m)
			}
		}
	})
	slices.SortFunc(dms, func(a, b *chatDM) int { return a.at.Compare(b.at) })
	progress.Phase("away: messages to mailboxes, churn", len(dms))
	var wg sync.WaitGroup
	for _, m := range dms {
		if d := clock.Until(clk, m.at); d > 0 {
			if err := sleepCtx(ctx, clk, d); err != nil {
				wg.Wait()
				return dms, nil, err
			}
		}
		wg.Go(func() { send(ctx, nw, m) })
		progress.Step(1)
	}
	wg.Wait()
	if err := waitSeconds(ctx, clk, "away: waiting for the return", clock.Until(clk, start.Add(s.AwayFor)), progress); err != nil {
		return dms, nil, err
	}
	for _, nd := range nw.Nodes() {
		if r := nd.Running(); r != nil && r.Mailbox() != nil {
			res.MailboxItemsAtReturn += r.Mailbox().Stats().Items
		}
	}
	progress.Phase("away nodes return", len(away))
	returned := map[int]time.Time{}
	for _, i := range away {
		returned[i] = clk.Now()
		if err := nw.Start(ctx, i); err != nil {
			return dms, returned, err
		}
		progress.Step(1)
	}
	// The window after the last return, churn going on; messages are
	// collected as they come, so that a node churned later still counts.
	end := clk.Now().Add(s.ReturnWindow)
	progress.Phase("after the return", int(s.ReturnWindow/time.Second))
	last := clk.Now()
	for clk.Now().Before(end) {
		collect(nw, dms)
		if err := sleepCtx(ctx, clk, 200*time.Millisecond); err != nil {
			return dms, returned, err
		}
		if d := clk.Now().Sub(last); d >= time.Second {
			progress.Step(int(d / time.Second))
			last = last.Add(d.Truncate(time.Second))
		}
	}
	stopChurn()
	churnWG.Wait()
	res.Departures = departures
	collect(nw, dms)
	return dms, returned, nil
}

// churnEvent takes node idx down (or up) at at.
type churnEvent struct {
	at    time.Time
	idx   int
	down  bool
	crash bool
}

// churnPlan draws each churner's alternation of down (down on average)
// and up (up on average, each uniformly between half and one and a half
// of its mean) from start until end, starting at a random point of its
// cycle; crashShare of the departures are crashes.
func churnPlan(nw *Network, churners []int, start, end time.Time, down, up time.Duration, crashShare float64) []churnEvent {
	var plan []churnEvent
	nw.Rand(func(r *rand.Rand) {
		span := func(mean time.Duration) time.Duration {
			return mean/2 + time.Duration(r.Int64N(int64(mean)+1))
		}
		for _, i := range churners {
			t := start.Add(time.Duration(r.Int64N(int64(up) + 1)))
			for t.Before(end) {
				plan = append(plan, churnEvent{at: t, idx: i, down: true, crash: r.Float64() < crashShare})
				t = t.Add(span(down))
				plan = append(plan, churnEvent{at: t, idx: i})
				t = t.Add(span(up))
			}
		}
	})
	slices.SortStableFunc(plan, func(a, b churnEvent) int { return a.at.Compare(b.at) })
	return plan
}

// runChurnPlan carries the plan out until it ends or ctx does, then starts
// every node it took down; it returns the departures.
func runChurnPlan(ctx context.Context, nw *Network, plan []churnEvent) int {
	clk := nw.cfg.Clock
	departures := 0
	down := map[int]bool{}
	defer func() {
		for _, i := range slices.Sorted(maps.Keys(down)) {
			if err := nw.Start(context.WithoutCancel(ctx), i); err != nil {
				nw.log.Warn("churn: restart failed", "node", i, "err", err)
			}
		}
	}()
	for _, e := range plan {
		if d := clock.Until(clk, e.at); d > 0 && sleepCtx(ctx, clk, d) != nil {
			return departures
		}
		var err error
		switch {
		case e.down && e.crash:
			err = nw.Crash(e.idx)
		case e.down:
			err = nw.Stop(e.idx)
		default:
			err = nw.Start(ctx, e.idx)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			nw.log.Warn("churn", "node", e.idx, "down", e.down, "err", err)
		}
		if e.down {
			departures++
			down[e.idx] = true
		} else if err == nil {
			delete(down, e.idx)
		}
	}
	return departures
}

// partition splits the network in two halves, has each post, heals it and
// waits until every node holds every post.
func (s ChatScenario) partition(ctx context.Context, nw *Network, res *ChatResult, progress Progress) error {
	clk := nw.cfg.Clock
	n := len(nw.Nodes())
	var perm []int
	nw.Rand(func(r *rand.Rand) { perm = r.Perm(n) })
	group := make([]int, n)
	var members [2][]int
	for k, i := range perm {
		group[i] = k % 2
		members[k%2] = append(members[k%2], i)
	}
	nw.Partition(func(i int) int { return group[i] })
	start := clk.Now()
	type post struct {
		from int
		at   time.Time
	}
	var posts []post
	nw.Rand(func(r *rand.Rand) {
		for g := range 2 {
			for range s.PartitionPosts {
				posts = append(posts, post{from: members[g][r.IntN(len(members[g]))],
					at: start.Add(time.Duration(r.Int64N(int64(s.PartitionFor/2) + 1)))})
			}
		}
	})
	slices.SortFunc(posts, func(a, b post) int { return a.at.Compare(b.at) })
	progress.Phase("partition: posting on both sides", len(posts))
	var ids []channel.ID
	for _, p := range posts {
		if d := clock.Until(clk, p.at); d > 0 {
			if err := sleepCtx(ctx, clk, d); err != nil {
				return err
			}
		}
		c, err := chatOf(nw, p.from)
		if err != nil {
			return err
		}
		id, err := c.Channels().Post(ctx, ChatChannel, fmt.Appendf(nil, "post from %d", p.from))
		if err != nil {
			return fmt.Errorf("sim: node %d posts: %w", p.from, err)
		}
		ids = append(ids, id)
		progress.Step(1)
	}
	res.Posts = len(ids)
	if err := waitSeconds(ctx, clk, "partition: holding", clock.Until(clk, start.Add(s.PartitionFor)), progress); err != nil {
		return err
	}
	nw.Heal()
	healed := clk.Now()
	progress.Phase("after the heal: channel convergence", n)
	done := make([]bool, n)
	at := make([]float64, n) // seconds after the heal; the timeout if never
	converged := 0
	end := healed.Add(s.ConvergeTimeout)
	for converged < n && clk.Now().Before(end) {
		for i := range n {
			if done[i] {
				continue
			}
			c, err := chatOf(nw, i)
			if err != nil {
				continue
			}
			have, err := c.Channels().IDs(ctx, ChatChannel)
			if err != nil {
				continue
			}
			if containsAll(have, ids) {
				done[i] = true
				converged++
				at[i] = clock.Since(clk, healed).Seconds()
				res.ConvergenceSec = append(res.ConvergenceSec, at[i])
				progress.Step(1)
			}
		}
		if converged < n {
			if err := sleepCtx(ctx, clk, 250*time.Millisecond); err != nil {
				return err
			}
		}
	}
	for i := range n {
		if !done[i] {
			at[i] = s.ConvergeTimeout.Seconds()
		}
		res.ChannelLast = append(res.ChannelLast, ChatLate{Node: i, Seconds: at[i]})
	}
	slices.SortStableFunc(res.ChannelLast, func(a, b ChatLate) int { return cmp.Compare(b.Seconds, a.Seconds) })
	res.ChannelLast = res.ChannelLast[:min(3, n)]
	res.ChannelConverged = converged == n
	res.ChannelConvergedShare = float64(converged) / float64(n)
	if len(res.ConvergenceSec) > 0 {
		res.ChannelConvergenceSeconds = slices.Max(res.ConvergenceSec)
		res.ChannelConvergenceP50 = Percentile(res.ConvergenceSec, 50)
	}
	if !res.ChannelConverged {
		res.ChannelConvergenceSeconds = s.ConvergeTimeout.Seconds()
	}
	return nil
}

func containsAll(have, want []channel.ID) bool {
	set := make(map[channel.ID]struct{}, len(have))
	for _, id := range have {
		set[id] = struct{}{}
	}
	for _, id := range want {
		if _, ok := set[id]; !ok {
			return false
		}
	}
	return true
}

// drain waits (DrainTimeout at most) for the messages not delivered yet.
func (s ChatScenario) drain(ctx context.Context, nw *Network, dms []*chatDM, progress Progress) error {
	return s.await(ctx, nw, dms, "waiting for undelivered messages", progress)
}

// summarize computes the figures from the messages.
func (s ChatScenario) summarize(res *ChatResult, dms []*chatDM, returned map[int]time.Time) {
	var delivered, online, onlineOK, anonN, anonOK, awayN, awayIn, awayOK int
	for _, m := range dms {
		res.DMs++
		if m.err != nil {
			res.SendErrors++
		}
		if m.delivered {
			delivered++
		}
		if m.anon {
			anonN++
			if m.delivered {
				anonOK++
				res.AnonymousRoutes.add(m.route)
				res.AnonymousMs = append(res.AnonymousMs, float64(m.arrived.Sub(m.at))/float64(time.Millisecond))
			}
			continue
		}
		if !m.away {
			online++
			if m.delivered {
				onlineOK++
				res.OnlineRoutes.add(m.route)
				res.LatenciesMs = append(res.LatenciesMs, float64(m.arrived.Sub(m.at))/float64(time.Millisecond))
			}
			continue
		}
		awayN++
		if !m.delivered {
			continue
		}
		awayOK++
		res.AwayRoutes.add(m.route)
		after := m.arrived.Sub(returned[m.to])
		res.AfterReturnMs = append(res.AfterReturnMs, float64(after)/float64(time.Millisecond))
		if after <= s.ReturnWindow {
			awayIn++
		}
	}
	res.OnlineDMs, res.AnonymousDMs, res.MailboxDMs = online, anonN, awayN
	if anonN > 0 {
		res.AnonymousDeliveryRate = float64(anonOK) / float64(anonN)
	}
	if len(res.AnonymousMs) > 0 {
		res.AnonymousLatencyMsP50, res.AnonymousLatencyMsP99 = Percentile(res.AnonymousMs, 50), Percentile(res.AnonymousMs, 99)
		res.AnonymousLatencyMsMax = slices.Max(res.AnonymousMs)
	}
	if res.DMs > 0 {
		res.DMDeliveryRate = float64(delivered) / float64(res.DMs)
	}
	if online > 0 {
		res.OnlineDeliveryRate = float64(onlineOK) / float64(online)
	}
	if awayN > 0 {
		res.MailboxDeliveryRate = float64(awayIn) / float64(awayN)
		res.MailboxEventualRate = float64(awayOK) / float64(awayN)
	}
	if len(res.LatenciesMs) > 0 {
		res.DMLatencyMsP50, res.DMLatencyMsP99 = Percentile(res.LatenciesMs, 50), Percentile(res.LatenciesMs, 99)
		res.DMLatencyMsMax = slices.Max(res.LatenciesMs)
	}
	if len(res.AfterReturnMs) > 0 {
		res.AfterReturnMsP50, res.AfterReturnMsP99 = Percentile(res.AfterReturnMs, 50), Percentile(res.AfterReturnMs, 99)
	}
}

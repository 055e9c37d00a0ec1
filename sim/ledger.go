package sim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// LedgerScenario boots a network whose nodes run the ledger
// (docs/token.md) and measures it: transfers between random nodes while a
// share of them churns (confirmation latency), then double spenders whose
// conflicting sends are made on both sides of a partition (or at once,
// without one), and after the heal, that at most one send of each pair
// was confirmed anywhere, that every node agrees, and that the sum of all
// balances, stakes and credits in flight stayed the supply on every node.
//
// As in Nano, the accounts delegate their weight to a few principal
// representatives: the genesis gives every node's account one of
// Representatives nodes as its representative, and only nodes with
// weight vote. The others validate blocks and count votes.
type LedgerScenario struct {
	// Network is the simulated network; its Ledger (nil:
	// ledgersvc.TestConfig with TickInterval 1 s, MaxAge 30 s and MaxBackdate
	// its AgeBackdate, 30 epochs) is every node's ledger timers. The scenario writes the genesis and names it in
	// Network.Node.Token.
	Network Config
	// Representatives is how many nodes, drawn from the seed, are the
	// principal representatives every account delegates to (round robin).
	Representatives int
	// Transfers sends of a random amount go between random nodes that do
	// not churn, spread evenly over TransferFor. A send's latency is from
	// the Send call to its confirmation on both the sender's and the
	// recipient's node (ConfirmTimeout at most). The churning nodes do not
	// send: a node just back has no gossip mesh yet and learns what it
	// missed from the catch-up, which is not what the latency measures;
	// at the end they must hold every confirmation too (Converged).
	Transfers      int
	TransferFor    time.Duration
	ConfirmTimeout time.Duration
	// Churn is the share of the nodes other than the representatives that
	// alternate, during the transfers, between down (ChurnDown on
	// average) and up (ChurnUp on average); CrashShare of the departures
	// are crashes, the rest clean stops.
	Churn              float64
	ChurnDown, ChurnUp time.Duration
	CrashShare         float64
	// DoubleSpenders are accounts funded by the genesis whose keys two
	// nodes hold: each of the two sends the whole balance to a different
	// node from the same chain head. With Partition, the network first
	// splits in two random halves for PartitionFor and each half gets one
	// send of every pair; without, both go out at once.
	DoubleSpenders int
	Partition      bool
	PartitionFor   time.Duration
	// SettleTimeout bounds the wait at the end until every running node
	// has confirmed every send, settled every pair and holds the same
	// confirmed heads.
	SettleTimeout time.Duration
	// MeshWait is how long the scenario waits after the boot for the
	// ledger topics' meshes.
	MeshWait time.Duration
	// BootTimeout bounds the boot.
	BootTimeout time.Duration
	// Slowdown runs the scenario that many times slower than
	// Network.Clock (clock.Slowed), as MixScenario.Slowdown: every node's
	// timers, the links' latencies and every time measured; 1 is full
	// speed.
	Slowdown float64

	// booted, if set, is called once the ledger meshes have formed, with
	// a context that ends before the network closes (tests: to hold a
	// node's ledger busy).
	booted func(ctx context.Context, nw *Network)
}

// DefaultLedgerScenario returns a scenario of n nodes: a sixth of them (3
// to 20) representatives, 100 transfers over 100 s with 10 % of the other
// nodes churning (20 s down, 40 s up, half crashes), no double spender,
// and the partition, when asked for, held 15 s.
func DefaultLedgerScenario(n int) LedgerScenario {
	c := quietConfig(n)
	c.Node.Chat.Enabled = false
	c.Node.Mix.Enabled = false
	return LedgerScenario{
		Network:         c,
		Representatives: min(20, max(3, n/6)),
		Transfers:       100, TransferFor: 100 * time.Second, ConfirmTimeout: 30 * time.Second,
		Churn: 0.1, ChurnDown: 20 * time.Second, ChurnUp: 40 * time.Second, CrashShare: 0.5,
		PartitionFor:  15 * time.Second,
		SettleTimeout: 2 * time.Minute,
		MeshWait:      5 * time.Second,
		BootTimeout:   10 * time.Minute,
		Slowdown:      1,
	}
}

// LedgerResult is what a LedgerScenario measured.
type LedgerResult struct {
	Nodes           int     `json:"nodes"`
	Seed            uint64  `json:"seed"`
	Representatives int     `json:"representatives"`
	Slowdown        float64 `json:"slowdown"`

	// Transfers counts the sends of the workload, SendErrors those
	// refused at Send (a node that went down as it was picked).
	// Measured is how many were seen confirmed on both ends within
	// ConfirmTimeout; the others had an end go down, or took longer
	// (Late).
	Transfers    int     `json:"transfers"`
	SendErrors   int     `json:"send_errors"`
	Measured     int     `json:"measured"`
	Late         int     `json:"late"`
	ConfirmMsP50 float64 `json:"confirm_ms_p50"`
	ConfirmMsP99 float64 `json:"confirm_ms_p99"`
	ConfirmMsMax float64 `json:"confirm_ms_max"`
	Churners     int     `json:"churners"`
	Departures   int     `json:"departures"`

	// DoubleSpenders made a pair of conflicting sends each.
	// ForksDetected counts the pairs of which some node held both sends
	// at once (sampled every 250 ms; a node that takes the second send of
	// a settled pair refuses it and holds no fork).
	// DoubleSpendsConfirmed counts the pairs of which both sends were
	// confirmed, on one node or on two: it must be 0. DoubleSpendsSettled
	// counts the pairs of which one send is confirmed on every running
	// node at the end (a pair neither of whose sends got a quorum stays
	// open, which is safe).
	Partition             bool `json:"partition"`
	DoubleSpenders        int  `json:"double_spenders"`
	ForksDetected         int  `json:"forks_detected"`
	DoubleSpendsConfirmed int  `json:"double_spends_confirmed"`
	DoubleSpendsSettled   int  `json:"double_spends_settled"`

	// SumConstant says that on every running node, at every check, the
	// balances, stakes and credits in flight (sent and not received yet)
	// added up to the genesis supply; SumChecks counts the checks.
	Supply      uint64 `json:"supply"`
	SumConstant bool   `json:"sum_constant"`
	SumChecks   int    `json:"sum_checks"`
	// Unconfirmed counts the sends of the workload not confirmed on every
	// running node at the end; Converged says that every running node
	// held the same confirmed head of every account.
	// ValidatorIgnored and ValidatorRejected add up, over the running
	// nodes, what their ledger validators dropped without and with a
	// penalty (ledgersvc.Stats; a restarted node's count from its
	// restart).
	Unconfirmed int `json:"unconfirmed"`
	// UnconfirmedNodes are the running nodes that had not confirmed every
	// send of the workload at the end: how many each missed, and whether
	// the churn took it down during the transfers.
	UnconfirmedNodes []UnconfirmedNode `json:"unconfirmed_nodes,omitempty"`
	// Diverged are the running nodes that kept Converged false: a fork
	// held, or confirmed heads other than most nodes'.
	Diverged          []DivergedNode `json:"diverged,omitempty"`
	Converged         bool           `json:"converged"`
	SettleSeconds     float64        `json:"settle_seconds"`
	ValidatorIgnored  uint64         `json:"validator_ignored"`
	ValidatorRejected uint64         `json:"validator_rejected"`
	// ValidatorIgnoredByReason splits ValidatorIgnored by the validators'
	// reason (ledgersvc.Reason: future, settled, backdated, no_weight);
	// GossipIgnoredByRule counts the ledger topics' messages gossip's own
	// rules ignored (time, seq, rate); CoreRefused the messages the
	// validators let through that the ledger's core did not take, by its
	// answer (ledgersvc.Refusal: gap, busy, duplicate, invalid, other).
	// Over the running nodes, as ValidatorIgnored.
	ValidatorIgnoredByReason map[string]uint64 `json:"validator_ignored_by_reason"`
	GossipIgnoredByRule      map[string]uint64 `json:"gossip_ignored_by_rule"`
	CoreRefused              map[string]uint64 `json:"core_refused"`
	// RepAsks counts the representatives the nodes asked for the outcome
	// of an election they held open past a re-send (ledgersvc.Stats.Asks).
	RepAsks uint64 `json:"rep_asks"`
	// GossipDropped counts, over the running nodes and all their topics
	// (the ledger's are nearly all of the traffic here), the messages
	// pubsub dropped: by its reason ("validation ignored", "validation
	// throttled", "validation queue full", ...), and "undeliverable" for
	// those validated and relayed that a subscription's handler fell too
	// far behind to take.
	GossipDropped map[string]uint64 `json:"gossip_dropped"`
	// LateSends describes each send of the workload that was not
	// confirmed on both ends within ConfirmTimeout, as things stood when
	// its wait ended.
	LateSends []LateSend `json:"late_sends,omitempty"`

	// StuckCloses counts the nodes whose Close did not return within its
	// bound, left behind cut off (sim.ErrCloseStuck: a mocknet stream
	// half open for good).
	StuckCloses int `json:"stuck_closes"`

	BootSeconds float64 `json:"boot_seconds"`
	RunSeconds  float64 `json:"run_seconds"`
	// Stalled names what did not finish within its bound when Run
	// returned ErrStalled (empty otherwise); the figures above are then
	// those of what had finished.
	Stalled string `json:"stalled,omitempty"`

	// For the plots.
	LatenciesMs []float64 `json:"-"`
}

// LateSend is where a late send of the workload stood when its wait
// ended: Where names the first end that had not confirmed it (sender or
// recipient; made: the Send call itself had not returned), Holding says
// whether that end held the block at all, and RepsHolding and
// RepsConfirmed count the running representatives (of RepsUp) that held
// it and had confirmed it. The nodes are looked at only if their ledger
// is not busy at that instant (the diagnostics must not hold a send
// behind a busy node): EndBusy says the end was, RepsBusy counts the
// representatives that were (not in RepsUp).
type LateSend struct {
	AtSeconds     float64 `json:"at_s"` // from the transfers' start
	From          int     `json:"from"`
	To            int     `json:"to"`
	Where         string  `json:"where"`
	Holding       bool    `json:"holding"`
	RepsUp        int     `json:"reps_up"`
	RepsHolding   int     `json:"reps_holding"`
	RepsConfirmed int     `json:"reps_confirmed"`
	EndBusy       bool    `json:"end_busy,omitempty"`
	RepsBusy      int     `json:"reps_busy,omitempty"`
}

// ledgerSend is one send of the workload.
type ledgerSend struct {
	from, to int
	amount   uint64
	done     chan struct{} // closed when send returns; the fields below are send's until then
	at       time.Time
	hash     token.Hash
	err      error
	latency  time.Duration
	measured bool
	late     bool
	where    *LateSend // when late
}

// made reports whether the send returned with a block made and handed to
// gossip.
func (m *ledgerSend) made() bool { return m.finished() && m.err == nil && !m.hash.IsZero() }

// finished reports whether send has returned with m.
func (m *ledgerSend) finished() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// doubleSpend is one double spender's pair of conflicting sends.
type doubleSpend struct {
	key      ed25519.PrivateKey
	by       [2]int // the nodes that made the sends
	sends    [2]token.Hash
	fork     bool    // some node held both at once
	ever     [2]bool // confirmed on some node
	errs     [2]error
	everyone int // which send every running node confirmed at the end, -1: none
}

// ledgerRun is the state of one run.
type ledgerRun struct {
	s       LedgerScenario
	nw      *Network
	clk     clock.Clock
	res     *LedgerResult
	accts   []token.Account // node i's account
	reps    []int
	spends  []*doubleSpend
	sends   []*ledgerSend
	sumBad  bool
	sumMu   sync.Mutex
	genesis token.Genesis
	start   time.Time    // the transfers' start
	churned map[int]bool // the nodes the churn took down and up
}

// UnconfirmedNode is a running node that had not confirmed every send of
// the workload when the ledger scenario ended.
type UnconfirmedNode struct {
	Node    int  `json:"node"`
	Missing int  `json:"missing"`
	Churned bool `json:"churned"`
}

// DivergedNode is a running node that, at the end, held a fork or a
// confirmed head other than most nodes' for some account: Behind counts
// the accounts whose confirmed height it has below theirs, Ahead those
// above, Other those at the same height with another block.
// Elections, Asks and Peers are the node's open elections, the
// representatives it asked, and its connected peers at the end.
type DivergedNode struct {
	Node      int    `json:"node"`
	Churned   bool   `json:"churned"`
	Forks     int    `json:"forks,omitempty"`
	Behind    int    `json:"behind,omitempty"`
	Ahead     int    `json:"ahead,omitempty"`
	Other     int    `json:"other,omitempty"`
	Elections int    `json:"elections"`
	Asks      uint64 `json:"asks"`
	// AskFailures and AskBlocks are the node's failed asks and the
	// blocks its asks brought (ledgersvc.Stats).
	AskFailures uint64 `json:"ask_failures"`
	AskBlocks   uint64 `json:"ask_blocks"`
	Peers       int    `json:"peers"`
	// Traces says, for the first few accounts the node is behind on,
	// where the next block stands there (token.AccountTrace) and the
	// height the other nodes agree on.
	Traces []BehindTrace `json:"traces,omitempty"`
}

// BehindTrace is one account a diverged node is behind on.
type BehindTrace struct {
	Height uint64 `json:"height"` // the height most nodes have confirmed
	token.AccountTrace
}

// maxTraces bounds DivergedNode.Traces.
const maxTraces = 4

// nodeBalance is every node's genesis balance; spenderBalance each double
// spender's.
const (
	nodeBalance    = 1_000_000_000
	spenderBalance = 1_000_000
)

// Run runs the scenario.
func (s LedgerScenario) Run(ctx context.Context, progress Progress) (LedgerResult, error) {
	if err := s.validate(); err != nil {
		return LedgerResult{}, err
	}
	clk, slow, err := slowed(&s.Network, s.Slowdown)
	if err != nil {
		return LedgerResult{}, err
	}
	progress = orNoProgress(progress)
	begin := clk.Now()
	n := s.Network.Nodes
	res := LedgerResult{Nodes: n, Seed: s.Network.Seed, Representatives: s.Representatives, Slowdown: slow,
		Partition: s.Partition, DoubleSpenders: s.DoubleSpenders, SumConstant: true}
	lc := ledgersvc.TestConfig()
	// Votes go out as blocks arrive; the tick only re-sends what an open
	// election still needs, so once a second is enough and spares the
	// representatives' re-sent votes on every node's cores.
	lc.TickInterval = time.Second
	// Messages may be 30 s old (a node's default), not TestConfig's 8 s:
	// nodes sharing two loaded cores hold messages in their validation
	// queues for seconds, and a relay that forwards a message older than
	// the reject age is penalised as a forger would be, so under load
	// honest nodes graylisted each other and the ledger stalled. The
	// simulated nodes share one clock: TestConfig's 2 s of skew stay.
	// gossip's SeenTTL of 2 minutes covers the 67 s reject age.
	lc.MaxAge = 30 * time.Second
	// And a block gossip still takes is not ignored as back-dated: with
	// TestConfig's 5 epochs of 1 s, a block that took more than 5 s to
	// reach a loaded node was ignored there and not relayed (23,220
	// such ignores in a 40-node run).
	lc.MaxBackdate = max(lc.MaxBackdate, lc.AgeBackdate())
	// Every node re-sends an open election's candidates (and the
	// representatives their votes), each re-send a check on every node:
	// with 100 nodes, 10,000 checks. Only elections open for two ticks
	// are re-sent, those a partition holds open every 4 s at most (below
	// TestConfig's OnlineWindow of 5 s, so their voters stay online).
	lc.Node.ResendAfter, lc.Node.ResendMax = 2*time.Second, 4*time.Second
	if s.Network.Ledger != nil {
		lc = *s.Network.Ledger
	}
	s.Network.Ledger = &lc
	s.Network.Node.Token.Enabled = true
	s.Network.Node.Token.EpochLength = node.Duration(lc.EpochLength)
	s.Network.Node.Token.AutoReceive = true
	nw, err := New(s.Network)
	if err != nil {
		return res, err
	}
	defer nw.Close()
	// What a stalled phase left running stops before the network closes.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &ledgerRun{s: s, nw: nw, clk: clk, res: &res}
	dir, err := os.MkdirTemp("", "fog-sim-ledger-")
	if err != nil {
		return res, fmt.Errorf("sim: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "genesis.json")
	if err := r.writeGenesis(path); err != nil {
		return res, err
	}
	nw.cfg.Node.Token.Genesis = path
	res.Supply = r.supply()

	if err := Boot(ctx, nw, time.Duration(float64(s.BootTimeout)*slow), progress); err != nil {
		return res, err
	}
	res.BootSeconds = clock.Since(clk, begin).Seconds()
	for i := range n {
		if _, err := ledgerOf(nw, i); err != nil {
			return res, err
		}
	}
	if err := waitSeconds(ctx, clk, "ledger meshes forming", s.MeshWait, progress); err != nil {
		return res, err
	}
	if s.booted != nil {
		s.booted(ctx, nw)
	}
	err = r.transfers(ctx, progress)
	if err == nil {
		err = r.doubleSpends(ctx, progress)
	}
	if err == nil {
		err = r.settle(ctx, progress)
	}
	if err != nil && !errors.Is(err, ErrStalled) {
		return res, err
	}
	r.countValidators()
	r.summarize()
	res.StuckCloses = nw.StuckCloses()
	res.RunSeconds = clock.Since(clk, begin).Seconds()
	if err != nil {
		res.Stalled = err.Error()
	}
	return res, err
}

// ErrStalled is returned by LedgerScenario.Run, with the figures of what
// had finished, when a phase did not finish within its bound: a send not
// made or not confirmed long after ConfirmTimeout, or the churn's last
// stop or restart still going on SettleTimeout after the transfers.
var ErrStalled = errors.New("sim: the ledger scenario stalled")

// waitFor waits until done is closed (true), d has passed on clk (false)
// or ctx ends.
func waitFor(ctx context.Context, clk clock.Clock, done <-chan struct{}, d time.Duration) (bool, error) {
	t := clk.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-done:
		return true, nil
	case <-t.C():
		select {
		case <-done:
			return true, nil
		default:
			return false, nil
		}
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// boundCtx returns ctx cancelled after d on clk as well.
func boundCtx(ctx context.Context, clk clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	bctx, cancel := context.WithCancel(ctx)
	t := clk.AfterFunc(d, cancel)
	return bctx, func() { t.Stop(); cancel() }
}

func (s LedgerScenario) validate() error {
	n := s.Network.Nodes
	switch {
	case n < 4:
		return fmt.Errorf("%w: Nodes %d: the ledger scenario needs 4", ErrConfig, n)
	case s.Representatives < 1 || s.Representatives > n:
		return fmt.Errorf("%w: Representatives %d: want 1 to Nodes", ErrConfig, s.Representatives)
	case s.Transfers < 0 || s.DoubleSpenders < 0:
		return fmt.Errorf("%w: Transfers %d and DoubleSpenders %d must not be negative", ErrConfig, s.Transfers, s.DoubleSpenders)
	case s.Transfers > 0 && s.TransferFor <= 0:
		return fmt.Errorf("%w: TransferFor %s must be positive", ErrConfig, s.TransferFor)
	case s.ConfirmTimeout <= 0 || s.SettleTimeout <= 0 || s.BootTimeout <= 0:
		return fmt.Errorf("%w: ConfirmTimeout, SettleTimeout and BootTimeout must be positive", ErrConfig)
	case s.Churn < 0 || s.Churn > 0.9:
		return fmt.Errorf("%w: Churn %v: want 0 to 0.9", ErrConfig, s.Churn)
	case s.Churn > 0 && (s.ChurnDown <= 0 || s.ChurnUp <= 0):
		return fmt.Errorf("%w: ChurnDown %s and ChurnUp %s must be positive", ErrConfig, s.ChurnDown, s.ChurnUp)
	case s.CrashShare < 0 || s.CrashShare > 1:
		return fmt.Errorf("%w: CrashShare %v: want 0 to 1", ErrConfig, s.CrashShare)
	case s.Partition && s.PartitionFor <= 0:
		return fmt.Errorf("%w: PartitionFor %s must be positive", ErrConfig, s.PartitionFor)
	case s.MeshWait < 0:
		return fmt.Errorf("%w: MeshWait %s must not be negative", ErrConfig, s.MeshWait)
	}
	return nil
}

// ledgerOf returns node i's ledger service.
func ledgerOf(nw *Network, i int) (*ledgersvc.Service, error) {
	nd := nw.Node(i).Running()
	if nd == nil {
		return nil, fmt.Errorf("%w: node %d", ErrDown, i)
	}
	l := nd.Ledger()
	if l == nil {
		return nil, fmt.Errorf("sim: node %d runs no ledger", i)
	}
	return l, nil
}

// writeGenesis draws the representatives and the double spenders' keys
// and writes the genesis: every node funded, its weight delegated to a
// representative, each representative its own.
func (r *ledgerRun) writeGenesis(path string) error {
	n := r.s.Network.Nodes
	r.accts = make([]token.Account, n)
	for i, nd := range r.nw.Nodes() {
		raw, err := nd.key.GetPublic().Raw()
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return fmt.Errorf("sim: node %d's key is not an Ed25519 key", i)
		}
		r.accts[i] = token.AccountOf(ed25519.PublicKey(raw))
	}
	r.nw.Rand(func(rng *rand.Rand) {
		r.reps = rng.Perm(n)[:r.s.Representatives]
		for range r.s.DoubleSpenders {
			seed := make([]byte, ed25519.SeedSize)
			for j := range seed {
				seed[j] = byte(rng.Uint32())
			}
			r.spends = append(r.spends, &doubleSpend{key: ed25519.NewKeyFromSeed(seed), everyone: -1})
		}
	})
	slices.Sort(r.reps)
	g := token.Genesis{Network: "fog-sim", UnbondingEpochs: 10}
	for i := range n {
		rep := r.accts[r.reps[i%len(r.reps)]]
		if slices.Contains(r.reps, i) {
			rep = r.accts[i]
		}
		g.Accounts = append(g.Accounts, token.Allocation{Account: r.accts[i].String(), Balance: nodeBalance, Representative: rep.String()})
	}
	for k, d := range r.spends {
		a := token.AccountOf(d.key.Public().(ed25519.PublicKey))
		g.Accounts = append(g.Accounts, token.Allocation{Account: a.String(), Balance: spenderBalance, Representative: r.accts[r.reps[k%len(r.reps)]].String()})
	}
	if err := g.Validate(); err != nil {
		return fmt.Errorf("sim: genesis: %w", err)
	}
	r.genesis = g
	body, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("sim: genesis: %w", err)
	}
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return fmt.Errorf("sim: genesis: %w", err)
	}
	return nil
}

func (r *ledgerRun) supply() uint64 {
	var s uint64
	for _, a := range r.genesis.Accounts {
		s += a.Balance + a.Staked
	}
	return s
}

// isRep reports whether node i is a representative.
func (r *ledgerRun) isRep(i int) bool { return slices.Contains(r.reps, i) }

// checkSum checks the conservation of credits on l; called under the
// Service's lock (View).
func (r *ledgerRun) checkSum(l *token.Ledger) {
	ok := l.Supply() == r.res.Supply && l.Total()+l.InFlight() == l.Supply()
	r.sumMu.Lock()
	defer r.sumMu.Unlock()
	r.res.SumChecks++
	if !ok {
		r.sumBad = true
	}
}

// transfers runs the transfer phase with churn and waits for the
// confirmations it measures.
func (r *ledgerRun) transfers(ctx context.Context, progress Progress) error {
	s, nw, clk := r.s, r.nw, r.clk
	if s.Transfers == 0 {
		return nil
	}
	var others []int
	for i := range s.Network.Nodes {
		if !r.isRep(i) {
			others = append(others, i)
		}
	}
	var churners []int
	nw.Rand(func(rng *rand.Rand) {
		rng.Shuffle(len(others), func(a, b int) { others[a], others[b] = others[b], others[a] })
		churners = others[:int(s.Churn*float64(len(others))+0.5)]
	})
	r.res.Churners = len(churners)
	churning := make(map[int]bool, len(churners))
	for _, i := range churners {
		churning[i] = true
	}
	r.churned = churning
	start := clk.Now()
	r.start = start
	cctx, stopChurn := context.WithCancel(ctx)
	churnDone := make(chan struct{})
	departures := 0
	if len(churners) > 0 {
		plan := churnPlan(nw, churners, start, start.Add(s.TransferFor), s.ChurnDown, s.ChurnUp, s.CrashShare)
		go func() {
			defer close(churnDone)
			departures = runChurnPlan(cctx, nw, plan)
		}()
	} else {
		close(churnDone)
	}
	// stop ends the churn: its last stop or restart of a node, and the
	// restarts of the nodes it took down, may take a while on a loaded
	// machine, but not beyond SettleTimeout.
	stop := func() error {
		stopChurn()
		ok, err := waitFor(ctx, clk, churnDone, s.SettleTimeout)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("%w: the churn's last stop or restart of a node, or the restarts of the nodes it took down, did not end within SettleTimeout %s of the transfers' end (nodes starting or stopping then: %v)", ErrStalled, s.SettleTimeout, nw.busy())
		}
		r.res.Departures = departures
		return nil
	}
	progress.Phase("transfers under churn", s.Transfers)
	every := s.TransferFor / time.Duration(s.Transfers)
	for k := range s.Transfers {
		if d := clock.Until(clk, start.Add(time.Duration(k)*every)); d > 0 {
			if err := sleepCtx(ctx, clk, d); err != nil {
				return errors.Join(err, stop())
			}
		}
		from, to, ok := pickPair(nw, func(a, b int) bool { return !churning[a] && !churning[b] })
		if !ok {
			continue
		}
		m := &ledgerSend{from: from, to: to, done: make(chan struct{})}
		nw.Rand(func(rng *rand.Rand) { m.amount = 1 + rng.Uint64N(1000) })
		r.sends = append(r.sends, m)
		go r.send(ctx, m)
		progress.Step(1)
	}
	// Each send gives up ConfirmTimeout after it began; one that has not
	// returned ConfirmTimeout after that is stuck (a node's lock held, a
	// write that does not end).
	progress.Phase("waiting for the confirmations", len(r.sends))
	end := clk.Now().Add(2 * s.ConfirmTimeout)
	stuck := 0
	for _, m := range r.sends {
		ok, err := waitFor(ctx, clk, m.done, clock.Until(clk, end))
		if err != nil {
			return errors.Join(err, stop())
		}
		if !ok {
			stuck++
			continue
		}
		progress.Step(1)
	}
	if err := stop(); err != nil {
		return err
	}
	if stuck > 0 {
		return fmt.Errorf("%w: %d of %d sends had not returned twice ConfirmTimeout (%s) after the last one began", ErrStalled, stuck, len(r.sends), 2*s.ConfirmTimeout)
	}
	return ctx.Err()
}

// send makes one send of the workload and waits until it is confirmed on
// both ends: ConfirmTimeout at most from the Send call, the Send itself
// included (a node too busy to take the send counts as late).
func (r *ledgerRun) send(ctx context.Context, m *ledgerSend) {
	defer close(m.done)
	clk := r.clk
	m.at = clk.Now()
	wctx, cancel := boundCtx(ctx, clk, r.s.ConfirmTimeout)
	defer cancel()
	l, err := ledgerOf(r.nw, m.from)
	if err != nil {
		m.err = err
		return
	}
	m.hash, m.err = l.Send(wctx, r.accts[m.to], m.amount)
	if m.err != nil {
		m.late = wctx.Err() != nil && ctx.Err() == nil
		if m.late {
			m.err = nil // made late or not at all: not a refusal
			m.where = &LateSend{From: m.from, To: m.to, Where: "made"}
		}
		return
	}
	for _, i := range []int{m.from, m.to} {
		l, err := ledgerOf(r.nw, i)
		if err != nil {
			return
		}
		if err := l.WaitConfirmed(wctx, m.hash); err != nil {
			m.late = wctx.Err() != nil && ctx.Err() == nil
			if m.late {
				m.where = r.lateState(m, i, l)
			}
			return
		}
	}
	m.latency, m.measured = clock.Since(clk, m.at), true
}

// lateState looks at where send m stands: the end i (whose ledger is l)
// has not confirmed it.
func (r *ledgerRun) lateState(m *ledgerSend, i int, l *ledgersvc.Service) *LateSend {
	ls := &LateSend{From: m.from, To: m.to, Where: "recipient"}
	if i == m.from {
		ls.Where = "sender"
	}
	ls.EndBusy = !l.TryView(func(lg *token.Ledger) { _, ls.Holding = lg.Block(m.hash) })
	for _, rep := range r.reps {
		rl, err := ledgerOf(r.nw, rep)
		if err != nil {
			continue
		}
		looked := rl.TryView(func(lg *token.Ledger) {
			if _, ok := lg.Block(m.hash); ok {
				ls.RepsHolding++
			}
			if lg.Confirmed(m.hash) {
				ls.RepsConfirmed++
			}
		})
		if looked {
			ls.RepsUp++
		} else {
			ls.RepsBusy++
		}
	}
	return ls
}

// doubleSpends has each double spender's key make two conflicting sends
// on two nodes, across a partition if asked, holds the partition and
// heals it.
func (r *ledgerRun) doubleSpends(ctx context.Context, progress Progress) error {
	s, nw, clk := r.s, r.nw, r.clk
	if s.DoubleSpenders == 0 && !s.Partition {
		return nil
	}
	n := s.Network.Nodes
	var sides [2][]int
	nw.Rand(func(rng *rand.Rand) {
		for k, i := range rng.Perm(n) {
			sides[k%2] = append(sides[k%2], i)
		}
	})
	if s.Partition {
		progress.Phase("partitioning", 1)
		group := make([]int, n)
		for _, i := range sides[1] {
			group[i] = 1
		}
		nw.Partition(func(i int) int { return group[i] })
		progress.Step(1)
	}
	all := append(slices.Clone(sides[0]), sides[1]...)
	progress.Phase("double spends", len(r.spends))
	for _, d := range r.spends {
		var to [2]int
		nw.Rand(func(rng *rand.Rand) {
			for side := range 2 {
				pick := sides[side]
				if !s.Partition {
					pick = all // both sends from anywhere, to anyone
				}
				d.by[side] = pick[rng.IntN(len(pick))]
				to[side] = pick[rng.IntN(len(pick))]
			}
			for !s.Partition && d.by[0] == d.by[1] {
				d.by[1] = rng.IntN(n)
			}
		})
		// Both sends at once, each bounded by ConfirmTimeout; one that
		// has not returned ConfirmTimeout after that is stuck.
		var wg sync.WaitGroup
		for side := range 2 {
			wg.Go(func() {
				sctx, cancel := boundCtx(ctx, clk, s.ConfirmTimeout)
				defer cancel()
				l, err := ledgerOf(nw, d.by[side])
				if err != nil {
					d.errs[side] = err
					return
				}
				d.sends[side], d.errs[side] = l.SendFrom(sctx, d.key, r.accts[to[side]], spenderBalance)
				if sctx.Err() != nil && ctx.Err() == nil {
					d.errs[side] = fmt.Errorf("%w: %w", ErrStalled, d.errs[side])
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		ok, err := waitFor(ctx, clk, done, 2*s.ConfirmTimeout)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("%w: a double spender's sends on nodes %d and %d had not returned after twice ConfirmTimeout (%s)", ErrStalled, d.by[0], d.by[1], 2*s.ConfirmTimeout)
		}
		for side := range 2 {
			if d.errs[side] != nil {
				return fmt.Errorf("sim: double spender's send on node %d: %w", d.by[side], d.errs[side])
			}
		}
		progress.Step(1)
	}
	if !s.Partition {
		return nil
	}
	// The partition holds PartitionFor from the last send on.
	progress.Phase("partition: holding", int(s.PartitionFor/time.Second))
	end := clk.Now().Add(s.PartitionFor)
	last := clk.Now()
	for clk.Now().Before(end) {
		r.sample()
		if err := sleepCtx(ctx, clk, 250*time.Millisecond); err != nil {
			return err
		}
		if d := clk.Now().Sub(last); d >= time.Second {
			progress.Step(int(d / time.Second))
			last = last.Add(d.Truncate(time.Second))
		}
	}
	nw.Heal()
	return nil
}

// sample looks at every running node's ledger: the conservation of
// credits, forks held and the double spends confirmed. It returns whether
// every running node has confirmed every send of the workload, one send
// of every pair (the same everywhere), holds no fork, and the same
// confirmed heads as the others.
func (r *ledgerRun) sample() bool {
	done := true
	var heads []byte
	for i := range r.nw.Nodes() {
		l, err := ledgerOf(r.nw, i)
		if err != nil {
			continue
		}
		l.View(func(lg *token.Ledger) {
			r.checkSum(lg)
			for _, d := range r.spends {
				if d.sends[0].IsZero() || d.sends[1].IsZero() {
					continue
				}
				b, ok := lg.Block(d.sends[0])
				if !ok {
					b, ok = lg.Block(d.sends[1])
				}
				if ok && len(lg.Conflicts(token.Root(&b))) >= 2 {
					d.fork = true
				}
				won := -1
				for side := range 2 {
					if lg.Confirmed(d.sends[side]) {
						d.ever[side] = true
						won = side
					}
				}
				if won < 0 {
					done = false
				}
			}
			if lg.Forks() > 0 {
				done = false
			}
			for _, m := range r.sends {
				if m.made() && !lg.Confirmed(m.hash) {
					done = false
					break
				}
			}
			h := frontierDigest(lg)
			if heads == nil {
				heads = h
			} else if !bytes.Equal(heads, h) {
				done = false
			}
		})
	}
	return done
}

// frontierDigest encodes every confirmed head of l.
func frontierDigest(l *token.Ledger) []byte {
	var b []byte
	for _, f := range allFrontiers(l) {
		b = append(b, f.Account[:]...)
		b = append(b, f.Head[:]...)
	}
	return append(b, 0) // never nil
}

// allFrontiers returns every confirmed head of l, in account order.
func allFrontiers(l *token.Ledger) []token.Frontier {
	var out []token.Frontier
	var after token.Account
	for {
		fs := l.Frontiers(after, 512)
		out = append(out, fs...)
		if len(fs) < 512 {
			return out
		}
		after = fs[len(fs)-1].Account
	}
}

// settle waits until every running node agrees on everything (sample),
// SettleTimeout at most, then counts the outcome.
func (r *ledgerRun) settle(ctx context.Context, progress Progress) error {
	clk := r.clk
	start := clk.Now()
	end := start.Add(r.s.SettleTimeout)
	progress.Phase("settling: every node agrees", int(r.s.SettleTimeout/time.Second))
	last := start
	for {
		if r.sample() {
			r.res.Converged = true
			break
		}
		if !clk.Now().Before(end) {
			break
		}
		if err := sleepCtx(ctx, clk, 250*time.Millisecond); err != nil {
			return err
		}
		if d := clk.Now().Sub(last); d >= time.Second {
			progress.Step(int(d / time.Second))
			last = last.Add(d.Truncate(time.Second))
		}
	}
	r.res.SettleSeconds = clock.Since(clk, start).Seconds()
	// What every running node confirmed of each pair, and the workload's
	// sends some running node has not confirmed.
	unconfirmed := map[token.Hash]bool{}
	for _, d := range r.spends {
		d.everyone = -2 // not looked at yet
	}
	for i := range r.nw.Nodes() {
		l, err := ledgerOf(r.nw, i)
		if err != nil {
			continue
		}
		l.View(func(lg *token.Ledger) {
			for _, d := range r.spends {
				won := -1
				for side := range 2 {
					if lg.Confirmed(d.sends[side]) {
						won = side
					}
				}
				if d.everyone == -2 || d.everyone == won {
					d.everyone = won
				} else {
					d.everyone = -1
				}
			}
			missing := 0
			for _, m := range r.sends {
				if m.made() && !lg.Confirmed(m.hash) {
					unconfirmed[m.hash] = true
					missing++
				}
			}
			if missing > 0 {
				r.res.UnconfirmedNodes = append(r.res.UnconfirmedNodes,
					UnconfirmedNode{Node: i, Missing: missing, Churned: r.churned[i]})
			}
		})
	}
	r.res.Unconfirmed = len(unconfirmed)
	if !r.res.Converged {
		r.res.Diverged = r.diverged()
	}
	return nil
}

// diverged compares every running node's confirmed frontiers with the
// most common head of each account.
func (r *ledgerRun) diverged() []DivergedNode {
	type view struct {
		l     *ledgersvc.Service
		forks int
		heads map[token.Account]token.Frontier
	}
	views := map[int]view{}
	votes := map[token.Account]map[token.Frontier]int{}
	for i := range r.nw.Nodes() {
		l, err := ledgerOf(r.nw, i)
		if err != nil {
			continue
		}
		v := view{l: l, heads: map[token.Account]token.Frontier{}}
		l.View(func(lg *token.Ledger) {
			v.forks = lg.Forks()
			for _, f := range allFrontiers(lg) {
				v.heads[f.Account] = f
			}
		})
		views[i] = v
		for a, f := range v.heads {
			if votes[a] == nil {
				votes[a] = map[token.Frontier]int{}
			}
			votes[a][f]++
		}
	}
	common := map[token.Account]token.Frontier{}
	for a, fs := range votes {
		var bf token.Frontier
		best := -1
		for f, n := range fs {
			if n > best || (n == best && bytes.Compare(f.Head[:], bf.Head[:]) < 0) {
				best, bf = n, f
			}
		}
		common[a] = bf
	}
	var out []DivergedNode
	for _, i := range slices.Sorted(maps.Keys(views)) {
		v := views[i]
		d := DivergedNode{Node: i, Churned: r.churned[i], Forks: v.forks}
		var behind []token.Account
		for a, c := range common {
			f, ok := v.heads[a]
			switch {
			case !ok || f.Height < c.Height:
				d.Behind++
				behind = append(behind, a)
			case f.Height > c.Height:
				d.Ahead++
			case f.Head != c.Head:
				d.Other++
			}
		}
		if d.Forks+d.Behind+d.Ahead+d.Other > 0 {
			st := v.l.Stats()
			d.Elections, d.Asks, d.AskFailures, d.AskBlocks = v.l.Elections(), st.Asks, st.AskFailures, st.AskBlocks
			slices.SortFunc(behind, func(a, b token.Account) int { return bytes.Compare(a[:], b[:]) })
			for _, a := range behind[:min(len(behind), maxTraces)] {
				d.Traces = append(d.Traces, BehindTrace{Height: common[a].Height, AccountTrace: v.l.Trace(a)})
			}
			if nd := r.nw.Node(i).Running(); nd != nil {
				d.Peers = len(nd.Host().Network().Peers())
			}
			out = append(out, d)
		}
	}
	return out
}

// countValidators adds up the running nodes' validator counters; Run
// calls it at the end, after a stall too.
func (r *ledgerRun) countValidators() {
	res := r.res
	res.ValidatorIgnored, res.ValidatorRejected, res.RepAsks = 0, 0, 0
	res.ValidatorIgnoredByReason = map[string]uint64{}
	res.GossipIgnoredByRule = map[string]uint64{}
	res.CoreRefused = map[string]uint64{}
	res.GossipDropped = map[string]uint64{}
	for i := range r.nw.Nodes() {
		if nd := r.nw.Node(i).Running(); nd != nil && nd.Gossip() != nil {
			gs := nd.Gossip().Stats()
			for k, v := range gs.Rejected {
				res.GossipDropped[k] += v
			}
			if gs.Undeliverable > 0 {
				res.GossipDropped["undeliverable"] += gs.Undeliverable
			}
		}
		l, err := ledgerOf(r.nw, i)
		if err != nil {
			continue
		}
		st := l.Stats()
		res.ValidatorIgnored += st.Ignored
		res.ValidatorRejected += st.Rejected
		res.RepAsks += st.Asks
		for k, v := range st.IgnoredBy {
			res.ValidatorIgnoredByReason[string(k)] += v
		}
		for k, v := range st.GossipIgnored {
			res.GossipIgnoredByRule[string(k)] += v
		}
		for k, v := range st.Refused {
			res.CoreRefused[string(k)] += v
		}
	}
}

// summarize computes the figures.
func (r *ledgerRun) summarize() {
	res := r.res
	for _, m := range r.sends {
		res.Transfers++
		switch {
		case !m.finished():
			res.Late++ // stalled: counted late
		case m.err != nil:
			res.SendErrors++
		case m.measured:
			res.Measured++
			res.LatenciesMs = append(res.LatenciesMs, float64(m.latency)/float64(time.Millisecond))
		case m.late:
			res.Late++
			if m.where != nil {
				w := *m.where
				w.AtSeconds = m.at.Sub(r.start).Seconds()
				res.LateSends = append(res.LateSends, w)
			}
		}
	}
	if len(res.LatenciesMs) > 0 {
		res.ConfirmMsP50, res.ConfirmMsP99 = Percentile(res.LatenciesMs, 50), Percentile(res.LatenciesMs, 99)
		res.ConfirmMsMax = slices.Max(res.LatenciesMs)
	}
	for _, d := range r.spends {
		if d.fork {
			res.ForksDetected++
		}
		if d.ever[0] && d.ever[1] {
			res.DoubleSpendsConfirmed++
		}
		if d.everyone >= 0 {
			res.DoubleSpendsSettled++
		}
	}
	res.SumConstant = !r.sumBad
}

// ErrDoubleSpend is returned by LedgerResult.Check when a double spend
// was confirmed.
var ErrDoubleSpend = errors.New("sim: a double spend was confirmed")

// Check returns an error if the run broke a safety property: a double
// spend confirmed, or credits created or lost on some node.
func (res LedgerResult) Check() error {
	switch {
	case res.DoubleSpendsConfirmed > 0:
		return fmt.Errorf("%w: %d pairs", ErrDoubleSpend, res.DoubleSpendsConfirmed)
	case !res.SumConstant:
		return errors.New("sim: the sum of balances, stakes and credits in flight left the supply on some node")
	}
	return nil
}

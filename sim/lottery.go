package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/lottery/lotterysvc"
)

// LotteryScenario boots a network whose nodes run the relay lottery and
// measures, epoch by epoch, whether every node holds the identical relay
// directory and how soon after the epoch's start.
type LotteryScenario struct {
	// Network is the simulated network.
	Network Config
	// Candidates is how many nodes stand for election.
	Candidates int
	// TargetRelays is R, the seats elected per epoch on average.
	TargetRelays int
	// EpochLength is the length of an epoch (claim and reveal windows scale
	// as in lottery.SimConfig).
	EpochLength time.Duration
	// Epochs is how many epochs are measured, starting with the second
	// epoch that starts after the boot (candidates announce themselves one
	// epoch ahead).
	Epochs int
	// Static fixes the candidate set in every node's config instead of
	// letting candidates announce themselves over gossip.
	Static bool
	// GenesisDelay is how long after the nodes start epoch 0 begins; 0
	// means 20 s plus 100 ms per node, which covers the boot on two cores.
	GenesisDelay time.Duration
	// BootTimeout bounds the boot.
	BootTimeout time.Duration
}

// DefaultLotteryScenario returns a scenario of n nodes, all candidates,
// R = 30, 10-second epochs, 5 epochs measured.
func DefaultLotteryScenario(n int) LotteryScenario {
	return LotteryScenario{
		Network:      quietConfig(n),
		Candidates:   n,
		TargetRelays: 30,
		EpochLength:  10 * time.Second,
		Epochs:       5,
		BootTimeout:  10 * time.Minute,
	}
}

// LotteryResult is what a LotteryScenario measured.
type LotteryResult struct {
	Nodes        int    `json:"nodes"`
	Candidates   int    `json:"candidates"`
	TargetRelays int    `json:"target_relays"`
	Seed         uint64 `json:"seed"`
	Mode         string `json:"candidate_mode"`
	// Epochs holds each measured epoch.
	Epochs []lotterysvc.Agreement `json:"epochs"`
	// AllAgree says every node held the identical directory in every
	// measured epoch.
	AllAgree bool `json:"all_agree"`
	// AgreementMsMax is the latest, over measured epochs, that the last node
	// received its final directory, after the epoch's start; CloseMsMax the
	// latest it closed it.
	AgreementMsMax float64 `json:"agreement_ms_max"`
	CloseMsMax     float64 `json:"close_ms_max"`
	// ClaimsVerified is how many claims the nodes verified while measured,
	// ClaimsPerSecond that over the measured time (all nodes together), and
	// ClaimsPerCoreSecond claims per second of one core spent verifying.
	ClaimsVerified      uint64  `json:"claims_verified"`
	ClaimsPerSecond     float64 `json:"claims_verified_per_s"`
	ClaimsPerCoreSecond float64 `json:"claims_verified_per_core_s"`
	BootSeconds         float64 `json:"boot_seconds"`
	RunSeconds          float64 `json:"run_seconds"`
}

// Run runs the scenario.
func (s LotteryScenario) Run(ctx context.Context, progress Progress) (LotteryResult, error) {
	clk := s.Network.Clock
	if clk == nil {
		return LotteryResult{}, fmt.Errorf("%w: Network.Clock is nil", ErrConfig)
	}
	progress = orNoProgress(progress)
	begin := clk.Now()
	n := s.Network.Nodes
	if s.Epochs < 1 || s.Candidates < 1 || s.Candidates > n || s.TargetRelays < 1 {
		return LotteryResult{}, errors.New("sim: epochs, candidates (at most nodes) and target relays must be positive")
	}
	rc := lottery.SimServiceConfig()
	if l := s.EpochLength; l > 0 {
		rc.Config = lottery.ScaledSimConfig(l) // SimServiceConfig's is SimConfig
	}
	rc.NetworkID = "sim"
	rc.TargetRelays = s.TargetRelays
	// Epoch 0 starts once the network has probably booted; epochs that
	// start during a slower boot are simply not measured.
	delay := s.GenesisDelay
	if delay <= 0 {
		delay = 20*time.Second + time.Duration(n)*100*time.Millisecond
	}
	rc.Genesis = clk.Now().Add(delay)
	cfg := s.Network
	cfg.Relay, cfg.RelayCandidates = &rc, s.Candidates
	res := LotteryResult{Nodes: n, Candidates: s.Candidates, TargetRelays: s.TargetRelays, Seed: cfg.Seed, Mode: "announced"}
	nw, err := New(cfg)
	if err != nil {
		return res, err
	}
	defer nw.Close()
	if s.Static {
		for i := range s.Candidates {
			rc.Candidates = append(rc.Candidates, nw.Node(i).ID)
		}
		res.Mode = "static"
	}
	if err := rc.Validate(); err != nil {
		return res, err
	}
	bootStart := clk.Now()
	if err := Boot(ctx, nw, s.BootTimeout, progress); err != nil {
		return res, err
	}
	res.BootSeconds = clock.Since(clk, bootStart).Seconds()
	ep := lotteryOf(nw, rc.Config)
	first, _ := ep.EpochAt(clk.Now()) // 0 before genesis
	first += 2
	var services []*lotterysvc.Service
	for _, nd := range nw.Nodes() {
		services = append(services, nd.Running().Lottery())
	}
	// Measuring starts half an epoch before the first measured one.
	wait := clock.Until(clk, ep.EpochStart(first)) - rc.EpochLength/2
	if err := waitSeconds(ctx, clk, fmt.Sprintf("waiting for epoch %d", first), wait, progress); err != nil {
		return res, err
	}
	verified0, busy0 := verifyStats(services)
	measureStart := clk.Now()
	progress.Phase("measuring epochs", s.Epochs)
	res.AllAgree = true
	for e := first; e < first+uint64(s.Epochs); e++ {
		ectx, cancel := context.WithDeadline(ctx, ep.EpochStart(e+1).Add(rc.EpochLength))
		a, err := lotterysvc.MeasureAgreement(ectx, services, e)
		cancel()
		progress.Step(1)
		res.Epochs = append(res.Epochs, a)
		if err != nil || !a.Agree {
			res.AllAgree = false
		}
		res.AgreementMsMax = max(res.AgreementMsMax, float64(a.Complete)/float64(time.Millisecond))
		res.CloseMsMax = max(res.CloseMsMax, float64(a.Close)/float64(time.Millisecond))
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	verified, busy := verifyStats(services)
	res.ClaimsVerified = verified - verified0
	if el := clock.Since(clk, measureStart).Seconds(); el > 0 {
		res.ClaimsPerSecond = float64(res.ClaimsVerified) / el
	}
	if b := (busy - busy0).Seconds(); b > 0 {
		res.ClaimsPerCoreSecond = float64(res.ClaimsVerified) / b
	}
	res.RunSeconds = clock.Since(clk, begin).Seconds()
	return res, nil
}

// verifyStats sums the claims the services verified and the time they spent
// verifying them.
func verifyStats(services []*lotterysvc.Service) (verified uint64, busy time.Duration) {
	for _, sv := range services {
		st := sv.Stats()
		verified += st.ClaimsVerified
		busy += st.VerifyTime
	}
	return verified, busy
}

// lotteryOf returns the lottery parameters of the first running node of
// nw, whose epochs (lottery.Config.Epochs: the DAO's epoch length when
// the ledger runs) a scenario waits by, or rc if none runs.
func lotteryOf(nw *Network, rc lottery.Config) lottery.Config {
	for _, n := range nw.Nodes() {
		if r := n.Running(); r != nil && r.Lottery() != nil {
			return r.Lottery().Config().Config
		}
	}
	return rc
}

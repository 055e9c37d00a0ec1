package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
)

// chatMix is the relay lottery and mix of a ChatScenario that sends
// anonymous messages: every node a candidate, R = TargetRelays, epochs of
// EpochLength, every node's mix as Mix.
type chatMix struct {
	rc lottery.ServiceConfig
	mc mixsvc.Config
}

// withMix sets cfg up to run the lottery and the mix as MixScenario does,
// epoch 0 starting GenesisDelay from now (on the scenario's clock).
func (s ChatScenario) withMix(cfg *Config) (*chatMix, error) {
	if err := s.Mix.Validate(); err != nil {
		return nil, err
	}
	m := &chatMix{rc: lottery.SimServiceConfig(), mc: s.Mix}
	if l := s.EpochLength; l > 0 {
		m.rc.Config = lottery.ScaledSimConfig(l)
	}
	m.rc.NetworkID = "sim"
	m.rc.TargetRelays = s.TargetRelays
	m.rc.Layers = m.mc.Layers
	delay := s.GenesisDelay
	if delay <= 0 {
		delay = 20*time.Second + time.Duration(cfg.Nodes)*100*time.Millisecond
	}
	m.rc.Genesis = cfg.Clock.Now().Add(delay)
	cfg.Relay, cfg.RelayCandidates, cfg.Mix = &m.rc, cfg.Nodes, &m.mc
	return m, nil
}

// candidates names every node of nw a lottery candidate; before Boot.
func (m *chatMix) candidates(nw *Network) error {
	for _, nd := range nw.Nodes() {
		m.rc.Candidates = append(m.rc.Candidates, nd.ID)
	}
	return m.rc.Validate()
}

// ready waits for the first epoch's closed directory and for every node's
// mix to route with one.
func (m *chatMix) ready(ctx context.Context, nw *Network, progress Progress) error {
	clk := nw.cfg.Clock
	ep := lotteryOf(nw, m.rc.Config)
	first, _ := ep.EpochAt(clk.Now())
	wait := clock.Until(clk, ep.ClaimClose(first+1).Add(time.Second))
	if err := waitSeconds(ctx, clk, fmt.Sprintf("mix: waiting for epoch %d's directory", first+1), wait, progress); err != nil {
		return err
	}
	n := len(nw.Nodes())
	progress.Phase("mix: waiting for every node to route", n)
	reported := 0
	for {
		ready := 0
		for _, nd := range nw.Nodes() {
			if r := nd.Running(); r != nil && r.Mix() != nil && len(r.Mix().Status().Directories) > 0 {
				ready++
			}
		}
		progress.Step(ready - reported)
		reported = ready
		if ready == n {
			return nil
		}
		if err := sleepCtx(ctx, clk, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

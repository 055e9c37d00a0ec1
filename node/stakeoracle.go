package node

import (
	"crypto/ed25519"
	"sync"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// keepStakeEpochs bounds the lottery epochs whose stake tables a
// ledgerStake keeps (far more than the lottery's KeepEpochs).
const keepStakeEpochs = 64

// stakeSource is what ledgerStake reads of the ledger: the ledger service
// and its DAO (ledgerSource), or a bare ledger in tests.
type stakeSource interface {
	// SettledBefore returns the last ledger epoch whose blocks are
	// settled at t (ledgersvc.Config.SettledBefore).
	SettledBefore(t time.Time) (uint64, bool)
	// Stakes returns the stake table of ledger epoch e.
	Stakes(e, minStake uint64) token.StakeTable
	// ParamsAt returns the DAO's parameters in force at ledger epoch e.
	ParamsAt(base token.Params, e uint64) token.Params
}

// ledgerSource is the stakeSource of a node's ledger service and DAO.
type ledgerSource struct {
	*ledgersvc.Service
	dao *ledgersvc.DAO
}

func (s ledgerSource) ParamsAt(base token.Params, e uint64) token.Params {
	return s.dao.ParamsAt(base, e)
}

// ledgerStake is the relay lottery's StakeOracle (and RelayTarget) over
// the ledger: a candidate's weight in lottery epoch e is its bonded stake
// (token.Ledger.BondedAt, in micro-credits) as of the snapshot epoch
// snapshot(e), the last ledger epoch settled when epoch e-1 starts, and
// the parameters (target relays, minimum stake) are the DAO's in force at
// that same ledger epoch. docs/lottery.md section 9 says why every node
// gives the same answers; an epoch's answers are kept once its seed's
// inputs may be out (freeze), so no block coming later changes an answer
// already used. It is safe for concurrent use.
type ledgerStake struct {
	lcfg lottery.Config
	src  stakeSource
	clk  clock.Clock
	base token.Params // the configured parameters: [relay] target_relays, no minimum stake

	mu   sync.Mutex
	memo map[uint64]stakeEpoch // by lottery epoch, once frozen
}

// stakeEpoch is what the oracle answers for one lottery epoch.
type stakeEpoch struct {
	snapshot uint64 // the ledger epoch of the stakes and parameters
	params   token.Params
	table    token.StakeTable
}

var (
	_ lottery.StakeOracle = (*ledgerStake)(nil)
	_ lottery.RelayTarget = (*ledgerStake)(nil)
)

func newLedgerStake(lcfg lottery.Config, src stakeSource, clk clock.Clock) *ledgerStake {
	return &ledgerStake{
		lcfg: lcfg, src: src, clk: clk,
		base: token.Params{TargetRelays: uint64(lcfg.TargetRelays)},
		memo: map[uint64]stakeEpoch{},
	}
}

// snapshot returns the ledger epoch whose stakes weigh lottery epoch e:
// the last one settled (no honest node takes a new block of it or
// earlier) at the start of epoch e-1. A whole lottery epoch, less the
// reveal window, is left for the elections of the blocks taken before
// that to end and for every node to hold them before e's seed can be
// known.
func (o *ledgerStake) snapshot(e uint64) uint64 {
	cut := o.lcfg.Genesis.Add(-o.lcfg.EpochLength)
	if e > 0 {
		cut = o.lcfg.EpochStart(e - 1)
	}
	s, ok := o.src.SettledBefore(cut)
	if !ok {
		return 0
	}
	return s
}

// freeze returns when epoch e's answers become final: once the first
// input of its seed can be seen (lottery.StakeOracle's rule).
func (o *ledgerStake) freeze(e uint64) time.Time {
	return o.lcfg.EpochStart(e).Add(-o.lcfg.RevealWindow - 2*o.lcfg.MaxClockSkew)
}

// epoch returns lottery epoch e's stakes and parameters: kept ones, or
// read from the ledger (and kept if e is frozen).
func (o *ledgerStake) epoch(e uint64) stakeEpoch {
	o.mu.Lock()
	se, ok := o.memo[e]
	o.mu.Unlock()
	if ok {
		return se
	}
	s := o.snapshot(e)
	params := o.src.ParamsAt(o.base, s)
	se = stakeEpoch{snapshot: s, params: params, table: o.src.Stakes(s, params.MinStake)}
	if o.clk.Now().Before(o.freeze(e)) {
		return se
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if kept, ok := o.memo[e]; ok {
		return kept // another caller froze it first
	}
	o.memo[e] = se
	for k := range o.memo {
		if k+keepStakeEpochs < e {
			delete(o.memo, k)
		}
	}
	return se
}

// Weight implements lottery.StakeOracle: pk's bonded stake in
// micro-credits, 0 below the minimum stake.
func (o *ledgerStake) Weight(e uint64, pk ed25519.PublicKey) uint64 {
	if len(pk) != ed25519.PublicKeySize {
		return 0
	}
	return o.epoch(e).table.Weight(token.AccountOf(pk))
}

// TotalWeight implements lottery.StakeOracle.
func (o *ledgerStake) TotalWeight(e uint64) uint64 { return o.epoch(e).table.Total }

// TargetRelays implements lottery.RelayTarget: the DAO's target relay
// count in force at e's snapshot epoch.
func (o *ledgerStake) TargetRelays(e uint64) int { return int(o.epoch(e).params.TargetRelays) }

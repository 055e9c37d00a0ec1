package token

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
)

// The network parameters a DAO proposal can change (Proposal.Param).
// Proposals naming another parameter can be made, voted on and tallied,
// but never take effect.
const (
	// ParamTargetRelays is the relay lottery's target number of seats per
	// epoch (lottery.Config.TargetRelays), 1 to 100,000.
	ParamTargetRelays = "lottery.target_relays"
	// ParamMinStake is the smallest bonded stake, in micro-credits, that
	// weighs in the relay lottery; lighter stakes weigh 0.
	ParamMinStake = "lottery.min_stake"
	// ParamMinPrice is the network's minimum price per CPU-second, in
	// micro-credits, of a paid task: providers refuse paid tasks whose
	// max price is lower.
	ParamMinPrice = "compute.min_price"
	// ParamEpochLength is the relay lottery's epoch length in
	// milliseconds, a second to a day. A change applies from a lottery
	// epoch boundary after its ExecuteAt (lottery.Schedule.Change); the
	// epoch numbers and the seed chain run on. A length too short for
	// the network's lottery windows (lottery.Config.CheckEpochLength)
	// never applies.
	ParamEpochLength = "lottery.epoch_length"
)

// paramBounds are the values each parameter accepts.
var paramBounds = map[string]struct{ lo, hi uint64 }{
	ParamTargetRelays: {1, 100_000},
	ParamMinStake:     {0, ^uint64(0)},
	ParamMinPrice:     {0, ^uint64(0)},
	ParamEpochLength:  {1_000, 86_400_000},
}

// CheckParam reports whether a proposal setting param to value can take
// effect: a known parameter and a value within its bounds. Its errors wrap
// ErrInvalid.
func CheckParam(param string, value uint64) error {
	b, ok := paramBounds[param]
	if !ok {
		return fmt.Errorf("%w: unknown network parameter %q (the DAO changes %s, %s, %s and %s)", ErrInvalid, param, ParamTargetRelays, ParamMinStake, ParamEpochLength, ParamMinPrice)
	}
	if value < b.lo || value > b.hi {
		return fmt.Errorf("%w: %s %d: want %d to %d", ErrInvalid, param, value, b.lo, b.hi)
	}
	return nil
}

// Params are the network parameters the DAO governs, as in force at one
// epoch.
type Params struct {
	// TargetRelays is ParamTargetRelays.
	TargetRelays uint64
	// MinStake is ParamMinStake.
	MinStake uint64
	// MinPrice is ParamMinPrice.
	MinPrice uint64
	// EpochLength is ParamEpochLength, in milliseconds (0: the
	// configured length). The lottery follows the sequence of its
	// changes (ParamChanges), not its value at one epoch.
	EpochLength uint64
}

// set sets param to v; it reports whether param is known.
func (p *Params) set(param string, v uint64) bool {
	switch param {
	case ParamTargetRelays:
		p.TargetRelays = v
	case ParamMinStake:
		p.MinStake = v
	case ParamMinPrice:
		p.MinPrice = v
	case ParamEpochLength:
		p.EpochLength = v
	default:
		return false
	}
	return true
}

// Decision is a proposal with its tally at the end of its window.
type Decision struct {
	Proposal Proposal
	Result   Result
}

// EffectiveAt returns the epoch from which proposal p takes effect if it
// is accepted: p.ExecuteAt(), the first epoch boundary at least ExecDelay
// epochs after the window's end. It returns false if p cannot take
// effect: its parameter or value is not one CheckParam accepts, or its
// ExecDelay is below minDelay (its tally could still change when it would
// apply; see ParamsAt).
func EffectiveAt(p *Proposal, minDelay uint64) (uint64, bool) {
	if CheckParam(p.Param, p.Value) != nil || p.ExecDelay < minDelay {
		return 0, false
	}
	return p.ExecuteAt(), true
}

// ParamsAt returns the parameters in force at epoch e: base, changed by
// every accepted decision whose EffectiveAt(minDelay) is at most e, in
// the order of that epoch, then of proposal ID (so of two accepted
// changes of one parameter at one epoch, the larger ID wins). It is a
// pure function of its arguments: nodes holding the same decisions get
// the same parameters for every epoch.
//
// minDelay must cover how long after a window's end a vote dated inside
// it can still be confirmed (the ledger's back-dating bound): then every
// decision that applies at e was tallied from votes no node can still
// add to.
func ParamsAt(base Params, decisions []Decision, minDelay, e uint64) Params {
	p := base
	for _, d := range due(decisions, minDelay, e) {
		p.set(d.d.Proposal.Param, d.d.Proposal.Value)
	}
	return p
}

// ParamChange is one accepted change of a parameter: to Value, from
// epoch At.
type ParamChange struct {
	At    uint64
	Value uint64
}

// ParamChanges returns the accepted changes of param that apply at epoch
// e or before, in the order ParamsAt applies them (by epoch, then
// proposal ID). A parameter whose past matters, not only its value now
// (the lottery's epoch length: each change moves every later boundary),
// is computed from them.
func ParamChanges(decisions []Decision, minDelay uint64, param string, e uint64) []ParamChange {
	var out []ParamChange
	for _, d := range due(decisions, minDelay, e) {
		if d.d.Proposal.Param == param {
			out = append(out, ParamChange{At: d.at, Value: d.d.Proposal.Value})
		}
	}
	return out
}

// dueDecision is an accepted decision and the epoch it applies from.
type dueDecision struct {
	at uint64
	d  *Decision
}

// due returns the accepted decisions that apply at epoch e or before, in
// the order they apply.
func due(decisions []Decision, minDelay, e uint64) []dueDecision {
	var ds []dueDecision
	for i := range decisions {
		d := &decisions[i]
		at, ok := EffectiveAt(&d.Proposal, minDelay)
		if ok && at <= e && d.Result.Accepted {
			ds = append(ds, dueDecision{at, d})
		}
	}
	slices.SortFunc(ds, func(a, b dueDecision) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		ia, ib := a.d.Proposal.ID(), b.d.Proposal.ID()
		return bytes.Compare(ia[:], ib[:])
	})
	return ds
}

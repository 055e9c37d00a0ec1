package ledgersvc

import (
	"fmt"

	"github.com/fog-compute/fog/token"
)

// MinExecDelay returns the smallest ExecDelay with which a proposal takes
// effect: the epochs after a window's end until votes dated inside it are
// settled (Config.Settled), plus one for the elections of votes taken just
// before that to end, so that the tally a change applies from is the same
// on every node and never changes. Proposals with a shorter delay are
// refused by Propose, and one heard from another node never applies.
func (d *DAO) MinExecDelay() uint64 { return d.svc.cfg.Settled(0) }

// checkProposal refuses, before it is signed, a proposal that could never
// take effect. Its errors wrap token.ErrInvalid.
func (d *DAO) checkProposal(param string, value, execDelay uint64) error {
	if err := token.CheckParam(param, value); err != nil {
		return err
	}
	if min := d.MinExecDelay(); execDelay < min {
		return fmt.Errorf("%w: execution delay %d epochs: at least %d, so that the votes of the window are settled before the change applies", token.ErrInvalid, execDelay, min)
	}
	return nil
}

// ParamsAt returns the network parameters in force at ledger epoch e:
// base changed by the accepted proposals this node holds whose change
// applies at e or before (token.ParamsAt, with MinExecDelay). Each such
// proposal's tally counts only votes its window's end has settled, so
// nodes holding the same proposals and confirmed blocks agree on every
// epoch's parameters; results are kept once final.
func (d *DAO) ParamsAt(base token.Params, e uint64) token.Params {
	return token.ParamsAt(base, d.decisions(e), d.MinExecDelay(), e)
}

// ParamChanges returns the accepted changes of param this node holds that
// apply at ledger epoch e or before, in the order they apply
// (token.ParamChanges, with MinExecDelay; final like ParamsAt's).
func (d *DAO) ParamChanges(param string, e uint64) []token.ParamChange {
	return token.ParamChanges(d.decisions(e), d.MinExecDelay(), param, e)
}

// decisions returns the proposals this node holds whose change would
// apply at e or before, with their tallies.
func (d *DAO) decisions(e uint64) []token.Decision {
	minDelay := d.MinExecDelay()
	var due []token.Proposal
	for _, p := range d.Proposals() {
		if at, ok := token.EffectiveAt(&p, minDelay); ok && at <= e {
			due = append(due, p)
		}
	}
	decisions := make([]token.Decision, 0, len(due))
	for i := range due {
		decisions = append(decisions, token.Decision{Proposal: due[i], Result: d.result(&due[i])})
	}
	return decisions
}

// result returns p's tally, kept once its window's votes are settled and
// an epoch more has passed.
func (d *DAO) result(p *token.Proposal) token.Result {
	id := p.ID()
	d.mu.Lock()
	r, ok := d.final[id]
	d.mu.Unlock()
	if ok {
		return r
	}
	_, r = d.Tally(p)
	if last, ok := d.svc.cfg.SettledBefore(d.svc.cfg.Clock.Now()); ok && last > p.End {
		d.mu.Lock()
		if d.final == nil {
			d.final = map[token.Hash]token.Result{}
		}
		d.final[id] = r
		d.mu.Unlock()
	}
	return r
}

package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/creachadair/jrpc2"

	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// DAOProposeParams are dao.propose's parameters.
type DAOProposeParams struct {
	// Param is the network parameter's name ([a-z0-9_.], at most 64
	// bytes); Value its proposed value.
	Param string `json:"param"`
	Value uint64 `json:"value"`
	// WindowEpochs is how many epochs the vote lasts from the current one
	// (default 10); ExecDelay how many epochs after the window the change
	// applies (absent or 0: the network's minimum, which is also the
	// least it takes, so that the window's votes are settled first).
	WindowEpochs uint64 `json:"window_epochs,omitempty"`
	ExecDelay    uint64 `json:"exec_delay,omitempty"`
}

// DAOVoteParams are dao.vote's parameters.
type DAOVoteParams struct {
	// ID is the proposal's ID (64 hex digits).
	ID string `json:"id"`
	// Choice is yes, no or abstain.
	Choice string `json:"choice"`
	// Wait returns once the vote block is confirmed.
	Wait bool `json:"wait,omitempty"`
}

// DAOVoteResult is dao.vote's result.
type DAOVoteResult struct {
	Hash      string `json:"hash"`
	Confirmed bool   `json:"confirmed"`
}

// DAOIDParams name a proposal.
type DAOIDParams struct {
	ID string `json:"id"`
}

// DAOProposal is a proposal with its tally as this node counts it now.
type DAOProposal struct {
	ID        string `json:"id"`
	Proposer  string `json:"proposer"`
	Param     string `json:"param"`
	Value     uint64 `json:"value"`
	Start     uint64 `json:"start"`
	End       uint64 `json:"end"`
	ExecuteAt uint64 `json:"execute_at"`
	// State is pending (before the window), voting, accepted or
	// rejected (after it), or in effect (accepted, and ExecuteAt has
	// come: the parameter has its value on every node; see
	// docs/token.md). An accepted proposal that cannot take effect (an
	// unknown parameter, a value out of bounds, a delay below the
	// network's minimum) stays accepted, with Applies false.
	State string `json:"state"`
	// Applies says the proposal changes the parameter if accepted.
	Applies bool   `json:"applies"`
	Epoch   uint64 `json:"epoch"`
	// Yes, No, Abstain and TotalStake are stake in micro-credits;
	// Quorum and Accepted the tally's verdict on them.
	Yes        uint64 `json:"yes"`
	No         uint64 `json:"no"`
	Abstain    uint64 `json:"abstain"`
	TotalStake uint64 `json:"total_stake"`
	Quorum     bool   `json:"quorum"`
	Accepted   bool   `json:"accepted"`
	// Unbacked says the proposer's stake at the window's end is below
	// the stake proposing needs: the proposal is not accepted, whatever
	// its votes.
	Unbacked bool `json:"unbacked,omitempty"`
	// Ballots, in dao.show only, are the votes counted.
	Ballots []DAOBallot `json:"ballots,omitempty"`
}

// DAOBallot is one account's counted vote.
type DAOBallot struct {
	Voter  string `json:"voter"`
	Choice string `json:"choice"`
	Weight uint64 `json:"weight"`
}

const defaultWindow = 10

var choiceNames = map[token.Choice]string{token.Yes: "yes", token.No: "no", token.Abstain: "abstain"}

func (n *Node) registerDAOMethods() error {
	return n.api.registerAll(map[string]any{
		"dao.propose": func(ctx context.Context, p DAOProposeParams) (DAOProposal, error) {
			d, err := n.daoOrErr()
			if err != nil {
				return DAOProposal{}, err
			}
			if p.WindowEpochs == 0 {
				p.WindowEpochs = defaultWindow
			}
			if p.ExecDelay == 0 {
				p.ExecDelay = d.MinExecDelay()
			}
			if p.Param == token.ParamEpochLength && n.lottery != nil {
				if err := epochLengthApplies(n.lottery.Config().Config, p.Value); err != nil {
					return DAOProposal{}, invalidParams("%s %d: %v", p.Param, p.Value, err)
				}
			}
			start := n.ledger.Epoch()
			prop, err := d.Propose(ctx, p.Param, p.Value, start, start+p.WindowEpochs-1, p.ExecDelay)
			switch {
			case errors.Is(err, token.ErrMalformed), errors.Is(err, token.ErrInvalid), errors.Is(err, token.ErrRefused):
				return DAOProposal{}, invalidParams("%v", err)
			case err != nil:
				return DAOProposal{}, ledgerError(err)
			}
			return n.daoProposal(d, &prop, false), nil
		},
		"dao.vote": func(ctx context.Context, p DAOVoteParams) (DAOVoteResult, error) {
			d, err := n.daoOrErr()
			if err != nil {
				return DAOVoteResult{}, err
			}
			id, err := parseProposalID(p.ID)
			if err != nil {
				return DAOVoteResult{}, err
			}
			var c token.Choice
			for k, v := range choiceNames {
				if v == strings.ToLower(p.Choice) {
					c = k
				}
			}
			if c == 0 {
				return DAOVoteResult{}, invalidParams("choice %q: want yes, no or abstain", p.Choice)
			}
			h, err := d.Vote(ctx, id, c)
			switch {
			case errors.Is(err, ledgersvc.ErrUnknownProposal):
				return DAOVoteResult{}, &jrpc2.Error{Code: CodeNotFound, Message: err.Error()}
			case errors.Is(err, token.ErrInvalid), errors.Is(err, token.ErrGap):
				return DAOVoteResult{}, &jrpc2.Error{Code: CodeConflict, Message: err.Error()}
			case err != nil:
				return DAOVoteResult{}, ledgerError(err)
			}
			if p.Wait {
				if err := n.ledger.WaitConfirmed(ctx, h); err != nil {
					return DAOVoteResult{}, ledgerError(fmt.Errorf("vote %s made, not confirmed yet: %w", h, err))
				}
			}
			r := DAOVoteResult{Hash: h.String()}
			n.ledger.View(func(l *token.Ledger) { r.Confirmed = l.Confirmed(h) })
			return r, nil
		},
		"dao.list": func(context.Context) ([]DAOProposal, error) {
			d, err := n.daoOrErr()
			if err != nil {
				return nil, err
			}
			out := []DAOProposal{}
			for _, p := range d.Proposals() {
				out = append(out, n.daoProposal(d, &p, false))
			}
			return out, nil
		},
		"dao.show": func(_ context.Context, p DAOIDParams) (DAOProposal, error) {
			d, err := n.daoOrErr()
			if err != nil {
				return DAOProposal{}, err
			}
			id, err := parseProposalID(p.ID)
			if err != nil {
				return DAOProposal{}, err
			}
			prop, err := d.Proposal(id)
			if err != nil {
				return DAOProposal{}, &jrpc2.Error{Code: CodeNotFound, Message: err.Error()}
			}
			return n.daoProposal(d, &prop, true), nil
		},
	})
}

func (n *Node) daoOrErr() (*ledgersvc.DAO, error) {
	if _, err := n.ledgerOrErr(); err != nil {
		return nil, err
	}
	return n.dao, nil
}

func parseProposalID(s string) (token.Hash, error) {
	var h token.Hash
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != len(h) {
		return h, invalidParams("id %q: want a proposal ID (64 hex digits)", s)
	}
	copy(h[:], raw)
	return h, nil
}

// daoProposal describes p with its tally now.
func (n *Node) daoProposal(d *ledgersvc.DAO, p *token.Proposal, ballots bool) DAOProposal {
	bs, res := d.Tally(p)
	e := n.ledger.Epoch()
	out := DAOProposal{
		ID: p.ID().String(), Proposer: p.Proposer.String(), Param: p.Param, Value: p.Value,
		Start: p.Start, End: p.End, ExecuteAt: p.ExecuteAt(), Epoch: e,
		Yes: res.Yes, No: res.No, Abstain: res.Abstain, TotalStake: res.TotalStake, Quorum: res.Quorum, Accepted: res.Accepted,
		Unbacked: res.Unbacked,
	}
	_, out.Applies = token.EffectiveAt(p, d.MinExecDelay())
	if out.Applies && p.Param == token.ParamEpochLength && n.lottery != nil {
		out.Applies = epochLengthApplies(n.lottery.Config().Config, p.Value) == nil
	}
	switch {
	case e < p.Start:
		out.State = "pending"
	case e <= p.End:
		out.State = "voting"
	case res.Accepted && out.Applies && e >= p.ExecuteAt():
		out.State = "in effect"
	case res.Accepted:
		out.State = "accepted"
	default:
		out.State = "rejected"
	}
	if ballots {
		out.Ballots = []DAOBallot{}
		for _, b := range bs {
			out.Ballots = append(out.Ballots, DAOBallot{Voter: b.Voter.String(), Choice: choiceNames[b.Choice], Weight: b.Weight})
		}
	}
	return out
}

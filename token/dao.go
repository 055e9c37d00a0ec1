package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/crypto/blake2b"
)

// Choice is a DAO vote's choice.
type Choice uint8

// The choices of a DAO vote.
const (
	Yes Choice = 1 + iota
	No
	Abstain
)

// Proposal is a signed proposal to set a network parameter. Stakers vote
// on it with KindVote blocks whose Link is its ID during the epochs
// [Start, End]; if the tally at End accepts it, the new value takes effect
// at epoch End + ExecDelay + 1.
type Proposal struct {
	Proposer  Account
	Param     string // the parameter's name: 1 to MaxParamLen of [a-z0-9_.]
	Value     uint64
	Start     uint64 // first epoch of the voting window
	End       uint64 // last epoch of the voting window
	ExecDelay uint64 // epochs between the window's end and the change
	Signature [ed25519.SignatureSize]byte
}

// MaxParamLen is the longest parameter name.
const MaxParamLen = 64

const proposalDomain = "fog/token/proposal/v1\x00"

// MaxProposalSize is the largest encoded proposal.
const MaxProposalSize = 1 + 32 + 1 + MaxParamLen + 8*4 + ed25519.SignatureSize

func (p *Proposal) appendBody(dst []byte) []byte {
	dst = append(dst, 1)
	dst = append(dst, p.Proposer[:]...)
	dst = append(dst, byte(len(p.Param)))
	dst = append(dst, p.Param...)
	dst = binary.BigEndian.AppendUint64(dst, p.Value)
	dst = binary.BigEndian.AppendUint64(dst, p.Start)
	dst = binary.BigEndian.AppendUint64(dst, p.End)
	return binary.BigEndian.AppendUint64(dst, p.ExecDelay)
}

// ID returns the proposal's ID, the hash its signature signs.
func (p *Proposal) ID() Hash {
	b := append([]byte(proposalDomain), p.appendBody(nil)...)
	return blake2b.Sum256(b)
}

// Sign sets the proposer to priv's public key and signs the proposal.
func (p *Proposal) Sign(priv ed25519.PrivateKey) {
	p.Proposer = AccountOf(priv.Public().(ed25519.PublicKey))
	id := p.ID()
	copy(p.Signature[:], ed25519.Sign(priv, id[:]))
}

// Verify checks the proposal's fields and its signature.
func (p *Proposal) Verify() error {
	if err := p.check(); err != nil {
		return err
	}
	id := p.ID()
	if !ed25519.Verify(p.Proposer[:], id[:], p.Signature[:]) {
		return fmt.Errorf("%w: proposal %s", ErrSignature, id)
	}
	return nil
}

// ExecuteAt returns the epoch from which an accepted proposal applies.
func (p *Proposal) ExecuteAt() uint64 { return p.End + p.ExecDelay + 1 }

func (p *Proposal) check() error {
	if len(p.Param) == 0 || len(p.Param) > MaxParamLen {
		return fmt.Errorf("%w: proposal parameter name of %d bytes", ErrMalformed, len(p.Param))
	}
	for _, c := range []byte(p.Param) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return fmt.Errorf("%w: proposal parameter name %q", ErrMalformed, p.Param)
		}
	}
	if p.End < p.Start {
		return fmt.Errorf("%w: proposal window ends before it starts", ErrMalformed)
	}
	if _, err := add(p.End, p.ExecDelay); err != nil || p.End+p.ExecDelay == ^uint64(0) {
		return fmt.Errorf("%w: proposal execution epoch overflows", ErrMalformed)
	}
	return nil
}

// Encode returns the proposal's canonical encoding.
func (p *Proposal) Encode() []byte {
	b := p.appendBody(make([]byte, 0, MaxProposalSize))
	return append(b, p.Signature[:]...)
}

// DecodeProposal decodes a canonical proposal encoding and checks its
// fields (not the signature).
func DecodeProposal(b []byte) (Proposal, error) {
	var p Proposal
	if len(b) < 1+32+1 || len(b) > MaxProposalSize {
		return p, fmt.Errorf("%w: proposal of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != 1 {
		return p, fmt.Errorf("%w: proposal version %d", ErrMalformed, b[0])
	}
	copy(p.Proposer[:], b[1:])
	n := int(b[33])
	if len(b) != 34+n+32+ed25519.SignatureSize {
		return p, fmt.Errorf("%w: proposal of %d bytes with a %d-byte name", ErrMalformed, len(b), n)
	}
	p.Param = string(b[34 : 34+n])
	off := 34 + n
	p.Value = binary.BigEndian.Uint64(b[off:])
	p.Start = binary.BigEndian.Uint64(b[off+8:])
	p.End = binary.BigEndian.Uint64(b[off+16:])
	p.ExecDelay = binary.BigEndian.Uint64(b[off+24:])
	copy(p.Signature[:], b[off+32:])
	if err := p.check(); err != nil {
		return Proposal{}, err
	}
	return p, nil
}

// Rules are the DAO's acceptance rules: the approval rules in basis
// points (1/10,000), and the admission rules that bound what one
// proposer can make every node store.
type Rules struct {
	// QuorumBP is the turnout needed: the stake voting (yes, no or
	// abstain) must be at least QuorumBP/10,000 of all stake.
	QuorumBP uint64
	// ThresholdBP is the approval needed: yes must be more than
	// ThresholdBP/10,000 of yes plus no.
	ThresholdBP uint64
	// ProposerStake is the stake, in micro-credits, a proposer must
	// hold: a node stores a proposal only if its proposer holds it, and
	// a proposal whose proposer's stake at the window's end is lower is
	// never accepted (Cosmos asks a deposit; here the stake stands in).
	ProposerStake uint64
	// MaxPending is the most proposals of one proposer a node holds
	// whose votes are not yet settled; of more, it keeps those with the
	// smallest IDs, so that every node that has seen them all keeps the
	// same ones.
	MaxPending int
}

// DefaultRules returns Cosmos governance's defaults, a turnout of 33.4%
// and more than 50% yes, with a proposer stake of a tenth of a credit and
// four pending proposals per proposer.
func DefaultRules() Rules {
	return Rules{QuorumBP: 3340, ThresholdBP: 5000, ProposerStake: 100_000, MaxPending: 4}
}

// Validate checks the rules; its errors wrap ErrConfig.
func (r Rules) Validate() error {
	if r.QuorumBP > 10000 {
		return fmt.Errorf("%w: QuorumBP above 10000", ErrConfig)
	}
	if r.ThresholdBP >= 10000 {
		return fmt.Errorf("%w: ThresholdBP must be below 10000", ErrConfig)
	}
	if r.MaxPending < 1 {
		return fmt.Errorf("%w: MaxPending must be at least 1", ErrConfig)
	}
	return nil
}

// Admission is what a node knows of a proposal that reaches it, for
// Rules.Admit.
type Admission struct {
	// Stake is the proposer's stake at the window's end, or now if the
	// window has not ended.
	Stake uint64
	// Settled reports whether the votes of the window are settled; then
	// Accepted is the proposal's final tally.
	Settled, Accepted bool
	// Pending are the IDs of the proposer's proposals the node holds
	// whose votes are not settled.
	Pending []Hash
}

// Admit decides whether a node stores proposal p: its proposer holds
// ProposerStake; a proposal whose votes are settled is stored only if
// accepted (a rejected one can change nothing); and at most MaxPending of
// one proposer's unsettled proposals are held, those with the smallest
// IDs. It returns the held proposal to drop for p, if any, and an error
// wrapping ErrRefused if p is not stored. The decision uses no clock: the
// caller says what is settled.
func (r Rules) Admit(p *Proposal, a Admission) (evict *Hash, err error) {
	id := p.ID()
	if a.Stake < r.ProposerStake {
		return nil, fmt.Errorf("%w: proposal %s: its proposer holds a stake of %d, and proposing needs %d", ErrRefused, id, a.Stake, r.ProposerStake)
	}
	if a.Settled {
		if !a.Accepted {
			return nil, fmt.Errorf("%w: proposal %s: its window is settled and it was not accepted", ErrRefused, id)
		}
		return nil, nil
	}
	if len(a.Pending) < r.MaxPending {
		return nil, nil
	}
	worst := a.Pending[0]
	for _, h := range a.Pending[1:] {
		if bytes.Compare(h[:], worst[:]) > 0 {
			worst = h
		}
	}
	if bytes.Compare(id[:], worst[:]) >= 0 {
		return nil, fmt.Errorf("%w: proposal %s: its proposer has %d proposals pending, the most a node holds", ErrRefused, id, len(a.Pending))
	}
	return &worst, nil
}

// TallyProposal is Tally for proposal p, whose proposer's stake at the
// window's end is proposerStake: a proposal whose proposer then held less
// than ProposerStake is not accepted, whatever its votes.
func TallyProposal(ballots []Ballot, totalStake, proposerStake uint64, r Rules) Result {
	res := Tally(ballots, totalStake, r)
	if proposerStake < r.ProposerStake {
		res.Accepted, res.Unbacked = false, true
	}
	return res
}

// Ballot is one account's vote with its weight.
type Ballot struct {
	Voter  Account
	Choice Choice
	Weight uint64
}

// Result is a proposal's tally.
type Result struct {
	Yes, No, Abstain uint64
	TotalStake       uint64 // all stake at the window's end
	Quorum           bool   // the turnout reached the quorum
	Accepted         bool   // quorum reached and yes above the threshold
	Unbacked         bool   // the proposer's stake was below ProposerStake (TallyProposal)
}

// Tally counts ballots against the total stake under rules r, in integer
// arithmetic: the same inputs give the same result on every node.
func Tally(ballots []Ballot, totalStake uint64, r Rules) Result {
	res := Result{TotalStake: totalStake}
	for _, b := range ballots {
		var s *uint64
		switch b.Choice {
		case Yes:
			s = &res.Yes
		case No:
			s = &res.No
		case Abstain:
			s = &res.Abstain
		default:
			continue
		}
		if v, err := add(*s, b.Weight); err == nil {
			*s = v
		}
	}
	turnout, err := add(res.Yes, res.No)
	if err == nil {
		turnout, err = add(turnout, res.Abstain)
	}
	if err != nil {
		turnout = ^uint64(0)
	}
	res.Quorum = totalStake > 0 && mulGE(turnout, 10000, r.QuorumBP, totalStake)
	yesNo := res.Yes + res.No // both at most the supply
	if res.Yes+res.No < res.Yes {
		yesNo = ^uint64(0)
	}
	res.Accepted = res.Quorum && res.Yes > 0 && mulGT(res.Yes, 10000, r.ThresholdBP, yesNo)
	return res
}

// Ballots returns the ballots on proposal p from confirmed blocks: each
// account's last KindVote naming p within p's window, weighed by the
// account's stake at the window's end (its last confirmed block of an
// epoch up to End), and the total stake at the window's end. Accounts are
// in key order, so Tally(l.Ballots(p)) is the same on every node holding
// the same confirmed blocks.
func (l *Ledger) Ballots(p *Proposal) ([]Ballot, uint64) {
	id := p.ID()
	accts := make([]Account, 0, len(l.accounts))
	for a := range l.accounts {
		accts = append(accts, a)
	}
	slices.SortFunc(accts, func(a, b Account) int { return bytes.Compare(a[:], b[:]) })
	var out []Ballot
	var total uint64
	for _, a := range accts {
		s := l.accounts[a]
		var stake uint64
		stakeSet := false
		var choice Choice
		for h := s.Head; ; {
			e, ok := l.blocks[h]
			if !ok {
				// The genesis root: the genesis stake.
				if !stakeSet && s.genesis {
					stake = l.genesisAccount(a).staked
				}
				break
			}
			b := &e.block
			if e.confirmed && b.Epoch <= p.End {
				if !stakeSet {
					stake, stakeSet = b.Staked, true
				}
				if choice == 0 && b.Kind == KindVote && Hash(b.Link) == id && b.Epoch >= p.Start {
					choice = Choice(b.Aux)
				}
				if b.Epoch < p.Start {
					break // earlier blocks hold no vote in the window, and the stake is set
				}
			}
			if b.Kind == KindOpen {
				break
			}
			h = b.Previous
		}
		total += stake
		if choice != 0 && stake > 0 {
			out = append(out, Ballot{Voter: a, Choice: choice, Weight: stake})
		}
	}
	return out, total
}

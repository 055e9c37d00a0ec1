package ledgersvc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/notify"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
)

// DAOTopic carries DAO proposals.
const DAOTopic = "/fog/dao/1"

// kindProposal is the store kind of the proposals a DAO holds (under the
// ledger's Datastore; ledgerstore's kinds are others).
const kindProposal = "dao"

// ErrUnknownProposal is returned for a proposal ID the DAO does not hold.
var ErrUnknownProposal = errors.New("ledgersvc: unknown proposal")

// ProposalMsg is what DAOTopic carries: a signed proposal with the gossip
// header of the node that published it.
type ProposalMsg struct {
	Author   peer.ID
	Seq      uint64
	Time     time.Time
	Proposal token.Proposal
}

// MaxProposalMsgSize is the largest encoded ProposalMsg.
const MaxProposalMsgSize = 2 + maxIDLen + 16 + token.MaxProposalSize

// Encode returns the message's canonical encoding: version, the author's
// ID with its length (one byte), the sequence number and the time in Unix
// nanoseconds (big-endian), then the proposal's encoding.
func (m *ProposalMsg) Encode() ([]byte, error) {
	id := []byte(m.Author)
	if len(id) == 0 || len(id) > maxIDLen {
		return nil, fmt.Errorf("%w: author ID of %d bytes", ErrMalformed, len(id))
	}
	b := make([]byte, 0, MaxProposalMsgSize)
	b = append(b, wireVersion, byte(len(id)))
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Time.UnixNano()))
	return append(b, m.Proposal.Encode()...), nil
}

// DecodeProposalMsg decodes a canonical ProposalMsg; it checks the
// proposal's fields, not its signature.
func DecodeProposalMsg(p []byte) (*ProposalMsg, error) {
	if len(p) < 2 || len(p) > MaxProposalMsgSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(p))
	}
	if p[0] != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, p[0])
	}
	n := int(p[1])
	if n == 0 || n > maxIDLen || len(p) < 2+n+16 {
		return nil, fmt.Errorf("%w: author ID of %d bytes", ErrMalformed, n)
	}
	id, err := peer.IDFromBytes(p[2 : 2+n])
	if err != nil {
		return nil, fmt.Errorf("%w: author: %w", ErrMalformed, err)
	}
	off := 2 + n
	m := &ProposalMsg{Author: id, Seq: binary.BigEndian.Uint64(p[off:])}
	t := binary.BigEndian.Uint64(p[off+8:])
	if t > 1<<63-1 {
		return nil, fmt.Errorf("%w: time", ErrMalformed)
	}
	m.Time = time.Unix(0, int64(t))
	if m.Proposal, err = token.DecodeProposal(p[off+16:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return m, nil
}

// DAO holds the network's proposals: those made here, those heard on
// DAOTopic and those pulled from peers by the ledger's catch-up (a node
// offline when a proposal was published learns it there), persisted
// (synced) in the ledger's Datastore, and tallies them over the Service's
// ledger. Votes are KindVote blocks of the node's account.
type DAO struct {
	svc   *Service
	g     *gossip.Gossip
	ds    datastore.Batching
	rules token.Rules

	addMu   sync.Mutex // serialises add's admission and store
	mu      sync.Mutex
	props   map[token.Hash]token.Proposal
	topic   *gossip.Topic[*ProposalMsg]
	ctx     context.Context
	seq     uint64
	changed notify.Signal
	final   map[token.Hash]token.Result // settled tallies (daoparams.go)
}

// NewDAO opens the proposals stored in ds (the ledger's Datastore) for
// the Service svc, whose catch-up then serves and pulls them (make it
// before svc runs, so that its first catch-up does); Run joins DAOTopic.
func NewDAO(ctx context.Context, svc *Service, g *gossip.Gossip, ds datastore.Batching) (*DAO, error) {
	d := &DAO{svc: svc, g: g, ds: ds, rules: token.DefaultRules(), props: map[token.Hash]token.Proposal{}}
	res, err := ds.Query(ctx, query.Query{Prefix: "/" + kindProposal})
	if err != nil {
		return nil, fmt.Errorf("ledgersvc: load proposals: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("ledgersvc: load proposals: %w", r.Error)
		}
		p, err := token.DecodeProposal(r.Value)
		if err != nil {
			return nil, fmt.Errorf("ledgersvc: stored proposal %s: %w", r.Key, err)
		}
		d.props[p.ID()] = p
	}
	if err := d.dropDisplaced(ctx); err != nil {
		return nil, err
	}
	d.seq = uint64(svc.cfg.Clock.Now().UnixNano())
	svc.dao.Store(d)
	return d, nil
}

// Name implements the node's Service.
func (d *DAO) Name() string { return "dao" }

// Changed returns a channel closed when the next proposal is added.
func (d *DAO) Changed() <-chan struct{} { return d.changed.Wait() }

// Rules returns the acceptance rules the DAO tallies with.
func (d *DAO) Rules() token.Rules { return d.rules }

// Run joins DAOTopic and takes the proposals heard there until ctx ends.
func (d *DAO) Run(ctx context.Context, ready func()) (err error) {
	params := TopicParams(d.svc.cfg)
	params.MaxSize = MaxProposalMsgSize
	topic, err := gossip.Join(d.g, gossip.TopicConfig[*ProposalMsg]{
		Name:   DAOTopic,
		Params: params,
		Encode: func(m *ProposalMsg) ([]byte, error) { return m.Encode() },
		Decode: DecodeProposalMsg,
		Header: func(m *ProposalMsg) gossip.Header {
			return gossip.Header{Author: m.Author, Seq: m.Seq, Time: m.Time}
		},
		Check: func(m *ProposalMsg, _ time.Time, local bool) error {
			if local {
				return nil
			}
			if err := m.Proposal.Verify(); err != nil {
				return fmt.Errorf("%w: %w", gossip.ErrInvalid, err)
			}
			if d.holds(m.Proposal.ID()) {
				return nil // admitted already: relayed as any copy
			}
			if _, err := d.admission(&m.Proposal); err != nil {
				// A proposal this node does not store is not relayed
				// either; its sender is not to blame (this node may not
				// yet see the proposer's stake).
				return fmt.Errorf("%w: %w", gossip.ErrIgnore, err)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("ledgersvc: join %s: %w", DAOTopic, err)
	}
	defer func() { err = errors.Join(err, topic.Close()) }()
	sub, err := topic.Subscribe(func(r gossip.Received[*ProposalMsg]) {
		if !r.Local {
			_ = d.add(ctx, r.Msg.Proposal)
		}
	})
	if err != nil {
		return fmt.Errorf("ledgersvc: subscribe %s: %w", DAOTopic, err)
	}
	defer sub.Close()
	d.mu.Lock()
	d.topic, d.ctx = topic, ctx
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.topic, d.ctx = nil, nil
		d.mu.Unlock()
	}()
	ready()
	<-ctx.Done()
	return nil
}

// holds reports whether the DAO holds proposal id.
func (d *DAO) holds(id token.Hash) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.props[id]
	return ok
}

// after returns at most n of the proposals held whose IDs follow after, in
// increasing order of ID (the catch-up's pages).
func (d *DAO) after(after token.Hash, n int) []token.Proposal {
	d.mu.Lock()
	ids := make([]token.Hash, 0, len(d.props))
	for id := range d.props {
		if bytes.Compare(id[:], after[:]) > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b token.Hash) int { return bytes.Compare(a[:], b[:]) })
	out := make([]token.Proposal, 0, min(n, len(ids)))
	for _, id := range ids[:min(n, len(ids))] {
		out = append(out, d.props[id])
	}
	d.mu.Unlock()
	return out
}

// add stores a verified proposal, once, if the rules admit it
// (token.Rules.Admit); a proposal it displaces is deleted. Its errors wrap
// token.ErrRefused for a proposal the rules refuse.
func (d *DAO) add(ctx context.Context, p token.Proposal) error {
	id := p.ID()
	if d.holds(id) {
		return nil
	}
	// One add at a time: the pending set admission reads must not change
	// before the proposal is stored.
	d.addMu.Lock()
	defer d.addMu.Unlock()
	if d.holds(id) {
		return nil
	}
	evict, err := d.admission(&p)
	if err != nil {
		return err
	}
	k := store.Key(kindProposal, id.String())
	if err := d.ds.Put(ctx, k, p.Encode()); err != nil {
		return fmt.Errorf("ledgersvc: store proposal: %w", err)
	}
	if err := d.ds.Sync(ctx, k); err != nil {
		return fmt.Errorf("ledgersvc: store proposal: %w", err)
	}
	d.mu.Lock()
	d.props[id] = p
	if evict != nil {
		delete(d.props, *evict)
	}
	d.mu.Unlock()
	if evict != nil {
		// Held in memory no more; a copy left on disk by a crash here is
		// displaced again when the DAO reopens.
		if err := d.ds.Delete(ctx, store.Key(kindProposal, evict.String())); err != nil {
			return fmt.Errorf("ledgersvc: drop proposal: %w", err)
		}
	}
	d.changed.Notify()
	return nil
}

// admission applies the DAO's admission rules to p with what this node
// knows now: the proposer's confirmed stake at the window's end (or now,
// before it ends), whether its votes are settled and then its tally, and
// the proposer's unsettled proposals held. It returns the proposal p
// would displace.
func (d *DAO) admission(p *token.Proposal) (*token.Hash, error) {
	settled := d.settledNow()
	a := token.Admission{Settled: settled(p), Pending: d.pending(p.Proposer, settled)}
	at := min(p.End, d.svc.Epoch())
	d.svc.View(func(l *token.Ledger) { a.Stake = l.StakeAt(p.Proposer, at) })
	if a.Stake >= d.rules.ProposerStake && a.Settled {
		_, res := d.Tally(p)
		a.Accepted = res.Accepted
	}
	return d.rules.Admit(p, a)
}

// Propose signs a proposal by the node's account setting param to value,
// with a voting window of the epochs [start, end] and the change applying
// execDelay epochs after; it is stored, then published. A proposal that
// could never take effect (an unknown parameter, a value out of bounds, a
// delay below MinExecDelay) is refused with token.ErrInvalid; one the
// admission rules refuse (a stake below Rules.ProposerStake, MaxPending
// proposals of this account unsettled) with token.ErrRefused.
func (d *DAO) Propose(ctx context.Context, param string, value, start, end, execDelay uint64) (token.Proposal, error) {
	if err := d.checkProposal(param, value, execDelay); err != nil {
		return token.Proposal{}, err
	}
	p := token.Proposal{Param: param, Value: value, Start: start, End: end, ExecDelay: execDelay}
	p.Sign(d.svc.key)
	if err := p.Verify(); err != nil {
		return token.Proposal{}, err
	}
	var stake uint64
	d.svc.View(func(l *token.Ledger) { stake = l.StakeAt(p.Proposer, d.svc.Epoch()) })
	if stake < d.rules.ProposerStake {
		return token.Proposal{}, fmt.Errorf("%w: proposing needs a confirmed stake of %d micro-credits and this account holds %d (lock more with stake.lock)", token.ErrRefused, d.rules.ProposerStake, stake)
	}
	if n := len(d.pending(p.Proposer, d.settledNow())); n >= d.rules.MaxPending {
		return token.Proposal{}, fmt.Errorf("%w: this account has %d proposals whose votes are not settled, the most a node holds; propose again when one is", token.ErrRefused, n)
	}
	if err := d.add(ctx, p); err != nil {
		return token.Proposal{}, err
	}
	d.mu.Lock()
	topic, tctx := d.topic, d.ctx
	d.seq++
	m := &ProposalMsg{Author: d.svc.self, Seq: d.seq, Time: d.svc.cfg.Clock.Now(), Proposal: p}
	d.mu.Unlock()
	if topic == nil {
		return p, ErrNotRunning
	}
	if err := topic.Publish(tctx, m); err != nil {
		return p, fmt.Errorf("ledgersvc: publish proposal: %w", err)
	}
	return p, nil
}

// Proposal returns the proposal with ID id.
func (d *DAO) Proposal(id token.Hash) (token.Proposal, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.props[id]
	if !ok {
		return p, fmt.Errorf("%w: %s", ErrUnknownProposal, id)
	}
	return p, nil
}

// Proposals returns the proposals held, by window start then ID.
func (d *DAO) Proposals() []token.Proposal {
	d.mu.Lock()
	out := make([]token.Proposal, 0, len(d.props))
	for _, p := range d.props {
		out = append(out, p)
	}
	d.mu.Unlock()
	slices.SortFunc(out, func(a, b token.Proposal) int {
		if a.Start != b.Start {
			return cmpU64(a.Start, b.Start)
		}
		ia, ib := a.ID(), b.ID()
		return slices.Compare(ia[:], ib[:])
	})
	return out
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Vote casts choice c on proposal id with a vote block of the node's
// account, within the proposal's window.
func (d *DAO) Vote(ctx context.Context, id token.Hash, c token.Choice) (token.Hash, error) {
	p, err := d.Proposal(id)
	if err != nil {
		return token.Hash{}, err
	}
	if e := d.svc.Epoch(); e < p.Start || e > p.End {
		return token.Hash{}, fmt.Errorf("%w: proposal %s votes in epochs %d to %d, and this is epoch %d", token.ErrInvalid, id, p.Start, p.End, e)
	}
	return d.svc.own(ctx, "vote", func(w *token.Wallet, e uint64) (token.Block, error) { return w.Vote(id, c, e) })
}

// Tally returns the ballots on p and their tally, from the confirmed
// blocks this node holds.
func (d *DAO) Tally(p *token.Proposal) ([]token.Ballot, token.Result) {
	var (
		ballots       []token.Ballot
		total, pstake uint64
	)
	d.svc.View(func(l *token.Ledger) {
		ballots, total = l.Ballots(p)
		pstake = l.StakeAt(p.Proposer, p.End)
	})
	return ballots, token.TallyProposal(ballots, total, pstake, d.rules)
}

// settledNow returns whether a proposal's votes are settled now.
func (d *DAO) settledNow() func(q *token.Proposal) bool {
	last, ok := d.svc.cfg.SettledBefore(d.svc.cfg.Clock.Now())
	return func(q *token.Proposal) bool { return ok && last >= q.End }
}

// pending returns the IDs of a's proposals held whose votes are not
// settled.
func (d *DAO) pending(a token.Account, settled func(*token.Proposal) bool) []token.Hash {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []token.Hash
	for id, q := range d.props {
		if q.Proposer == a && !settled(&q) {
			ids = append(ids, id)
		}
	}
	return ids
}

// dropDisplaced forgets, at opening, the unsettled proposals beyond
// Rules.MaxPending of each proposer (the largest IDs): those a crash left
// on disk after add displaced them.
func (d *DAO) dropDisplaced(ctx context.Context) error {
	settled := d.settledNow()
	by := map[token.Account][]token.Hash{}
	for id, q := range d.props {
		if !settled(&q) {
			by[q.Proposer] = append(by[q.Proposer], id)
		}
	}
	for _, ids := range by {
		if len(ids) <= d.rules.MaxPending {
			continue
		}
		slices.SortFunc(ids, func(a, b token.Hash) int { return bytes.Compare(a[:], b[:]) })
		for _, id := range ids[d.rules.MaxPending:] {
			delete(d.props, id)
			if err := d.ds.Delete(ctx, store.Key(kindProposal, id.String())); err != nil {
				return fmt.Errorf("ledgersvc: drop proposal: %w", err)
			}
		}
	}
	return nil
}

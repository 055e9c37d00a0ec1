package ledgersvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token"
)

// SyncProtocol is the ledger's catch-up protocol (/fog/ledger/sync/1.1.0,
// and 1.0.0, which has no SyncProposals, for nodes that predate it):
// a node that was offline asks its peers for the DAO proposals it lacks,
// for their accounts' confirmed frontiers, then for the confirmed blocks
// it lacks, each with the peer's final vote, and feeds them to its Node
// as if they came by gossip, so validation stays in one place. It runs
// when the Service starts, when a peer connects, and every syncInterval
// with one peer in turn.
var SyncProtocol = p2p.MustProtocol("ledger/sync", p2p.Version{Major: 1, Minor: 1}, p2p.Version{Major: 1})

// syncWithProposals is the version of the catch-up that carries DAO
// proposals (SyncProposals).
var syncWithProposals = SyncProtocol.ID(p2p.Version{Major: 1, Minor: 1})

const (
	// syncTimeout bounds one catch-up with one peer.
	syncTimeout = time.Minute
	// syncMaxRequests bounds the requests served on one stream.
	syncMaxRequests = 4096
	// syncMaxAccounts and syncMaxBlocks bound what one catch-up pulls;
	// the next one (at the next connection) goes on.
	syncMaxAccounts = 100_000
	syncMaxBlocks   = 200_000
	// syncRounds bounds the passes of one catch-up: a receive waits for
	// its source's confirmation, which a later pass may bring.
	syncRounds = 3
	// syncQueue bounds the peers waiting for a catch-up.
	syncQueue = 64
	// syncMaxProposals bounds the proposals one catch-up pulls.
	syncMaxProposals = 4096
)

// syncInterval is how often a node catches up with one of its peers
// besides the catch-ups at its start and at each new connection: every
// ten ticks (5 minutes by default, 2 s in TestConfig).
func (s *Service) syncInterval() time.Duration { return 10 * s.cfg.TickInterval }

// syncLimits bounds the catch-up streams a node serves.
func (s *Service) syncLimits() p2p.Limits {
	return p2p.Limits{Streams: 32, StreamsPerPeer: 2, Idle: 10 * time.Second, Lifetime: 2 * syncTimeout, Clock: s.cfg.Clock}
}

// serveSync answers a peer's catch-up requests until it closes the
// stream, sends a malformed request, or reaches syncMaxRequests.
func (s *Service) serveSync(st network.Stream) {
	defer st.Close()
	for range syncMaxRequests {
		p, err := readFrame(st)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				return
			}
			_ = st.Reset()
			return
		}
		req, err := DecodeSyncRequest(p)
		if err != nil || (req.Kind == SyncProposals && st.Protocol() != syncWithProposals) {
			_ = st.Reset()
			return
		}
		resp := s.answerSync(req)
		enc, err := resp.Encode()
		if err != nil || writeFrame(st, enc) != nil {
			_ = st.Reset()
			return
		}
	}
}

// answerSync builds the response to req from the ledger: confirmed
// frontiers, or confirmed blocks with this node's final votes for them
// (the votes a settled election's answer carries).
func (s *Service) answerSync(req SyncRequest) SyncResponse {
	resp := SyncResponse{Kind: req.Kind}
	if req.Kind == SyncProposals {
		if d := s.dao.Load(); d != nil {
			resp.Proposals = d.after(token.Hash(req.After), MaxSyncProposals)
		}
		return resp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.node.Ledger()
	if req.Kind == SyncFrontiers {
		resp.Frontiers = l.Frontiers(token.Account(req.After), MaxSyncFrontiers)
		return resp
	}
	bs, err := l.ConfirmedAfter(req.Account, token.Hash(req.After), MaxSyncBlocks)
	if err != nil {
		return resp // nothing after a block this node does not hold confirmed
	}
	voter := l.Weight(s.acct) > 0
	resp.Blocks = make([]SyncBlock, len(bs))
	for i := range bs {
		resp.Blocks[i].Block = bs[i]
		if voter {
			v := token.Vote{Root: token.Root(&bs[i]), Block: bs[i].Hash(), Final: true}
			v.Sign(s.key)
			resp.Blocks[i].Vote = &v
		}
	}
	return resp
}

// startSync serves the catch-up protocol and starts the goroutine that
// catches up with every connected peer now and with each peer that
// connects later. The returned function stops both.
func (s *Service) startSync(ctx context.Context) (func(), error) {
	h := s.g.Host()
	if _, err := SyncProtocol.Handle(h, s.syncLimits(), s.serveSync); err != nil {
		return nil, fmt.Errorf("ledgersvc: serve %s: %w", SyncProtocol.ID(p2p.Version{Major: 1}), err)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		SyncProtocol.Unhandle(h)
		return nil, fmt.Errorf("ledgersvc: connectedness events: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	queue := make(chan peer.ID, syncQueue)
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, p := range h.Network().Peers() {
			select {
			case queue <- p:
			default:
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, open := <-sub.Out():
				if !open {
					return
				}
				if e, ok := ev.(event.EvtPeerConnectednessChanged); ok && e.Connectedness == network.Connected {
					select {
					case queue <- e.Peer:
					default: // a catch-up with the peers queued will do
					}
				}
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.askKick:
				s.askReps(ctx)
			}
		}
	})
	wg.Go(func() {
		t := s.cfg.Clock.NewTicker(s.syncInterval())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-queue:
				if s.testHookSync != nil {
					s.testHookSync()
				}
				_ = s.syncWith(ctx, p)
			case <-t.C():
				// A block settled while this node missed its gossip (a
				// lost message, a mesh still forming) is never re-sent:
				// now and then, catch up with one peer.
				if ps := h.Network().Peers(); len(ps) > 0 {
					_ = s.syncWith(ctx, ps[s.syncTurn%len(ps)])
					s.syncTurn++
				}
			}
		}
	})
	return func() {
		SyncProtocol.Unhandle(h)
		cancel()
		// The subscription closes (and drains) before the wait: the host's
		// event bus sends to it under a lock that the catch-up's own dial
		// takes to announce its connection, so a catch-up still under way
		// and an event already queued for the subscription blocked each
		// other for good (a 100-node simulation's stop of a node hung
		// there, and with it the network's close).
		_ = sub.Close()
		wg.Wait()
	}, nil
}

// errSyncPeer reports a peer whose catch-up answers broke the protocol.
var errSyncPeer = errors.New("ledgersvc: bad catch-up answer")

// syncWith catches up with peer p: it takes p's confirmed frontiers,
// pulls the blocks of each chain this node has not confirmed up to there,
// with p's final votes, and feeds them to the Node; again, up to
// syncRounds times, while a pass confirms more.
func (s *Service) syncWith(ctx context.Context, p peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	st, err := SyncProtocol.Open(ctx, s.g.Host(), p)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	defer st.Close()
	ask := asker(st)
	if st.Protocol() == syncWithProposals {
		if err := s.pullProposals(ctx, ask); err != nil {
			return err
		}
	}
	pulled := 0
	for range syncRounds {
		before := s.confirmedCount()
		var behind []token.Frontier
		var after token.Account
		for len(behind) < syncMaxAccounts {
			resp, err := ask(SyncRequest{Kind: SyncFrontiers, After: after})
			if err != nil {
				return err
			}
			s.mu.Lock()
			for _, f := range resp.Frontiers {
				if info, _ := s.node.Ledger().Account(f.Account); info.ConfirmedHeight < f.Height && !s.node.Ledger().Confirmed(f.Head) {
					behind = append(behind, f)
				}
			}
			s.mu.Unlock()
			if len(resp.Frontiers) < MaxSyncFrontiers {
				break
			}
			after = resp.Frontiers[len(resp.Frontiers)-1].Account
		}
		if len(behind) == 0 {
			return nil
		}
		for _, f := range behind {
			n, err := s.pullChain(f, ask, syncMaxBlocks-pulled)
			pulled += n
			if err != nil {
				return err
			}
		}
		if s.confirmedCount() == before || pulled >= syncMaxBlocks {
			return nil
		}
	}
	return nil
}

// pullProposals takes the DAO proposals the peer answering ask holds and
// this node's DAO lacks (a node offline when one was published on DAOTopic
// never hears it there), at most syncMaxProposals. A proposal with a bad
// signature ends the catch-up with that peer; one the DAO's admission
// rules refuse is skipped (the peer may hold it rightly: this node may
// not see its proposer's stake yet, and asks again at the next catch-up).
func (s *Service) pullProposals(ctx context.Context, ask func(SyncRequest) (SyncResponse, error)) error {
	d := s.dao.Load()
	if d == nil {
		return nil
	}
	var after token.Hash
	for n := 0; n < syncMaxProposals; {
		resp, err := ask(SyncRequest{Kind: SyncProposals, After: after})
		if err != nil {
			return err
		}
		for i := range resp.Proposals {
			p := &resp.Proposals[i]
			id := p.ID()
			if bytes.Compare(id[:], after[:]) <= 0 {
				return fmt.Errorf("%w: proposal %s not after %s", errSyncPeer, id, after)
			}
			after = id
			if d.holds(id) {
				continue
			}
			if err := p.Verify(); err != nil {
				return fmt.Errorf("%w: %w", errSyncPeer, err)
			}
			if err := d.add(ctx, *p); err != nil && !errors.Is(err, token.ErrRefused) {
				return err
			}
		}
		n += len(resp.Proposals)
		if len(resp.Proposals) < MaxSyncProposals {
			return nil
		}
	}
	return nil
}

// asker returns the function that sends a request on st and reads its
// answer.
func asker(st network.Stream) func(SyncRequest) (SyncResponse, error) {
	return func(req SyncRequest) (SyncResponse, error) {
		if err := writeFrame(st, req.Encode()); err != nil {
			return SyncResponse{}, err
		}
		b, err := readFrame(st)
		if err != nil {
			return SyncResponse{}, err
		}
		resp, err := DecodeSyncResponse(b)
		if err != nil {
			return SyncResponse{}, err
		}
		if resp.Kind != req.Kind {
			return SyncResponse{}, fmt.Errorf("%w: kind %d answers %d", errSyncPeer, resp.Kind, req.Kind)
		}
		return resp, nil
	}
}

const (
	// maxAskReps bounds the representatives asked for one stale election
	// (the heaviest first).
	maxAskReps = 32
	// maxStale bounds the accounts waiting for an ask.
	maxStale = 256
	// askTimeout bounds each request of an ask: the stream to a
	// representative is reset when one answer takes longer. The whole
	// ask of one representative is bounded by syncTimeout.
	askTimeout = 10 * time.Second
	// askParallel is how many representatives are asked at once.
	askParallel = 4
)

// noteStaleLocked queues the accounts the Node reported Stale for the asker;
// s.mu is held.
func (s *Service) noteStaleLocked(accts []token.Account) {
	for _, a := range accts {
		if len(s.stale) < maxStale && !slices.Contains(s.stale, a) {
			s.stale = append(s.stale, a)
		}
	}
	if len(accts) > 0 {
		select {
		case s.askKick <- struct{}{}:
		default:
		}
	}
}

// staleWant is an account's next block an ask wants confirmed.
type staleWant struct {
	acct   token.Account
	height uint64
}

// askReps asks the representatives, the heaviest alone first (its answer
// is often a quorum), then askParallel at a time, for the next confirmed
// block of each account the Node reported Stale (an election open here
// past a re-send, most likely for final votes this node missed: a full
// validation queue drops them, and gossip does not send them again), each
// with the representative's final vote, until every such block is
// confirmed here or maxAskReps were asked. A point-to-point answer from the few representatives replaces
// what a re-send of the block to every node used to bring (their
// answers, to every node). Each representative takes the accounts from a
// different starting point, so that one whose ask ends early (a timeout,
// a reset) leaves different accounts unasked than the next.
func (s *Service) askReps(ctx context.Context) {
	s.mu.Lock()
	accts := s.stale
	s.stale = nil
	s.mu.Unlock()
	var wants []staleWant
	var reps []token.Account
	s.View(func(l *token.Ledger) {
		for _, a := range accts {
			f, _ := l.ConfirmedFrontier(a)
			wants = append(wants, staleWant{a, f.Height + 1})
		}
		reps = l.Representatives(maxAskReps)
	})
	for i, n := 0, 1; i < len(reps); i, n = i+n, askParallel {
		s.View(func(l *token.Ledger) {
			wants = slices.DeleteFunc(wants, func(w staleWant) bool {
				f, _ := l.ConfirmedFrontier(w.acct)
				return f.Height >= w.height
			})
		})
		if len(wants) == 0 || ctx.Err() != nil {
			return
		}
		var wg sync.WaitGroup
		for j, r := range reps[i:min(i+n, len(reps))] {
			k := (i + j) % len(wants)
			turn := append(slices.Clone(wants[k:]), wants[:k]...)
			wg.Go(func() { s.askRep(ctx, r, turn) })
		}
		wg.Wait()
	}
}

// askRep asks representative r for the next confirmed block of each of
// wants, in order, on one stream.
func (s *Service) askRep(ctx context.Context, r token.Account, wants []staleWant) {
	p, err := peerOfAccount(r)
	if err != nil || p == s.self {
		return
	}
	s.counts.asks.Add(1)
	actx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	// Each request gets askTimeout: the watchdog resets the stream when
	// one answer is late.
	watchdog := time.AfterFunc(s.askTimeout, cancel)
	defer watchdog.Stop()
	st, err := SyncProtocol.Open(actx, s.g.Host(), p)
	if err != nil {
		s.counts.askFails.Add(1)
		return
	}
	stop := context.AfterFunc(actx, func() { _ = st.Reset() })
	defer stop()
	defer st.Close()
	ask := asker(st)
	for _, w := range wants {
		if !watchdog.Reset(s.askTimeout) {
			break // fired: the stream is reset
		}
		n, err := s.pullChain(token.Frontier{Account: w.acct, Height: w.height}, ask, syncMaxBlocks)
		s.counts.askBlks.Add(uint64(n))
		if err != nil {
			s.counts.askFails.Add(1)
			return
		}
	}
}

// peerOfAccount returns the peer ID whose key is account a (a node votes
// with its identity key).
func peerOfAccount(a token.Account) (peer.ID, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(a[:])
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(k)
}

// confirmedCount returns how many blocks are confirmed here.
func (s *Service) confirmedCount() uint64 {
	var n uint64
	s.View(func(l *token.Ledger) {
		for _, f := range l.Frontiers(token.Account{}, syncMaxAccounts) {
			n += f.Height
		}
	})
	return n
}

// pullChain pulls account f.Account's confirmed blocks after this node's
// confirmed head up to f.Height, at most budget, checks they form the
// chain asked for, and feeds each and its vote to the Node.
func (s *Service) pullChain(f token.Frontier, ask func(SyncRequest) (SyncResponse, error), budget int) (int, error) {
	var from token.Hash
	var height uint64
	s.View(func(l *token.Ledger) {
		if c, ok := l.ConfirmedFrontier(f.Account); ok {
			from, height = c.Head, c.Height
		}
	})
	pulled := 0
	for height < f.Height && pulled < budget {
		resp, err := ask(SyncRequest{Kind: SyncChain, Account: f.Account, After: from})
		if err != nil {
			return pulled, err
		}
		if len(resp.Blocks) == 0 {
			return pulled, nil
		}
		for _, sb := range resp.Blocks {
			b := sb.Block
			h := b.Hash()
			// The blocks must be the account's, in chain order from the
			// block asked after (a first block names the genesis root or
			// is an open).
			if b.Account != f.Account || (!from.IsZero() && b.Previous != from) {
				return pulled, fmt.Errorf("%w: block %s does not follow %s", errSyncPeer, h, from)
			}
			if sb.Vote != nil && (sb.Vote.Block != h || !sb.Vote.Final) {
				return pulled, fmt.Errorf("%w: vote for %s beside block %s", errSyncPeer, sb.Vote.Block, h)
			}
			if err := s.feed(b, sb.Vote); err != nil {
				return pulled, err
			}
			from, height = h, height+1
			pulled++
		}
	}
	return pulled, nil
}

// feed gives a pulled block and its vote to the Node as gossip would. A
// block or vote the Node refuses as forged or invalid ends the catch-up
// with that peer.
func (s *Service) feed(b token.Block, v *token.Vote) error {
	_, err := s.step(func(now time.Time) (token.Effects, error) {
		eff, err := s.node.ProcessBlock(b, now)
		if err != nil && (errors.Is(err, token.ErrSignature) || errors.Is(err, token.ErrInvalid)) && !errors.Is(err, token.ErrSettled) {
			return eff, err
		}
		if v != nil {
			more, verr := s.node.ProcessVote(*v, now)
			eff.Records = append(eff.Records, more.Records...)
			eff.Confirmed = append(eff.Confirmed, more.Confirmed...)
			eff.Blocks = append(eff.Blocks, more.Blocks...)
			eff.Votes = append(eff.Votes, more.Votes...)
			if verr != nil {
				return eff, verr
			}
		}
		return eff, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errSyncPeer, err)
	}
	return nil
}

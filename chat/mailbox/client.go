package mailbox

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Message is one item Fetch delivers: its ID, the day of the mailbox it
// was found in, and the opened payload.
type Message struct {
	ID      ItemID
	Day     Day
	Payload []byte
}

// FetchReport says how a Fetch went.
type FetchReport struct {
	// Days is how many daily mailboxes were asked about; Hosts how many
	// (host, day) pairs were asked, Answered how many answered.
	Days     int `json:"days"`
	Hosts    int `json:"hosts"`
	Answered int `json:"answered"`
	// Received counts the items received, every copy; Delivered the new
	// messages given to deliver; Rejected items whose seal did not open;
	// Acked items the hosts deleted on our acknowledgement.
	Received  int `json:"received"`
	Delivered int `json:"delivered"`
	Rejected  int `json:"rejected"`
	Acked     int `json:"acked"`
}

// seenItem remembers a delivered item until its copies have expired.
type seenItem struct{ until time.Time }

// Deposit seals payload to the recipient's chat key and stores it in the
// recipient's mailbox of today at the Config.K hosts closest to the
// mailbox key (this node among them if it is that close, the recipient
// never). It returns how
// many hosts stored it; it fails (ErrNoHost, with each host's error) if
// none did, and with ErrTooLarge if the sealed payload is above
// Config.MaxItemBytes. The recipient is to is identity; chatKey must be
// its X25519 chat key, which the caller has verified belongs to it.
func (s *Service) Deposit(ctx context.Context, to peer.ID, chatKey *ecdh.PublicKey, payload []byte) (int, error) {
	if len(payload)+SealOverhead > s.cfg.MaxItemBytes {
		return 0, fmt.Errorf("%w: %d bytes sealed, the limit is %d", ErrTooLarge, len(payload)+SealOverhead, s.cfg.MaxItemBytes)
	}
	ctx, stop := s.bind(ctx)
	defer stop()
	key := MailboxKey(to, DayOf(s.cfg.Clock.Now()))
	var id ItemID
	_, _ = rand.Read(id[:])
	sealed, err := seal(nil, chatKey, key, id, payload)
	if err != nil {
		return 0, err
	}
	// the recipient is away: its own node is no host
	hosts, err := s.hosts(ctx, key, s.cfg.K, to)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoHost, err)
	}
	req := request{op: opDeposit, key: key, id: id, expires: expiresOf(s.cfg.Clock.Now().Add(s.cfg.TTL)), sealed: sealed}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, p := range hosts {
		wg.Go(func() {
			resp, err := s.call(ctx, p, req)
			if err == nil {
				err = resp.status.err()
			}
			if err != nil {
				errs[i] = fmt.Errorf("host %s: %w", p, err)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: %w", ErrNoHost, errors.Join(errs...))
	}
	return n, nil
}

// bind returns a context that ends with ctx or with the service.
func (s *Service) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// hosts returns the n peers closest to key but skip, this node among
// them if it is that close.
func (s *Service) hosts(ctx context.Context, key Key, n int, skip peer.ID) ([]peer.ID, error) {
	if s.router == nil {
		return nil, fmt.Errorf("%w: no router", ErrConfig)
	}
	lctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	ps, err := s.router.ClosestPeers(lctx, string(key[:]), n+1)
	if err != nil && len(ps) == 0 {
		return nil, fmt.Errorf("mailbox: find hosts of %s: %w", key, err)
	}
	all := append(slices.DeleteFunc(slices.Clone(ps), func(p peer.ID) bool { return p == s.h.ID() || p == skip }), s.h.ID())
	if skip == s.h.ID() {
		all = all[:len(all)-1]
	}
	all = kb.SortClosestPeers(all, kb.ConvertKey(string(key[:])))
	return all[:min(len(all), n)], nil
}

// call sends req to host p and returns its response; a request to this
// node itself is served without a stream.
func (s *Service) call(ctx context.Context, p peer.ID, req request) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if req.op != opDeposit {
		if err := req.sign(s.id, p, s.cfg.Clock.Now()); err != nil {
			return response{}, err
		}
	}
	if p == s.h.ID() {
		if !s.enter() {
			return response{}, ErrClosed
		}
		defer s.wg.Done()
		return s.serve(ctx, p, req), nil
	}
	st, err := Protocol.Open(ctx, s.h, p)
	if err != nil {
		return response{}, fmt.Errorf("mailbox: %w", err)
	}
	defer context.AfterFunc(ctx, func() { _ = st.Reset() })()
	if err := writeFrame(st, req.marshal()); err != nil {
		_ = st.Reset()
		return response{}, fmt.Errorf("mailbox: send request: %w", err)
	}
	_ = st.CloseWrite()
	b, err := readFrame(st, MaxResponseLen)
	_ = st.Close()
	if err != nil {
		_ = st.Reset()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return response{}, err
	}
	return decodeResponse(b)
}

// fetched is what one host gave for one day's mailbox.
type fetched struct {
	host  peer.ID
	key   Key
	day   Day
	items []item
}

// Fetch collects this node's mail: for every day within Config.TTL, it
// asks the Config.FetchHosts peers closest to that day's mailbox key (and
// this node's own store) for its items, proving to each that it owns the
// mailbox, opens each item once (copies at several hosts share an ID), and
// gives each new message to deliver as soon as a host has answered with
// it — a host that is slow or gone does not hold back what the others
// gave — one call at a time. It then acknowledges to each host the items
// delivered and those whose seal did not open at any host, and the hosts
// delete them. An item deliver fails on is not acknowledged, so the next
// Fetch finds it again; Fetch stops delivering at the first failure and
// returns it. Hosts that cannot be reached are counted in the report, not
// returned as errors; Fetch fails only if no host answered at all.
func (s *Service) Fetch(ctx context.Context, deliver func(Message) error) (FetchReport, error) {
	if s.chat == nil {
		return FetchReport{}, fmt.Errorf("%w: no chat key to open items with", ErrConfig)
	}
	ctx, stop := s.bind(ctx)
	defer stop()
	now := s.cfg.Clock.Now()
	first, last := DayOf(now.Add(-s.cfg.TTL)), DayOf(now)
	s.mu.Lock()
	for id, sn := range s.seen {
		if now.After(sn.until) {
			delete(s.seen, id)
		}
	}
	s.mu.Unlock()
	var rep FetchReport
	var (
		mu     sync.Mutex // everything below, and calls of deliver
		got    []fetched
		errs   []error
		failed error
		acked  = map[ItemID]bool{} // acknowledge these at every host that gave a copy
		bad    = map[ItemID]bool{} // a copy did not open, and none has yet
		opened = map[ItemID]bool{} // a copy opened
		wg     sync.WaitGroup
	)
	// take delivers what one host gave; mu is held.
	take := func(f fetched) {
		for _, it := range f.items {
			if acked[it.id] {
				continue
			}
			s.mu.Lock()
			_, seen := s.seen[it.id]
			s.mu.Unlock()
			if seen { // delivered before: its ack was lost, or a host replays it
				acked[it.id] = true
				continue
			}
			payload, err := open(s.chat, f.key, it.id, it.sealed)
			if err != nil { // a host may hold a damaged copy; another a good one
				bad[it.id] = !opened[it.id]
				continue
			}
			opened[it.id] = true
			delete(bad, it.id)
			if failed != nil {
				continue
			}
			if err := deliver(Message{ID: it.id, Day: f.day, Payload: payload}); err != nil {
				failed = fmt.Errorf("mailbox: deliver: %w", err)
				continue
			}
			rep.Delivered++
			acked[it.id] = true
			s.mu.Lock()
			s.seen[it.id] = seenItem{until: now.Add(s.cfg.TTL + 48*time.Hour)}
			s.mu.Unlock()
		}
	}
	for day := first; day <= last; day++ {
		rep.Days++
		wg.Go(func() {
			key := MailboxKey(s.h.ID(), day)
			// the hosts chosen while this node was away: closest but for
			// this node, and a few beyond for nodes that joined since;
			// this node itself, which may have hosted mail sent while it
			// was up
			hosts, err := s.hosts(ctx, key, s.cfg.FetchHosts, s.h.ID())
			if err == nil {
				hosts = append(hosts, s.h.ID())
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			var hw sync.WaitGroup
			for _, p := range hosts {
				hw.Go(func() {
					items, err := s.fetchAll(ctx, p, key, day)
					mu.Lock()
					defer mu.Unlock()
					rep.Hosts++
					if err != nil {
						errs = append(errs, fmt.Errorf("host %s, day %d: %w", p, day, err))
						return
					}
					rep.Answered++
					rep.Received += len(items)
					f := fetched{host: p, key: key, day: day, items: items}
					got = append(got, f)
					take(f)
				})
			}
			hw.Wait()
		})
	}
	wg.Wait()
	if rep.Answered == 0 {
		return rep, fmt.Errorf("mailbox: fetch: no host answered: %w", errors.Join(errs...))
	}
	for id, b := range bad { // no copy opened
		if b {
			rep.Rejected++
			acked[id] = true
		}
	}
	var aw sync.WaitGroup
	for _, f := range got {
		var ids []ItemID
		for _, it := range f.items {
			if acked[it.id] {
				ids = append(ids, it.id)
			}
		}
		for chunk := range slices.Chunk(ids, MaxAckIDs) {
			aw.Go(func() {
				resp, err := s.call(ctx, f.host, request{op: opAck, key: f.key, day: f.day, ids: chunk})
				if err == nil {
					err = resp.status.err()
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					s.log.Debug("mailbox ack", "host", f.host, "err", err)
					return
				}
				rep.Acked += int(resp.deleted)
			})
		}
	}
	aw.Wait()
	return rep, failed
}

// fetchAll asks host p for every item of mailbox key (day), page by page.
// It stops a host that keeps answering "more" after more items than a
// host may hold.
func (s *Service) fetchAll(ctx context.Context, p peer.ID, key Key, day Day) ([]item, error) {
	var all []item
	var after ItemID
	for {
		resp, err := s.call(ctx, p, request{op: opFetch, key: key, day: day, after: after})
		if err != nil {
			return all, err
		}
		if err := resp.status.err(); err != nil {
			return all, err
		}
		if len(resp.items) > 0 && bytes.Compare(resp.items[0].id[:], after[:]) <= 0 {
			return all, fmt.Errorf("%w: items not after the cursor", ErrMalformed)
		}
		all = append(all, resp.items...)
		if !resp.more || len(resp.items) == 0 {
			return all, nil
		}
		if len(all) > s.cfg.HostItems {
			return all, fmt.Errorf("%w: host offers more items than a host may hold", ErrMalformed)
		}
		after = resp.items[len(resp.items)-1].id
	}
}

package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// payProtocol carries claim tickets from a task's submitter to the
// providers of its agreeing quorum: one ledgersvc.ClaimTicket a stream.
var payProtocol = p2p.MustProtocol("pay", p2p.Version{Major: 1})

const (
	// escrowWait bounds how long a provider waits to see a submitter's
	// escrow (or the lock a ticket names) on its ledger: gossip brings a
	// confirmed block within a few hundred milliseconds.
	escrowWait = 5 * time.Second
	// payTimeout bounds one ticket's delivery.
	payTimeout = 10 * time.Second
	// escrowSlack is how many epochs after the task's deadline its
	// providers may still claim; the refund comes after them.
	escrowSlack = 1
)

// escrowTask is the escrow-lock block's link naming a compute task.
func escrowTask(id string) [32]byte {
	return sha256.Sum256([]byte("fog/task/escrow/v1\x00" + id))
}

// payments implements compute.Payments over the node's ledger: escrow
// locks naming the task, claim tickets sent to the providers over
// payProtocol and claimed by them, and refunds after the deadline (Run).
type payments struct {
	l   *ledgersvc.Service
	dao *ledgersvc.DAO // the network's minimum price (MinPrice); nil: none
	h   host.Host
	clk clock.Clock
	log *slog.Logger

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // handlers in flight
}

var (
	_ compute.Payments   = (*payments)(nil)
	_ compute.PriceFloor = (*payments)(nil)
)

// MinPrice implements compute.PriceFloor: the DAO's compute.min_price in
// force at the ledger's current epoch (0 until a proposal sets it).
func (p *payments) MinPrice() uint64 {
	if p.dao == nil {
		return 0
	}
	return p.dao.ParamsAt(token.Params{}, p.l.Epoch()).MinPrice
}

// newPayments serves payProtocol on h.
func newPayments(l *ledgersvc.Service, h host.Host, clk clock.Clock, log *slog.Logger) (*payments, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &payments{l: l, h: h, clk: clk, log: log, ctx: ctx, cancel: cancel}
	_, err := payProtocol.Handle(h, p2p.Limits{Streams: 64, StreamsPerPeer: 8, Idle: payTimeout, Lifetime: 2 * payTimeout, Clock: clk}, p.handle)
	if err != nil {
		cancel()
		return nil, err
	}
	return p, nil
}

// Name implements the supervisor's Service.
func (p *payments) Name() string { return "payments" }

// Run refunds this node's escrows whose deadline is over, every epoch,
// until ctx ends.
func (p *payments) Run(ctx context.Context, ready func()) error {
	ready()
	t := p.clk.NewTicker(p.l.EpochLength())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			p.refund(ctx)
		}
	}
}

// refund takes back what is left in this node's expired escrows.
func (p *payments) refund(ctx context.Context) {
	var locks []token.Hash
	p.l.View(func(l *token.Ledger) { locks = l.Refundable(p.l.Account(), p.l.Epoch()) })
	for _, h := range locks {
		if _, err := p.l.Refund(ctx, h); err != nil && ctx.Err() == nil {
			p.log.Warn("refunding an escrow", "lock", h, "err", err)
		}
	}
}

// Close stops serving payProtocol and waits for its handlers.
func (p *payments) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	payProtocol.Unhandle(p.h)
	p.cancel()
	p.wg.Wait()
	return nil
}

// Lock implements compute.Payments: an escrow-lock block naming the task,
// until the epoch after its deadline, confirmed before it returns (so
// that providers can see it, and claim from it).
func (p *payments) Lock(ctx context.Context, task compute.TaskID, total uint64, deadline time.Time) error {
	if have := p.l.Balance().Balance; total > have {
		return fmt.Errorf("insufficient balance: %d micro-credits available, %d asked", have, total)
	}
	h, err := p.l.Lock(ctx, escrowTask(string(task)), total, p.l.EpochAt(deadline)+escrowSlack)
	if err != nil {
		return err
	}
	if err := p.l.WaitConfirmed(ctx, h); err != nil {
		return fmt.Errorf("escrow %s made, not confirmed: %w", h, err)
	}
	return nil
}

// Pay implements compute.Payments: a ticket for share to each provider.
func (p *payments) Pay(ctx context.Context, task compute.TaskID, providers []peer.ID, share uint64) error {
	var (
		es token.Escrow
		ok bool
	)
	p.l.View(func(l *token.Ledger) { es, ok = l.EscrowFor(p.l.Account(), escrowTask(string(task))) })
	if !ok {
		return fmt.Errorf("no escrow for task %s", task)
	}
	var errs []error
	for _, pr := range providers {
		acct, err := parseAccount(pr.String())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t := ledgersvc.ClaimTicket{Lock: es.Lock, Amount: share, Sig: p.l.Ticket(es.Lock, acct, share)}
		if err := p.send(ctx, pr, &t); err != nil {
			errs = append(errs, fmt.Errorf("ticket to %s: %w", pr, err))
		}
	}
	return errors.Join(errs...)
}

// send delivers a ticket and waits for the provider's answer: its claim
// block's hash.
func (p *payments) send(ctx context.Context, to peer.ID, t *ledgersvc.ClaimTicket) error {
	ctx, cancel := context.WithTimeout(ctx, payTimeout)
	defer cancel()
	st, err := payProtocol.Open(ctx, p.h, to)
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	if _, err := st.Write(t.Encode()); err != nil {
		_ = st.Reset()
		return err
	}
	_ = st.CloseWrite()
	var ack [32]byte
	if _, err := io.ReadFull(st, ack[:]); err != nil {
		_ = st.Reset()
		return fmt.Errorf("no claim: %w", err)
	}
	_ = st.Close()
	return nil
}

// handle serves one ticket: it must name a lock of the stream's peer; the
// claim is made (the ledger checks the ticket's signature and amount) and
// its hash returned.
func (p *payments) handle(st network.Stream) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = st.Reset()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	buf := make([]byte, ledgersvc.TicketSize+1)
	n, err := io.ReadFull(io.LimitReader(st, int64(len(buf))), buf)
	if err != io.ErrUnexpectedEOF || n != ledgersvc.TicketSize {
		_ = st.Reset()
		return
	}
	t, err := ledgersvc.DecodeTicket(buf[:n])
	if err != nil {
		_ = st.Reset()
		return
	}
	h, err := p.claim(st.Conn().RemotePeer(), t)
	if err != nil {
		p.log.Info("refusing a claim ticket", "peer", st.Conn().RemotePeer(), "err", err)
		_ = st.Reset()
		return
	}
	_, _ = st.Write(h[:])
	_ = st.Close()
}

// claim makes the claim of ticket t from submitter.
func (p *payments) claim(submitter peer.ID, t ledgersvc.ClaimTicket) (token.Hash, error) {
	sub, err := parseAccount(submitter.String())
	if err != nil {
		return token.Hash{}, err
	}
	ctx, cancel := context.WithTimeout(p.ctx, escrowWait)
	defer cancel()
	var es token.Escrow
	err = p.l.Wait(ctx, func(l *token.Ledger) bool {
		var ok bool
		es, ok = l.EscrowAt(t.Lock)
		return ok && es.Confirmed
	})
	if err != nil {
		return token.Hash{}, fmt.Errorf("escrow %s not seen confirmed: %w", t.Lock, err)
	}
	if es.Submitter != sub {
		return token.Hash{}, fmt.Errorf("escrow %s is not the sender's", t.Lock)
	}
	return p.l.Claim(p.ctx, t.Lock, t.Amount, t.Sig)
}

// Escrowed implements compute.Payments: submitter's escrow for the task,
// confirmed, must hold share unclaimed. It waits a little for the escrow
// to reach this node.
func (p *payments) Escrowed(ctx context.Context, submitter peer.ID, taskID string, share uint64) error {
	sub, err := parseAccount(submitter.String())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, escrowWait)
	defer cancel()
	var (
		es token.Escrow
		ok bool
	)
	err = p.l.Wait(ctx, func(l *token.Ledger) bool {
		es, ok = l.EscrowFor(sub, escrowTask(taskID))
		return ok && es.Confirmed && !es.Refunded && es.Locked-es.Claimed >= share
	})
	switch {
	case err == nil:
		return nil
	case !ok:
		return fmt.Errorf("the submitter has locked no escrow for this task")
	case !es.Confirmed:
		return fmt.Errorf("the submitter's escrow for this task is not confirmed")
	case es.Refunded:
		return fmt.Errorf("the submitter's escrow for this task was refunded")
	}
	return fmt.Errorf("the submitter's escrow for this task holds %d micro-credits, %d needed", es.Locked-es.Claimed, share)
}

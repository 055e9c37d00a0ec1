package compute

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrPayment is wrapped by Submit's error when a paid task's escrow
// cannot be locked (the node has too few credits, or runs no ledger).
var ErrPayment = errors.New("compute: payment")

// Payments is how a Service pays for tasks and is paid for them; the node
// implements it over its ledger (compute knows nothing of credits). A
// task is paid when its MaxPrice is not 0: the submitter locks MaxPrice ×
// Replicas in escrow before the task is queued, and pays MaxPrice to each
// provider of the agreeing quorum once the outcome is stored; what is
// left returns to the submitter after the deadline (the implementation's
// business). Nil Payments: tasks are unpaid.
type Payments interface {
	// Lock escrows total micro-credits for task until deadline; an error
	// (saying why) refuses the submission.
	Lock(ctx context.Context, task TaskID, total uint64, deadline time.Time) error
	// Pay pays each of providers (never this node) share micro-credits
	// from task's escrow.
	Pay(ctx context.Context, task TaskID, providers []peer.ID, share uint64) error
	// Escrowed returns nil if submitter has escrowed at least share
	// micro-credits, still unclaimed, for its task taskID; else an error
	// saying why not.
	Escrowed(ctx context.Context, submitter peer.ID, taskID string, share uint64) error
}

// PriceFloor may be implemented by Payments: MinPrice returns the
// network's minimum price per CPU-second now, in micro-credits (set by the
// ledger's DAO, parameter compute.min_price). A provider never takes a
// paid task for less than it, whatever its own Config.Price, and a
// submitter's paid task offering less is refused before anything is
// locked.
type PriceFloor interface {
	MinPrice() uint64
}

// minPrice returns p's price floor, 0 if it has none.
func minPrice(p Payments) uint64 {
	if f, ok := p.(PriceFloor); ok {
		return f.MinPrice()
	}
	return 0
}

// escrowTotal returns what a paid task locks: MaxPrice × Replicas.
func escrowTotal(s *Spec) (uint64, error) {
	hi, lo := bits.Mul64(s.MaxPrice, uint64(s.Replicas))
	if hi != 0 {
		return 0, &SpecError{"max_price", fmt.Sprintf("%d × %d replicas overflows", s.MaxPrice, s.Replicas)}
	}
	return lo, nil
}

// lockPayment escrows a paid task's price before it is queued.
func (s *submitter) lockPayment(ctx context.Context, id TaskID, spec *Spec) error {
	if s.payments == nil || spec.MaxPrice == 0 {
		return nil
	}
	if floor := minPrice(s.payments); spec.MaxPrice < floor {
		return fmt.Errorf("%w: max price %d is below the network's minimum price of %d micro-credits per CPU-second (the DAO's compute.min_price)", ErrPayment, spec.MaxPrice, floor)
	}
	total, err := escrowTotal(spec)
	if err != nil {
		return err
	}
	if err := s.payments.Lock(ctx, id, total, spec.Deadline); err != nil {
		return fmt.Errorf("%w: escrow of %d micro-credits (max price %d × %d replicas): %w", ErrPayment, total, spec.MaxPrice, spec.Replicas, err)
	}
	return nil
}

// pay pays the agreeing providers of a finished paid task, other than
// this node.
func (t *task) pay(ctx context.Context, o *outcomeRecord) {
	s := t.s
	if s.payments == nil || t.spec.MaxPrice == 0 || o == nil || !o.Agreed {
		return
	}
	var to []peer.ID
	for _, p := range o.Providers {
		if p != s.self {
			to = append(to, p)
		}
	}
	if len(to) == 0 {
		return
	}
	if err := s.payments.Pay(context.WithoutCancel(ctx), t.id, to, t.spec.MaxPrice); err != nil {
		s.log.Warn("paying a task's providers", "task", t.id, "err", err)
	}
}

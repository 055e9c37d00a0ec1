package lotterysvc

import (
	"context"
	"fmt"
	"time"

	"github.com/fog-compute/fog/mix/lottery"
)

// Agreement is what MeasureAgreement found about one epoch's directory
// across a set of nodes.
type Agreement struct {
	Epoch uint64 `json:"epoch"`
	// Nodes is the number of services measured; Closed how many closed the
	// directory before the context ended.
	Nodes  int `json:"nodes"`
	Closed int `json:"closed"`
	// Agree says every node that closed it holds the same directory
	// (equal digests); Digests counts the distinct digests.
	Agree   bool `json:"agree"`
	Digests int  `json:"digests"`
	// Relays and Seats describe the directory most nodes hold.
	Relays int    `json:"relays"`
	Seats  uint64 `json:"seats"`
	// Complete is, after the epoch's start, when the last node received
	// the last claim that changed its directory: from then on every node
	// held its final directory (the agreement time, when Agree).
	Complete time.Duration `json:"complete_ns"`
	// Close is, after the epoch's start, when the last node closed the
	// directory: its claim window ended and nothing can change it any more.
	Close time.Duration `json:"close_ns"`
}

// MeasureAgreement waits until every service has closed its directory of
// epoch e (or ctx ends) and compares them. It returns an error wrapping
// ctx's if some service did not close the directory in time, along with
// what the others showed.
func MeasureAgreement(ctx context.Context, services []*Service, e uint64) (Agreement, error) {
	a := Agreement{Epoch: e, Nodes: len(services)}
	if len(services) == 0 {
		return a, nil
	}
	start := services[0].Config().EpochStart(e)
	var waitErr error
	for i, s := range services {
		select {
		case <-s.Closed(e):
		case <-ctx.Done():
			if waitErr == nil {
				waitErr = fmt.Errorf("lotterysvc: node %d has not closed epoch %d: %w", i, e, ctx.Err())
			}
		}
	}
	count := map[[lottery.DigestSize]byte]int{}
	var top [lottery.DigestSize]byte
	for _, s := range services {
		ci, ok := s.ClosedInfo(e)
		if !ok {
			continue
		}
		a.Closed++
		count[ci.Digest]++
		if count[ci.Digest] > count[top] || a.Closed == 1 {
			top, a.Relays, a.Seats = ci.Digest, ci.Relays, ci.Seats
		}
		a.Complete = max(a.Complete, ci.LastChange.Sub(start))
		a.Close = max(a.Close, ci.At.Sub(start))
	}
	a.Digests = len(count)
	a.Agree = a.Closed == a.Nodes && a.Digests == 1
	if waitErr == nil && a.Closed < a.Nodes {
		waitErr = fmt.Errorf("lotterysvc: %d of %d nodes dropped epoch %d without closing it", a.Nodes-a.Closed, a.Nodes, e)
	}
	return a, waitErr
}

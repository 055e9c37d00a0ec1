package files

import (
	"context"
	"errors"
	"slices"

	"github.com/ipfs/go-cid"
)

// maxTransfers bounds the finished transfers remembered for Transfer.
const maxTransfers = 64

// Transfer states.
const (
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Transfer is a get started with Start, seen at one moment.
type Transfer struct {
	// Root is the file's CID; it names the transfer (one at a time each).
	Root cid.Cid `json:"root"`
	// Out is where the file is written once complete ("" for none).
	Out string `json:"out,omitempty"`
	// State is running, done or failed; Error says why it failed.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Progress is the get's progress.
	Progress Progress `json:"progress"`
}

type transfer struct {
	t      Transfer
	cancel context.CancelFunc
	seq    uint64 // order of starting, to forget the oldest finished
}

// Start begins a get of root in the background (see Get), then writes the
// file to out if out is not "", and returns its state. A transfer of root
// already running is returned as it is, not started twice.
func (s *Service) Start(root cid.Cid, o GetOptions, out string) (Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Transfer{}, ErrClosed
	}
	if t := s.transfers[root]; t != nil && t.t.State == StateRunning {
		return t.t, nil
	}
	ctx, cancel := context.WithCancel(s.ctx)
	var seq uint64
	for _, t := range s.transfers {
		seq = max(seq, t.seq+1)
	}
	t := &transfer{t: Transfer{Root: root, Out: out, State: StateRunning, Progress: Progress{Root: root}}, cancel: cancel, seq: seq}
	s.transfers[root] = t
	s.forgetLocked()
	user := o.Progress
	o.Progress = func(p Progress) {
		s.mu.Lock()
		t.t.Progress = p
		s.mu.Unlock()
		if user != nil {
			user(p)
		}
	}
	s.wg.Go(func() {
		defer cancel()
		p, err := s.Get(ctx, root, o)
		if err == nil && out != "" {
			err = s.ExportFile(ctx, root, out)
		}
		s.mu.Lock()
		t.t.Progress = p
		t.cancel = nil
		if err != nil {
			t.t.State, t.t.Error = StateFailed, err.Error()
		} else {
			t.t.State = StateDone
		}
		s.mu.Unlock()
	})
	return t.t, nil
}

// forgetLocked drops the oldest finished transfers beyond maxTransfers.
func (s *Service) forgetLocked() {
	if len(s.transfers) <= maxTransfers {
		return
	}
	var done []*transfer
	for _, t := range s.transfers {
		if t.t.State != StateRunning {
			done = append(done, t)
		}
	}
	slices.SortFunc(done, func(a, b *transfer) int { return int(a.seq) - int(b.seq) })
	for _, t := range done[:max(0, min(len(done), len(s.transfers)-maxTransfers))] {
		delete(s.transfers, t.t.Root)
	}
}

// ErrNoTransfer is returned by TransferOf for a root no transfer fetched.
var ErrNoTransfer = errors.New("files: no transfer of that CID")

// TransferOf returns the latest transfer of root.
func (s *Service) TransferOf(root cid.Cid) (Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.transfers[root]
	if t == nil {
		return Transfer{}, ErrNoTransfer
	}
	return t.t, nil
}

// Transfers returns the transfers remembered, running ones first.
func (s *Service) Transfers() []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transfer, 0, len(s.transfers))
	for _, t := range s.transfers {
		out = append(out, t.t)
	}
	slices.SortFunc(out, func(a, b Transfer) int {
		if (a.State == StateRunning) != (b.State == StateRunning) {
			if a.State == StateRunning {
				return -1
			}
			return 1
		}
		return compareStrings(a.Root.KeyString(), b.Root.KeyString())
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

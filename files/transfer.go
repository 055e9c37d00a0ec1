package files

import (
	"context"
	"errors"
	"slices"
	"time"

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
		s.changed.Notify()
		if user != nil {
			user(p)
		}
	}
	defer s.changed.Notify()
	s.wg.Go(func() {
		defer cancel()
		defer s.changed.Notify()
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

// Changed returns a channel closed at the next change of a transfer (one
// started, its progress, its end) or of a share under way, so that a
// caller waits for one without polling. Check the state after calling
// Changed and before receiving, so that no change is missed.
func (s *Service) Changed() <-chan struct{} { return s.changed.Wait() }

// ShareProgress is a share under way, seen at one moment.
type ShareProgress struct {
	// Path is the file shared ("" for ShareReader) and Name its name.
	Path string `json:"path,omitempty"`
	Name string `json:"name"`
	// Read is the bytes read and chunked so far, of Size.
	Read int64 `json:"read"`
	Size int64 `json:"size"`
	// Elapsed is the share's time so far, and Speed Read per second of it.
	Elapsed time.Duration `json:"elapsed"`
	Speed   float64       `json:"speed"`
}

// sharing is a share under way.
type sharing struct {
	p     ShareProgress
	start time.Time
}

func (s *Service) startSharing(path, name string, size int64) *sharing {
	sh := &sharing{p: ShareProgress{Path: path, Name: name, Size: size}, start: s.clk.Now()}
	s.mu.Lock()
	s.shares[sh] = struct{}{}
	s.mu.Unlock()
	s.changed.Notify()
	return sh
}

func (s *Service) moveSharing(sh *sharing, read int64) {
	s.mu.Lock()
	sh.p.Read = read
	s.mu.Unlock()
	s.changed.Notify()
}

func (s *Service) endSharing(sh *sharing) {
	s.mu.Lock()
	delete(s.shares, sh)
	s.mu.Unlock()
	s.changed.Notify()
}

// Shares returns the shares under way, oldest first.
func (s *Service) Shares() []ShareProgress {
	now := s.clk.Now()
	s.mu.Lock()
	all := make([]*sharing, 0, len(s.shares))
	for sh := range s.shares {
		all = append(all, sh)
	}
	out := make([]ShareProgress, 0, len(all))
	slices.SortFunc(all, func(a, b *sharing) int { return a.start.Compare(b.start) })
	for _, sh := range all {
		p := sh.p
		p.Elapsed = now.Sub(sh.start)
		if secs := p.Elapsed.Seconds(); secs > 0 {
			p.Speed = float64(p.Read) / secs
		}
		out = append(out, p)
	}
	s.mu.Unlock()
	return out
}

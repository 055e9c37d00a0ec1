package compute

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
)

// provider is the half of a Service that runs tasks for its peers: it
// serves the task protocol's streams (within p2p.Limits and its own
// bound on streams whose first message has not arrived), accepts tasks
// into the execution queue and sends their status, output and signed
// result. Its lock is its own.
type provider struct {
	*base
	key       crypto.PrivKey // signs results
	srv       *p2p.Server    // serves the task protocol within its limits
	wg        sync.WaitGroup // stream handlers and their helpers
	roomFreed func()         // tells the submitter half that a job ended

	mu        sync.Mutex
	pending   map[peer.ID]int // streams whose first message has not arrived, by peer
	accepting int             // tasks between the capacity check and their enqueue

	accepted, results, firstTimeouts atomic.Uint64
	refusedBy                        sync.Map // wire.RefuseCode -> *atomic.Uint64
}

// stats adds the provider's counters to st.
func (s *provider) stats(st *Stats) {
	st.Accepted, st.Results = s.accepted.Load(), s.results.Load()
	st.Streams, st.FirstMessageTimeouts = s.srv.Stats(), s.firstTimeouts.Load()
	s.refusedBy.Range(func(k, v any) bool {
		if st.Refused == nil {
			st.Refused = make(map[string]uint64)
		}
		st.Refused[k.(wire.RefuseCode).String()] = v.(*atomic.Uint64).Load()
		return true
	})
}

// reserved returns the tasks being accepted: past the capacity check,
// not yet in the execution queue.
func (s *provider) reserved() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepting
}

// jobID names, in the local execution queue, the task taskID of
// submitter: tasks of different submitters never share an ID, and a
// submitter can name only its own (the stream authenticates it).
func jobID(submitter peer.ID, taskID string) string { return submitter.String() + "." + taskID }

// handleStream serves one task stream: Submit, Attach or Cancel, then
// the task's status and result. It runs within the protocol's limits
// (p2p.Limits: streams in all and per peer, idle and lifetime deadlines
// that reset the stream); a peer's streams that have not yet carried their
// first message are bounded apart (Config.MaxPendingPerPeer), and that
// message must arrive whole within Config.IdleTimeout.
func (s *provider) handleStream(st network.Stream) {
	remote := st.Conn().RemotePeer()
	if !s.acquireStream(remote) {
		// Closing, or too many silent streams: say so without reading.
		s.refuseStream(st)
		return
	}
	defer s.releaseStream()
	c := newConn(st, s.cfg.maxSubmitFrame(), s.cfg.Clock)
	graceful := false
	defer func() { c.close(graceful) }()

	first := s.cfg.Clock.NewTimer(s.cfg.IdleTimeout)
	defer first.Stop()
	var m wire.Message
	readerEnded := false
	select {
	case f, ok := <-c.frames:
		m, readerEnded = f, !ok
	case <-first.C():
		// Silent, or a frame that never ends: the deferred close resets
		// the stream, which ends the reader blocked on it. (Waiting for
		// the reader here, as this once did, waited forever.)
		s.firstTimeouts.Add(1)
	case <-s.ctx.Done():
	}
	s.firstArrived(remote)
	if m == nil {
		if readerEnded && errors.As(c.readErr(), new(*wire.FrameTooLargeError)) {
			graceful = s.refuse(c, wire.RefuseLimits, "compute: %v", c.readErr())
		}
		return
	}
	switch m := m.(type) {
	case *wire.SubmitMsg:
		graceful = s.serveSubmit(c, remote, m)
	case *wire.AttachMsg:
		id := jobID(remote, m.TaskID)
		if _, err := s.execQueue().Get(s.ctx, id); err != nil {
			graceful = s.refuse(c, wire.RefuseUnknown, "compute: no task %s of yours here", m.TaskID)
			return
		}
		graceful = s.watch(c, remote, m.TaskID, id)
	case *wire.CancelMsg:
		id := jobID(remote, m.TaskID)
		if _, err := s.execQueue().Cancel(s.ctx, id); err != nil && !errors.Is(err, queue.ErrBadTransition) {
			graceful = s.refuse(c, wire.RefuseUnknown, "compute: no task %s of yours here", m.TaskID)
			return
		}
		graceful = s.watch(c, remote, m.TaskID, id)
	default:
		graceful = s.refuse(c, wire.RefuseMalformed, "compute: a conversation starts with submit, attach or cancel, not type %d", m.Type())
	}
}

// refuseStream answers a stream the provider does not serve (too many
// streams, or shutting down) with a refusal, without reading from it.
func (s *provider) refuseStream(st network.Stream) {
	code := wire.RefuseBusy
	if s.closed.Load() {
		code = wire.RefuseShutdown
	}
	s.countRefusal(code)
	b, _ := wire.EncodeMessage(&wire.RefuseMsg{Code: code, RetryAfter: s.cfg.RetryAfter, Reason: "too many task streams"})
	_, _ = st.Write(b)
	_ = st.Close()
}

// execQueue returns the execution queue, or a closed stand-in for a node
// that does not offer compute (whose lookups all fail).
func (s *provider) execQueue() jobQueue {
	if s.execQ == nil {
		return noQueue{}
	}
	return s.execQ
}

// jobQueue is the part of *queue.Queue the provider side uses.
type jobQueue interface {
	Get(ctx context.Context, id string) (queue.Job, error)
	Cancel(ctx context.Context, id string) (queue.Job, error)
}

type noQueue struct{}

// Get finds nothing.
func (noQueue) Get(context.Context, string) (queue.Job, error) { return queue.Job{}, queue.ErrNotFound }

// Cancel finds nothing.
func (noQueue) Cancel(context.Context, string) (queue.Job, error) {
	return queue.Job{}, queue.ErrNotFound
}

// acquireStream admits a stream of peer p that has not yet carried its
// first message, unless the service is closing or p has
// Config.MaxPendingPerPeer such streams already. firstArrived ends the
// pending state; releaseStream the stream.
func (s *provider) acquireStream(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() || s.pending[p] >= s.cfg.MaxPendingPerPeer {
		return false
	}
	s.pending[p]++
	s.wg.Add(1)
	return true
}

// firstArrived ends the pending state of one of p's streams.
func (s *provider) firstArrived(p peer.ID) {
	s.mu.Lock()
	if s.pending[p]--; s.pending[p] <= 0 {
		delete(s.pending, p)
	}
	s.mu.Unlock()
}

func (s *provider) releaseStream() { s.wg.Done() }

func (s *provider) countRefusal(code wire.RefuseCode) {
	v, _ := s.refusedBy.LoadOrStore(code, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// refuse sends a refusal and reports whether it went out (the stream can
// then be closed gracefully).
func (s *provider) refuse(c *conn, code wire.RefuseCode, format string, a ...any) bool {
	s.countRefusal(code)
	m := &wire.RefuseMsg{Code: code, Reason: clip(fmt.Sprintf(format, a...), wire.MaxReasonLen)}
	if code == wire.RefuseBusy || code == wire.RefuseShutdown {
		m.RetryAfter = s.cfg.RetryAfter
	}
	return c.write(m) == nil
}

// serveSubmit checks a submitted task against this node's limits, price
// and capacity, obtains its module, queues it and watches it.
func (s *provider) serveSubmit(c *conn, remote peer.ID, m *wire.SubmitMsg) bool {
	cfg := &s.cfg
	sp := &m.Spec
	lim := limitsOf(sp.Limits)
	argsSize := (&Spec{Args: sp.Args, Env: sp.Env}).argsSize()
	over := lim.above(cfg.MaxLimits)
	switch {
	case !cfg.Offer:
		return s.refuse(c, wire.RefuseNotOffering, "compute: this node does not run tasks for others")
	case s.closed.Load():
		return s.refuse(c, wire.RefuseShutdown, "compute: shutting down")
	case sp.Scratch && !cfg.Scratch:
		return s.refuse(c, wire.RefuseLimits, "compute: this node does not run tasks that ask for a /scratch filesystem")
	case over != nil:
		return s.refuse(c, wire.RefuseLimits, "compute: %s %s", over.Field, over.Reason)
	case !cfg.fitsMemory(lim):
		return s.refuse(c, wire.RefuseLimits, "compute: limits.memory_pages %d pages (%d MiB) exceeds the %d MiB this node gives the tasks it runs",
			lim.MemoryPages, lim.MemoryPages/16, cfg.Memory>>20)
	case len(sp.Stdin) > cfg.MaxStdinBytes:
		return s.refuse(c, wire.RefuseLimits, "compute: stdin of %d bytes exceeds %d", len(sp.Stdin), cfg.MaxStdinBytes)
	case argsSize > cfg.MaxArgsBytes:
		return s.refuse(c, wire.RefuseLimits, "compute: args and env of %d bytes exceed %d", argsSize, cfg.MaxArgsBytes)
	case m.MaxPrice != 0 && m.MaxPrice < cfg.Price:
		return s.refuse(c, wire.RefusePrice, "compute: price %d exceeds the task's maximum %d", cfg.Price, m.MaxPrice)
	case m.MaxPrice != 0 && m.MaxPrice < minPrice(s.payments):
		return s.refuse(c, wire.RefusePrice, "compute: the network's minimum price %d (compute.min_price) exceeds the task's maximum %d", minPrice(s.payments), m.MaxPrice)
	case !m.Deadline.IsZero() && !m.Deadline.After(s.cfg.Clock.Now()):
		return s.refuse(c, wire.RefuseDeadline, "compute: the task's deadline has passed")
	case cfg.RequirePayment && m.MaxPrice == 0:
		return s.refuse(c, wire.RefusePrice, "compute: this node runs only paid tasks (compute.require_payment), and this task names no max price")
	}
	if cfg.RequirePayment && s.payments != nil {
		if err := s.payments.Escrowed(s.ctx, remote, m.TaskID, m.MaxPrice); err != nil {
			return s.refuse(c, wire.RefusePrice, "compute: this node runs only paid tasks (compute.require_payment): %v", err)
		}
	}
	if sp.Limits.MemoryPages == 0 || sp.Limits.WallTime == 0 || sp.Limits.OutputBytes == 0 {
		// Run under this node's defaults, which fit its store, rather
		// than the executor's.
		l := &sp.Limits
		l.MemoryPages = cmp.Or(l.MemoryPages, cfg.DefaultLimits.MemoryPages)
		l.WallTime = cmp.Or(l.WallTime, cfg.DefaultLimits.WallTime)
		l.OutputBytes = cmp.Or(l.OutputBytes, cfg.DefaultLimits.OutputBytes)
		if err := m.SetSpec(m.Spec); err != nil {
			return s.refuse(c, wire.RefuseMalformed, "compute: %v", err)
		}
	}
	id := jobID(remote, m.TaskID)
	if _, err := s.execQ.Get(s.ctx, id); err == nil {
		return s.watch(c, remote, m.TaskID, id) // submitted again: the same task
	}
	if !s.reserve() {
		return s.refuse(c, wire.RefuseBusy, "compute: %d tasks held, the most this node takes", s.cfg.capacity())
	}
	reserved := true
	defer func() {
		if reserved {
			s.unreserve()
		}
	}()
	unpin := s.blob.Store().Pin(sp.Module)
	defer unpin()
	if code, err := s.fetchModule(c, remote, m); err != nil {
		if code == 0 {
			return false // the submitter went away or cancelled
		}
		return s.refuse(c, code, "compute: %v", err)
	}
	task, err := m.Task()
	if err != nil {
		return s.refuse(c, wire.RefuseMalformed, "compute: %v", err)
	}
	_, err = s.execQ.Enqueue(s.ctx, queue.Job{
		ID: id, Owner: remote.String(), Priority: m.Priority, CrashPolicy: crashPolicy(m.CrashFail),
		Deadline: m.Deadline, Payload: task,
	})
	s.unreserve()
	reserved = false
	switch {
	case err == nil:
		s.accepted.Add(1)
		s.changes.Notify()
	case errors.Is(err, queue.ErrExists):
	case errors.Is(err, queue.ErrFull):
		return s.refuse(c, wire.RefuseBusy, "compute: queue full")
	case errors.Is(err, queue.ErrTooLarge):
		return s.refuse(c, wire.RefuseLimits, "compute: %v", err)
	case errors.Is(err, queue.ErrInvalidJob):
		return s.refuse(c, wire.RefuseDeadline, "compute: %v", err)
	default:
		return s.refuse(c, wire.RefuseShutdown, "compute: %v", err)
	}
	return s.watch(c, remote, m.TaskID, id)
}

// reserve takes a place for a task being accepted, if the node holds
// fewer than its capacity.
func (s *provider) reserve() bool {
	q, r := s.load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(q)+int(r)+s.accepting >= s.cfg.capacity() {
		return false
	}
	s.accepting++
	return true
}

func (s *provider) unreserve() {
	s.mu.Lock()
	s.accepting--
	s.mu.Unlock()
}

// fetchModule makes sure the task's module is stored here, downloading it
// from the submitter (or the DHT's providers) and verifying its hash. It
// returns the refusal code for a failure, or 0 if the submitter went away
// or cancelled meanwhile.
func (s *provider) fetchModule(c *conn, remote peer.ID, m *wire.SubmitMsg) (wire.RefuseCode, error) {
	id := m.Spec.Module
	if s.blob.Store().Has(id) {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.FetchTimeout)
	defer cancel()
	done := make(chan error, 1)
	s.wg.Go(func() {
		_, err := s.blob.Fetch(ctx, id, peer.AddrInfo{ID: remote})
		done <- err
	})
	// The task stream is quiet while the module downloads (within
	// FetchTimeout): keep its idle deadline from resetting it.
	keep := s.cfg.Clock.NewTimer(s.cfg.StatusInterval)
	defer keep.Stop()
	for {
		select {
		case <-keep.C():
			keep.Reset(s.cfg.StatusInterval)
			p2p.Touch(c.st)
		case err := <-done:
			switch {
			case err == nil:
				return 0, nil
			case errors.Is(err, blob.ErrHashMismatch):
				return wire.RefuseHash, fmt.Errorf("module hash mismatch: the bytes served for module %s do not hash to it: %w", id, err)
			default:
				return wire.RefuseModule, fmt.Errorf("module %s unavailable: %w", id, err)
			}
		case f, ok := <-c.frames:
			if !ok || isCancel(f, m.TaskID) {
				cancel()
				<-done
				if ok {
					return wire.RefuseUnknown, errors.New("cancelled before it was accepted")
				}
				return 0, c.readErr()
			}
		}
	}
}

func isCancel(m wire.Message, taskID string) bool {
	c, ok := m.(*wire.CancelMsg)
	return ok && c.TaskID == taskID
}

// watch streams a held task's status until it finishes, then sends its
// signed result. A Cancel from the submitter cancels it. If the stream
// breaks, the task goes on (the submitter may attach again); watch then
// returns at once. It reports whether the result went out.
func (s *provider) watch(c *conn, remote peer.ID, taskID, id string) bool {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	type waited struct {
		j   queue.Job
		err error
	}
	wait := make(chan waited, 1)
	s.wg.Go(func() {
		j, err := s.execQ.Wait(ctx, id)
		wait <- waited{j, err}
	})
	defer func() {
		cancel()
		<-wait
	}()
	if c.write(&wire.AcceptMsg{}) != nil {
		return false
	}
	tick := s.cfg.Clock.NewTimer(s.cfg.StatusInterval)
	defer tick.Stop()
	frames := c.frames
	cancelled := false
	var out *outputSender
	var outTick clock.Timer
	var outC <-chan time.Time
	if wire.CarriesOutput(c.st.Protocol()) && s.run != nil {
		out = &outputSender{}
		outTick = s.cfg.Clock.NewTimer(s.cfg.OutputInterval)
		defer outTick.Stop()
		outC = outTick.C()
	}
	for {
		select {
		case w := <-wait:
			wait <- w // for the deferred receive
			switch {
			case errors.Is(w.err, queue.ErrNotFound):
				return s.refuse(c, wire.RefuseUnknown, "compute: task %s expired", taskID)
			case w.err != nil:
				return s.refuse(c, wire.RefuseShutdown, "compute: %v", w.err)
			}
			s.roomFreed()
			s.changes.Notify()
			return s.sendResult(c, remote, taskID, w.j)
		case <-tick.C():
			tick.Reset(s.cfg.StatusInterval)
			j, err := s.execQ.Get(ctx, id)
			if err != nil {
				continue
			}
			s.changes.Notify() // the job may have started: Load changed
			if c.write(&wire.StatusMsg{Running: j.State == queue.StateRunning}) != nil {
				return false
			}
		case <-outC:
			outTick.Reset(s.cfg.OutputInterval)
			// The runner holds the output of the jobs it executes: no
			// store read for a job that is not running.
			if out.send(c, s.run.Output(id)) != nil {
				return false
			}
		case f, ok := <-frames:
			if !ok {
				if errors.Is(c.readErr(), io.EOF) {
					frames = nil // the submitter closed its side; go on
					continue
				}
				return false
			}
			if !isCancel(f, taskID) || cancelled {
				// Only one cancel has a meaning; anything else breaks the
				// protocol (and must not cost a store write each).
				_ = s.refuse(c, wire.RefuseMalformed, "compute: unexpected message of type %d", f.Type())
				return false
			}
			cancelled = true
			if _, err := s.execQ.Cancel(ctx, id); err != nil && !errors.Is(err, queue.ErrBadTransition) {
				s.log.Warn("cancel", "job", id, "err", err)
			}
		case <-ctx.Done():
			return false
		}
	}
}

// maxOutputPerTick bounds the Output messages sent per
// Config.OutputInterval: up to 64 KiB of each stream, so that the preview
// keeps up with a chatty task without filling the stream.
const maxOutputPerTick = 4

// outputSender sends a running task's new output to a submitter that
// speaks Output, remembering how much of it went out.
type outputSender struct {
	live           *wasm.Live // the run whose output is being sent
	stdout, stderr int        // bytes of each already sent
}

// send sends what live holds beyond what was sent, in chunks of at most
// wire.MaxOutputChunk per stream and at most maxOutputPerTick messages. A new
// run (the job was run again) starts over from offset 0.
func (o *outputSender) send(c *conn, live *wasm.Live) error {
	if live == nil {
		return nil
	}
	if live != o.live {
		o.live, o.stdout, o.stderr = live, 0, 0
	}
	for range maxOutputPerTick {
		stdout, stderr := live.Read(o.stdout, o.stderr, wire.MaxOutputChunk)
		if len(stdout)+len(stderr) == 0 {
			return nil
		}
		m := &wire.OutputMsg{StdoutOffset: uint64(o.stdout), Stdout: stdout, StderrOffset: uint64(o.stderr), Stderr: stderr}
		if err := c.write(m); err != nil {
			return err
		}
		o.stdout += len(stdout)
		o.stderr += len(stderr)
	}
	return nil
}

// sendResult signs a finished job's result for its submitter and sends it.
func (s *provider) sendResult(c *conn, remote peer.ID, taskID string, j queue.Job) bool {
	m := jobResult(j)
	if err := m.Sign(s.key, taskID, remote); err != nil {
		s.log.Error("signing a result", "job", j.ID, "err", err)
		return false
	}
	if c.write(m) != nil {
		return false
	}
	s.results.Add(1)
	return true
}

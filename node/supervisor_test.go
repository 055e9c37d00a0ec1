package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flaky is a service for supervisor tests: it fails its first `fail` runs,
// reports health from `healthy`, and records start/stop order.
type flaky struct {
	name    string
	fail    int32
	runs    atomic.Int32
	healthy atomic.Bool
	log     *orderLog
	crash   chan error // a value sent here ends the current run with it
}

type orderLog struct {
	mu     sync.Mutex
	events []string
}

func (o *orderLog) add(s string) {
	o.mu.Lock()
	o.events = append(o.events, s)
	o.mu.Unlock()
}

func (o *orderLog) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

func newFlaky(name string, fail int32, log *orderLog) *flaky {
	f := &flaky{name: name, fail: fail, log: log, crash: make(chan error, 1)}
	f.healthy.Store(true)
	return f
}

func (f *flaky) Name() string { return f.name }

func (f *flaky) Run(ctx context.Context, ready func()) error {
	n := f.runs.Add(1)
	if n <= f.fail {
		return errors.New("boom")
	}
	f.log.add("start " + f.name)
	ready()
	defer f.log.add("stop " + f.name)
	select {
	case <-ctx.Done():
		return nil
	case err := <-f.crash:
		return err
	}
}

func (f *flaky) Health(context.Context) error {
	if f.healthy.Load() {
		return nil
	}
	return errors.New("wedged")
}

func newTestSupervisor(t *testing.T) *supervisor {
	s := newSupervisor(TestSupervisorConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(s.stop)
	return s
}

func statusOf(s *supervisor, name string) ServiceStatus {
	for _, st := range s.statuses() {
		if st.Name == name {
			return st
		}
	}
	return ServiceStatus{}
}

func TestSupervisorOrder(t *testing.T) {
	var log orderLog
	s := newTestSupervisor(t)
	for _, name := range []string{"a", "b", "c"} {
		require.NoError(t, s.start(context.Background(), newFlaky(name, 0, &log)))
	}
	s.stop()
	s.stop() // idempotent
	assert.Equal(t, []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}, log.get())
	for _, st := range s.statuses() {
		assert.Equal(t, StateStopped, st.State)
	}
}

func TestSupervisorFirstStartFailureIsReported(t *testing.T) {
	var log orderLog
	s := newTestSupervisor(t)
	err := s.start(context.Background(), newFlaky("bad", 1, &log))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start bad: boom")
	assert.Empty(t, s.statuses(), "a service that never started is not kept")
}

func TestSupervisorRestartsWithBackoff(t *testing.T) {
	var log orderLog
	s := newTestSupervisor(t)
	f := newFlaky("svc", 0, &log)
	require.NoError(t, s.start(context.Background(), f))
	// make the next two runs fail at once, then crash the running one
	f.fail = 3
	f.crash <- errors.New("disk on fire")
	require.Eventually(t, func() bool {
		st := statusOf(s, "svc")
		return st.State == StateRunning && st.Restarts == 3
	}, 10*time.Second, time.Millisecond)
	st := statusOf(s, "svc")
	assert.Equal(t, "boom", st.LastError)
	assert.Equal(t, int32(4), f.runs.Load())
}

func TestSupervisorRestartsUnhealthy(t *testing.T) {
	var log orderLog
	s := newTestSupervisor(t)
	f := newFlaky("svc", 0, &log)
	require.NoError(t, s.start(context.Background(), f))
	f.healthy.Store(false)
	require.Eventually(t, func() bool { return statusOf(s, "svc").Restarts >= 1 }, 10*time.Second, time.Millisecond)
	st := statusOf(s, "svc")
	assert.Contains(t, st.LastError, "health checks: wedged")
	f.healthy.Store(true)
	require.Eventually(t, func() bool {
		st := statusOf(s, "svc")
		return st.State == StateRunning && st.Healthy
	}, 10*time.Second, time.Millisecond)
}

func TestSupervisorPanicIsAFailure(t *testing.T) {
	s := newTestSupervisor(t)
	p := &panicky{}
	require.NoError(t, s.start(context.Background(), p))
	p.trigger <- struct{}{}
	require.Eventually(t, func() bool { return statusOf(s, "panicky").Restarts == 1 }, 10*time.Second, time.Millisecond)
	assert.Contains(t, statusOf(s, "panicky").LastError, "panic: oops")
}

type panicky struct{ trigger chan struct{} }

func (p *panicky) Name() string { return "panicky" }

func (p *panicky) Run(ctx context.Context, ready func()) error {
	if p.trigger == nil {
		p.trigger = make(chan struct{})
	}
	ready()
	select {
	case <-ctx.Done():
		return nil
	case <-p.trigger:
		panic("oops")
	}
}

func TestSupervisorCoreHealth(t *testing.T) {
	s := newTestSupervisor(t)
	var bad atomic.Bool
	s.addCore("disk", func(context.Context) error {
		if bad.Load() {
			return errors.New("full")
		}
		return nil
	})
	bad.Store(true)
	require.Eventually(t, func() bool { return !statusOf(s, "disk").Healthy }, 10*time.Second, time.Millisecond)
	assert.Equal(t, "full", statusOf(s, "disk").Health)
	assert.Equal(t, StateCore, statusOf(s, "disk").State)
	assert.Zero(t, statusOf(s, "disk").Restarts)
}

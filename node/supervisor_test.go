package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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
	return newTestSupervisorConfig(t, TestSupervisorConfig())
}

func newTestSupervisorConfig(t *testing.T, cfg SupervisorConfig) *supervisor {
	s := newSupervisor(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

// The tests below run in synctest bubbles on the production timers: the
// supervisor's clock is the bubble's, so a minute of backoff or health
// checks passes as soon as every goroutine waits, and the tests can check
// when things happen to the nanosecond.

// settle advances the bubble's clock by d and waits until every goroutine
// of the bubble is blocked again.
func settle(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func TestSupervisorRestartsWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log orderLog
		cfg := DefaultSupervisorConfig()
		s := newTestSupervisorConfig(t, cfg)
		f := newFlaky("svc", 0, &log)
		require.NoError(t, s.start(context.Background(), f))
		// make the next two runs fail at once, then crash the running one
		f.fail = 3
		crashed := time.Now()
		f.crash <- errors.New("disk on fire")
		synctest.Wait()
		st := statusOf(s, "svc")
		assert.Equal(t, StateBackoff, st.State)
		assert.Equal(t, "disk on fire", st.LastError)
		assert.Equal(t, crashed, st.LastErrorAt)
		// Restarts after BackoffMin, then twice and four times that.
		for i, wait := range []time.Duration{cfg.BackoffMin, 2 * cfg.BackoffMin, 4 * cfg.BackoffMin} {
			settle(wait - time.Nanosecond)
			assert.Equal(t, int32(1+i), f.runs.Load(), "no restart before the backoff, %d", i)
			settle(time.Nanosecond)
			assert.Equal(t, int32(2+i), f.runs.Load(), "restart after the backoff, %d", i)
		}
		st = statusOf(s, "svc")
		assert.Equal(t, StateRunning, st.State)
		assert.Equal(t, 3, st.Restarts)
		assert.Equal(t, "boom", st.LastError)
		assert.Equal(t, crashed.Add(3*cfg.BackoffMin), st.LastErrorAt)
		assert.Equal(t, crashed.Add(7*cfg.BackoffMin), st.Since)

		// A run that lasted StableAfter resets the backoff to BackoffMin.
		settle(cfg.StableAfter)
		f.crash <- errors.New("again")
		settle(cfg.BackoffMin)
		assert.Equal(t, int32(5), f.runs.Load())
		assert.Equal(t, StateRunning, statusOf(s, "svc").State)
	})
}

func TestSupervisorStartTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultSupervisorConfig()
		s := newTestSupervisorConfig(t, cfg)
		began := time.Now()
		err := s.start(context.Background(), &never{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not ready after "+cfg.StartTimeout.String())
		assert.Equal(t, cfg.StartTimeout, time.Since(began))
		assert.Empty(t, s.statuses())
	})
}

// never is a service that never becomes ready.
type never struct{}

func (never) Name() string { return "never" }

func (never) Run(ctx context.Context, _ func()) error {
	<-ctx.Done()
	return nil
}

func TestSupervisorRestartsUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log orderLog
		cfg := DefaultSupervisorConfig()
		s := newTestSupervisorConfig(t, cfg)
		f := newFlaky("svc", 0, &log)
		require.NoError(t, s.start(context.Background(), f))
		f.healthy.Store(false)
		// UnhealthyAfter failed checks, HealthInterval apart, restart it.
		unhealthyFor := time.Duration(cfg.UnhealthyAfter) * cfg.HealthInterval
		settle(unhealthyFor - time.Nanosecond)
		st := statusOf(s, "svc")
		assert.Zero(t, st.Restarts)
		assert.False(t, st.Healthy)
		assert.Equal(t, "wedged", st.Health)
		settle(time.Nanosecond)
		st = statusOf(s, "svc")
		assert.Equal(t, 1, st.Restarts)
		assert.Contains(t, st.LastError, "health checks: wedged")
		f.healthy.Store(true)
		settle(cfg.BackoffMin)
		st = statusOf(s, "svc")
		assert.Equal(t, StateRunning, st.State)
		assert.True(t, st.Healthy)
	})
}

func TestSupervisorPanicIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestSupervisor(t)
		p := &panicky{}
		require.NoError(t, s.start(context.Background(), p))
		p.trigger <- struct{}{}
		synctest.Wait()
		assert.Equal(t, 1, statusOf(s, "panicky").Restarts)
		assert.Contains(t, statusOf(s, "panicky").LastError, "panic: oops")
	})
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
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultSupervisorConfig()
		s := newTestSupervisorConfig(t, cfg)
		var bad atomic.Bool
		s.addCore("disk", func(context.Context) error {
			if bad.Load() {
				return errors.New("full")
			}
			return nil
		})
		bad.Store(true)
		settle(cfg.HealthInterval - time.Nanosecond)
		assert.True(t, statusOf(s, "disk").Healthy, "not checked before HealthInterval")
		settle(time.Nanosecond)
		assert.False(t, statusOf(s, "disk").Healthy)
		assert.Equal(t, "full", statusOf(s, "disk").Health)
		settle(time.Duration(cfg.UnhealthyAfter) * cfg.HealthInterval)
		assert.Equal(t, StateCore, statusOf(s, "disk").State)
		assert.Zero(t, statusOf(s, "disk").Restarts, "core resources are not restarted")
	})
}

func TestSupervisorConfigValidate(t *testing.T) {
	require.NoError(t, DefaultSupervisorConfig().Validate())
	require.NoError(t, TestSupervisorConfig().Validate())
	for field, mutate := range map[string]func(*SupervisorConfig){
		"backoff_min":     func(c *SupervisorConfig) { c.BackoffMin = 0 },
		"backoff_max":     func(c *SupervisorConfig) { c.BackoffMax = c.BackoffMin - 1 },
		"health_interval": func(c *SupervisorConfig) { c.HealthInterval = 0 },
		"health_timeout":  func(c *SupervisorConfig) { c.HealthTimeout = 0 },
		"unhealthy_after": func(c *SupervisorConfig) { c.UnhealthyAfter = 0 },
		"start_timeout":   func(c *SupervisorConfig) { c.StartTimeout = 0 },
		"Clock":           func(c *SupervisorConfig) { c.Clock = nil },
	} {
		c := DefaultSupervisorConfig()
		mutate(&c)
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig, field)
		assert.Contains(t, err.Error(), field)
	}
}

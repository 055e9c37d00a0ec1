package node

import (
	"context"
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/notify"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// Service is a long-running part of a node that the supervisor starts in
// dependency order, restarts with exponential backoff when it fails and
// stops in reverse order.
type Service interface {
	// Name names the service in status, logs and errors.
	Name() string
	// Run starts the service, calls ready once it is serving and then blocks
	// until ctx is cancelled (returning nil or ctx's error) or the service
	// fails (returning why). Run is called again after a failure, so it
	// must release everything it acquired before returning.
	Run(ctx context.Context, ready func()) error
}

// HealthChecker is implemented by services that can tell whether they work.
type HealthChecker interface {
	// Health returns nil when the service works, and why not otherwise.
	Health(ctx context.Context) error
}

// ServiceState is where a service is in its life.
type ServiceState string

// The states a service moves through.
const (
	StateStarting ServiceState = "starting"
	StateRunning  ServiceState = "running"
	StateBackoff  ServiceState = "backoff" // failed, waiting to restart
	StateStopped  ServiceState = "stopped"
	StateCore     ServiceState = "core" // a resource the node opened itself; never restarted
)

// ServiceStatus is one service's line in node.status.
type ServiceStatus struct {
	Name        string       `json:"name"`
	State       ServiceState `json:"state"`
	Healthy     bool         `json:"healthy"`
	Health      string       `json:"health,omitempty"` // why it is unhealthy
	Restarts    int          `json:"restarts"`
	LastError   string       `json:"last_error,omitempty"`
	LastErrorAt time.Time    `json:"last_error_at,omitzero"`
	Since       time.Time    `json:"since"` // when State last changed
}

// SupervisorConfig tunes restarts and health checks.
type SupervisorConfig struct {
	// BackoffMin is the first restart delay after a failure; each further
	// consecutive failure doubles it up to BackoffMax. 500 ms rides over a
	// transient error (a port briefly in use) without spinning.
	BackoffMin time.Duration
	// BackoffMax caps the restart delay so a broken service is retried
	// every minute rather than never.
	BackoffMax time.Duration
	// StableAfter is how long a service must run before its backoff resets.
	StableAfter time.Duration
	// HealthInterval is how often health checks run; 10 s notices a wedged
	// service quickly at negligible cost.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check.
	HealthTimeout time.Duration
	// UnhealthyAfter consecutive failed checks restart a running service;
	// three rides over one slow check.
	UnhealthyAfter int
	// StartTimeout bounds how long a service may take to become ready when
	// the node starts.
	StartTimeout time.Duration
	// Clock times backoffs, health checks and status. Default clock.Real();
	// tests run the supervisor in a testing/synctest bubble instead.
	Clock clock.Clock
}

// DefaultSupervisorConfig returns the timers for a node in production.
func DefaultSupervisorConfig() SupervisorConfig {
	return SupervisorConfig{
		BackoffMin:     500 * time.Millisecond,
		BackoffMax:     time.Minute,
		StableAfter:    time.Minute,
		HealthInterval: 10 * time.Second,
		HealthTimeout:  5 * time.Second,
		UnhealthyAfter: 3,
		StartTimeout:   30 * time.Second,
		Clock:          clock.Real(),
	}
}

// TestSupervisorConfig returns short timers for tests and the simulator.
func TestSupervisorConfig() SupervisorConfig {
	return SupervisorConfig{
		BackoffMin:     10 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
		StableAfter:    time.Second,
		HealthInterval: 50 * time.Millisecond,
		HealthTimeout:  time.Second,
		UnhealthyAfter: 2,
		StartTimeout:   10 * time.Second,
		Clock:          clock.Real(),
	}
}

// Validate names the first bad field.
func (c SupervisorConfig) Validate() error {
	switch {
	case c.BackoffMin <= 0:
		return fmt.Errorf("%w: supervisor.backoff_min must be positive", ErrConfig)
	case c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("%w: supervisor.backoff_max is below backoff_min", ErrConfig)
	case c.HealthInterval <= 0:
		return fmt.Errorf("%w: supervisor.health_interval must be positive", ErrConfig)
	case c.HealthTimeout <= 0:
		return fmt.Errorf("%w: supervisor.health_timeout must be positive", ErrConfig)
	case c.UnhealthyAfter < 1:
		return fmt.Errorf("%w: supervisor.unhealthy_after must be at least 1", ErrConfig)
	case c.StartTimeout <= 0:
		return fmt.Errorf("%w: supervisor.start_timeout must be positive", ErrConfig)
	case c.Clock == nil:
		return fmt.Errorf("%w: supervisor.Clock is nil", ErrConfig)
	}
	return nil
}

// supervisor runs services; see Service.
type supervisor struct {
	cfg SupervisorConfig
	log *slog.Logger

	mu      sync.Mutex
	entries []*entry      // in start order
	checked notify.Signal // a round of health checks ended

	ctx    context.Context // cancelled by stop: ends health checks
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type entry struct {
	svc    Service                     // nil for a core check
	check  func(context.Context) error // health check, may be nil
	status ServiceStatus
	fails  int // consecutive failed health checks
	checks int // health checks run, for tests to wait on

	runCancel context.CancelFunc // cancels the current Run
	stop      context.CancelFunc // cancels the runner loop
	done      chan struct{}      // closed when the runner loop returns
}

func newSupervisor(cfg SupervisorConfig, log *slog.Logger) *supervisor {
	ctx, cancel := context.WithCancel(context.Background())
	s := &supervisor{cfg: cfg, log: log, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.healthLoop()
	return s
}

// addCore lists a resource the node manages itself (store, host) in status,
// with a health check but no restarts.
func (s *supervisor) addCore(name string, check func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = append(s.entries, &entry{
		check:  check,
		status: ServiceStatus{Name: name, State: StateCore, Healthy: true, Since: s.cfg.Clock.Now()},
		done:   closedChan(),
	})
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// start starts svc and waits until it is ready. If it fails before it is
// ready, start returns its error and the service is not kept.
func (s *supervisor) start(ctx context.Context, svc Service) error {
	for _, e := range s.snapshot() {
		if e.status.Name == svc.Name() {
			return fmt.Errorf("node: service %q registered twice", svc.Name())
		}
	}
	e := &entry{svc: svc, done: make(chan struct{})}
	if hc, ok := svc.(HealthChecker); ok {
		e.check = hc.Health
	}
	e.status = ServiceStatus{Name: svc.Name(), State: StateStarting, Since: s.cfg.Clock.Now()}
	loopCtx, stop := context.WithCancel(context.Background())
	e.stop = stop
	first := make(chan error, 1)
	s.mu.Lock()
	s.entries = append(s.entries, e)
	s.mu.Unlock()
	go s.runLoop(loopCtx, e, first)

	timer := s.cfg.Clock.NewTimer(s.cfg.StartTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-first:
	case <-timer.C():
		err = fmt.Errorf("not ready after %s", s.cfg.StartTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		stop()
		<-e.done
		s.mu.Lock()
		s.entries = slices.DeleteFunc(s.entries, func(x *entry) bool { return x == e })
		s.mu.Unlock()
		return fmt.Errorf("node: start %s: %w", svc.Name(), err)
	}
	return nil
}

func (s *supervisor) setState(e *entry, st ServiceState) {
	s.mu.Lock()
	e.status.State, e.status.Since = st, s.cfg.Clock.Now()
	if st == StateRunning {
		e.status.Healthy, e.status.Health, e.fails = true, "", 0
	}
	s.mu.Unlock()
}

// runLoop runs e.svc until loopCtx is cancelled, restarting it with
// exponential backoff. first receives nil when the first run is ready, or the
// error that ended the first run before it was ready.
func (s *supervisor) runLoop(loopCtx context.Context, e *entry, first chan<- error) {
	defer close(e.done)
	name := e.svc.Name()
	backoff := s.cfg.BackoffMin
	starting := true
	for {
		runCtx, runCancel := context.WithCancel(loopCtx)
		s.mu.Lock()
		e.runCancel = runCancel
		s.mu.Unlock()
		s.setState(e, StateStarting)
		began := s.cfg.Clock.Now()
		var readyOnce sync.Once
		ready := func() {
			readyOnce.Do(func() {
				s.setState(e, StateRunning)
				if starting {
					first <- nil
				}
			})
		}
		err := runService(runCtx, e.svc, ready)
		wasReady := false
		readyOnce.Do(func() {}) // ready can no longer fire
		s.mu.Lock()
		wasReady = e.status.State == StateRunning
		unhealthy := e.status.Health
		s.mu.Unlock()
		runCancel()
		if loopCtx.Err() != nil {
			s.setState(e, StateStopped)
			if starting && !wasReady {
				first <- loopCtx.Err()
			}
			return
		}
		if err == nil || errors.Is(err, context.Canceled) {
			if runCtx.Err() != nil && unhealthy != "" {
				err = fmt.Errorf("restarted after failing health checks: %s", unhealthy)
			} else {
				err = errors.New("stopped unexpectedly")
			}
		}
		if starting && !wasReady {
			s.setState(e, StateStopped)
			first <- err
			return
		}
		starting = false
		if clock.Since(s.cfg.Clock, began) >= s.cfg.StableAfter {
			backoff = s.cfg.BackoffMin
		}
		s.mu.Lock()
		e.status.Restarts++
		e.status.LastError, e.status.LastErrorAt = err.Error(), s.cfg.Clock.Now()
		s.mu.Unlock()
		s.setState(e, StateBackoff)
		s.log.Warn("service failed; restarting", "service", name, "err", err, "in", backoff)
		t := s.cfg.Clock.NewTimer(backoff)
		select {
		case <-loopCtx.Done():
			t.Stop()
			s.setState(e, StateStopped)
			return
		case <-t.C():
		}
		backoff = min(backoff*2, s.cfg.BackoffMax)
	}
}

// runService calls svc.Run, turning a panic into an error so that a bug in
// one service restarts it instead of killing the node.
func runService(ctx context.Context, svc Service, ready func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return svc.Run(ctx, ready)
}

// healthLoop runs the health checks every HealthInterval, counted from the
// end of the previous round so that slow checks never pile up.
func (s *supervisor) healthLoop() {
	defer s.wg.Done()
	t := s.cfg.Clock.NewTimer(s.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C():
			s.checkAll()
			t.Reset(s.cfg.HealthInterval)
		}
	}
}

// checkAll runs every health check once.
func (s *supervisor) checkAll() {
	for _, e := range s.snapshot() {
		s.mu.Lock()
		state := e.status.State
		s.mu.Unlock()
		if e.check == nil || (state != StateRunning && state != StateCore) {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HealthTimeout)
		err := e.check(ctx)
		cancel()
		if s.ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		e.checks++
		if err != nil {
			e.fails++
			e.status.Healthy, e.status.Health = false, err.Error()
			if e.svc != nil && e.fails >= s.cfg.UnhealthyAfter && e.runCancel != nil {
				s.log.Warn("service unhealthy; restarting", "service", e.status.Name, "err", err)
				e.runCancel()
			}
		} else {
			e.fails = 0
			e.status.Healthy, e.status.Health = true, ""
		}
		s.mu.Unlock()
	}
	s.checked.Notify()
}

// healthChecks counts the health checks run on the named service.
func (s *supervisor) healthChecks(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.status.Name == name {
			return e.checks
		}
	}
	return 0
}

func (s *supervisor) snapshot() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries)
}

// statuses returns every service's status in start order.
func (s *supervisor) statuses() []ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ServiceStatus, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.status
	}
	return out
}

// stop stops the services in reverse start order and the health checks. It
// is idempotent.
func (s *supervisor) stop() {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		entries := s.snapshot()
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			if e.stop != nil {
				e.stop()
			}
			<-e.done
		}
	})
}

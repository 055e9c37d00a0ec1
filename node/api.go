package node

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/creachadair/jrpc2/handler"
	"github.com/creachadair/jrpc2/jhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// RPC error codes fog adds to JSON-RPC's own (-32768..-32000 are the spec's).
const (
	// CodeNotFound means the thing the call names does not exist.
	CodeNotFound jrpc2.Code = 404
	// CodeUnavailable means the subsystem the call needs is not running.
	CodeUnavailable jrpc2.Code = 503
)

// API is the node's JSON-RPC 2.0 server over HTTP (path /rpc) with
// Prometheus metrics (path /metrics). Every request must carry
// "Authorization: Bearer <token>"; anything else gets HTTP 401 and an empty
// body. Subsystems add methods with Register before the node starts.
type API struct {
	token   []byte
	maxBody int64
	listen  string
	log     *slog.Logger
	reg     *prometheus.Registry
	calls   *prometheus.CounterVec

	mu      sync.Mutex
	methods handler.Map
	addr    net.Addr // bound address while serving
	onBound func(net.Addr)
}

func newAPI(cfg APIConfig, token string, reg *prometheus.Registry, log *slog.Logger) *API {
	a := &API{
		token:   []byte(token),
		maxBody: cfg.MaxBodyBytes,
		listen:  cfg.Listen,
		log:     log,
		reg:     reg,
		methods: handler.Map{},
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fog", Subsystem: "rpc", Name: "calls_total",
			Help: "JSON-RPC calls served, by method and outcome.",
		}, []string{"method", "outcome"}),
	}
	reg.MustRegister(a.calls)
	return a
}

// Register adds the JSON-RPC method name, served by fn. fn has one of the
// shapes jrpc2's handler.Check accepts, typically
// func(context.Context, Params) (Result, error); params with unknown fields
// are rejected as invalid. A handler that panics answers an internal error
// instead of taking the node down.
func (a *API) Register(name string, fn any) error {
	fi, err := handler.Check(fn)
	if err != nil {
		return fmt.Errorf("node: rpc method %s: %w", name, err)
	}
	h := fi.SetStrict(true).Wrap()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.methods[name]; dup {
		return fmt.Errorf("node: rpc method %s registered twice", name)
	}
	a.methods[name] = func(ctx context.Context, req *jrpc2.Request) (res any, err error) {
		defer func() {
			if r := recover(); r != nil {
				a.log.Error("rpc handler panicked", "method", name, "panic", r)
				res, err = nil, &jrpc2.Error{Code: jrpc2.InternalError, Message: "internal error"}
			}
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			a.calls.WithLabelValues(name, outcome).Inc()
		}()
		return h(ctx, req)
	}
	return nil
}

// registerAll registers every method of methods (name to handler).
func (a *API) registerAll(methods map[string]any) error {
	for name, fn := range methods {
		if err := a.Register(name, fn); err != nil {
			return err
		}
	}
	return nil
}

// Methods lists the registered method names, sorted.
func (a *API) Methods() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.methods))
	for m := range a.methods {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Addr returns the address the API listens on, or nil when it is not
// serving.
func (a *API) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Name implements Service.
func (a *API) Name() string { return "api" }

// Run implements Service: it listens, serves until ctx ends, then shuts the
// server down, letting calls in flight finish for up to five seconds.
func (a *API) Run(ctx context.Context, ready func()) error {
	ln, err := net.Listen("tcp", a.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.listen, err)
	}
	a.mu.Lock()
	methods := make(handler.Map, len(a.methods))
	for k, v := range a.methods {
		methods[k] = v
	}
	a.addr = ln.Addr()
	onBound := a.onBound
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.addr = nil
		a.mu.Unlock()
	}()

	bridge := jhttp.NewBridge(methods, &jhttp.BridgeOptions{
		ParseRequest: a.parseRequest,
		Server:       &jrpc2.ServerOptions{Concurrency: 16},
	})
	defer bridge.Close()
	mux := http.NewServeMux()
	mux.Handle("/rpc", a.auth(bridge))
	mux.Handle("/metrics", a.auth(promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg})))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if onBound != nil {
		onBound(ln.Addr())
	}
	a.log.Info("api listening", "addr", ln.Addr().String())
	ready()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// Health implements HealthChecker: the API is healthy while it listens.
func (a *API) Health(context.Context) error {
	if a.Addr() == nil {
		return errors.New("not listening")
	}
	return nil
}

// auth lets through only requests bearing the token.
func (a *API) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), a.token) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// parseRequest reads a size-limited POST body and parses it as JSON-RPC,
// turning a body that is too large or not JSON into a JSON-RPC error reply
// rather than a bare HTTP error.
func (a *API) parseRequest(r *http.Request) ([]*jrpc2.ParsedRequest, error) {
	if r.Method != http.MethodPost {
		return errRequest(jrpc2.InvalidRequest, "use POST"), nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errRequest(jrpc2.InvalidRequest, fmt.Sprintf("request body exceeds %d bytes", a.maxBody)), nil
		}
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || !json.Valid(body) {
		return errRequest(jrpc2.ParseError, "request body is not valid JSON"), nil
	}
	reqs, err := jrpc2.ParseRequests(body)
	if err != nil {
		return errRequest(jrpc2.InvalidRequest, err.Error()), nil
	}
	if len(reqs) == 0 {
		return errRequest(jrpc2.InvalidRequest, "empty batch"), nil
	}
	return reqs, nil
}

func errRequest(code jrpc2.Code, msg string) []*jrpc2.ParsedRequest {
	return []*jrpc2.ParsedRequest{{Error: &jrpc2.Error{Code: code, Message: msg}}}
}

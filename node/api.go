package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/creachadair/jrpc2/handler"
	"github.com/creachadair/jrpc2/jhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fog-compute/fog/internal/clock"
)

// RPC error codes fog adds to JSON-RPC's own (-32768..-32000 are the spec's).
const (
	// CodeNotFound means the thing the call names does not exist.
	CodeNotFound jrpc2.Code = 404
	// CodeUnavailable means the subsystem the call needs is not running.
	CodeUnavailable jrpc2.Code = 503
	// CodeTooLarge means a reply would exceed api.max_reply_bytes.
	CodeTooLarge jrpc2.Code = 413
)

// API is the node's JSON-RPC 2.0 server over HTTP (path /rpc) with
// Prometheus metrics (path /metrics), the event stream (/events) and the
// dashboard (/, with /login, /session and /logout; see api_web.go). Every
// request to /rpc, /metrics and /events must carry
// "Authorization: Bearer <token>" or a dashboard session's cookie;
// anything else gets HTTP 401 and an empty body. A request whose Host header names neither an IP address, localhost
// nor one of api.allowed_hosts gets HTTP 403 (against DNS rebinding). The
// calls of a batch run one after another, at most api.max_batch of them,
// and a reply is cut off at api.max_reply_bytes. Subsystems add methods
// with Register before the node starts.
type API struct {
	token    *apiToken
	maxBody  int64
	maxBatch int
	maxReply int64
	hosts    []string
	listen   string
	log      *slog.Logger
	reg      *prometheus.Registry
	calls    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	web      *webUI

	mu      sync.Mutex
	methods handler.Map
	addr    net.Addr // bound address while serving
	onBound func(net.Addr)
}

func newAPI(cfg APIConfig, token *apiToken, reg *prometheus.Registry, log *slog.Logger) *API {
	a := &API{
		token:    token,
		maxBody:  cfg.MaxBodyBytes,
		maxBatch: cfg.MaxBatch,
		maxReply: cfg.MaxReplyBytes,
		hosts:    cfg.AllowedHosts,
		listen:   cfg.Listen,
		log:      log,
		reg:      reg,
		methods:  handler.Map{},
		web:      newWebUI(clock.Real(), nil, nil),
	}
	if reg == nil {
		return a // metrics off: nothing counted, /metrics not served
	}
	a.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fog", Subsystem: "rpc", Name: "calls_total",
		Help: "JSON-RPC calls served, by method and outcome.",
	}, []string{"method", "outcome"})
	a.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "fog", Subsystem: "rpc", Name: "duration_seconds",
		Help:    "Time to serve a JSON-RPC call, by method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"method"})
	reg.MustRegister(a.calls, a.latency)
	return a
}

// Register adds the JSON-RPC method name, served by fn. fn has one of the
// shapes jrpc2's handler.Check accepts, typically
// func(context.Context, Params) (Result, error); params with unknown fields
// are rejected as invalid, and names are matched exactly (encoding/json
// alone would accept "LIMIT" for "limit"). A handler that panics answers an
// internal error instead of taking the node down.
func (a *API) Register(name string, fn any) error {
	fi, err := handler.Check(fn)
	if err != nil {
		return fmt.Errorf("node: rpc method %s: %w", name, err)
	}
	h := fi.SetStrict(true).Wrap()
	names := paramNames(fi.Argument)
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.methods[name]; dup {
		return fmt.Errorf("node: rpc method %s registered twice", name)
	}
	a.methods[name] = func(ctx context.Context, req *jrpc2.Request) (res any, err error) {
		clk := a.web.clk
		var start time.Time
		if a.latency != nil {
			start = clk.Now()
		}
		defer func() {
			if a.latency != nil {
				a.latency.WithLabelValues(name).Observe(clock.Since(clk, start).Seconds())
			}
			if r := recover(); r != nil {
				a.log.Error("rpc handler panicked", "method", name, "panic", r)
				res, err = nil, &jrpc2.Error{Code: jrpc2.InternalError, Message: "internal error"}
			}
			if a.calls == nil {
				return
			}
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			a.calls.WithLabelValues(name, outcome).Inc()
		}()
		if err := checkParamNames(req, names); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
	return nil
}

// paramNames returns the JSON names of the fields of a struct parameter
// type (nil for other types).
func paramNames(t reflect.Type) map[string]bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case tag == "-":
			case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
				walk(f.Type)
			case !f.IsExported():
			case tag != "":
				names[tag] = true
			default:
				names[f.Name] = true
			}
		}
	}
	walk(t)
	return names
}

// checkParamNames refuses an object of params with a name that is not
// exactly one of names.
func checkParamNames(req *jrpc2.Request, names map[string]bool) error {
	if names == nil || !req.HasParams() {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(req.ParamString()), &obj) != nil {
		return nil // not an object: the handler's own decoding reports it
	}
	for k := range obj {
		if !names[k] {
			return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: fmt.Sprintf("invalid parameters: unknown parameter %q (names are case-sensitive)", k)}
		}
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
	streams := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/rpc", a.guard(a.serveRPC(bridge)))
	if a.reg != nil {
		mux.Handle("/metrics", a.guard(promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg})))
	} else {
		mux.Handle("/metrics", http.NotFoundHandler()) // not the dashboard's page
	}
	mux.Handle("/events", a.guard(a.serveEvents(streams)))
	mux.Handle("/debug/pprof/", a.guard(pprofHandler()))
	mux.HandleFunc("/login", a.serveLogin)
	mux.HandleFunc("/session", a.serveSession)
	mux.Handle("/logout", a.guard(http.HandlerFunc(a.serveLogout)))
	mux.HandleFunc("/", a.serveAssets)
	srv := &http.Server{
		Handler:           a.browser(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	srv.RegisterOnShutdown(func() { close(streams) })
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

// guard lets through only requests that name an allowed host and bear the
// token or a dashboard session's cookie (with its CSRF token on calls that
// change state).
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r.Host) {
			http.Error(w, "host not allowed (see api.allowed_hosts)", http.StatusForbidden)
			return
		}
		if a.authorized(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// hostAllowed reports whether a request's Host header may be served: an IP
// address, localhost or one of api.allowed_hosts, with the port the API is
// bound to (or none, for a proxy on port 80). A web page that rebinds its
// own domain name to 127.0.0.1 still sends that name, and is refused.
func (a *API) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
	}
	if port != "" {
		if addr, ok := a.Addr().(*net.TCPAddr); !ok || port != strconv.Itoa(addr.Port) {
			return false
		}
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || net.ParseIP(host) != nil || slices.Contains(a.hosts, host)
}

// serveRPC runs the JSON-RPC request in r through bridge. A batch is split
// and its calls run one after another, so that neither the number of calls
// (at most api.max_batch) nor the replies held at once (at most
// api.max_reply_bytes, plus the one being made) grow with the request; a
// call whose reply would pass the limit is answered with CodeTooLarge, and
// the calls after it are not run.
func (a *API) serveRPC(bridge http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			bridge.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.maxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeRPCError(w, nil, jrpc2.InvalidRequest, fmt.Sprintf("request body exceeds %d bytes (api.max_body_bytes)", a.maxBody))
				return
			}
			http.Error(w, "reading the request failed", http.StatusBadRequest)
			return
		}
		body = bytes.TrimSpace(body)
		calls, ok := splitBatch(body, a.maxBatch)
		if !ok {
			// One call, or a request that is not a batch of calls: the
			// bridge (parseRequest) answers it or says what is wrong.
			rec := a.call(bridge, r, body, a.maxReply)
			rec.writeTo(w, body, a.maxReply)
			return
		}
		if len(calls) > a.maxBatch {
			writeRPCError(w, nil, jrpc2.InvalidRequest, fmt.Sprintf("a batch of more than %d calls exceeds api.max_batch", a.maxBatch))
			return
		}
		notRun := func(id json.RawMessage) []byte {
			return rpcError(id, CodeTooLarge, fmt.Sprintf("not run: the batch's replies exceed %d bytes (api.max_reply_bytes)", a.maxReply))
		}
		// room[i] is what error replies to calls i and after would take
		// (no more than a "not run" one each), kept free while calls run
		// so that the replies saying they did not run fit too.
		room := make([]int64, len(calls)+1)
		for i := len(calls) - 1; i >= 0; i-- {
			room[i] = room[i+1]
			if c := bytes.TrimSpace(calls[i]); len(c) == 0 || c[0] != '{' {
				room[i] += int64(len(rpcError(nil, jrpc2.InvalidRequest, "a batch holds call objects"))) + 1
			} else if id := callID(c); id != nil {
				room[i] += int64(len(notRun(id))) + 1
			}
		}
		replies := make([]json.RawMessage, 0, len(calls))
		left := a.maxReply - 2 // the brackets
		stopped := false
		for i, c := range calls {
			c = bytes.TrimSpace(c)
			var reply []byte
			switch {
			case len(c) == 0 || c[0] != '{':
				reply = rpcError(nil, jrpc2.InvalidRequest, "a batch holds call objects")
			case stopped || left <= room[i]:
				if id := callID(c); id != nil {
					reply = notRun(id)
				}
			default:
				rec := a.call(bridge, r, c, left-room[i+1]-1) // and its comma
				switch id := callID(c); {
				case !rec.over:
					reply = rec.buf.Bytes()
				case id != nil:
					reply = rpcError(id, CodeTooLarge, fmt.Sprintf("the batch's replies exceed %d bytes (api.max_reply_bytes)", a.maxReply))
				}
				stopped = rec.over // the calls after it are not run
			}
			if len(reply) == 0 {
				continue // a notification has no reply
			}
			left -= int64(len(reply)) + 1
			replies = append(replies, reply)
		}
		if len(replies) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(replies)
	})
}

// splitBatch returns the elements of a JSON array of at least one element,
// reading no more than max+1 of them (so a huge batch costs nothing to
// refuse); ok is false if body is no such array.
func splitBatch(body []byte, max int) (calls []json.RawMessage, ok bool) {
	if len(body) == 0 || body[0] != '[' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	for dec.More() {
		var c json.RawMessage
		if err := dec.Decode(&c); err != nil {
			return nil, false
		}
		if calls = append(calls, c); len(calls) > max {
			return calls, true
		}
	}
	if _, err := dec.Token(); err != nil || len(calls) == 0 {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data
	}
	return calls, true
}

// call runs one JSON-RPC request body through bridge, keeping at most limit
// bytes of its reply.
func (a *API) call(bridge http.Handler, r *http.Request, body []byte, limit int64) *replyRecorder {
	sub := r.Clone(r.Context())
	sub.Body = io.NopCloser(bytes.NewReader(body))
	sub.ContentLength = int64(len(body))
	rec := &replyRecorder{h: http.Header{}, limit: limit, code: http.StatusOK}
	bridge.ServeHTTP(rec, sub)
	return rec
}

// replyRecorder is an http.ResponseWriter that keeps a reply of up to
// limit bytes and notes whether there was more.
type replyRecorder struct {
	h     http.Header
	code  int
	buf   bytes.Buffer
	limit int64
	over  bool
}

func (r *replyRecorder) Header() http.Header  { return r.h }
func (r *replyRecorder) WriteHeader(code int) { r.code = code }
func (r *replyRecorder) Write(b []byte) (int, error) {
	if r.over || int64(r.buf.Len()+len(b)) > r.limit {
		r.over = true
		r.buf.Reset()
		return len(b), nil
	}
	return r.buf.Write(b)
}

// writeTo sends the recorded reply to the call in body to w, or an error
// reply if it was over limit.
func (r *replyRecorder) writeTo(w http.ResponseWriter, body []byte, limit int64) {
	if r.over {
		writeRPCError(w, callID(body), CodeTooLarge, fmt.Sprintf("the reply exceeds %d bytes (api.max_reply_bytes)", limit))
		return
	}
	for k, v := range r.h {
		w.Header()[k] = v
	}
	w.WriteHeader(r.code)
	_, _ = w.Write(r.buf.Bytes())
}

// callID returns the id of a call object, or nil for a notification or
// what does not parse.
func callID(call []byte) json.RawMessage {
	var c struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(call, &c) != nil {
		return nil
	}
	return c.ID
}

// rpcError encodes a JSON-RPC error reply to the call with id (null if nil).
func rpcError(id json.RawMessage, code jrpc2.Code, msg string) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, _ := json.Marshal(struct {
		V     string          `json:"jsonrpc"`
		ID    json.RawMessage `json:"id"`
		Error *jrpc2.Error    `json:"error"`
	}{"2.0", id, &jrpc2.Error{Code: code, Message: msg}})
	return b
}

func writeRPCError(w http.ResponseWriter, id json.RawMessage, code jrpc2.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rpcError(id, code, msg))
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

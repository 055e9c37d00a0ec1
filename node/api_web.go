package node

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/internal/events"
)

// The browser's side of the API: the dashboard's files, login into a
// session cookie, the event stream, and the headers every reply carries.
// A browser never holds the token: the page posts it once to /login and
// gets a session cookie (HttpOnly, SameSite=Strict) and a CSRF token the
// page sends back in the X-Fog-CSRF header of every call.

const (
	// sessionTTL is how long a dashboard session lasts.
	sessionTTL = 12 * time.Hour
	// maxSessions bounds the sessions kept; a login past it ends the
	// oldest.
	maxSessions = 32
	// loginWindow and loginFailures: a client (IP address) that fails
	// loginFailures logins within loginWindow is refused (429) until the
	// window ends; with a 256-bit token this only keeps a guesser slow
	// and the logs short.
	loginWindow   = time.Minute
	loginFailures = 5
	// maxLoginClients bounds the clients whose failures are counted; past
	// it, every failure counts against one shared entry.
	maxLoginClients = 1024
	// eventPing is how often an idle event stream gets a comment line, so
	// that a client that went away is noticed.
	eventPing = 30 * time.Second
	// CSRFHeader is the header that carries a session's CSRF token.
	CSRFHeader = "X-Fog-CSRF"
)

// contentSecurityPolicy lets the dashboard load only its own files and
// talk only to its own origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// webUI is the API's browser state.
type webUI struct {
	clk    clock.Clock
	bus    *events.Bus // nil: no /events
	assets fs.FS       // nil: no dashboard

	mu       sync.Mutex
	sessions map[string]*session // by the cookie's value
	fails    map[string]*loginFails
}

type session struct {
	csrf    string
	token   [32]byte // SHA-256 of the API token it was opened with
	expires time.Time
	created time.Time
}

type loginFails struct {
	since time.Time
	count int
}

func newWebUI(clk clock.Clock, bus *events.Bus, assets fs.FS) *webUI {
	return &webUI{clk: clk, bus: bus, assets: assets, sessions: map[string]*session{}, fails: map[string]*loginFails{}}
}

// cookieName names the session cookie after the port: browsers share
// cookies between the ports of one host, and a devnet runs several nodes
// on 127.0.0.1.
func (a *API) cookieName() string {
	if addr, ok := a.Addr().(*net.TCPAddr); ok {
		return "fog_session_" + strconv.Itoa(addr.Port)
	}
	return "fog_session"
}

// browser wraps every handler of the listener: it refuses other hosts
// (DNS rebinding) and cross-origin requests, and sets the security
// headers. No reply carries CORS headers, so no other origin may read one.
func (a *API) browser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !a.hostAllowed(r.Host) {
			http.Error(w, "host not allowed (see api.allowed_hosts)", http.StatusForbidden)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
			http.Error(w, "cross-origin requests are refused", http.StatusForbidden)
			return
		}
		// A link from another site may open the dashboard (the
		// SameSite=Strict cookie does not come along); nothing else from
		// another site is served.
		navigation := (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Sec-Fetch-Mode") == "navigate"
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" && !navigation {
			http.Error(w, "cross-site requests are refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r bears the token or a live session's
// cookie; a session's request that changes state (any method but GET and
// HEAD) must also bear the session's CSRF token. It writes the refusal.
func (a *API) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok := a.token.current()
	if h := r.Header.Get("Authorization"); h != "" {
		t, ok := strings.CutPrefix(h, "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(t)), tok) == 1 {
			return true
		}
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	s := a.sessionOf(r, tok)
	if s == nil {
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(s.csrf)) != 1 {
		http.Error(w, "missing or wrong "+CSRFHeader+" header", http.StatusForbidden)
		return false
	}
	return true
}

// sessionOf returns r's live session, nil if none: one that expired or
// was opened with another token than tok (the operator changed it) is
// ended.
func (a *API) sessionOf(r *http.Request, tok []byte) *session {
	c, err := r.Cookie(a.cookieName())
	if err != nil || c.Value == "" {
		return nil
	}
	w := a.web
	sum := sha256.Sum256(tok)
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, s := range w.sessions {
		// Compare every id in constant time rather than look it up.
		if subtle.ConstantTimeCompare([]byte(id), []byte(c.Value)) != 1 {
			continue
		}
		if !w.clk.Now().Before(s.expires) || s.token != sum {
			delete(w.sessions, id)
			return nil
		}
		return s
	}
	return nil
}

// loginRequest is the body of POST /login.
type loginRequest struct {
	Token string `json:"token"`
}

// SessionInfo is the reply of POST /login and GET /session.
type SessionInfo struct {
	// CSRF is the value of the X-Fog-CSRF header the session's calls
	// must carry.
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// serveLogin checks a token posted by the dashboard and opens a session.
func (a *API) serveLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) != "application/json" {
		http.Error(w, "send the token as JSON", http.StatusUnsupportedMediaType)
		return
	}
	client := clientIP(r)
	if wait := a.loginBlocked(client); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+1)))
		http.Error(w, "too many failed logins: try again later", http.StatusTooManyRequests)
		return
	}
	var req loginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "bad login request", http.StatusBadRequest)
		return
	}
	tok := a.token.current()
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(req.Token)), tok) != 1 {
		a.loginFailed(client)
		a.log.Warn("dashboard login refused: wrong token", "client", client)
		http.Error(w, "wrong token", http.StatusUnauthorized)
		return
	}
	id, csrf := randomHex(), randomHex()
	if id == "" || csrf == "" {
		http.Error(w, "no randomness", http.StatusInternalServerError)
		return
	}
	now := a.web.clk.Now()
	s := &session{csrf: csrf, token: sha256.Sum256(tok), created: now, expires: now.Add(sessionTTL)}
	a.web.mu.Lock()
	delete(a.web.fails, client)
	if len(a.web.sessions) >= maxSessions {
		var oldest string
		for k, v := range a.web.sessions {
			if oldest == "" || v.created.Before(a.web.sessions[oldest].created) {
				oldest = k
			}
		}
		delete(a.web.sessions, oldest)
	}
	a.web.sessions[id] = s
	a.web.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(), Value: id, Path: "/", MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, SessionInfo{CSRF: csrf, Expires: s.expires})
}

// serveSession tells a reloaded page its session's CSRF token (401 with
// no live session).
func (a *API) serveSession(w http.ResponseWriter, r *http.Request) {
	s := a.sessionOf(r, a.token.current())
	if s == nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeJSON(w, SessionInfo{CSRF: s.csrf, Expires: s.expires})
}

// serveLogout ends the session (the guard checked its CSRF token).
func (a *API) serveLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.cookieName()); err == nil {
		a.web.mu.Lock()
		delete(a.web.sessions, c.Value)
		a.web.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// loginBlocked returns how long client must wait before it may try again.
func (a *API) loginBlocked(client string) time.Duration {
	a.web.mu.Lock()
	defer a.web.mu.Unlock()
	f := a.web.fails[client]
	if f == nil {
		return 0
	}
	left := loginWindow - clock.Since(a.web.clk, f.since)
	if left <= 0 {
		delete(a.web.fails, client)
		return 0
	}
	if f.count >= loginFailures {
		return left
	}
	return 0
}

func (a *API) loginFailed(client string) {
	a.web.mu.Lock()
	defer a.web.mu.Unlock()
	if _, ok := a.web.fails[client]; !ok && len(a.web.fails) >= maxLoginClients {
		client = "*"
	}
	f := a.web.fails[client]
	if f == nil {
		f = &loginFails{since: a.web.clk.Now()}
		a.web.fails[client] = f
	}
	f.count++
}

// clientIP is the address a request came from, without its port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func randomHex() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return ""
	}
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// serveEvents streams the node's events as server-sent events: each is
// one "data:" line of JSON (an events.Event), starting with
// stream.opened. ?filter=peer,task keeps those categories. The stream
// ends when done is closed (the server shuts down: a stream would
// otherwise hold Shutdown for its whole grace period).
func (a *API) serveEvents(done <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { a.streamEvents(w, r, done) }
}

func (a *API) streamEvents(w http.ResponseWriter, r *http.Request, done <-chan struct{}) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	if a.web.bus == nil {
		http.Error(w, "no event stream on this node", http.StatusServiceUnavailable)
		return
	}
	cats, err := parseEventFilter(r.URL.Query().Get("filter"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	sub, err := a.web.bus.Subscribe(cats...)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	write := func(ev events.Event) error {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", ev.Seq, b); err != nil {
			return err
		}
		fl.Flush()
		return nil
	}
	if cats == nil {
		cats = []string{}
	}
	if write(events.Event{Type: EventStreamOpened, Time: a.web.clk.Now().UTC(), Data: StreamEvent{Filter: cats}}) != nil {
		return
	}
	ping := a.web.clk.NewTicker(eventPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-done:
			return
		case <-ping.C():
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		case ev, ok := <-sub.C:
			if !ok || write(ev) != nil {
				return
			}
		}
	}
}

// parseEventFilter reads a comma-separated list of event categories
// (nil: all).
func parseEventFilter(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		ok := false
		for _, k := range EventCategories {
			ok = ok || k == c
		}
		if !ok {
			return nil, fmt.Errorf("filter: unknown event category %q (want some of %s)", c, strings.Join(EventCategories, ","))
		}
		out = append(out, c)
	}
	return out, nil
}

// serveAssets serves the dashboard's files; a path that names no file
// gets index.html (the page routes itself).
func (a *API) serveAssets(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	if a.web.assets == nil {
		http.Error(w, "this node serves no dashboard", http.StatusNotFound)
		return
	}
	p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if p == "" {
		p = "index.html"
	}
	if fi, err := fs.Stat(a.web.assets, p); err != nil || fi.IsDir() {
		if strings.HasPrefix(p, "assets/") {
			http.NotFound(w, r)
			return
		}
		p = "index.html"
	}
	if strings.HasPrefix(p, "assets/") {
		// Vite names them by their content: they never change.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	b, err := fs.ReadFile(a.web.assets, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "reading the dashboard failed", http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, p, time.Time{}, bytes.NewReader(b))
}

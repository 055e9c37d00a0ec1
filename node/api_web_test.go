package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
)

// webReq is one request of a browser test: method, path, body and headers.
type webReq struct {
	method, path, body string
	headers            map[string]string
}

// do sends r to n's API and returns the status, headers and body.
func do(t *testing.T, n *Node, r webReq) (int, http.Header, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	req, err := http.NewRequest(r.method, "http://"+n.APIAddr()+r.path, strings.NewReader(r.body))
	require.NoError(t, err)
	for k, v := range r.headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	rsp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp.StatusCode, rsp.Header, string(b)
}

// login posts tok to /login and returns the session cookie and CSRF token.
func login(t *testing.T, n *Node, tok string) (cookie, csrf string) {
	t.Helper()
	b, _ := json.Marshal(loginRequest{Token: tok})
	code, h, body := do(t, n, webReq{method: "POST", path: "/login", body: string(b), headers: map[string]string{"Content-Type": "application/json"}})
	require.Equal(t, http.StatusOK, code, body)
	var si SessionInfo
	require.NoError(t, json.Unmarshal([]byte(body), &si))
	rsp := http.Response{Header: h}
	cs := rsp.Cookies()
	require.Len(t, cs, 1)
	c := cs[0]
	assert.True(t, c.HttpOnly, "the session cookie is HttpOnly")
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.NotContains(t, c.Value, tok)
	return c.Name + "=" + c.Value, si.CSRF
}

const statusRPC = `{"jsonrpc":"2.0","id":1,"method":"node.status"}`

func TestBrowserSurface(t *testing.T) {
	n := startTestNode(t, nil)
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	port := n.APIAddr()[strings.LastIndex(n.APIAddr(), ":"):]

	t.Run("other hosts are refused (DNS rebinding)", func(t *testing.T) {
		for _, path := range []string{"/", "/login", "/session", "/rpc", "/events", "/metrics", "/assets/x.js"} {
			for _, host := range []string{"evil.example" + port, "evil.example", "127.0.0.1.nip.example" + port, "localhost:1"} {
				code, h, _ := do(t, n.Node, webReq{path: path, headers: map[string]string{"Host": host, "Authorization": "Bearer " + tok}})
				assert.Equal(t, http.StatusForbidden, code, "%s with Host %s", path, host)
				assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			}
		}
		code, _, _ := do(t, n.Node, webReq{path: "/", headers: map[string]string{"Host": "localhost" + port}})
		assert.Equal(t, http.StatusOK, code)
	})
	t.Run("cross-origin requests are refused, and no CORS", func(t *testing.T) {
		for _, hdr := range []map[string]string{
			{"Origin": "http://evil.example"},
			{"Origin": "null"},
			{"Origin": "http://127.0.0.1:1"},
			{"Sec-Fetch-Site": "cross-site"},
		} {
			hdr["Authorization"] = "Bearer " + tok
			hdr["Content-Type"] = "application/json"
			code, h, _ := do(t, n.Node, webReq{method: "POST", path: "/rpc", body: statusRPC, headers: hdr})
			assert.Equal(t, http.StatusForbidden, code, "%v", hdr)
			assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
			code, _, _ = do(t, n.Node, webReq{method: "POST", path: "/login", body: `{"token":"` + tok + `"}`, headers: hdr})
			assert.Equal(t, http.StatusForbidden, code, "login from another origin: %v", hdr)
		}
		code, _, _ := do(t, n.Node, webReq{path: "/", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}})
		assert.Equal(t, http.StatusOK, code, "a link from another site opens the dashboard")
		code, _, _ = do(t, n.Node, webReq{path: "/metrics", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Authorization": "Bearer " + tok}})
		assert.Equal(t, http.StatusForbidden, code, "a fetch from another site is refused")
		code, h, _ := do(t, n.Node, webReq{method: "OPTIONS", path: "/rpc", headers: map[string]string{
			"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}})
		assert.Equal(t, http.StatusForbidden, code, "a CORS preflight is refused")
		assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
		code, h, _ = do(t, n.Node, webReq{method: "POST", path: "/rpc", body: statusRPC, headers: map[string]string{
			"Origin": "http://" + n.APIAddr(), "Authorization": "Bearer " + tok}})
		assert.Equal(t, http.StatusOK, code, "the dashboard's own origin is served")
		assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
	})
	t.Run("security headers", func(t *testing.T) {
		for _, path := range []string{"/", "/tasks", "/rpc", "/session"} {
			_, h, _ := do(t, n.Node, webReq{path: path})
			csp := h.Get("Content-Security-Policy")
			assert.Contains(t, csp, "default-src 'none'", path)
			assert.Contains(t, csp, "script-src 'self'", path)
			assert.Contains(t, csp, "frame-ancestors 'none'", path)
			assert.NotContains(t, csp, "unsafe-inline", path)
			assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
			assert.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
		}
		code, h, body := do(t, n.Node, webReq{path: "/"})
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, h.Get("Content-Type"), "text/html")
		assert.Contains(t, body, "<title>fog")
		code, _, _ = do(t, n.Node, webReq{path: "/assets/missing.js"})
		assert.Equal(t, http.StatusNotFound, code)
	})
	t.Run("login and session", func(t *testing.T) {
		code, _, _ := do(t, n.Node, webReq{method: "POST", path: "/login", body: "token=" + tok,
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
		assert.Equal(t, http.StatusUnsupportedMediaType, code, "a form post (what another site could send) is refused")
		code, _, _ = do(t, n.Node, webReq{method: "GET", path: "/login?token=" + tok})
		assert.Equal(t, http.StatusMethodNotAllowed, code, "never a token in the URL")

		cookie, csrf := login(t, n.Node, tok)
		rpc := func(hdr map[string]string) int {
			code, _, _ := do(t, n.Node, webReq{method: "POST", path: "/rpc", body: statusRPC, headers: hdr})
			return code
		}
		assert.Equal(t, http.StatusOK, rpc(map[string]string{"Cookie": cookie, CSRFHeader: csrf}))
		assert.Equal(t, http.StatusForbidden, rpc(map[string]string{"Cookie": cookie}), "no CSRF token")
		assert.Equal(t, http.StatusForbidden, rpc(map[string]string{"Cookie": cookie, CSRFHeader: strings.Repeat("0", len(csrf))}), "a wrong CSRF token")
		assert.Equal(t, http.StatusUnauthorized, rpc(map[string]string{CSRFHeader: csrf}), "no cookie")
		assert.Equal(t, http.StatusUnauthorized, rpc(map[string]string{"Cookie": cookie + "0", CSRFHeader: csrf}), "another cookie")
		code, _, _ = do(t, n.Node, webReq{path: "/metrics", headers: map[string]string{"Cookie": cookie}})
		assert.Equal(t, http.StatusOK, code, "GET needs no CSRF token")
		code, _, body := do(t, n.Node, webReq{path: "/session", headers: map[string]string{"Cookie": cookie}})
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, csrf, "a reloaded page gets its CSRF token back")
		code, _, _ = do(t, n.Node, webReq{path: "/session"})
		assert.Equal(t, http.StatusUnauthorized, code)

		code, _, _ = do(t, n.Node, webReq{method: "POST", path: "/logout", headers: map[string]string{"Cookie": cookie}})
		assert.Equal(t, http.StatusForbidden, code, "logout needs the CSRF token too")
		code, _, _ = do(t, n.Node, webReq{method: "POST", path: "/logout", headers: map[string]string{"Cookie": cookie, CSRFHeader: csrf}})
		assert.Equal(t, http.StatusNoContent, code)
		assert.Equal(t, http.StatusUnauthorized, rpc(map[string]string{"Cookie": cookie, CSRFHeader: csrf}), "the session ended")
	})
	t.Run("a new token ends the sessions", func(t *testing.T) {
		cookie, csrf := login(t, n.Node, tok)
		require.NoError(t, os.WriteFile(n.dir.Token(), []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
		code, _, _ := do(t, n.Node, webReq{method: "POST", path: "/rpc", body: statusRPC, headers: map[string]string{"Cookie": cookie, CSRFHeader: csrf}})
		assert.Equal(t, http.StatusUnauthorized, code)
	})
}

// movable is the real clock moved forward by what the test adds.
type movable struct {
	clock.Clock
	mu  sync.Mutex
	off time.Duration
}

func (m *movable) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Clock.Now().Add(m.off)
}

func (m *movable) add(d time.Duration) {
	m.mu.Lock()
	m.off += d
	m.mu.Unlock()
}

func TestLoginRateLimitAndExpiry(t *testing.T) {
	dir, cfg := initTestDir(t, nil)
	clk := &movable{Clock: clock.Real()}
	p2pc, dhtc, gc := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig()
	n, err := Start(context.Background(), cfg, Options{
		Dir: dir, P2P: &p2pc, DHT: &dhtc, Gossip: &gc, Supervisor: TestSupervisorConfig(),
		Logger: NewLogger(io.Discard, cfg.Log), Clock: clk,
	})
	require.NoError(t, err)
	defer n.Close()
	tok, err := dir.ReadToken()
	require.NoError(t, err)
	try := func(tok string) (int, http.Header) {
		b, _ := json.Marshal(loginRequest{Token: tok})
		code, h, _ := do(t, n, webReq{method: "POST", path: "/login", body: string(b), headers: map[string]string{"Content-Type": "application/json"}})
		return code, h
	}
	for i := range loginFailures {
		code, _ := try("wrong")
		require.Equal(t, http.StatusUnauthorized, code, "attempt %d", i)
	}
	code, h := try(tok)
	assert.Equal(t, http.StatusTooManyRequests, code, "even the right token waits once the client failed too often")
	assert.NotEmpty(t, h.Get("Retry-After"))
	clk.add(loginWindow)
	code, _ = try(tok)
	assert.Equal(t, http.StatusOK, code, "the window ended")

	cookie, csrf := login(t, n, tok)
	hdr := map[string]string{"Cookie": cookie, CSRFHeader: csrf}
	code, _, _ = do(t, n, webReq{method: "POST", path: "/rpc", body: statusRPC, headers: hdr})
	assert.Equal(t, http.StatusOK, code)
	clk.add(sessionTTL)
	code, _, _ = do(t, n, webReq{method: "POST", path: "/rpc", body: statusRPC, headers: hdr})
	assert.Equal(t, http.StatusUnauthorized, code, "the session expired")
}

// Sessions are bounded: the oldest goes when a login passes the bound.
func TestSessionsBounded(t *testing.T) {
	n := startTestNode(t, nil)
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	first, csrf := login(t, n.Node, tok)
	for range maxSessions {
		login(t, n.Node, tok)
	}
	code, _, _ := do(t, n.Node, webReq{method: "POST", path: "/rpc", body: statusRPC, headers: map[string]string{"Cookie": first, CSRFHeader: csrf}})
	assert.Equal(t, http.StatusUnauthorized, code)
	n.api.web.mu.Lock()
	assert.Len(t, n.api.web.sessions, maxSessions)
	n.api.web.mu.Unlock()
}

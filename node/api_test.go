package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/creachadair/jrpc2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rpcReply is one JSON-RPC reply as the tests read it.
type rpcReply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *jrpc2.Error    `json:"error"`
}

func statusCall(id int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"node.status"}`, id)
}

func batchOf(calls ...string) []byte { return []byte("[" + strings.Join(calls, ",") + "]") }

func TestAPIBatchLimits(t *testing.T) {
	const maxReply = 64 << 10
	n := startTestNode(t, func(c *Config) { c.API.MaxBatch, c.API.MaxReplyBytes = 200, maxReply })
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	auth := "Bearer " + tok

	// One status reply's size sets how many fit in the reply limit.
	rsp, one := post(t, n, auth, []byte(statusCall(1)))
	require.Equal(t, http.StatusOK, rsp.StatusCode)
	fit := maxReply / (len(one) + 1)
	require.Greater(t, fit, 2)
	require.Less(t, fit+3, 200, "the test needs a batch under max_batch that overflows the reply")

	t.Run("too many calls", func(t *testing.T) {
		calls := make([]string, 201)
		for i := range calls {
			calls[i] = statusCall(i)
		}
		rsp, body := post(t, n, auth, batchOf(calls...))
		require.Equal(t, http.StatusOK, rsp.StatusCode)
		var r rpcReply
		require.NoError(t, json.Unmarshal(body, &r), string(body))
		require.NotNil(t, r.Error)
		assert.Equal(t, jrpc2.InvalidRequest, r.Error.Code)
		assert.Contains(t, r.Error.Message, "more than 200 calls exceeds api.max_batch")
	})
	t.Run("replies past the limit", func(t *testing.T) {
		calls := make([]string, fit+3)
		for i := range calls {
			calls[i] = statusCall(i + 1)
		}
		rsp, body := post(t, n, auth, batchOf(calls...))
		require.Equal(t, http.StatusOK, rsp.StatusCode)
		assert.LessOrEqual(t, len(body), maxReply+1, "the reply stays within the limit (+ a newline)")
		var rs []rpcReply
		require.NoError(t, json.Unmarshal(body, &rs))
		require.Len(t, rs, len(calls), "every call is answered")
		ok := 0
		for i, r := range rs {
			assert.Equal(t, fmt.Sprint(i+1), string(r.ID), "replies keep the calls' order and IDs")
			if r.Error == nil {
				require.Equal(t, ok, i, "the calls that fit come first")
				ok++
				continue
			}
			assert.Equal(t, CodeTooLarge, r.Error.Code)
		}
		assert.GreaterOrEqual(t, ok, fit-1)
		assert.Less(t, ok, len(calls))
	})
	t.Run("mixed batch", func(t *testing.T) {
		body := batchOf(`1`, `{"jsonrpc":"2.0","method":"node.status"}`, statusCall(5), `[`+statusCall(6)+`]`)
		rsp, out := post(t, n, auth, body)
		require.Equal(t, http.StatusOK, rsp.StatusCode)
		var rs []rpcReply
		require.NoError(t, json.Unmarshal(out, &rs), string(out))
		require.Len(t, rs, 3, "the notification has no reply: %s", out)
		require.NotNil(t, rs[0].Error)
		assert.Equal(t, jrpc2.InvalidRequest, rs[0].Error.Code)
		assert.Nil(t, rs[1].Error)
		assert.Equal(t, "5", string(rs[1].ID))
		require.NotNil(t, rs[2].Error, "a nested batch is not run")
		assert.Equal(t, jrpc2.InvalidRequest, rs[2].Error.Code)
	})
	t.Run("notifications only", func(t *testing.T) {
		rsp, out := post(t, n, auth, batchOf(`{"jsonrpc":"2.0","method":"node.status"}`))
		assert.Equal(t, http.StatusNoContent, rsp.StatusCode)
		assert.Empty(t, out)
	})
}

func TestAPIParamNamesAreExact(t *testing.T) {
	n := startTestNode(t, nil)
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	for _, tc := range []struct {
		params string
		ok     bool
	}{
		{`{"limit":10}`, true},
		{`{"LIMIT":10}`, false},
		{`{"Limit":10}`, false},
		{`{"limit":10,"State":"done"}`, false},
		{`{}`, true},
	} {
		t.Run(tc.params, func(t *testing.T) {
			body := `{"jsonrpc":"2.0","id":1,"method":"task.list","params":` + tc.params + `}`
			_, out := post(t, n, "Bearer "+tok, []byte(body))
			var r rpcReply
			require.NoError(t, json.Unmarshal(out, &r), string(out))
			if tc.ok {
				assert.Nil(t, r.Error, string(out))
				return
			}
			require.NotNil(t, r.Error)
			assert.Equal(t, jrpc2.InvalidParams, r.Error.Code)
			assert.Contains(t, r.Error.Message, "case-sensitive")
		})
	}
}

func TestAPIHostHeader(t *testing.T) {
	n := startTestNode(t, func(c *Config) { c.API.AllowedHosts = []string{"fog.lan"} })
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	_, port, _ := strings.Cut(n.APIAddr(), ":")
	for _, tc := range []struct {
		host string
		code int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"fog.lan:" + port, http.StatusOK},
		{"fog.lan", http.StatusOK},
		{"evil.example:" + port, http.StatusForbidden},
		{"evil.example", http.StatusForbidden},
		{"localhost.evil.example:" + port, http.StatusForbidden},
		{"127.0.0.1:1", http.StatusForbidden},
	} {
		t.Run(tc.host, func(t *testing.T) {
			for _, path := range []string{"/rpc", "/metrics"} {
				req, err := http.NewRequest(http.MethodPost, "http://"+n.APIAddr()+path, strings.NewReader(statusCall(1)))
				require.NoError(t, err)
				req.Host = tc.host
				req.Header.Set("Authorization", "Bearer "+tok)
				rsp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(rsp.Body)
				rsp.Body.Close()
				assert.Equal(t, tc.code, rsp.StatusCode, "%s %s", path, body)
				if tc.code == http.StatusForbidden {
					assert.NotContains(t, string(body), "jsonrpc")
				}
			}
		})
	}
}

func TestAPITokenLostAndReplaced(t *testing.T) {
	dir, cfg := initTestDir(t, nil)
	require.NoError(t, os.Remove(dir.Token()))
	_, err := Dial(dir)
	require.ErrorIs(t, err, ErrNoToken)
	assert.Contains(t, err.Error(), "fog run")

	n := startAt(t, dir, cfg)
	fi, err := os.Stat(dir.Token())
	require.NoError(t, err, "a node started without a token creates one")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	first, err := dir.ReadToken()
	require.NoError(t, err)
	ctx := context.Background()
	call := func(tok string) int {
		rsp, _ := post(t, n, "Bearer "+tok, []byte(statusCall(1)))
		return rsp.StatusCode
	}
	require.Equal(t, http.StatusOK, call(first))

	// An operator writes a new token by hand: the running node uses it.
	second := strings.Repeat("ab", 32)
	require.NoError(t, os.WriteFile(dir.Token(), []byte(second+"\n"), 0o600))
	assert.Equal(t, http.StatusOK, call(second))
	assert.Equal(t, http.StatusUnauthorized, call(first))
	c, err := Dial(dir)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Call(ctx, "node.status", nil, nil))

	// A token replaced by rename (as `fog init` and editors write it).
	third := strings.Repeat("cd", 32)
	tmp := dir.Token() + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte(third), 0o600))
	require.NoError(t, os.Rename(tmp, dir.Token()))
	assert.Equal(t, http.StatusOK, call(third))
	assert.Equal(t, http.StatusUnauthorized, call(second))

	// A token file deleted or emptied while the node runs: the last good
	// token stays valid rather than locking everyone out.
	require.NoError(t, os.WriteFile(dir.Token(), nil, 0o600))
	assert.Equal(t, http.StatusOK, call(third))
	assert.Equal(t, http.StatusUnauthorized, call(""))
	require.NoError(t, os.Remove(dir.Token()))
	assert.Equal(t, http.StatusOK, call(third))

	// Restarting without a token makes a new one.
	require.NoError(t, n.Close())
	_, created, err := dir.EnsureToken()
	require.NoError(t, err)
	assert.True(t, created)
	_, created, err = dir.EnsureToken()
	require.NoError(t, err)
	assert.False(t, created)
}

// TestAPIBatchBody checks a batch body that is not an array of calls is
// answered as before, by the bridge's own checks.
func TestAPIBatchBody(t *testing.T) {
	n := startTestNode(t, nil)
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	for _, body := range []string{`[`, `[]`, `[1,`} {
		rsp, out := post(t, n, "Bearer "+tok, []byte(body))
		require.Equal(t, http.StatusOK, rsp.StatusCode)
		var r rpcReply
		require.NoError(t, json.Unmarshal(bytes.TrimSpace(out), &r), string(out))
		require.NotNil(t, r.Error, body)
	}
}

// serveAPI runs an API with methods on a loopback port until the test ends.
func serveAPI(t *testing.T, cfg APIConfig, methods map[string]any) (addr, token string) {
	t.Helper()
	dir := DataDir(t.TempDir())
	tok, _, err := dir.EnsureToken()
	require.NoError(t, err)
	a := newAPI(cfg, newAPIToken(dir.Token(), tok, slog.New(slog.DiscardHandler)), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	require.NoError(t, a.registerAll(methods))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	return a.Addr().String(), tok
}

func TestAPIReplyLimit(t *testing.T) {
	cfg := DefaultConfig().API
	cfg.Listen, cfg.MaxReplyBytes = "127.0.0.1:0", 64<<10
	addr, tok := serveAPI(t, cfg, map[string]any{
		"test.echo": func(_ context.Context, p struct {
			N int `json:"n"`
		}) (string, error) {
			return strings.Repeat("x", p.N), nil
		},
	})
	call := func(body string) (int, []byte) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/rpc", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		rsp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer rsp.Body.Close()
		out, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		return rsp.StatusCode, out
	}
	echo := func(id, n int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"test.echo","params":{"n":%d}}`, id, n)
	}
	for _, tc := range []struct {
		name string
		body string
		want []jrpc2.Code // per reply; 0 is a result
	}{
		{"call under", echo(1, 1000), []jrpc2.Code{0}},
		{"call over", echo(1, 70<<10), []jrpc2.Code{CodeTooLarge}},
		{"batch under", string(batchOf(echo(1, 20<<10), echo(2, 20<<10))), []jrpc2.Code{0, 0}},
		{"batch over", string(batchOf(echo(1, 40<<10), echo(2, 40<<10), echo(3, 10), echo(4, 1))), []jrpc2.Code{0, CodeTooLarge, CodeTooLarge, CodeTooLarge}},
		{"one call of a batch over", string(batchOf(echo(1, 100<<10), echo(2, 1))), []jrpc2.Code{CodeTooLarge, CodeTooLarge}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := call(tc.body)
			require.Equal(t, http.StatusOK, code)
			assert.LessOrEqual(t, len(out), 64<<10+1)
			var rs []rpcReply
			if out[0] == '{' {
				var r rpcReply
				require.NoError(t, json.Unmarshal(out, &r), string(out))
				rs = []rpcReply{r}
			} else {
				require.NoError(t, json.Unmarshal(out, &rs), string(out))
			}
			require.Len(t, rs, len(tc.want))
			for i, r := range rs {
				assert.Equal(t, fmt.Sprint(i+1), string(r.ID))
				if tc.want[i] == 0 {
					assert.Nil(t, r.Error)
					continue
				}
				require.NotNil(t, r.Error, "reply %d", i)
				assert.Equal(t, tc.want[i], r.Error.Code)
			}
		})
	}
}

func FuzzSplitBatch(f *testing.F) {
	for _, s := range []string{`[]`, `[1]`, `[{"a":1},{"b":[2]}]`, `[{"a":1}] x`, `[`, `{"id":1}`, `[[],[]]`, ` [1,2,3] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const max = 3
		calls, ok := splitBatch(body, max)
		if !ok {
			return
		}
		require.NotEmpty(t, calls)
		require.LessOrEqual(t, len(calls), max+1)
		if len(calls) <= max {
			var all []json.RawMessage
			require.NoError(t, json.Unmarshal(body, &all), "a batch split is a JSON array")
			require.Len(t, all, len(calls))
		}
	})
}

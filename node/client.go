package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/creachadair/jrpc2/jhttp"
)

// ErrUnauthorized means the daemon refused the client's token.
var ErrUnauthorized = errors.New("node: the daemon refused the API token (HTTP 401)")

// Client calls a node's JSON-RPC API. Calls may run concurrently, but a
// transport failure (daemon gone, token refused) is reported to whichever
// call returns next, so give each goroutine its own Client to tell them apart.
type Client struct {
	url string
	rpc *jrpc2.Client
	tr  *authTransport
}

// Dial returns a client for the daemon serving dir: it reads the API token
// and the address the daemon wrote at start (falling back to api.listen from
// config.toml). It does not contact the daemon.
func Dial(dir DataDir) (*Client, error) {
	if _, err := os.Stat(dir.Config()); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s missing", ErrNotInitialized, dir.Config())
	}
	tok, err := dir.ReadToken()
	if err != nil {
		return nil, err
	}
	addr := ""
	if b, err := os.ReadFile(dir.Addr()); err == nil {
		addr = strings.TrimSpace(string(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("node: read %s: %w", dir.Addr(), err)
	}
	if addr == "" {
		cfg, err := dir.LoadConfig()
		if err != nil {
			return nil, err
		}
		addr = cfg.API.Listen
	}
	return NewClient(addr, tok), nil
}

// NewClient returns a client for the API at host:port with the given token.
func NewClient(addr, token string) *Client {
	url := "http://" + addr + "/rpc"
	tr := &authTransport{token: token, http: &http.Client{Timeout: 10 * time.Minute}}
	ch := jhttp.NewChannel(url, &jhttp.ChannelOptions{Client: tr})
	return &Client{url: url, rpc: jrpc2.NewClient(ch, nil), tr: tr}
}

// Call invokes method with params (nil for none) and decodes the result into
// result (nil to discard). A daemon that is not listening gives an error
// wrapping ErrNotRunning; a refused token, ErrUnauthorized; an error the
// method returned, a *jrpc2.Error.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	rsp, err := c.rpc.Call(ctx, method, params)
	if terr := c.tr.lastError(); terr != nil {
		return terr
	}
	if err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if err := rsp.UnmarshalResult(result); err != nil {
		return fmt.Errorf("node: decode %s result: %w", method, err)
	}
	return nil
}

// Close releases the client.
func (c *Client) Close() error { return c.rpc.Close() }

// authTransport adds the bearer token and remembers transport-level failures
// that jrpc2's channel would otherwise blur.
type authTransport struct {
	token string
	http  *http.Client
	mu    sync.Mutex
	err   error
}

func (t *authTransport) Do(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+t.token)
	rsp, err := t.http.Do(req)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		t.err = fmt.Errorf("%w: nothing listens at %s", ErrNotRunning, req.URL.Host)
	case err != nil:
		t.err = fmt.Errorf("node: call %s: %w", req.URL.Host, err)
	case rsp.StatusCode == http.StatusUnauthorized:
		t.err = ErrUnauthorized
	default:
		t.err = nil
	}
	return rsp, err
}

func (t *authTransport) lastError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

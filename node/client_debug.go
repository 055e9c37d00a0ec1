package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
)

// get sends an authenticated GET of path (with its query) to the API and
// returns the response of status 200; other statuses become errors
// (ErrUnauthorized for 401).
func (c *Client) get(ctx context.Context, path string, hdr map[string]string) (*http.Response, error) {
	u := strings.TrimSuffix(c.url, "/rpc") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.tr.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rsp, err := http.DefaultClient.Do(req)
	switch {
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("%w: nothing listens at %s", ErrNotRunning, req.URL.Host)
	case err != nil:
		return nil, fmt.Errorf("node: GET %s: %w", path, err)
	}
	switch rsp.StatusCode {
	case http.StatusOK:
		return rsp, nil
	case http.StatusUnauthorized:
		rsp.Body.Close()
		return nil, ErrUnauthorized
	}
	defer rsp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(rsp.Body, 512))
	return nil, fmt.Errorf("node: GET %s: HTTP %d: %s", path, rsp.StatusCode, strings.TrimSpace(string(msg)))
}

// Profile writes the node's pprof profile name ("profile" for CPU, "heap",
// "goroutine", "trace", …) to w; seconds is the length of a CPU profile or
// trace (0 for the others).
func (c *Client) Profile(ctx context.Context, name string, seconds int, w io.Writer) error {
	path := "/debug/pprof/" + name
	if seconds > 0 {
		path += fmt.Sprintf("?seconds=%d", seconds)
	}
	rsp, err := c.get(ctx, path, nil)
	if err != nil {
		return err
	}
	defer rsp.Body.Close()
	if _, err := io.Copy(w, rsp.Body); err != nil {
		return fmt.Errorf("node: profile %s: %w", name, err)
	}
	return nil
}

package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// StreamedEvent is one event of the node's stream as a client reads it:
// its fields, and Raw, the JSON object it came as.
type StreamedEvent struct {
	Seq  uint64          `json:"seq"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data,omitempty"`
	// Raw is the event exactly as the node sent it.
	Raw json.RawMessage `json:"-"`
}

// Events reads the node's event stream (GET /events), keeping the
// categories of filter (all if it is empty), and calls fn with each event,
// the first being stream.opened, until ctx ends (it then returns nil), the
// node closes the stream or fn returns an error (returned).
func (c *Client) Events(ctx context.Context, filter []string, fn func(StreamedEvent) error) error {
	u := strings.TrimSuffix(c.url, "/rpc") + "/events"
	if len(filter) > 0 {
		u += "?filter=" + url.QueryEscape(strings.Join(filter, ","))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("node: events: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.tr.token)
	req.Header.Set("Accept", "text/event-stream")
	rsp, err := http.DefaultClient.Do(req)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: nothing listens at %s", ErrNotRunning, req.URL.Host)
	case err != nil:
		return fmt.Errorf("node: events: %w", err)
	}
	defer rsp.Body.Close()
	switch rsp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return ErrUnauthorized
	default:
		var msg [512]byte
		k, _ := rsp.Body.Read(msg[:])
		return fmt.Errorf("node: events: HTTP %d: %s", rsp.StatusCode, strings.TrimSpace(string(msg[:k])))
	}
	sc := bufio.NewScanner(rsp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue // id:, comments, the blank line between events
		}
		ev := StreamedEvent{Raw: json.RawMessage(data)}
		if err := json.Unmarshal(ev.Raw, &ev); err != nil {
			return fmt.Errorf("node: events: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("node: events: %w", err)
	}
	return nil
}

package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
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
	path := "/events"
	if len(filter) > 0 {
		path += "?filter=" + url.QueryEscape(strings.Join(filter, ","))
	}
	rsp, err := c.get(ctx, path, map[string]string{"Accept": "text/event-stream"})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer rsp.Body.Close()
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

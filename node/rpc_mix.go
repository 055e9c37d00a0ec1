package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
)

// MixSendParams are mix.send's parameters.
type MixSendParams struct {
	// To is the recipient's peer ID.
	To string `json:"to"`
	// Data is the message (JSON: base64).
	Data []byte `json:"data"`
	// Reply attaches a single-use reply block, so that the recipient can
	// answer (mix.reply) without learning who sent.
	Reply bool `json:"reply,omitempty"`
	// Wait makes the call return only once the message is acknowledged or
	// given up.
	Wait bool `json:"wait,omitempty"`
	// TTL is how long the message is retried; absent: mix.ttl.
	TTL *Duration `json:"ttl,omitempty"`
}

// MixReplyParams are mix.reply's parameters.
type MixReplyParams struct {
	// To is the ID of the received message to answer.
	To   string `json:"to"`
	Data []byte `json:"data"`
	Wait bool   `json:"wait,omitempty"`
}

// MixSendResult is what mix.send and mix.reply return.
type MixSendResult struct {
	ID string `json:"id"`
	// With wait: whether it was acknowledged, after how long, in how many
	// attempts, or why it failed.
	Acked     bool    `json:"acked,omitempty"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
	Attempts  int     `json:"attempts,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// MixInboxParams are mix.inbox's parameters.
type MixInboxParams struct {
	// After returns only messages with a greater seq.
	After uint64 `json:"after,omitempty"`
}

// MixMessage is a received message as mix.inbox returns it.
type MixMessage struct {
	Seq       uint64    `json:"seq"`
	ID        string    `json:"id"`
	Data      []byte    `json:"data"`
	At        time.Time `json:"at"`
	CanReply  bool      `json:"can_reply"`
	InReplyTo string    `json:"in_reply_to,omitempty"`
}

func (n *Node) registerMixMethods() error {
	methods := map[string]any{
		"mix.send": func(ctx context.Context, p MixSendParams) (MixSendResult, error) {
			m, err := n.mixOrErr()
			if err != nil {
				return MixSendResult{}, err
			}
			to, err := peer.Decode(p.To)
			if err != nil {
				return MixSendResult{}, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: fmt.Sprintf("to %q is not a peer ID: %v", p.To, err)}
			}
			o := mixnet.SendOptions{WantReply: p.Reply}
			if p.TTL != nil {
				if *p.TTL <= 0 {
					return MixSendResult{}, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: "ttl must be positive"}
				}
				o.Deadline = n.clk.Now().Add(time.Duration(*p.TTL))
			}
			id, err := m.Send(ctx, to, p.Data, o)
			if err != nil {
				return MixSendResult{}, mixError(err)
			}
			return n.mixResult(ctx, m, id, p.Wait)
		},
		"mix.reply": func(ctx context.Context, p MixReplyParams) (MixSendResult, error) {
			m, err := n.mixOrErr()
			if err != nil {
				return MixSendResult{}, err
			}
			to, err := parseMsgID(p.To)
			if err != nil {
				return MixSendResult{}, err
			}
			id, err := m.Reply(ctx, to, p.Data)
			if err != nil {
				return MixSendResult{}, mixError(err)
			}
			return n.mixResult(ctx, m, id, p.Wait)
		},
		"mix.inbox": func(_ context.Context, p MixInboxParams) ([]MixMessage, error) {
			m, err := n.mixOrErr()
			if err != nil {
				return nil, err
			}
			out := []MixMessage{}
			for _, r := range m.Inbox(p.After) {
				mm := MixMessage{Seq: r.Seq, ID: r.ID.String(), Data: r.Body, At: r.At, CanReply: r.CanReply}
				if r.InReplyTo != nil {
					mm.InReplyTo = r.InReplyTo.String()
				}
				out = append(out, mm)
			}
			return out, nil
		},
		"mix.status": func(context.Context) (mixsvc.Status, error) {
			m, err := n.mixOrErr()
			if err != nil {
				return mixsvc.Status{}, err
			}
			return m.Status(), nil
		},
	}
	return n.api.registerAll(methods)
}

func (n *Node) mixOrErr() (*mixsvc.Service, error) {
	if n.mix == nil {
		return nil, &jrpc2.Error{Code: CodeUnavailable, Message: "the mix is off on this node (mix.enabled = false)"}
	}
	return n.mix, nil
}

// mixResult waits for a message's outcome if asked.
func (n *Node) mixResult(ctx context.Context, m *mixsvc.Service, id mixnet.MsgID, wait bool) (MixSendResult, error) {
	res := MixSendResult{ID: id.String()}
	if !wait {
		return res, nil
	}
	r, err := m.Wait(ctx, id)
	if err != nil {
		return res, mixError(err)
	}
	if r.Err != nil {
		res.Error = r.Err.Error()
		return res, nil
	}
	res.Acked, res.LatencyMS, res.Attempts = true, float64(r.Acked.Latency)/float64(time.Millisecond), r.Acked.Attempts
	return res, nil
}

func parseMsgID(s string) (mixnet.MsgID, error) {
	var id mixnet.MsgID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: fmt.Sprintf("%q is not a message ID (32 hex digits)", s)}
	}
	copy(id[:], b)
	return id, nil
}

// mixError maps the mix's errors to RPC codes.
func mixError(err error) error {
	switch {
	case errors.Is(err, mixnet.ErrTooLarge), errors.Is(err, mixnet.ErrMalformed):
		return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: err.Error()}
	case errors.Is(err, mixnet.ErrNoReplyBlock), errors.Is(err, mixsvc.ErrUnknownMessage):
		return &jrpc2.Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, mixnet.ErrNoDirectory), errors.Is(err, mixnet.ErrNoRoute), errors.Is(err, mixnet.ErrBusy),
		errors.Is(err, mixsvc.ErrNotRunning):
		return &jrpc2.Error{Code: CodeUnavailable, Message: err.Error()}
	}
	return err
}

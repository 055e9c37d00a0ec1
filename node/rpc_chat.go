package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/chat/dm"
)

// ChatSendParams are chat.send's parameters.
type ChatSendParams struct {
	// To is a peer ID or a name ("alice", "alice#1a2b3c4d").
	To   string `json:"to"`
	Text string `json:"text"`
	// Anonymous sends through the mix.
	Anonymous bool `json:"anonymous,omitempty"`
	// Wait returns once the message is delivered, stored in the
	// recipient's mailboxes, or failed.
	Wait bool `json:"wait,omitempty"`
	// TTL is how long the message is retried; absent: a day.
	TTL *Duration `json:"ttl,omitempty"`
}

// ChatSendResult is what chat.send returns.
type ChatSendResult struct {
	ID string  `json:"id"`
	To peer.ID `json:"to"`
	// State is pending, sent, delivered, read or failed; with Wait,
	// "stored" when it waits in the recipient's mailboxes.
	State     string   `json:"state"`
	Routes    []string `json:"routes"`
	Mailboxes int      `json:"mailboxes,omitempty"`
}

// ChatMessage is a received direct message.
type ChatMessage struct {
	Seq  uint64    `json:"seq"`
	ID   string    `json:"id"`
	From peer.ID   `json:"from"`
	Name string    `json:"name"` // the sender as shown: nickname#fingerprint
	Sent time.Time `json:"sent"`
	// Received is when it arrived here (Sent is the sender's clock).
	Received time.Time `json:"received"`
	Text     string    `json:"text"`
	Route    string    `json:"route"`
	PerSeq   uint64    `json:"per_peer_seq"`
}

// ChatChannelParams name a channel, for chat.join, chat.leave,
// chat.history and chat.post.
type ChatChannelParams struct {
	Channel string `json:"channel"`
	// join: Private creates a private channel (with Members) when Creator
	// is empty, or joins Creator's private channel.
	Private bool     `json:"private,omitempty"`
	Creator string   `json:"creator,omitempty"`
	Members []string `json:"members,omitempty"`
	// post: the text.
	Text string `json:"text,omitempty"`
	// history: the most posts returned (default 100).
	Limit int `json:"limit,omitempty"`
}

// ChatPost is a channel post as chat.history returns it.
type ChatPost struct {
	ID       string    `json:"id"`
	Channel  string    `json:"channel"`
	Author   peer.ID   `json:"author"`
	Name     string    `json:"name"`
	Time     time.Time `json:"time"`
	Text     string    `json:"text"`
	Readable bool      `json:"readable"`
}

// ChatNameParams are chat.name's and chat.whois's parameters.
type ChatNameParams struct {
	Name string `json:"name"`
}

func (n *Node) registerChatMethods() error {
	methods := map[string]any{
		"chat.send": func(ctx context.Context, p ChatSendParams) (ChatSendResult, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return ChatSendResult{}, err
			}
			o := chatsvc.SendOptions{Anonymous: p.Anonymous}
			if p.TTL != nil {
				if *p.TTL <= 0 {
					return ChatSendResult{}, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: "ttl must be positive"}
				}
				o.Expiry = n.clk.Now().Add(time.Duration(*p.TTL))
			}
			id, to, err := c.Send(ctx, p.To, []byte(p.Text), o)
			if err != nil {
				return ChatSendResult{}, chatError(err)
			}
			st, _ := c.SentInfo(id)
			if p.Wait {
				if st, err = c.Wait(ctx, id, dm.Delivered, true); err != nil {
					return ChatSendResult{}, chatError(err)
				}
			}
			res := ChatSendResult{ID: hex.EncodeToString(id[:]), To: to, State: st.State.String(), Routes: st.Routes, Mailboxes: st.Mailboxes}
			if res.Routes == nil {
				res.Routes = []string{}
			}
			if p.Wait && st.State < dm.Delivered && st.Mailboxes > 0 {
				res.State = "stored"
			}
			return res, nil
		},
		"chat.inbox": func(_ context.Context, p MixInboxParams) ([]ChatMessage, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return nil, err
			}
			out := []ChatMessage{}
			for _, r := range c.Inbox(p.After) {
				out = append(out, ChatMessage{Seq: r.Seq, ID: hex.EncodeToString(r.ID[:]), From: r.From,
					Name: n.chatName(r.From), Sent: r.Sent, Received: r.At, Text: string(r.Body), Route: routeName(r.Route), PerSeq: r.Message.Seq})
			}
			return out, nil
		},
		"chat.join": func(ctx context.Context, p ChatChannelParams) (chatsvc.Joined, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return chatsvc.Joined{}, err
			}
			j := chatsvc.Joined{Name: p.Channel, Private: p.Private}
			switch {
			case p.Private && p.Creator == "":
				members := []peer.ID{n.host.ID()}
				for _, m := range p.Members {
					id, err := c.Resolve(m)
					if err != nil {
						return j, chatError(err)
					}
					members = append(members, id)
				}
				j.Creator = n.host.ID()
				return j, chatError(c.Create(ctx, p.Channel, members))
			case p.Private:
				id, err := c.Resolve(p.Creator)
				if err != nil {
					return j, chatError(err)
				}
				j.Creator = id
			}
			return j, chatError(c.Join(ctx, j))
		},
		"chat.leave": func(ctx context.Context, p ChatChannelParams) (bool, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return false, err
			}
			return true, chatError(c.Leave(ctx, p.Channel))
		},
		"chat.channels": func(ctx context.Context) ([]chatsvc.Joined, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return nil, err
			}
			js, err := c.Joined(ctx)
			if js == nil {
				js = []chatsvc.Joined{}
			}
			return js, err
		},
		"chat.post": func(ctx context.Context, p ChatChannelParams) (string, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return "", err
			}
			ch := c.Channels()
			if ch == nil {
				return "", &jrpc2.Error{Code: CodeUnavailable, Message: chatsvc.ErrNotRunning.Error()}
			}
			id, err := ch.Post(ctx, p.Channel, []byte(p.Text))
			if err != nil {
				return "", chatError(err)
			}
			return hex.EncodeToString(id[:]), nil
		},
		"chat.history": func(ctx context.Context, p ChatChannelParams) ([]ChatPost, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return nil, err
			}
			ch := c.Channels()
			if ch == nil {
				return nil, &jrpc2.Error{Code: CodeUnavailable, Message: chatsvc.ErrNotRunning.Error()}
			}
			limit := p.Limit
			if limit <= 0 {
				limit = 100
			}
			posts, err := ch.History(ctx, p.Channel, limit)
			if err != nil {
				return nil, chatError(err)
			}
			out := []ChatPost{}
			for _, q := range posts {
				out = append(out, ChatPost{ID: hex.EncodeToString(q.ID[:]), Channel: q.Channel, Author: q.Author,
					Name: n.chatName(q.Author), Time: q.Time, Text: string(q.Text), Readable: q.Readable})
			}
			return out, nil
		},
		"chat.name": func(ctx context.Context, p ChatNameParams) (chat.Entry, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return chat.Entry{}, err
			}
			e, err := c.SetNick(ctx, p.Name)
			return e, chatError(err)
		},
		"chat.whois": func(ctx context.Context, p ChatNameParams) ([]chat.Entry, error) {
			c, err := n.chatOrErr()
			if err != nil {
				return nil, err
			}
			q := p.Name
			if q == "" {
				q = n.host.ID().String()
			}
			es := c.Whois(ctx, q)
			if es == nil {
				return nil, &jrpc2.Error{Code: CodeNotFound, Message: fmt.Sprintf("no one known as %q", q)}
			}
			return es, nil
		},
	}
	return n.api.registerAll(methods)
}

func (n *Node) chatOrErr() (*chatsvc.Service, error) {
	if n.chat == nil {
		return nil, &jrpc2.Error{Code: CodeUnavailable, Message: "the chat is off on this node (chat.enabled = false)"}
	}
	return n.chat, nil
}

// chatName is how the chat shows a peer: nickname#fingerprint, or
// #fingerprint without a known claim.
func (n *Node) chatName(p peer.ID) string {
	es := n.chat.Whois(context.Background(), p.String())
	if len(es) == 1 {
		return es[0].String()
	}
	return "#" + chat.Fingerprint(p)
}

func routeName(r dm.Route) string {
	switch r {
	case dm.Direct:
		return "direct"
	case dm.Mailbox:
		return "mailbox"
	case dm.Mix:
		return "mix"
	}
	return "unknown"
}

// chatError maps the chat's errors to RPC codes.
func chatError(err error) error {
	var amb *chat.AmbiguousError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &amb):
		msg := err.Error() + "; candidates:"
		for _, c := range amb.Candidates {
			msg += " " + c.String() + " (" + c.Peer.String() + ")"
		}
		return &jrpc2.Error{Code: CodeConflict, Message: msg}
	case errors.Is(err, chat.ErrUnknown), errors.Is(err, channel.ErrNotJoined), errors.Is(err, chatsvc.ErrNoChatKey):
		return &jrpc2.Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, chat.ErrInvalidNick), errors.Is(err, dm.ErrTooLarge), errors.Is(err, channel.ErrBadName),
		errors.Is(err, channel.ErrTooLarge):
		return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: err.Error()}
	case errors.Is(err, chatsvc.ErrNoMix), errors.Is(err, chatsvc.ErrNotRunning):
		return &jrpc2.Error{Code: CodeUnavailable, Message: err.Error()}
	}
	return err
}

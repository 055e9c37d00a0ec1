package node

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/events"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
)

// Event types on the node's event stream (GET /events, `fog events`). The
// part before the dot is the category a filter names.
const (
	EventPeerConnected    = "peer.connected"    // PeerEvent
	EventPeerDisconnected = "peer.disconnected" // PeerEvent
	EventTaskState        = "task.state"        // TaskEvent
	EventRelayDirectory   = "relay.directory"   // RelayEvent
	EventDirectoryChanged = "directory.changed" // DirectoryEvent
	EventMixReceived      = "mix.received"      // MixEvent
	EventChatReceived     = "chat.received"     // ChatEvent
	EventChatState        = "chat.state"        // ChatStateEvent
	EventChatPost         = "chat.post"         // ChatPostEvent
	// EventStreamOpened is the first event of every stream, whatever its
	// filter: from then on the client misses nothing published.
	EventStreamOpened = "stream.opened" // StreamEvent
)

// PeerEvent is the data of peer.connected and peer.disconnected.
type PeerEvent struct {
	Peer string `json:"peer"`
}

// TaskEvent is the data of task.state: a task submitted on this node
// entered State.
type TaskEvent struct {
	ID    compute.TaskID `json:"id"`
	State compute.State  `json:"state"`
	Name  string         `json:"name,omitempty"`
	Error string         `json:"error,omitempty"`
}

// RelayEvent is the data of relay.directory: this node closed the relay
// directory of Epoch.
type RelayEvent struct {
	Epoch  uint64 `json:"epoch"`
	Relays int    `json:"relays"`
	Digest string `json:"digest"`
	// Won says this node holds seats in it.
	Won bool `json:"won"`
}

// DirectoryEvent is the data of directory.changed: the number of capacity
// offers in the directory changed.
type DirectoryEvent struct {
	Offers int `json:"offers"`
}

// MixEvent is the data of mix.received: a message entered the mix inbox
// (mix.inbox has its body).
type MixEvent struct {
	Seq      uint64 `json:"seq"`
	ID       string `json:"id"`
	Bytes    int    `json:"bytes"`
	CanReply bool   `json:"can_reply"`
}

// ChatEvent is the data of chat.received: a direct message entered the
// chat inbox (chat.inbox has its text).
type ChatEvent struct {
	Seq   uint64  `json:"seq"`
	ID    string  `json:"id"`
	From  peer.ID `json:"from"`
	Route string  `json:"route"`
	Bytes int     `json:"bytes"`
}

// StreamEvent is the data of stream.opened.
type StreamEvent struct {
	// Filter lists the categories the stream carries; empty: all.
	Filter []string `json:"filter"`
}

// EventCategories are the categories a stream's filter may name.
var EventCategories = []string{"peer", "task", "relay", "directory", "mix", "chat"}

// Events returns the node's event bus. With Options.NoAPI only the mix and
// the chat publish on it (the peer, task, relay and directory watchers run
// only to serve the API's stream).
func (n *Node) Events() *events.Bus { return n.events }

// mixReceived publishes a message that entered the mix inbox.
func (n *Node) mixReceived(r mixsvc.Received) {
	n.events.Publish(EventMixReceived, MixEvent{Seq: r.Seq, ID: r.ID.String(), Bytes: len(r.Body), CanReply: r.CanReply})
}

// chatReceived publishes a direct message that entered the chat inbox.
func (n *Node) chatReceived(r chatsvc.Received) {
	n.events.Publish(EventChatReceived, ChatEvent{Seq: r.Seq, ID: hex.EncodeToString(r.ID[:]), From: r.From, Route: routeName(r.Route), Bytes: len(r.Body)})
}

// ChatStateEvent is the data of chat.state: a direct message this node
// sent changed state.
type ChatStateEvent struct {
	ID    string  `json:"id"`
	To    peer.ID `json:"to"`
	State string  `json:"state"` // sent, delivered, read or failed
}

// chatState publishes a sent direct message's new state.
func (n *Node) chatState(id dm.MsgID, to peer.ID, st dm.State) {
	n.events.Publish(EventChatState, ChatStateEvent{ID: hex.EncodeToString(id[:]), To: to, State: st.String()})
}

// eventSource is the supervised service that watches the node's parts
// and publishes what changes on the event bus: peers (libp2p's
// connectedness events), tasks (compute's Changed), relay directories
// (the lottery's Closed) and the capacity directory (its Updated). The
// mix and the chat publish their own through their Received hooks.
type eventSource struct{ n *Node }

func (s *eventSource) Name() string { return "events" }

func (s *eventSource) Run(ctx context.Context, ready func()) error {
	n := s.n
	sub, err := n.host.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return err
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.tasks(ctx) })
	wg.Go(func() { s.relays(ctx) })
	wg.Go(func() { s.directory(ctx) })
	ready()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.Out():
			if !ok {
				return nil
			}
			e := ev.(event.EvtPeerConnectednessChanged)
			switch e.Connectedness {
			case network.Connected:
				n.events.Publish(EventPeerConnected, PeerEvent{Peer: e.Peer.String()})
			case network.NotConnected:
				n.events.Publish(EventPeerDisconnected, PeerEvent{Peer: e.Peer.String()})
			}
		}
	}
}

// maxWatchedTasks bounds the tasks whose states are compared at each
// change: the newest ones, which are those that change.
const maxWatchedTasks = 1000

// taskScanGap is the least time between two looks at the task list:
// compute reports every chunk of a running task's output as a change, and
// a burst of them costs one look.
const taskScanGap = 50 * time.Millisecond

// tasks publishes every state a task enters, comparing the task list at
// each change compute reports with the one before.
func (s *eventSource) tasks(ctx context.Context) {
	c := s.n.compute
	var prev map[compute.TaskID]compute.State
	for {
		changed := c.Changed()
		list, err := c.List(ctx, compute.ListFilter{Limit: maxWatchedTasks})
		if err == nil {
			cur := make(map[compute.TaskID]compute.State, len(list))
			for i := len(list) - 1; i >= 0; i-- { // oldest first
				st := list[i]
				cur[st.ID] = st.State
				if old, seen := prev[st.ID]; prev != nil && (!seen || old != st.State) {
					s.n.events.Publish(EventTaskState, TaskEvent{ID: st.ID, State: st.State, Name: st.Name, Error: st.Error})
					if st.State.Terminal() && !st.Finished.IsZero() && s.n.taskTime != nil {
						s.n.taskTime.WithLabelValues(string(st.State)).Observe(st.Finished.Sub(st.Created).Seconds())
					}
				}
			}
			prev = cur
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		gap := s.n.clk.NewTimer(taskScanGap)
		select {
		case <-ctx.Done():
			gap.Stop()
			return
		case <-gap.C():
		}
	}
}

// relays publishes each relay directory this node closes, from the
// current epoch's on.
func (s *eventSource) relays(ctx context.Context) {
	l := s.n.lottery
	e := l.Epoch()
	if _, ok := l.ClosedInfo(e); ok {
		e++
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Closed(e):
		}
		if _, ok := l.ClosedInfo(e); ok {
			ev := RelayEvent{Epoch: e}
			if d, ok := l.DirectoryInfo(e); ok {
				ev.Relays, ev.Digest = len(d.Relays), d.Digest
			}
			for _, w := range l.Status().Wins {
				if w.Epoch == e {
					ev.Won = true
				}
			}
			s.n.events.Publish(EventRelayDirectory, ev)
		}
		e = max(e+1, l.Epoch())
	}
}

// directory publishes the number of capacity offers when it changes.
func (s *eventSource) directory(ctx context.Context) {
	d := s.n.gossip.Directory()
	last := -1
	for {
		updated := d.Updated()
		if n := d.Len(); n != last {
			if last >= 0 {
				s.n.events.Publish(EventDirectoryChanged, DirectoryEvent{Offers: n})
			}
			last = n
		}
		select {
		case <-ctx.Done():
			return
		case <-updated:
		}
	}
}

// ChatPostEvent is the data of chat.post: a new post of a joined channel
// was stored here (chat.history has its text).
type ChatPostEvent struct {
	Channel string  `json:"channel"`
	ID      string  `json:"id"`
	Author  peer.ID `json:"author"`
	Bytes   int     `json:"bytes"`
	// Readable is false for a private post whose key this node lacks.
	Readable bool `json:"readable"`
	// Synced says the post came by history sync rather than gossip.
	Synced bool `json:"synced"`
}

// chatPosted publishes a new channel post.
func (n *Node) chatPosted(p channel.Post) {
	n.events.Publish(EventChatPost, ChatPostEvent{Channel: p.Channel, ID: p.ID.String(), Author: p.Author,
		Bytes: len(p.Text), Readable: p.Readable, Synced: p.Synced})
}

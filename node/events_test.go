package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/events"
)

// eventStream reads n's event stream in the background; next returns its
// events one by one, the stream's own stream.opened first.
type eventStream struct {
	ch  chan StreamedEvent
	err chan error
}

func openEvents(t *testing.T, n *testNode, filter ...string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &eventStream{ch: make(chan StreamedEvent, 1024), err: make(chan error, 1)}
	c := n.client(t)
	go func() {
		s.err <- c.Events(ctx, filter, func(ev StreamedEvent) error {
			s.ch <- ev
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-s.err)
	})
	ev := s.next(t)
	require.Equal(t, EventStreamOpened, ev.Type, "the stream opens with stream.opened")
	return s
}

// next returns the next event, failing the test if none comes within a
// bound that only limits a failure.
func (s *eventStream) next(t *testing.T) StreamedEvent {
	t.Helper()
	select {
	case ev := <-s.ch:
		return ev
	case err := <-s.err:
		s.err <- err
		t.Fatalf("the event stream ended: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no event within 60s")
	}
	return StreamedEvent{}
}

// await returns the first event of type typ for which match holds,
// skipping the others.
func (s *eventStream) await(t *testing.T, typ string, match func(json.RawMessage) bool) StreamedEvent {
	t.Helper()
	for {
		ev := s.next(t)
		if ev.Type == typ && (match == nil || match(ev.Data)) {
			return ev
		}
	}
}

func TestEventStreamPeersAndTasks(t *testing.T) {
	a := startTestNode(t, nil)
	all := openEvents(t, a)
	peers := openEvents(t, a, "peer")

	b := startTestNode(t, func(c *Config) { c.P2P.Bootstrap = []string{a.p2pAddr()} })
	isB := func(d json.RawMessage) bool {
		var p PeerEvent
		return json.Unmarshal(d, &p) == nil && p.Peer == b.Host().ID().String()
	}
	ev := peers.await(t, EventPeerConnected, isB)
	assert.False(t, ev.Time.IsZero())
	assert.Positive(t, ev.Seq)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(ev.Raw, &raw))
	assert.Contains(t, raw, "type")
	assert.Contains(t, raw, "time")

	echo, err := os.ReadFile("../compute/testdata/echo.wasm")
	require.NoError(t, err)
	var sub TaskSubmitResult
	c := a.client(t)
	require.NoError(t, c.Call(context.Background(), "task.submit", TaskSubmitParams{Module: echo, Stdin: []byte("hi")}, &sub))
	// Every state the task enters comes in order, ending with done.
	var states []compute.State
	for len(states) == 0 || !states[len(states)-1].Terminal() {
		ev := all.await(t, EventTaskState, nil)
		var te TaskEvent
		require.NoError(t, json.Unmarshal(ev.Data, &te))
		require.Equal(t, sub.ID, te.ID)
		states = append(states, te.State)
	}
	assert.Equal(t, compute.StateDone, states[len(states)-1], "states: %v", states)
	// The task's time is in the metrics, with the subsystems' counters.
	tok, err := a.dir.ReadToken()
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, "http://"+a.APIAddr()+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	rsp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	metrics, err := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(metrics), `fog_task_duration_seconds_count{outcome="done"} 1`)
	assert.Contains(t, string(metrics), `fog_tasks_total{outcome="done"} 1`)
	assert.Contains(t, string(metrics), `fog_dht_peers{dht="lan"}`)

	// The peer stream carries no task events: its next one is b leaving.
	require.NoError(t, b.Close())
	ev = peers.next(t)
	assert.Equal(t, EventPeerDisconnected, ev.Type)
	assert.True(t, isB(ev.Data))
}

func TestEventStreamChat(t *testing.T) {
	a := startTestNode(t, nil)
	b := startTestNode(t, func(c *Config) { c.P2P.Bootstrap = []string{a.p2pAddr()} })
	chats := openEvents(t, b, "chat")
	sent := openEvents(t, a, "chat")
	var r ChatSendResult
	require.NoError(t, a.client(t).Call(context.Background(), "chat.send",
		ChatSendParams{To: b.Host().ID().String(), Text: "hello b", Wait: true}, &r))
	ev := chats.await(t, EventChatReceived, nil)
	var ce ChatEvent
	require.NoError(t, json.Unmarshal(ev.Data, &ce))
	assert.Equal(t, a.Host().ID(), ce.From)
	assert.Equal(t, len("hello b"), ce.Bytes)
	assert.Equal(t, r.ID, ce.ID)
	// The sender's stream follows the message to delivered.
	for {
		ev := sent.await(t, EventChatState, nil)
		var se ChatStateEvent
		require.NoError(t, json.Unmarshal(ev.Data, &se))
		require.Equal(t, r.ID, se.ID)
		assert.Equal(t, b.Host().ID(), se.To)
		if se.State == "delivered" {
			break
		}
		require.Equal(t, "sent", se.State, "before delivered, only sent")
	}
}

func TestEventStreamChatPost(t *testing.T) {
	// Gossip that remembers messages long enough for a channel's topic.
	dir, cfg := initTestDir(t, nil)
	a := startAttackedNode(t, dir, cfg)
	dir, cfg = initTestDir(t, func(c *Config) { c.P2P.Bootstrap = []string{a.p2pAddr()} })
	b := startAttackedNode(t, dir, cfg)
	chats := openEvents(t, b, "chat")
	// A post on a channel both joined reaches b's stream, by gossip or by
	// history sync (a new neighbour in the channel).
	for _, n := range []*testNode{a, b} {
		require.NoError(t, n.client(t).Call(context.Background(), "chat.join", ChatChannelParams{Channel: "lobby"}, nil))
	}
	var id string
	require.NoError(t, a.client(t).Call(context.Background(), "chat.post", ChatChannelParams{Channel: "lobby", Text: "hi all"}, &id))
	ev := chats.await(t, EventChatPost, nil)
	var pe ChatPostEvent
	require.NoError(t, json.Unmarshal(ev.Data, &pe))
	assert.Equal(t, ChatPostEvent{Channel: "lobby", ID: id, Author: a.Host().ID(), Bytes: len("hi all"), Readable: true, Synced: pe.Synced}, pe)
}

func TestEventStreamRefusals(t *testing.T) {
	n := startTestNode(t, nil)
	get := func(path, auth string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+n.APIAddr()+path, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rsp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		rsp.Body.Close()
		return rsp.StatusCode
	}
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, get("/events", ""))
	assert.Equal(t, http.StatusUnauthorized, get("/events", "Bearer nope"))
	assert.Equal(t, http.StatusBadRequest, get("/events?filter=peer,nope", "Bearer "+tok))
	bad := NewClient(n.APIAddr(), "nope")
	defer bad.Close()
	err = bad.Events(context.Background(), nil, func(StreamedEvent) error { return nil })
	require.ErrorIs(t, err, ErrUnauthorized)

	// A client's error ends its stream and is returned.
	stop := errors.New("enough")
	err = n.client(t).Events(context.Background(), []string{"peer"}, func(ev StreamedEvent) error { return stop })
	require.ErrorIs(t, err, stop)
}

// A node that closes ends its streams (the server does not wait out its
// grace period for them).
func TestEventStreamEndsWithNode(t *testing.T) {
	n := startTestNode(t, nil)
	c := n.client(t)
	done := make(chan error, 1)
	opened := make(chan struct{})
	go func() {
		done <- c.Events(context.Background(), nil, func(ev StreamedEvent) error {
			if ev.Type == EventStreamOpened {
				close(opened)
			}
			return nil
		})
	}()
	<-opened
	require.NoError(t, n.Close())
	require.NoError(t, <-done)
	_, err := n.Events().Subscribe()
	require.ErrorIs(t, err, events.ErrClosed)
}

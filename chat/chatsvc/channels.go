package chatsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/store"
)

// The channels this node joined are stored under /self/channels, so that
// it joins them again after a restart.
var channelsKey = store.Key("self", "channels")

// Joined is a channel this node is in.
type Joined struct {
	Name    string  `json:"name"`
	Private bool    `json:"private"`
	Creator peer.ID `json:"creator,omitempty"`
}

func (s *Service) loadJoined(ctx context.Context) ([]Joined, error) {
	b, err := s.o.Store.Get(ctx, channelsKey)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var js []Joined
	if err := json.Unmarshal(b, &js); err != nil {
		return nil, fmt.Errorf("chatsvc: stored channels: %w", err)
	}
	return js, nil
}

func (s *Service) saveJoined(ctx context.Context, js []Joined) error {
	b, err := json.Marshal(js)
	if err != nil {
		return err
	}
	if err := s.o.Store.Put(ctx, channelsKey, b); err != nil {
		return err
	}
	return s.o.Store.Sync(ctx, channelsKey)
}

// rejoin joins the stored channels.
func (s *Service) rejoin(ctx context.Context) error {
	js, err := s.loadJoined(ctx)
	if err != nil {
		return err
	}
	for _, j := range js {
		if err := s.join(ctx, j); err != nil {
			s.log.Warn("rejoining a channel", "channel", j.Name, "err", err)
		}
	}
	return nil
}

func (s *Service) join(ctx context.Context, j Joined) error {
	ch := s.Channels()
	if ch == nil {
		return ErrNotRunning
	}
	if j.Private {
		if j.Creator == s.self {
			// The creator's own channel: its roster is in the store.
			return ch.JoinPrivate(ctx, j.Name, s.self)
		}
		return ch.JoinPrivate(ctx, j.Name, j.Creator)
	}
	return ch.Join(ctx, j.Name)
}

// Join joins a channel (public, or private created by creator) and
// remembers it.
func (s *Service) Join(ctx context.Context, j Joined) error {
	if err := s.join(ctx, j); err != nil {
		return err
	}
	return s.remember(ctx, j, true)
}

// Create creates a private channel with members (peers with published chat
// keys) and joins it.
func (s *Service) Create(ctx context.Context, name string, members []peer.ID) error {
	ch := s.Channels()
	if ch == nil {
		return ErrNotRunning
	}
	ms, err := s.members(ctx, members)
	if err != nil {
		return err
	}
	if err := ch.Create(ctx, name, ms); err != nil {
		return err
	}
	return s.remember(ctx, Joined{Name: name, Private: true, Creator: s.self}, true)
}

// SetMembers replaces a private channel's members (a new key epoch).
func (s *Service) SetMembers(ctx context.Context, name string, members []peer.ID) error {
	ch := s.Channels()
	if ch == nil {
		return ErrNotRunning
	}
	ms, err := s.members(ctx, members)
	if err != nil {
		return err
	}
	return ch.SetMembers(ctx, name, ms)
}

// members finds the chat keys of peers.
func (s *Service) members(ctx context.Context, ps []peer.ID) ([]channel.Member, error) {
	ms := []channel.Member{}
	for _, p := range ps {
		k, err := s.chatKey(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("chatsvc: member %s: %w", p, err)
		}
		ms = append(ms, channel.Member{Peer: p, ChatKey: k})
	}
	return ms, nil
}

// Leave leaves a channel and forgets it.
func (s *Service) Leave(ctx context.Context, name string) error {
	ch := s.Channels()
	if ch == nil {
		return ErrNotRunning
	}
	if err := ch.Leave(name); err != nil {
		return err
	}
	return s.remember(ctx, Joined{Name: name}, false)
}

// Joined lists the channels this node is in.
func (s *Service) Joined(ctx context.Context) ([]Joined, error) {
	return s.loadJoined(ctx)
}

func (s *Service) remember(ctx context.Context, j Joined, in bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	js, err := s.loadJoined(ctx)
	if err != nil {
		return err
	}
	js = slices.DeleteFunc(js, func(x Joined) bool { return x.Name == j.Name })
	if in {
		js = append(js, j)
	}
	return s.saveJoined(ctx, js)
}

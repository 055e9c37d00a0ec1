package chatsvc

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/store"
)

// The node's own chat state in the store: /self/key holds the X25519
// private key (32 bytes) followed by its signed ChatKey record.
var keyKey = store.Key("self", "key")

// loadOrCreateKeys returns the node's chat key pair, making and storing
// one (synced) the first time.
func (s *Service) loadOrCreateKeys(ctx context.Context) (dm.Keys, error) {
	b, err := s.o.Store.Get(ctx, keyKey)
	switch {
	case err == nil:
		if len(b) != 32+chat.ChatKeySize {
			return dm.Keys{}, fmt.Errorf("chatsvc: stored chat key of %d bytes", len(b))
		}
		priv, err := ecdh.X25519().NewPrivateKey(b[:32])
		if err != nil {
			return dm.Keys{}, fmt.Errorf("chatsvc: stored chat key: %w", err)
		}
		rec, err := chat.DecodeChatKey(b[32:])
		if err != nil {
			return dm.Keys{}, fmt.Errorf("chatsvc: stored chat key record: %w", err)
		}
		if err := rec.Verify(s.self); err != nil || [32]byte(priv.PublicKey().Bytes()) != rec.Public {
			return dm.Keys{}, fmt.Errorf("chatsvc: the stored chat key is not this node's")
		}
		return dm.Keys{Record: rec, Private: priv}, nil
	case !errors.Is(err, datastore.ErrNotFound):
		return dm.Keys{}, fmt.Errorf("chatsvc: read chat key: %w", err)
	}
	rec, priv, err := chat.NewChatKey(s.o.Identity, 1, s.clock.Now(), s.o.Rand)
	if err != nil {
		return dm.Keys{}, err
	}
	enc, err := rec.Encode()
	if err != nil {
		return dm.Keys{}, err
	}
	if err := s.o.Store.Put(ctx, keyKey, append(priv.Bytes(), enc...)); err != nil {
		return dm.Keys{}, fmt.Errorf("chatsvc: store chat key: %w", err)
	}
	if err := s.o.Store.Sync(ctx, keyKey); err != nil {
		return dm.Keys{}, fmt.Errorf("chatsvc: store chat key: %w", err)
	}
	return dm.Keys{Record: rec, Private: priv}, nil
}

// publishKey puts the chat key's record in the DHT.
func (s *Service) publishKey(ctx context.Context) error {
	enc, err := s.keys.Record.Encode()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	if _, err := s.o.Records.PutRecord(ctx, chat.ChatKeyRecordName, enc); err != nil {
		return fmt.Errorf("chatsvc: publish chat key: %w", err)
	}
	return nil
}

// chatKey returns p's chat key (this node's own, or from the DHT).
func (s *Service) chatKey(ctx context.Context, p peer.ID) (*ecdh.PublicKey, error) {
	var rec *chat.ChatKey
	if p == s.self {
		rec = s.Keys()
	} else {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
		defer cancel()
		r, err := s.o.Records.GetRecord(ctx, p, chat.ChatKeyRecordName)
		if err != nil {
			return nil, fmt.Errorf("no published chat key: %w", err)
		}
		if rec, err = chat.DecodeChatKey(r.Value); err != nil {
			return nil, err
		}
		if err := rec.Verify(p); err != nil {
			return nil, err
		}
	}
	if rec == nil {
		return nil, ErrNotRunning
	}
	return ecdh.X25519().NewPublicKey(rec.Public[:])
}

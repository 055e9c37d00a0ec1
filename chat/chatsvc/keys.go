package chatsvc

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/store"
)

// The node's own chat state in the store: /self/key holds the X25519
// private key (32 bytes) followed by its signed ChatKey record.
var keyKey = store.Key("self", "key")

// LoadKeys returns the node's chat key pair from ds (the node's chat
// datastore), making and storing one (synced) the first time. The node
// loads it once and gives it to the chat and the mailboxes.
func LoadKeys(ctx context.Context, ds datastore.Batching, id crypto.PrivKey, now time.Time, rnd io.Reader) (dm.Keys, error) {
	self, err := peer.IDFromPrivateKey(id)
	if err != nil {
		return dm.Keys{}, fmt.Errorf("chatsvc: identity: %w", err)
	}
	b, err := ds.Get(ctx, keyKey)
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
		if err := rec.Verify(self); err != nil || [32]byte(priv.PublicKey().Bytes()) != rec.Public {
			return dm.Keys{}, fmt.Errorf("chatsvc: the stored chat key is not this node's")
		}
		return dm.Keys{Record: rec, Private: priv}, nil
	case !errors.Is(err, datastore.ErrNotFound):
		return dm.Keys{}, fmt.Errorf("chatsvc: read chat key: %w", err)
	}
	rec, priv, err := chat.NewChatKey(id, 1, now, rnd)
	if err != nil {
		return dm.Keys{}, err
	}
	enc, err := rec.Encode()
	if err != nil {
		return dm.Keys{}, err
	}
	if err := ds.Put(ctx, keyKey, append(priv.Bytes(), enc...)); err != nil {
		return dm.Keys{}, fmt.Errorf("chatsvc: store chat key: %w", err)
	}
	if err := ds.Sync(ctx, keyKey); err != nil {
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

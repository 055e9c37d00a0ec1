package chatsvc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/store"
)

// The messages this node sent and the core still retries are stored under
// /out/<id hex> (a dm.Outgoing in JSON, synced), from Send until they are
// delivered, read or failed, so that the retrying survives a restart.

func outKey(id dm.MsgID) datastore.Key { return store.Key("out", hex.EncodeToString(id[:])) }

func (s *Service) saveOutgoing(ctx context.Context, o dm.Outgoing) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	k := outKey(o.ID)
	if err := s.o.Store.Put(ctx, k, b); err != nil {
		return err
	}
	return s.o.Store.Sync(ctx, k)
}

// settled forgets the stored record of a message that no longer needs
// retrying.
func (s *Service) settled(id dm.MsgID) {
	ctx, err := s.runCtx()
	if err != nil {
		ctx = context.Background() // Close is under way: still tidy up
	}
	if err := s.o.Store.Delete(ctx, outKey(id)); err != nil && !errors.Is(err, datastore.ErrNotFound) {
		s.log.Warn("deleting a settled message's record", "err", err)
	}
}

// loadOutgoing gives the core back the messages a previous run left
// unsettled.
func (s *Service) loadOutgoing(ctx context.Context) error {
	res, err := s.o.Store.Query(ctx, query.Query{Prefix: "/out"})
	if err != nil {
		return err
	}
	var os []dm.Outgoing
	for r := range res.Next() {
		if r.Error != nil {
			_ = res.Close()
			return r.Error
		}
		var o dm.Outgoing
		if json.Unmarshal(r.Value, &o) != nil {
			s.log.Warn("an unreadable sent message's record dropped", "key", r.Key)
			_ = s.o.Store.Delete(ctx, datastore.NewKey(r.Key))
			continue
		}
		os = append(os, o)
	}
	if err := res.Close(); err != nil {
		return err
	}
	if len(os) == 0 {
		return nil
	}
	s.mu.Lock()
	for _, o := range os {
		if s.sent[o.ID] == nil {
			s.sent[o.ID] = &Sent{ID: o.ID, To: o.To, State: o.State, At: o.Sent}
		}
	}
	eff := s.node.Restore(s.clock.Now(), os)
	s.mu.Unlock()
	s.log.Info("sent messages to retry, from the last run", "messages", len(os))
	s.apply(eff)
	return nil
}

package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fog-compute/fog/internal/clock"
)

// banPrefix is where bans live in the datastore handed to NewBanList, which
// the node roots at /p2p: the bans are /p2p/ban/<peer id> in Badger.
var banPrefix = ds.NewKey("/ban")

// Ban is one entry of the ban list.
type Ban struct {
	// Peer is the banned peer.
	Peer peer.ID `json:"peer"`
	// Reason says why, for the operator.
	Reason string `json:"reason,omitempty"`
	// Since is when the ban was made.
	Since time.Time `json:"since"`
	// Until is when the ban ends; the zero time means never.
	Until time.Time `json:"until,omitzero"`
}

// Active reports whether the ban is in force at now.
func (b Ban) Active(now time.Time) bool {
	return b.Until.IsZero() || now.Before(b.Until)
}

// BanList is a persistent set of banned peers, and the libp2p connection
// gater that enforces it. It is safe for concurrent use.
type BanList struct {
	store ds.Datastore
	now   func() time.Time

	mu        sync.RWMutex
	bans      map[peer.ID]Ban
	suspended map[peer.ID]time.Time // in memory only: until when
}

// maxSuspended bounds the suspensions kept in memory: beyond it the
// expired ones are dropped, then the one that ends first.
const maxSuspended = 4096

// NewBanList loads the bans kept in store. Every change is written and synced
// to store before the call that made it returns. Bans expire on c; nil means
// clock.Real().
func NewBanList(ctx context.Context, store ds.Datastore, c clock.Clock) (*BanList, error) {
	if c == nil {
		c = clock.Real()
	}
	bl := &BanList{store: store, now: c.Now, bans: make(map[peer.ID]Ban), suspended: make(map[peer.ID]time.Time)}
	res, err := store.Query(ctx, query.Query{Prefix: banPrefix.String()})
	if err != nil {
		return nil, fmt.Errorf("p2p: load ban list: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("p2p: load ban list: %w", r.Error)
		}
		var b Ban
		if err := json.Unmarshal(r.Value, &b); err != nil || b.Peer.Validate() != nil {
			// A record we cannot read is dropped rather than blocking start.
			continue
		}
		bl.bans[b.Peer] = b
	}
	return bl, nil
}

// Ban bans p for d (d <= 0 bans forever) and persists the ban.
func (bl *BanList) Ban(ctx context.Context, p peer.ID, reason string, d time.Duration) (Ban, error) {
	if err := p.Validate(); err != nil {
		return Ban{}, fmt.Errorf("p2p: ban: %w", err)
	}
	now := bl.now()
	b := Ban{Peer: p, Reason: reason, Since: now.UTC()}
	if d > 0 {
		b.Until = now.Add(d).UTC()
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return Ban{}, fmt.Errorf("p2p: ban: %w", err)
	}
	key := banPrefix.ChildString(p.String())
	if err := bl.store.Put(ctx, key, raw); err != nil {
		return Ban{}, fmt.Errorf("p2p: ban: %w", err)
	}
	if err := bl.store.Sync(ctx, key); err != nil {
		return Ban{}, fmt.Errorf("p2p: ban: %w", err)
	}
	bl.mu.Lock()
	bl.bans[p] = b
	bl.mu.Unlock()
	return b, nil
}

// Unban lifts the ban on p, if any.
func (bl *BanList) Unban(ctx context.Context, p peer.ID) error {
	key := banPrefix.ChildString(p.String())
	if err := bl.store.Delete(ctx, key); err != nil && !errors.Is(err, ds.ErrNotFound) {
		return fmt.Errorf("p2p: unban: %w", err)
	}
	if err := bl.store.Sync(ctx, key); err != nil {
		return fmt.Errorf("p2p: unban: %w", err)
	}
	bl.mu.Lock()
	delete(bl.bans, p)
	bl.mu.Unlock()
	return nil
}

// Suspend refuses p's connections for d, like a ban, but in memory only:
// a suspension is not listed, not persisted, and ends with the process.
// The host suspends peers that misbehave at a rate no honest peer reaches
// (Config.StreamRateStrikes). At most 4096 suspensions are kept.
func (bl *BanList) Suspend(p peer.ID, d time.Duration) {
	now := bl.now()
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if _, ok := bl.suspended[p]; !ok && len(bl.suspended) >= maxSuspended {
		var first peer.ID
		var firstEnd time.Time
		for q, until := range bl.suspended {
			if !now.Before(until) {
				delete(bl.suspended, q)
			} else if first == "" || until.Before(firstEnd) {
				first, firstEnd = q, until
			}
		}
		if len(bl.suspended) >= maxSuspended {
			delete(bl.suspended, first)
		}
	}
	bl.suspended[p] = now.Add(d)
}

// IsBanned reports whether p is banned or suspended now.
func (bl *BanList) IsBanned(p peer.ID) bool {
	now := bl.now()
	bl.mu.RLock()
	b, ok := bl.bans[p]
	until, sus := bl.suspended[p]
	bl.mu.RUnlock()
	return (ok && b.Active(now)) || (sus && now.Before(until))
}

// List returns the bans in force now.
func (bl *BanList) List() []Ban {
	now := bl.now()
	bl.mu.RLock()
	defer bl.mu.RUnlock()
	out := make([]Ban, 0, len(bl.bans))
	for _, b := range bl.bans {
		if b.Active(now) {
			out = append(out, b)
		}
	}
	return out
}

// InterceptPeerDial refuses to dial a banned peer.
func (bl *BanList) InterceptPeerDial(p peer.ID) bool { return !bl.IsBanned(p) }

// InterceptAddrDial refuses to dial a banned peer at any address.
func (bl *BanList) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !bl.IsBanned(p) }

// InterceptAccept accepts every raw connection: a peer's identity is only
// known after the handshake, where InterceptSecured decides.
func (bl *BanList) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses a connection to or from a banned peer once its
// identity is authenticated.
func (bl *BanList) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !bl.IsBanned(p)
}

// InterceptUpgraded accepts every upgraded connection (bans were checked when
// it was secured).
func (bl *BanList) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

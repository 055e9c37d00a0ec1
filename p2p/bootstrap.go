package p2p

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BootstrapPeer is the state of one bootstrap entry, as status shows it.
type BootstrapPeer struct {
	// ID is the bootstrap peer.
	ID peer.ID `json:"id"`
	// Connected reports whether the host holds a connection to it now.
	Connected bool `json:"connected"`
	// Attempts counts dials since the last success.
	Attempts int `json:"attempts"`
	// LastError is the error of the last failed dial, if the last dial
	// failed.
	LastError string `json:"last_error,omitempty"`
	// NextDial is when the next dial is due while disconnected.
	NextDial time.Time `json:"next_dial,omitzero"`
}

// Bootstrapper keeps the host connected to its bootstrap peers: it dials each
// one, backs off exponentially (with jitter) while a peer is unreachable, and
// redials as soon as a connection drops. It is safe for concurrent use.
type Bootstrapper struct {
	h       host.Host
	cfg     Config
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	state   map[peer.ID]*BootstrapPeer
	wake    map[peer.ID]chan struct{}
	connSub event.Subscription
	once    sync.Once
}

// NewBootstrapper starts keeping h connected to peers. Close stops it.
func NewBootstrapper(h host.Host, cfg Config, peers []peer.AddrInfo, log *slog.Logger) (*Bootstrapper, error) {
	if cfg.Clock == nil {
		return nil, fmt.Errorf("%w: Clock is nil", ErrConfig)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bootstrapper{
		h: h, cfg: cfg, log: log, ctx: ctx, cancel: cancel,
		state:   make(map[peer.ID]*BootstrapPeer),
		wake:    make(map[peer.ID]chan struct{}),
		connSub: sub,
	}
	for _, ai := range peers {
		if ai.ID == h.ID() {
			continue
		}
		b.state[ai.ID] = &BootstrapPeer{ID: ai.ID}
		b.wake[ai.ID] = make(chan struct{}, 1)
		h.ConnManager().Protect(ai.ID, "fog-bootstrap")
	}
	b.wg.Add(1)
	go b.watch()
	for _, ai := range peers {
		if ai.ID == h.ID() {
			continue
		}
		b.wg.Add(1)
		go b.keep(ai)
	}
	return b, nil
}

// watch turns disconnection events into wake-ups of the peer's keeper.
func (b *Bootstrapper) watch() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case e, ok := <-b.connSub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			if ch, ok := b.wake[ev.Peer]; ok && ev.Connectedness != network.Connected {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (b *Bootstrapper) keep(ai peer.AddrInfo) {
	defer b.wg.Done()
	backoff := b.cfg.BackoffMin
	for {
		if b.h.Network().Connectedness(ai.ID) != network.Connected {
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.DialTimeout)
			err := b.h.Connect(ctx, ai)
			cancel()
			if b.ctx.Err() != nil {
				return
			}
			b.mu.Lock()
			st := b.state[ai.ID]
			if err != nil {
				st.Attempts++
				st.LastError = err.Error()
				// Full jitter keeps a restarted network from dialling in lockstep.
				wait := backoff/2 + rand.N(backoff/2+1)
				st.NextDial = b.cfg.Clock.Now().Add(wait)
				attempts := st.Attempts
				b.mu.Unlock()
				b.log.Info("bootstrap peer unreachable", "peer", ai.ID, "attempt", attempts, "retry_in", wait.Round(time.Millisecond), "err", err)
				backoff = min(backoff*2, b.cfg.BackoffMax)
				t := b.cfg.Clock.NewTimer(wait)
				select {
				case <-b.ctx.Done():
					t.Stop()
					return
				case <-t.C():
				}
				continue
			}
			st.Attempts, st.LastError, st.NextDial = 0, "", time.Time{}
			b.mu.Unlock()
			b.log.Debug("connected to bootstrap peer", "peer", ai.ID)
			backoff = b.cfg.BackoffMin
		}
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake[ai.ID]:
		}
	}
}

// Peers returns the state of every bootstrap peer.
func (b *Bootstrapper) Peers() []BootstrapPeer {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BootstrapPeer, 0, len(b.state))
	for id, st := range b.state {
		s := *st
		s.Connected = b.h.Network().Connectedness(id) == network.Connected
		out = append(out, s)
	}
	return out
}

// Close stops the background dialling and waits for it. It is idempotent.
func (b *Bootstrapper) Close() error {
	b.once.Do(func() {
		b.cancel()
		b.connSub.Close()
		b.wg.Wait()
	})
	return nil
}

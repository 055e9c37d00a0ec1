package computetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// StreamAttackConfig describes raw-protocol hosts that open streams to
// their targets and never send a whole first message.
type StreamAttackConfig struct {
	// Hosts is the number of attacking hosts, each with its own identity
	// and address, linked and connected to every target.
	Hosts int
	// Streams is how many streams each host opens to each target on each
	// protocol, in each wave.
	Streams int
	// Protocols are the protocols attacked, with the bytes sent on half of
	// the streams: the start of a first message that never ends (nil: only
	// the protocol's negotiation). The other half send nothing more than
	// the negotiation.
	Protocols map[protocol.ID][]byte
	// Waves bounds the waves. In a wave a host opens all its streams,
	// then waits until its targets have ended every one (refused it, reset
	// it, closed it) before the next wave: an attacker that reopens what
	// the target drops, at the target's pace.
	Waves int
}

// StreamAttackStats are an attack's counters, as its hosts see them.
type StreamAttackStats struct {
	// Opened counts streams opened; Ended those the targets ended; Open
	// is the streams open now.
	Opened, Ended, Open int64
	// Waves counts the waves begun.
	Waves int64
}

// StreamAttack is a running attack of StreamAttackConfig's hosts.
type StreamAttack struct {
	// Hosts are the attacking hosts.
	Hosts []host.Host

	cfg                  StreamAttackConfig
	opened, ended, waves atomic.Int64
	ctx                  context.Context // cancelled by Close: every stream is reset
	cancel               context.CancelFunc
	stop                 chan struct{} // closed by Stop: no new wave
	stopOnce, closeOnce  sync.Once
	startOnce            sync.Once
	wg                   sync.WaitGroup
}

// AddStreamAttack adds cfg.Hosts hosts to the network, connects each to
// every target, and returns the attack, not yet started.
func (nw *Network) AddStreamAttack(ctx context.Context, targets []*Node, cfg StreamAttackConfig) (*StreamAttack, error) {
	if cfg.Hosts < 1 || cfg.Streams < 1 || cfg.Waves < 1 || len(cfg.Protocols) == 0 {
		return nil, errors.New("computetest: a stream attack needs hosts, streams, waves and protocols")
	}
	actx, cancel := context.WithCancel(context.Background())
	a := &StreamAttack{cfg: cfg, ctx: actx, cancel: cancel, stop: make(chan struct{})}
	nw.mu.Lock()
	nw.attacks = append(nw.attacks, a)
	nw.mu.Unlock()
	for range cfg.Hosts {
		h, _, err := nw.Gossip.AddHost()
		if err != nil {
			return nil, err
		}
		for _, n := range targets {
			if err := nw.Gossip.Connect(ctx, h, n.Host); err != nil {
				return nil, err
			}
		}
		a.Hosts = append(a.Hosts, h)
	}
	return a, nil
}

// Start starts the waves against targets.
func (a *StreamAttack) Start(targets []peer.ID) {
	a.startOnce.Do(func() {
		for _, h := range a.Hosts {
			a.wg.Go(func() { a.run(h, targets) })
		}
	})
}

// Stats returns the attack's counters.
func (a *StreamAttack) Stats() StreamAttackStats {
	o, e := a.opened.Load(), a.ended.Load()
	return StreamAttackStats{Opened: o, Ended: e, Open: o - e, Waves: a.waves.Load()}
}

// Stop starts no new wave and waits until the targets have ended every
// stream of the current one.
func (a *StreamAttack) Stop() {
	a.stopOnce.Do(func() { close(a.stop) })
	a.wg.Wait()
}

// Close resets every stream and waits for the attack to end.
func (a *StreamAttack) Close() {
	a.closeOnce.Do(func() {
		a.stopOnce.Do(func() { close(a.stop) })
		a.cancel()
		a.wg.Wait()
	})
}

// run is one host's waves.
func (a *StreamAttack) run(h host.Host, targets []peer.ID) {
	for range a.cfg.Waves {
		select {
		case <-a.stop:
			return
		case <-a.ctx.Done():
			return
		default:
		}
		a.waves.Add(1)
		var wg sync.WaitGroup
		for _, t := range targets {
			for pid, partial := range a.cfg.Protocols {
				for i := range a.cfg.Streams {
					var first []byte
					if i%2 == 1 {
						first = partial
					}
					wg.Go(func() { a.hold(h, t, pid, first) })
				}
			}
		}
		wg.Wait()
	}
}

// hold opens one stream, sends first (or only the negotiation), and reads
// until the target ends the stream.
func (a *StreamAttack) hold(h host.Host, t peer.ID, pid protocol.ID, first []byte) {
	st, err := h.NewStream(a.ctx, t, pid)
	if err != nil {
		return
	}
	a.opened.Add(1)
	defer a.ended.Add(1)
	stop := context.AfterFunc(a.ctx, func() { _ = st.Reset() })
	defer stop()
	// An empty write flushes the protocol's negotiation, so that the
	// target's handler runs.
	if _, err := st.Write(first); err != nil {
		_ = st.Reset()
		return
	}
	_, _ = io.Copy(io.Discard, st)
	_ = st.Reset()
}

// String describes the attack.
func (a *StreamAttack) String() string {
	return fmt.Sprintf("%d hosts × %d streams × %d protocols, %d waves", a.cfg.Hosts, a.cfg.Streams, len(a.cfg.Protocols), a.cfg.Waves)
}

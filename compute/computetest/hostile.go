package computetest

import (
	"bufio"
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/gossip"
)

// HostileConfig describes a raw-protocol provider.
type HostileConfig struct {
	// Cores and Price are what it advertises.
	Cores uint32
	Price uint64
	// Answer returns the result to send (the provider signs it) for a
	// submitted task; nil refuses the task as busy.
	Answer func(m *wire.SubmitMsg) *wire.ResultMsg
	// Preface returns raw frames to write, verbatim, between its Accept and
	// its result (such as Output messages, or malformed ones); nil writes
	// none.
	Preface func(m *wire.SubmitMsg) [][]byte
}

// Hostile is a provider that speaks the task protocol directly instead of
// running tasks: it advertises capacity like an honest node (real gossip,
// real adverts) and answers every submitted task with whatever
// HostileConfig.Answer says, validly signed with its own key. Tests use it
// as a lying provider.
type Hostile struct {
	Host   host.Host
	Key    crypto.PrivKey
	Gossip *gossip.Gossip

	submits atomic.Int64
	cfg     HostileConfig
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	mu      sync.Mutex
	closed  bool
}

// Submits returns how many tasks it was offered.
func (h *Hostile) Submits() int64 { return h.submits.Load() }

// ID returns its peer ID.
func (h *Hostile) ID() peer.ID { return h.Host.ID() }

// AddHostile adds a hostile provider to the network, connected to every
// node, and waits until every node's directory lists it.
func (nw *Network) AddHostile(ctx context.Context, cfg HostileConfig) (*Hostile, error) {
	h, k, err := nw.Gossip.AddHost()
	if err != nil {
		return nil, err
	}
	gcfg := nw.cfg.Gossip
	if gcfg.Heartbeat == 0 {
		gcfg = gossip.TestConfig()
	}
	g, err := gossip.New(ctx, h, gcfg, gossip.Options{Latency: h.Peerstore().LatencyEWMA})
	if err != nil {
		return nil, fmt.Errorf("computetest: hostile gossip: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	hs := &Hostile{Host: h, Key: k, Gossip: g, cfg: cfg, cancel: cancel}
	nw.mu.Lock()
	nw.hostiles = append(nw.hostiles, hs)
	nw.mu.Unlock()
	for _, n := range nw.Nodes {
		if n.isDown() {
			continue
		}
		if err := nw.Gossip.Connect(ctx, h, n.Host); err != nil {
			return nil, err
		}
	}
	// A raw-protocol host: none of an honest node's limits.
	for _, id := range wire.Protocol.IDs() {
		h.SetStreamHandler(id, hs.handle)
	}
	adv := gossip.NewAdvertiser(g, gossip.StaticCapacity{
		Cores: cfg.Cores, Memory: 1 << 32, Price: cfg.Price, Runtimes: []string{gossip.RuntimeWasm},
	})
	hs.wg.Go(func() { _ = adv.Run(runCtx, func() {}) })
	return hs, nw.WaitDirectory(ctx)
}

func (h *Hostile) handle(st network.Stream) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = st.Reset()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	defer st.Close()
	m, err := wire.ReadMessage(bufio.NewReader(st), 1<<20)
	if err != nil {
		_ = st.Reset()
		return
	}
	sub, ok := m.(*wire.SubmitMsg)
	if !ok {
		_ = wire.WriteMessage(st, &wire.RefuseMsg{Code: wire.RefuseUnknown, Reason: "hostile: I only lie"})
		return
	}
	h.submits.Add(1)
	res := h.cfg.Answer(sub)
	if res == nil {
		_ = wire.WriteMessage(st, &wire.RefuseMsg{Code: wire.RefuseBusy, Reason: "hostile: busy"})
		return
	}
	if err := res.Sign(h.Key, sub.TaskID, st.Conn().RemotePeer()); err != nil {
		_ = st.Reset()
		return
	}
	if wire.WriteMessage(st, &wire.AcceptMsg{}) != nil {
		return
	}
	if h.cfg.Preface != nil {
		for _, b := range h.cfg.Preface(sub) {
			if _, err := st.Write(b); err != nil {
				return
			}
		}
	}
	_ = wire.WriteMessage(st, res)
}

// close stops the hostile provider.
func (h *Hostile) close() error {
	var err error
	h.once.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		wire.Protocol.Unhandle(h.Host)
		h.cancel()
		h.wg.Wait()
		err = h.Gossip.Close()
	})
	return err
}

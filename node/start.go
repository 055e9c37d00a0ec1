package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/chat/mailbox"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/lottery/lotterysvc"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/web"
)

// startStep is one step of Start. A step either succeeds, having recorded
// with starter.onClose how to release what it acquired, or fails having
// released its own partial work; Start then closes the earlier steps'
// acquisitions, once, in reverse order (Node.Close).
type startStep struct {
	name string
	run  func(context.Context) error
}

// starter carries what Start's steps share: the inputs and what one step
// derives for a later one.
type starter struct {
	n    *Node
	cfg  Config
	opts Options
	sc   SupervisorConfig
	priv crypto.PrivKey

	wc   wasm.Config
	bc   blob.Config
	cc   compute.Config
	bans *p2p.BanList
	pcfg p2p.Config
}

// steps lists Start's steps in dependency order.
func (s *starter) steps() []startStep {
	return []startStep{
		{"store", s.openStore},
		{"host", s.startHost},
		{"dht", s.startDHT},
		{"supervisor", s.startSupervisor},
		{"gossip", s.startGossip},
		{"token", s.startLedger},
		{"relay", s.startRelay},
		{"mix", s.startMix},
		{"chat", s.startChat},
		{"executor", s.startExecutor},
		{"blob", s.startBlob},
		{"compute", s.startCompute},
		{"files", s.startFiles},
		{"advertiser", s.startAdvertiser},
		{"events", s.startEvents},
		{"api", s.startAPI},
	}
}

// onClose records how to release what a step acquired; Node.Close runs the
// records backwards.
func (s *starter) onClose(f func() error) { s.n.closers = append(s.n.closers, f) }

// openStore opens the Badger store (or takes the caller's, which it does
// not close) and the ban list kept in it.
func (s *starter) openStore(ctx context.Context) error {
	n, opts := s.n, s.opts
	if opts.Store != nil {
		n.store = opts.Store
	} else {
		db, err := store.Open(storeConfig(s.cfg, opts.Dir, opts.InMemory, n.log, n.clk))
		if err != nil {
			switch {
			case errors.Is(err, store.ErrLocked):
				return fmt.Errorf("node: %s is in use by another fog process: %w", opts.Dir, err)
			case errors.Is(err, store.ErrCorrupt):
				return fmt.Errorf("node: not starting: %w; nothing was changed: run `fog repair --path %s` (see docs/store.md)", err, opts.Dir)
			}
			return err
		}
		n.store = db
		s.onClose(db.Close)
	}
	bans, err := p2p.NewBanList(ctx, n.store.Datastore(store.PrefixP2P), n.clk)
	if err != nil {
		return err
	}
	s.bans = bans
	return nil
}

// startHost builds the libp2p host (or wraps the one Options.NewHost makes).
func (s *starter) startHost(ctx context.Context) error {
	n, opts := s.n, s.opts
	base := p2p.DefaultConfig()
	if opts.P2P != nil {
		base = *opts.P2P
	}
	s.pcfg = s.cfg.p2pConfig(base)
	s.pcfg.Clock = n.clk
	if s.pcfg.UserAgent == p2p.DefaultConfig().UserAgent {
		s.pcfg.UserAgent = AgentVersion()
	}
	s.pcfg.Protocols = append(s.pcfg.Protocols, protocolLimits(s.pcfg, s.bc, s.cc)...)
	s.pcfg.Protocols = append(s.pcfg.Protocols, filesProtocolLimits(s.cfg)...)
	popts := p2p.Options{Identity: s.priv, Bans: s.bans, Registerer: n.registerer(), Logger: n.log.With("subsystem", "p2p")}
	if opts.NewHost != nil {
		h, err := opts.NewHost(s.priv)
		if err != nil {
			return fmt.Errorf("node: host: %w", err)
		}
		if n.host, err = p2p.Attach(h, s.pcfg, popts); err != nil {
			h.Close()
			return err
		}
	} else {
		h, err := p2p.New(ctx, s.pcfg, popts)
		if err != nil {
			return err
		}
		n.host = h
	}
	s.onClose(n.host.Close)
	return nil
}

// startDHT builds the Kademlia DHTs on the host.
func (s *starter) startDHT(ctx context.Context) error {
	n := s.n
	boot, _ := p2p.ParseBootstrap(s.pcfg.Bootstrap)
	base := dht.DefaultConfig()
	if s.opts.DHT != nil {
		base = *s.opts.DHT
	}
	d, err := dht.New(ctx, s.cfg.dhtConfig(base), dht.Options{
		Host:      n.host,
		Identity:  s.priv,
		Datastore: n.store.Datastore(store.PrefixDHT),
		Bootstrap: boot,
		Logger:    n.log.With("subsystem", "dht"),
		Clock:     n.clk,
	})
	if err != nil {
		return err
	}
	n.dht = d
	s.onClose(d.Close)
	return nil
}

// startSupervisor builds the supervisor, which Close stops before it
// releases anything, and starts the DHT under it.
func (s *starter) startSupervisor(ctx context.Context) error {
	n := s.n
	n.sup = newSupervisor(s.sc, n.log.With("subsystem", "supervisor"))
	n.sup.addCore("store", n.storeHealth)
	n.sup.addCore("host", n.hostHealth)
	n.sup.addCore("bootstrap", n.bootstrapHealth)
	if err := n.register(n.metrics()...); err != nil {
		return err
	}
	return n.sup.start(ctx, n.dht)
}

// startGossip joins gossipsub and the capacity topic.
func (s *starter) startGossip(ctx context.Context) error {
	n := s.n
	base := gossip.DefaultConfig()
	if s.opts.Gossip != nil {
		base = *s.opts.Gossip
	}
	g, err := gossip.New(ctx, n.host, s.cfg.gossipConfig(base), gossip.Options{
		Logger:  n.log.With("subsystem", "gossip"),
		Latency: n.host.Peerstore().LatencyEWMA,
		Version: Version,
		Clock:   n.clk,
	})
	if err != nil {
		if errors.Is(err, gossip.ErrConfig) {
			return fmt.Errorf("%w: gossip: %v (check gossip.advert_interval)", ErrConfig, err)
		}
		return err
	}
	n.gossip = g
	s.onClose(g.Close)
	n.sup.addCore("gossip", g.Health)
	return nil
}

// startRelay starts the relay lottery service under the supervisor.
func (s *starter) startRelay(ctx context.Context) error {
	n := s.n
	rcfg := lottery.DefaultServiceConfig()
	if s.opts.Relay != nil {
		rcfg = *s.opts.Relay
	} else {
		var err error
		if rcfg, err = s.cfg.relayConfig(rcfg); err != nil {
			return err
		}
	}
	// With the ledger, the DAO's lottery.epoch_length changes the
	// lottery's epochs (lotteryepochs.go); the stake oracle, the
	// service and its status all read them through rcfg.Epochs.
	if n.ledger != nil && n.dao != nil && rcfg.Epochs == nil {
		rcfg.Epochs = newDAOEpochs(rcfg.Config, ledgerSource{n.ledger, n.dao}, n.clk)
	}
	// With the ledger, stake weighs the candidates and the DAO sets the
	// target relay count (stakeoracle.go); a fixed relay.candidates list
	// still wins, as the operator's explicit choice.
	var stake lottery.StakeOracle
	if n.ledger != nil && len(rcfg.Candidates) == 0 {
		n.stakeOracle = newLedgerStake(rcfg.Config, ledgerSource{n.ledger, n.dao}, n.clk)
		stake = n.stakeOracle
	}
	l, err := lotterysvc.New(rcfg, lotterysvc.Options{
		Gossip: n.gossip, Store: n.store.Datastore(store.PrefixMix), Identity: s.priv,
		Logger: n.log.With("subsystem", "lottery"), Clock: n.clk, Stake: stake,
	})
	if err != nil {
		return err
	}
	n.lottery = l
	return n.sup.start(ctx, l)
}

// startMix starts the mix service under the supervisor, unless [mix] is
// off.
func (s *starter) startMix(ctx context.Context) error {
	n := s.n
	var mc mixsvc.Config
	switch {
	case s.opts.Mix != nil:
		mc = *s.opts.Mix
	case !s.cfg.Mix.Enabled:
		return nil
	default:
		mc = s.cfg.mixConfig(mixsvc.DefaultConfig(), n.lottery.Config().Layers)
	}
	m, err := mixsvc.New(mc, mixsvc.Options{
		Host: n.host, Identity: s.priv, Lottery: n.lottery, Store: n.store.Datastore(store.PrefixMix),
		Clock: s.opts.clock(), Logger: n.log.With("subsystem", "mix"), Observe: s.opts.MixObserve,
		Received: n.mixReceived,
	})
	if err != nil {
		return err
	}
	n.mix = m
	return n.sup.start(ctx, m)
}

// startChat starts the mailboxes and the chat under the supervisor, unless
// [chat] is off.
func (s *starter) startChat(ctx context.Context) error {
	n := s.n
	if !s.cfg.Chat.Enabled {
		return nil
	}
	base := chatsvc.DefaultConfig()
	if s.opts.Chat != nil {
		base = *s.opts.Chat
	}
	mbase := mailbox.DefaultConfig()
	clk := s.opts.clock()
	mbase.Clock = clk
	cc, mc := s.cfg.chatConfig(base, mbase)
	ds := n.store.Datastore(store.PrefixChat)
	keys, err := chatsvc.LoadKeys(ctx, ds, s.priv, clk.Now(), rand.Reader)
	if err != nil {
		return err
	}
	mb, err := mailbox.New(ctx, mc, mailbox.Options{
		Host: n.host, Identity: s.priv, ChatKey: keys.Private, Datastore: ds, Router: n.dht,
		Logger: n.log.With("subsystem", "mailbox"),
	})
	if err != nil {
		return err
	}
	n.mailbox = mb
	s.onClose(mb.Close)
	if err := n.sup.start(ctx, mb); err != nil {
		return err
	}
	o := chatsvc.Options{
		Host: n.host, Identity: s.priv, Records: n.dht, Gossip: n.gossip, Store: ds, Space: n.store.CheckSpace, Mailboxes: mb,
		Keys: &keys, Clock: clk, Logger: n.log.With("subsystem", "chat"), Received: n.chatReceived, StateChanged: n.chatState,
		Posted: n.chatPosted,
	}
	if n.mix != nil {
		o.Mix = n.mix
	}
	c, err := chatsvc.New(cc, o)
	if err != nil {
		return err
	}
	n.chat = c
	return n.sup.start(ctx, c)
}

// startExecutor builds the WebAssembly executor.
func (s *starter) startExecutor(ctx context.Context) error {
	e, err := wasm.New(ctx, s.wc)
	if err != nil {
		return err
	}
	s.n.exec = e
	s.onClose(e.Close)
	return nil
}

// startBlob starts the module store under the supervisor.
func (s *starter) startBlob(ctx context.Context) error {
	n := s.n
	b, err := blob.New(s.bc, blob.Options{Host: n.host, Providers: n.dht, Logger: n.log.With("subsystem", "blob")})
	if err != nil {
		return err
	}
	n.blob = b
	s.onClose(b.Close)
	return n.sup.start(ctx, b)
}

// startCompute starts the task service under the supervisor.
func (s *starter) startCompute(ctx context.Context) error {
	n := s.n
	var pay compute.Payments
	if n.ledger != nil {
		p, err := newPayments(n.ledger, n.host, n.clk, n.log.With("subsystem", "payments"))
		if err != nil {
			return err
		}
		p.dao = n.dao
		s.onClose(p.Close)
		if err := n.sup.start(ctx, p); err != nil {
			return err
		}
		pay = p
	} else if s.cc.RequirePayment {
		return fmt.Errorf("%w: compute.require_payment needs the ledger: token.genesis names no genesis file (or token.enabled is off)", ErrConfig)
	}
	c, err := compute.New(ctx, s.cc, compute.Options{
		Host: n.host, DB: n.store, Directory: n.gossip.Directory(),
		Blob: n.blob, Executor: n.exec, Key: s.priv, Seed: s.opts.Seed, Payments: pay,
	})
	if err != nil {
		return err
	}
	n.compute = c
	s.onClose(c.Close)
	return n.sup.start(ctx, c)
}

// startAdvertiser advertises the node's capacity, if it offers compute.
func (s *starter) startAdvertiser(ctx context.Context) error {
	if !s.cfg.Compute.Offer {
		return nil
	}
	n := s.n
	offer := &capacity{cfg: s.cfg.Compute, dir: s.opts.Dir, load: n.compute.Load}
	return n.sup.start(ctx, gossip.NewAdvertiser(n.gossip, offer))
}

// startAPI serves the JSON-RPC API, unless Options.NoAPI.
func (s *starter) startAPI(ctx context.Context) error {
	if s.opts.NoAPI {
		return nil
	}
	n, dir := s.n, s.opts.Dir
	tok, created, err := dir.EnsureToken()
	if err != nil {
		return err
	}
	alog := n.log.With("subsystem", "api")
	if created {
		alog.Warn("api token was missing: created a new one", "path", dir.Token())
	}
	n.api = newAPI(s.cfg.API, newAPIToken(dir.Token(), tok, alog), n.reg, alog)
	n.api.onBound = n.writeAddr
	n.api.web = newWebUI(n.clk, n.events, web.Assets())
	for _, reg := range []func() error{n.registerNodeMethods, n.registerDHTMethods, n.registerGossipMethods, n.registerTaskMethods, n.registerRelayMethods, n.registerMixMethods, n.registerChatMethods, n.registerWalletMethods, n.registerStakeMethods, n.registerDAOMethods, n.registerFilesMethods, n.registerAdminMethods} {
		if err := reg(); err != nil {
			return err
		}
	}
	return n.sup.start(ctx, n.api)
}

// startEvents registers the subsystems' metrics, now that they all run,
// and, unless there is no API to stream them (Options.NoAPI), publishes the
// node's events (peers, tasks, relays, the capacity directory) on its event
// bus, under the supervisor.
func (s *starter) startEvents(ctx context.Context) error {
	n := s.n
	if err := n.registerSubsystems(); err != nil {
		return err
	}
	if s.opts.NoAPI {
		return nil // no one to stream the events to (the simulator's nodes)
	}
	return s.n.sup.start(ctx, &eventSource{n: s.n})
}

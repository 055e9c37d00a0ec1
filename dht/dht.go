package dht

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/dual"
	kb "github.com/libp2p/go-libp2p-kbucket"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	mh "github.com/multiformats/go-multihash"

	"github.com/fog-compute/fog/internal/clock"
)

// ProtocolPrefix is the prefix of fog's DHT protocols: /fog/kad/1.0.0 for
// the WAN DHT and /fog/lan/kad/1.0.0 for the LAN one.
const ProtocolPrefix = "/fog"

// The protocols of the two DHTs.
const (
	// WANProtocol is the protocol of the WAN DHT, whose routing table holds
	// peers with public addresses.
	WANProtocol protocol.ID = ProtocolPrefix + "/kad/1.0.0"
	// LANProtocol is the protocol of the LAN DHT, whose routing table holds
	// peers reached over a private network or loopback.
	LANProtocol protocol.ID = ProtocolPrefix + dual.LanExtension + "/kad/1.0.0"
)

// Snapshot keys of the routing tables in the DHT's datastore (the node roots
// it at /dht). legacySnapshotKey held the single table of fog before the LAN
// DHT; it is read once if neither of the others exists.
var (
	wanSnapshotKey    = ds.NewKey("/rt/wan")
	lanSnapshotKey    = ds.NewKey("/rt/lan")
	legacySnapshotKey = ds.NewKey("/rt/snapshot")
)

// ErrNotFound is returned when a lookup finds nothing.
var ErrNotFound = routing.ErrNotFound

// DHT is a node's pair of Kademlia DHTs, go-libp2p-kad-dht's dual DHT as in
// kubo: a WAN DHT (/fog/kad/1.0.0) among publicly reachable peers and a LAN
// DHT (/fog/lan/kad/1.0.0) among peers on the same private network or
// machine, so that nodes of one LAN find each other's records with no
// setting. Both keep their records and provider records in the node's store
// (the same datastore, as in kubo: a node answers a lookup on either DHT with
// every record it holds) and check them with fog's validator; each routing
// table is saved to the store and restored at start, and refreshed
// periodically. Lookups ask both DHTs; publications go to each DHT that has
// peers. It is safe for concurrent use.
type DHT struct {
	cfg    Config
	dual   *dual.DHT
	wan    *table
	lan    *table
	tables []*table // wan, lan
	h      host.Host
	priv   crypto.PrivKey
	ds     ds.Batching
	log    *slog.Logger
	clk    clock.Clock

	mu     sync.Mutex
	putSeq map[string]uint64 // highest seq this node published per name

	stats lookupStats

	closeOnce sync.Once
	closeErr  error
}

// table is one of the two DHTs with its refresh and snapshot bookkeeping.
type table struct {
	name     string // "wan" or "lan"
	kad      *kaddht.IpfsDHT
	protocol protocol.ID
	snapshot ds.Key
	// admits is the DHT's routing table filter: whether a connected peer
	// belongs in this table.
	admits kaddht.RouteTableFilterFunc

	// guarded by DHT.mu
	lastRefresh time.Time
	refreshErr  error
	refreshes   int
	restored    int
}

// Options are New's collaborators.
type Options struct {
	// Host is the node's libp2p host. Required.
	Host host.Host
	// Identity signs the node's records. Required.
	Identity crypto.PrivKey
	// Datastore keeps records, provider records and the routing table
	// snapshots; the node passes its Badger store rooted at /dht. Required.
	Datastore ds.Batching
	// Bootstrap are peers to (re)join through when a routing table is
	// empty.
	Bootstrap []peer.AddrInfo
	// Logger receives the DHT's logs; nil discards them.
	Logger *slog.Logger
	// Clock times the refreshes, the snapshots and the lookups' durations;
	// nil means clock.Real(). go-libp2p-kad-dht's own timers (query
	// timeouts, record expiry) stay on the time package.
	Clock clock.Clock
}

// modes maps Config.Mode to the modes of the WAN and LAN DHTs.
var modes = map[string]struct{ wan, lan kaddht.ModeOpt }{
	// serve the WAN DHT only while AutoNAT says this node is publicly
	// reachable; a LAN peer can always reach us, so serve the LAN DHT
	ModeAuto:   {kaddht.ModeAuto, kaddht.ModeServer},
	ModeServer: {kaddht.ModeServer, kaddht.ModeServer},
	ModeClient: {kaddht.ModeClient, kaddht.ModeClient},
}

// lanAddrs is the LAN DHT's address filter: the addresses it gives out and
// takes in for a peer. kubo's drops every loopback address, which leaves a
// node listening on loopback only (a devnet, several nodes on one machine)
// with no address at all: its provider records are refused and peers learnt
// through it cannot be dialled. fog drops loopback addresses only when the
// peer has others: one with nothing else is reachable from its own machine
// alone, and a peer elsewhere that dials such an address reaches no one or a
// node with another identity, which the security handshake refuses.
func lanAddrs(addrs []ma.Multiaddr) []ma.Multiaddr {
	other := ma.FilterAddrs(addrs, func(a ma.Multiaddr) bool { return !manet.IsIPLoopback(a) })
	if len(other) > 0 {
		return other
	}
	return addrs
}

// publicAddrs keeps the public addresses, as the WAN DHT does.
func publicAddrs(addrs []ma.Multiaddr) []ma.Multiaddr {
	return ma.FilterAddrs(addrs, manet.IsPublicAddr)
}

// New starts both DHTs on the host and restores the routing tables saved by
// a previous run: the LAN table's peers are put back at once; the WAN
// table's diversity filter (against one party filling it from one network)
// admits only connected peers, so its saved peers join the bootstrap peers
// the WAN DHT dials while its table is empty. Refreshes and snapshots run in
// Run.
func New(ctx context.Context, cfg Config, o Options) (*DHT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Host == nil || o.Identity == nil || o.Datastore == nil {
		return nil, fmt.Errorf("%w: host, identity and datastore are required", ErrConfig)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	saved, err := loadSnapshots(ctx, o.Datastore, o.Host.ID())
	if err != nil {
		log.Warn("routing table snapshot unreadable; starting empty", "err", err)
	}
	for _, ps := range saved {
		for _, ai := range ps {
			o.Host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.RecentlyConnectedAddrTTL)
		}
	}
	mode := modes[cfg.Mode]
	boot := o.Bootstrap
	wanBoot := append(slices.Clone(saved["wan"]), boot...)
	dd, err := dual.New(o.Host,
		dual.DHTOption(
			kaddht.ProtocolPrefix(ProtocolPrefix),
			kaddht.Datastore(o.Datastore),
			kaddht.Validator(record.NamespacedValidator{Namespace: Validator{}}),
			kaddht.BucketSize(cfg.BucketSize),
			kaddht.Concurrency(cfg.Concurrency),
			kaddht.Resiliency(cfg.Resiliency),
			kaddht.RoutingTableRefreshQueryTimeout(cfg.RefreshQueryTimeout),
			kaddht.MaxRecordAge(cfg.MaxRecordAge),
			kaddht.DisableAutoRefresh(), // Run refreshes, so it knows when it last did
		),
		dual.WanDHTOption(kaddht.Mode(mode.wan), kaddht.BootstrapPeersFunc(func() []peer.AddrInfo { return wanBoot })),
		// dual.New sets the LAN extension before these options, and
		// ProtocolPrefix above replaced it: add it again after the prefix.
		dual.LanDHTOption(kaddht.ProtocolExtension(dual.LanExtension), kaddht.Mode(mode.lan), kaddht.AddressFilter(lanAddrs),
			kaddht.BootstrapPeersFunc(func() []peer.AddrInfo { return boot })),
	)
	if err != nil {
		return nil, fmt.Errorf("dht: start: %w", err)
	}
	d := &DHT{cfg: cfg, dual: dd, h: o.Host, priv: o.Identity, ds: o.Datastore, log: log, clk: o.Clock, putSeq: map[string]uint64{}}
	if d.clk == nil {
		d.clk = clock.Real()
	}
	d.wan = &table{name: "wan", kad: dd.WAN, protocol: WANProtocol, snapshot: wanSnapshotKey,
		admits: kaddht.PublicRoutingTableFilter, restored: len(saved["wan"])}
	d.lan = &table{name: "lan", kad: dd.LAN, protocol: LANProtocol, snapshot: lanSnapshotKey,
		admits: kaddht.PrivateRoutingTableFilter}
	d.tables = []*table{d.wan, d.lan}
	for _, ai := range saved["lan"] {
		if ok, _ := d.lan.kad.RoutingTable().TryAddPeer(ai.ID, true, true); ok {
			d.lan.restored++
		}
	}
	for _, t := range d.tables {
		if t.restored > 0 {
			log.Info("routing table restored from the store", "dht", t.name, "peers", t.restored)
		}
	}
	return d, nil
}

// Routing returns both DHTs as one libp2p router (lookups ask both), for
// routing users such as discovery.
func (d *DHT) Routing() routing.Routing { return d.dual }

// Name implements the node's Service interface.
func (d *DHT) Name() string { return "dht" }

// refreshState is Run's bookkeeping of one table's refreshes.
type refreshState struct {
	refreshing bool
	lastSize   int
	lastStart  time.Time
}

// Run refreshes each routing table every RefreshInterval (and promptly while
// it holds fewer than LowPeers peers) and saves them every SnapshotInterval,
// until ctx ends; it saves once more on the way out.
func (d *DHT) Run(ctx context.Context, ready func()) error {
	ready()
	snap := d.clk.NewTicker(d.cfg.SnapshotInterval)
	defer snap.Stop()
	check := d.clk.NewTicker(min(d.cfg.LowPeersBackoff, d.cfg.RefreshInterval))
	defer check.Stop()
	type result struct {
		t   *table
		err error
	}
	refreshDone := make(chan result, len(d.tables))
	state := map[*table]*refreshState{}
	for _, t := range d.tables {
		state[t] = &refreshState{lastSize: -1}
	}
	startRefresh := func(t *table) {
		st := state[t]
		st.refreshing, st.lastStart = true, d.clk.Now()
		st.lastSize = t.kad.RoutingTable().Size()
		ch := t.kad.RefreshRoutingTable()
		go func() {
			select {
			case err := <-ch:
				refreshDone <- result{t, err}
			case <-ctx.Done():
				refreshDone <- result{t, ctx.Err()}
			}
		}()
	}
	defer func() {
		for _, st := range state {
			if st.refreshing {
				<-refreshDone
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			if err := d.saveSnapshot(context.WithoutCancel(ctx)); err != nil {
				d.log.Warn("saving routing table", "err", err)
			}
			return nil
		case r := <-refreshDone:
			state[r.t].refreshing = false
			d.mu.Lock()
			r.t.lastRefresh, r.t.refreshErr = d.clk.Now(), r.err
			r.t.refreshes++
			d.mu.Unlock()
			if r.err != nil && ctx.Err() == nil {
				d.log.Debug("routing table refresh", "dht", r.t.name, "err", r.err)
			}
		case <-check.C():
			for _, t := range d.tables {
				st := state[t]
				size := t.kad.RoutingTable().Size()
				due := clock.Since(d.clk, st.lastStart) >= d.cfg.RefreshInterval
				low := size > 0 && size < d.cfg.LowPeers && size != st.lastSize && clock.Since(d.clk, st.lastStart) >= d.cfg.LowPeersBackoff
				first := st.lastStart.IsZero() && size > 0
				if !st.refreshing && (due && size > 0 || low || first) {
					startRefresh(t)
				}
			}
		case <-snap.C():
			if err := d.saveSnapshot(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("saving routing table", "err", err)
			}
		}
	}
}

// Health implements the node's HealthChecker: the DHT is unhealthy when both
// routing tables are empty although the node is connected to a peer that
// serves one of the DHTs and belongs in its table. Peers that serve neither
// (clients, nodes speaking another protocol) are no sign of trouble.
func (d *DHT) Health(context.Context) error {
	if d.wan.kad.RoutingTable().Size() > 0 || d.lan.kad.RoutingTable().Size() > 0 {
		return nil
	}
	for _, p := range d.h.Network().Peers() {
		for _, t := range d.tables {
			if served, _ := d.h.Peerstore().SupportsProtocols(p, t.protocol); len(served) > 0 && t.admits(t.kad, p) {
				return fmt.Errorf("dht: the routing tables are empty although peer %s serves the %s DHT", p, t.name)
			}
		}
	}
	return nil
}

// savedPeer is one routing-table entry in the snapshot.
type savedPeer struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// saveSnapshot writes each routing table's peers and their addresses to the
// store, synced. An empty table leaves its last snapshot in place: a node
// that lost its peers for a while still knows whom to rejoin through.
func (d *DHT) saveSnapshot(ctx context.Context) error {
	b, err := d.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("dht: save routing table: %w", err)
	}
	wrote := false
	for _, t := range d.tables {
		var peers []savedPeer
		for _, p := range t.kad.RoutingTable().ListPeers() {
			addrs := d.h.Peerstore().Addrs(p)
			if len(addrs) == 0 {
				continue
			}
			sp := savedPeer{ID: p.String()}
			for _, a := range addrs {
				sp.Addrs = append(sp.Addrs, a.String())
			}
			peers = append(peers, sp)
		}
		if len(peers) == 0 {
			continue
		}
		v, err := json.Marshal(peers)
		if err != nil {
			return err
		}
		if err := b.Put(ctx, t.snapshot, v); err != nil {
			return fmt.Errorf("dht: save %s routing table: %w", t.name, err)
		}
		wrote = true
	}
	if !wrote {
		return nil
	}
	if err := b.Delete(ctx, legacySnapshotKey); err != nil {
		return fmt.Errorf("dht: save routing table: %w", err)
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("dht: save routing table: %w", err)
	}
	return d.ds.Sync(ctx, ds.NewKey("/rt"))
}

// SaveSnapshot saves the routing tables now (Run does so periodically).
func (d *DHT) SaveSnapshot(ctx context.Context) error { return d.saveSnapshot(ctx) }

// loadSnapshots reads the routing tables saved by a previous run, by table
// name, keeping the addresses each table may hold. A snapshot of fog before
// the LAN DHT (one table) is shared out by address: peers with public
// addresses to the WAN table, the others to the LAN one.
func loadSnapshots(ctx context.Context, store ds.Datastore, self peer.ID) (map[string][]peer.AddrInfo, error) {
	keys := map[string]ds.Key{"wan": wanSnapshotKey, "lan": lanSnapshotKey}
	keep := map[string]func([]ma.Multiaddr) []ma.Multiaddr{"wan": publicAddrs, "lan": lanAddrs}
	raw := map[string][]byte{}
	for name, key := range keys {
		b, err := store.Get(ctx, key)
		if errors.Is(err, ds.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		raw[name] = b
	}
	if len(raw) == 0 {
		b, err := store.Get(ctx, legacySnapshotKey)
		if errors.Is(err, ds.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		raw["wan"], raw["lan"] = b, b
		keep["lan"] = func(addrs []ma.Multiaddr) []ma.Multiaddr {
			return lanAddrs(ma.FilterAddrs(addrs, func(a ma.Multiaddr) bool { return !manet.IsPublicAddr(a) }))
		}
	}
	out := map[string][]peer.AddrInfo{}
	for name, b := range raw {
		var peers []savedPeer
		if err := json.Unmarshal(b, &peers); err != nil {
			return nil, fmt.Errorf("%s table: %w", name, err)
		}
		for _, sp := range peers {
			id, err := peer.Decode(sp.ID)
			if err != nil || id == self {
				continue
			}
			var addrs []ma.Multiaddr
			for _, s := range sp.Addrs {
				if a, err := ma.NewMultiaddr(s); err == nil {
					addrs = append(addrs, a)
				}
			}
			if addrs = keep[name](addrs); len(addrs) > 0 {
				out[name] = append(out[name], peer.AddrInfo{ID: id, Addrs: addrs})
			}
		}
	}
	return out, nil
}

// FindPeer looks up a peer's addresses in both DHTs.
func (d *DHT) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	start := d.clk.Now()
	ai, err := d.dual.FindPeer(ctx, id)
	d.observe(ctx, KindFindPeer, start, true, err)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("dht: find peer %s: %w", id, err)
	}
	return ai, nil
}

// KeyCID maps an application key (a task module hash, a mailbox name) to the
// content ID under which it is provided: CIDv1, raw codec, SHA-256 of key.
func KeyCID(key string) cid.Cid {
	sum := sha256.Sum256([]byte(key))
	m, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, m)
}

// publish runs put on each DHT whose routing table holds peers, at once, and
// succeeds if one of them does. kubo's dual DHT publishes to the WAN DHT
// alone once it has peers; fog publishes to the LAN DHT as well, so that a
// LAN whose other nodes have no WAN peers still sees the record. With both
// tables empty it tries the LAN DHT, for its error.
func (d *DHT) publish(put func(*kaddht.IpfsDHT) error) error {
	var targets []*table
	for _, t := range d.tables {
		if t.kad.RoutingTable().Size() > 0 {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		targets = []*table{d.lan}
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			if err := put(t.kad); err != nil {
				errs[i] = fmt.Errorf("%s: %w", t.name, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return errors.Join(errs...)
}

// Provide announces that this node provides key, to the peers closest to it
// in each DHT that has peers.
func (d *DHT) Provide(ctx context.Context, key string) error {
	c := KeyCID(key)
	start := d.clk.Now()
	err := d.publish(func(k *kaddht.IpfsDHT) error { return k.Provide(ctx, c, true) })
	d.observe(ctx, KindProvide, start, true, err)
	if err != nil {
		return fmt.Errorf("dht: provide %q: %w", key, err)
	}
	return nil
}

// FindProviders returns up to limit providers of key (limit <= 0: 20), from
// both DHTs.
func (d *DHT) FindProviders(ctx context.Context, key string, limit int) ([]peer.AddrInfo, error) {
	if limit <= 0 {
		limit = 20
	}
	var out []peer.AddrInfo
	for ai := range d.findProvidersAsync(ctx, KeyCID(key), limit) {
		out = append(out, ai)
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("dht: find providers of %q: %w", key, ctx.Err())
	}
	return out, nil
}

// PutRecord signs value as this node's record name with a sequence above any
// it knows of, and stores it at the closest peers of each DHT that has peers.
func (d *DHT) PutRecord(ctx context.Context, name string, value []byte) (Record, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, err
	}
	key := RecordKey(d.h.ID(), name)
	start := d.clk.Now()
	d.mu.Lock()
	seq := d.putSeq[name]
	d.mu.Unlock()
	// Continue after whatever the network or our store holds, so a node
	// that lost its memory of the last sequence does not publish stale.
	if b, err := d.dual.GetValue(ctx, key, kaddht.Quorum(1)); err == nil {
		if r, err := DecodeRecord(key, b); err == nil && r.Seq > seq {
			seq = r.Seq
		}
	}
	r, err := SignRecord(d.priv, name, seq+1, value)
	if err != nil {
		return Record{}, err
	}
	err = d.publish(func(k *kaddht.IpfsDHT) error { return k.PutValue(ctx, key, r.Marshal()) })
	d.observe(ctx, KindPutRecord, start, true, err)
	if err != nil {
		return Record{}, fmt.Errorf("dht: put %s: %w", key, err)
	}
	d.mu.Lock()
	d.putSeq[name] = max(d.putSeq[name], r.Seq)
	d.mu.Unlock()
	return r, nil
}

// GetRecord returns the newest valid record owner published as name, from
// either DHT.
func (d *DHT) GetRecord(ctx context.Context, owner peer.ID, name string) (Record, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, err
	}
	key := RecordKey(owner, name)
	start := d.clk.Now()
	b, err := d.dual.GetValue(ctx, key)
	d.observe(ctx, KindGetRecord, start, true, err)
	if err != nil {
		return Record{}, fmt.Errorf("dht: get %s: %w", key, err)
	}
	return DecodeRecord(key, b)
}

// Bucket is one bucket of a routing table.
type Bucket struct {
	// Index is the bucket's common prefix length with this node's ID.
	Index int `json:"index"`
	// Peers is how many peers it holds.
	Peers int `json:"peers"`
}

// Serving says whether one of the DHTs serves, for node.status.
type Serving struct {
	// Mode is server while this node answers the DHT's queries, client
	// while it only asks.
	Mode string `json:"mode"`
	// Peers is the size of its routing table.
	Peers int `json:"peers"`
}

// Status says which DHTs serve, for node.status.
type Status struct {
	// Mode is the configured mode: auto, server or client.
	Mode string  `json:"mode"`
	WAN  Serving `json:"wan"`
	LAN  Serving `json:"lan"`
}

// TableStats describes one routing table.
type TableStats struct {
	// Protocol is the DHT's protocol.
	Protocol string `json:"protocol"`
	Serving
	Buckets     []Bucket  `json:"buckets"`
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	RefreshErr  string    `json:"refresh_error,omitempty"`
	Refreshes   int       `json:"refreshes"`
	// Restored counts the saved peers taken back at start: put back into
	// the LAN table, or dialled by the WAN DHT while its table is empty
	// (see New).
	Restored int `json:"restored_from_store"`
}

// TableInfo describes both routing tables, for dht.routingTable.
type TableInfo struct {
	// Mode is the configured mode: auto, server or client.
	Mode string `json:"mode"`
	// Size counts the distinct peers of both tables.
	Size       int        `json:"size"`
	BucketSize int        `json:"bucket_size"`
	WAN        TableStats `json:"wan"`
	LAN        TableStats `json:"lan"`
}

// Status says which DHTs serve and how many peers each routing table holds.
func (d *DHT) Status() Status {
	return Status{Mode: d.cfg.Mode, WAN: d.wan.serving(), LAN: d.lan.serving()}
}

func (t *table) serving() Serving {
	s := Serving{Mode: ModeClient, Peers: t.kad.RoutingTable().Size()}
	if t.kad.Mode() == kaddht.ModeServer {
		s.Mode = ModeServer
	}
	return s
}

// Table describes both routing tables.
func (d *DHT) Table() TableInfo {
	info := TableInfo{Mode: d.cfg.Mode, BucketSize: d.cfg.BucketSize}
	self := kb.ConvertPeerID(d.h.ID())
	all := map[peer.ID]struct{}{}
	for _, t := range d.tables {
		st := TableStats{Protocol: string(t.protocol), Serving: t.serving(), Buckets: []Bucket{}}
		counts := map[int]int{}
		for _, p := range t.kad.RoutingTable().ListPeers() {
			counts[kb.CommonPrefixLen(self, kb.ConvertPeerID(p))]++
			all[p] = struct{}{}
		}
		for i, c := range counts {
			st.Buckets = append(st.Buckets, Bucket{Index: i, Peers: c})
		}
		sort.Slice(st.Buckets, func(i, j int) bool { return st.Buckets[i].Index < st.Buckets[j].Index })
		d.mu.Lock()
		st.LastRefresh, st.Refreshes, st.Restored = t.lastRefresh, t.refreshes, t.restored
		if t.refreshErr != nil {
			st.RefreshErr = t.refreshErr.Error()
		}
		d.mu.Unlock()
		if t == d.wan {
			info.WAN = st
		} else {
			info.LAN = st
		}
	}
	info.Size = len(all)
	return info
}

// Close stops both DHTs. It is idempotent.
func (d *DHT) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.dual.Close() })
	return d.closeErr
}

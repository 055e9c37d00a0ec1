package node

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/pelletier/go-toml/v2"

	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/chat/mailbox"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// ErrConfig is wrapped by every configuration error; the message names the
// field (as it is spelled in config.toml) and the bad value.
var ErrConfig = errors.New("node: invalid config")

// Duration is a time.Duration written in config.toml as a string such as
// "1m30s".
type Duration time.Duration

// MarshalText writes d as Go duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go duration syntax ("500ms", "1m").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want e.g. \"30s\" or \"5m\"", string(b))
	}
	*d = Duration(v)
	return nil
}

// Config is a node's configuration: the schema of config.toml. Programs that
// embed a node (devnet, simulator, tests) fill it directly.
type Config struct {
	Log     LogConfig     `toml:"log" comment:"Logging."`
	P2P     P2PConfig     `toml:"p2p" comment:"The libp2p host: addresses, bootstrap peers, connection limits."`
	DHT     DHTConfig     `toml:"dht" comment:"The Kademlia DHTs: WAN (/fog/kad/1.0.0, publicly reachable peers) and LAN (/fog/lan/kad/1.0.0, peers on this network or machine)."`
	Gossip  GossipConfig  `toml:"gossip" comment:"Gossipsub: capacity adverts on /fog/capacity/1."`
	Compute ComputeConfig `toml:"compute" comment:"What this node offers to run for others."`
	Relay   RelayConfig   `toml:"relay" comment:"The relay lottery: mix relays elected per epoch by a VRF lottery. Every node of a network must share network_id, genesis, epoch_length and target_relays."`
	Mix     MixConfig     `toml:"mix" comment:"The mix network: onion-routed messages (Sphinx) through the elected relays, with delays, cover traffic and acknowledgements."`
	Chat    ChatConfig    `toml:"chat" comment:"Chat: end-to-end encrypted direct messages, channels with history, and mailboxes for absent nodes."`
	Token   TokenConfig   `toml:"token" comment:"The ledger: credits (micro-credits), the node's wallet, stake. Every node of a network must share genesis and epoch_length."`
	Files   FilesConfig   `toml:"files" comment:"Files: share and fetch files the IPFS way (UnixFS, Bitswap, providers in the DHT)."`
	API     APIConfig     `toml:"api" comment:"The local JSON-RPC API that the fog command talks to."`
	Store   StoreConfig   `toml:"store" comment:"The Badger database in the data directory."`
}

// LogConfig configures log/slog.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `toml:"level" comment:"debug, info, warn or error. info says what the node does without chatter."`
	// Format is text or json.
	Format string `toml:"format" comment:"text (for people) or json (for log collectors)."`
}

// P2PConfig is the [p2p] section; see p2p.Config for the meaning of each
// field.
type P2PConfig struct {
	Listen        []string `toml:"listen" comment:"Multiaddrs to listen on. TCP and QUIC on port 4001, the port other fog nodes expect."`
	Bootstrap     []string `toml:"bootstrap" comment:"Peers to join the network through: multiaddrs ending in /p2p/<peer id>.\nThe node keeps redialling them in the background; a malformed entry stops the node at start."`
	ConnLow       int      `toml:"conn_low" comment:"Connection manager low water mark: trimming stops here."`
	ConnHigh      int      `toml:"conn_high" comment:"Connection manager high water mark: above this many connections the node trims to conn_low,\nclosing first those of peers that never used a fog protocol with it. Must stay below max_inbound_conns."`
	ConnGrace     Duration `toml:"conn_grace" comment:"New connections are not trimmed for this long."`
	MaxInbound    int      `toml:"max_inbound_conns" comment:"Most connections other peers may open to this node; more are refused."`
	ConnsPerPeer  int      `toml:"conns_per_peer" comment:"Most connections with one peer."`
	ConnsPerIP    int      `toml:"conns_per_ip" comment:"Most connections with one IPv4 address (or IPv6 /56), so that one machine cannot take every inbound slot;\nnew ones from one address beyond a burst of twice this come one every 5 s."`
	ConnExempt    []string `toml:"conn_limit_exempt" comment:"Networks (CIDR) to which conns_per_ip does not apply. Loopback by default, so that nodes on one machine reach each other."`
	StreamRate    float64  `toml:"stream_rate" comment:"New inbound streams one peer may open a second, on all protocols (a token bucket per peer; Bitswap's streams are not counted).\nStreams beyond it are reset before their protocol is negotiated. 0 turns the limit off."`
	StreamBurst   int      `toml:"stream_burst" comment:"Streams one peer may open at once after a quiet time (the depth of its bucket)."`
	StreamStrikes int      `toml:"stream_rate_strikes" comment:"Streams refused for their rate within a minute after which the peer is disconnected and suspended."`
	StreamSuspend Duration `toml:"stream_rate_suspend" comment:"How long such a peer's connections are refused (in memory: a restart forgets it)."`
	ResourceMiB   int64    `toml:"resource_memory_mib" comment:"Memory libp2p's resource manager may hand to connections and streams, in MiB. 0 scales to the machine (1/8 of RAM)."`
	AutoNAT       bool     `toml:"autonat" comment:"Ask peers whether this node is reachable from outside."`
	HolePunching  bool     `toml:"hole_punching" comment:"Try direct connections through NATs."`
	RelayClient   bool     `toml:"relay_client" comment:"Be reachable through circuit relays when behind a NAT: reserve slots on relays among the connected peers and advertise the relayed addresses."`
	RelayService  bool     `toml:"relay_service" comment:"Relay for NATed peers (circuit relay v2, limited: 128 KiB and 2 minutes per circuit, enough for a hole punch) while AutoNAT says this node is publicly reachable."`
	MDNS          bool     `toml:"mdns" comment:"Find other fog nodes on the local network by multicast DNS."`
}

// DHTConfig is the [dht] section; see dht.Config.
type DHTConfig struct {
	Mode            string   `toml:"mode" comment:"auto (serve the WAN DHT only while publicly reachable, the LAN DHT always), server (serve both) or client (serve neither)."`
	RefreshInterval Duration `toml:"refresh_interval" comment:"How often every routing table bucket is refreshed by a lookup."`
}

// GossipConfig is the [gossip] section; see gossip.Config.
type GossipConfig struct {
	AdvertInterval Duration `toml:"advert_interval" comment:"How often this node re-publishes its capacity advert when nothing changed."`
}

// ComputeConfig is the [compute] section.
type ComputeConfig struct {
	Offer     bool   `toml:"offer" comment:"Offer this machine's compute: advertise capacity and accept tasks."`
	Cores     int    `toml:"cores" comment:"CPU cores offered (and tasks run at once). 0 offers every core."`
	MemoryMiB uint64 `toml:"memory_mib" comment:"Most memory offered, in MiB: the memory limits of the tasks running at once add up to at most this\n(a task waits to start until its limit fits; one asking for more is refused).\nThe advert says the lesser of this and what is free. 0: half of the machine; else at least 64, a task's default limit."`
	DiskMiB   uint64 `toml:"disk_mib" comment:"Most disk offered, in MiB; the advert says the lesser of this and what is free. 0: no cap."`
	Price     uint64 `toml:"price" comment:"Price of one CPU-second, in micro-credits (millionths of a credit)."`
	// RequirePayment is compute.Config.RequirePayment.
	RequirePayment bool `toml:"require_payment" comment:"Run only paid tasks for peers: a task must name a max price, and its submitter must have locked it in escrow on the ledger (needs token.genesis)."`
	// ModuleCacheMiB caps the module cache.
	ModuleCacheMiB uint64 `toml:"module_cache_mib" comment:"Most disk the cache of task modules may use, in MiB; least recently used modules go first."`
	// ProviderWait is compute.Config.ProviderWait.
	ProviderWait Duration `toml:"provider_wait" comment:"How long a submitted task waits for the directory to list enough distinct providers for its replicas before it fails, saying how many exist."`
	// Scratch and ScratchMiB: see compute.Config.Scratch and
	// wasm.Config.ScratchBytes.
	Scratch    bool   `toml:"scratch" comment:"Run tasks that ask for a /scratch filesystem (fog task submit --scratch). It lives in memory, never on this machine's disk, and the advert says whether this node runs such tasks."`
	ScratchMiB uint64 `toml:"scratch_mib" comment:"Most file data one task may keep in /scratch, in MiB (1 to 65536): memory on top of the task's own, while it runs. A write past it fails."`
}

// RelayConfig is the [relay] section; see lottery.ServiceConfig.
type RelayConfig struct {
	Candidate    bool     `toml:"candidate" comment:"Stand for election as a mix relay (relays carry other people's onion traffic)."`
	NetworkID    string   `toml:"network_id" comment:"The network's name: lotteries of different networks never mix."`
	Genesis      string   `toml:"genesis" comment:"When epoch 0 began (RFC 3339); a constant of the network."`
	EpochLength  Duration `toml:"epoch_length" comment:"How long one epoch of relays lasts, from the genesis until the DAO changes it (lottery.epoch_length)."`
	TargetRelays int      `toml:"target_relays" comment:"Relay seats elected per epoch, on average."`
	Candidates   []string `toml:"candidates" comment:"Fix the candidate set to these peer IDs (every node must list the same). Empty: candidates announce themselves over gossip."`
}

// MixConfig is the [mix] section; see mixnet.Config and mixsvc.Config.
type MixConfig struct {
	Enabled       bool     `toml:"enabled" comment:"Send and receive mix messages (fog mix send). A node relays others' packets only when it also stands in the lottery (relay.candidate)."`
	MeanDelay     Duration `toml:"mean_delay" comment:"Mean of the random delay each relay holds a packet for (Poisson mixing). 0 turns mixing delays off, and with them most of the protection against timing analysis."`
	Cover         bool     `toml:"cover" comment:"Send cover traffic (loop and drop packets), so that an observer of this node's links sees the same packet rate whether it talks or not."`
	SendRate      float64  `toml:"send_rate" comment:"Packets per second of the stream that carries messages, ACKs and retransmissions (drop cover when there is nothing to send)."`
	LoopRate      float64  `toml:"loop_rate" comment:"Loop cover packets per second: routes back to this node, which also tell it which relays are alive."`
	DropRate      float64  `toml:"drop_rate" comment:"Extra drop cover packets per second. send_rate + loop_rate + drop_rate is this node's constant cost in packets per second."`
	RelayLoopRate float64  `toml:"relay_loop_rate" comment:"Loop cover packets per second this node sends while it serves as a relay, through the other layers and back: they give every relay's pool more packets to mix with. A relay's cost, on top of the rates above."`
	TTL           Duration `toml:"ttl" comment:"How long a message is retried over fresh routes before it counts as failed."`
}

// ChatConfig is the [chat] section; see chatsvc.Config.
type ChatConfig struct {
	Enabled          bool     `toml:"enabled" comment:"Send and receive direct messages and channel posts (fog chat), and keep mail for absent nodes."`
	ReadReceipts     bool     `toml:"read_receipts" comment:"Tell senders when you have read their direct messages (fog chat inbox marks them read)."`
	HistoryMessages  int      `toml:"history_messages" comment:"Most messages kept per channel; older ones are dropped."`
	HistoryAge       Duration `toml:"history_age" comment:"Longest a channel message is kept."`
	MailboxMiB       int      `toml:"mailbox_mib" comment:"Most mail this node keeps for absent nodes, in MiB."`
	MailboxPerSender int      `toml:"mailbox_per_sender" comment:"Most messages this node keeps for absent nodes from any one sender."`
}

// APIConfig is the [api] section.
type APIConfig struct {
	// Listen is the host:port of the JSON-RPC and metrics listener.
	Listen string `toml:"listen" comment:"host:port of the JSON-RPC API (/rpc) and Prometheus metrics (/metrics).\nKeep it on 127.0.0.1: anyone who can reach it and read the token controls the node."`
	// MaxBodyBytes limits a request body.
	MaxBodyBytes int64 `toml:"max_body_bytes" comment:"Largest request body accepted, in bytes; a task module upload must fit."`
	// MaxBatch limits the calls in one JSON-RPC batch, which the API runs
	// one after another.
	MaxBatch int `toml:"max_batch" comment:"Most calls in one JSON-RPC batch; a larger batch is refused whole. fog's own client never batches."`
	// MaxReplyBytes limits the reply to one HTTP request (a call or a
	// whole batch), so that a batch cannot make the daemon hold its
	// replies without bound.
	MaxReplyBytes int64 `toml:"max_reply_bytes" comment:"Largest reply to one request or batch, in bytes; a call whose reply would pass it gets an error instead. A task's output (at most 64 MiB) must fit."`
	// AllowedHosts are host names, besides localhost and IP addresses,
	// that requests may name in their Host header.
	AllowedHosts []string `toml:"allowed_hosts" comment:"Host names, besides localhost and IP addresses, accepted in a request's Host header (for a reverse proxy). Others are refused with HTTP 403, against DNS rebinding from a web page."`
	// Metrics turns the Prometheus metrics on: off, the node counts
	// nothing for them (libp2p's included) and /metrics is not served.
	Metrics bool `toml:"metrics" comment:"Collect Prometheus metrics (fog's, libp2p's, Go's) and serve them at /metrics. Off, nothing is counted for them and /metrics answers 404."`
}

// StoreConfig is the [store] section.
type StoreConfig struct {
	// SyncWrites fsyncs every acknowledged write.
	SyncWrites bool `toml:"sync_writes" comment:"fsync every write before acknowledging it. Turning this off risks losing the last writes in a power cut."`
}

// DefaultConfig returns the configuration fog init writes.
func DefaultConfig() Config {
	pc := p2p.DefaultConfig()
	dc := dht.DefaultConfig()
	gc := gossip.DefaultConfig()
	rc := lottery.DefaultServiceConfig()
	mc := mixsvc.DefaultConfig()
	chc, mbc := chatsvc.DefaultConfig(), mailbox.DefaultConfig()
	return Config{
		Log: LogConfig{Level: "info", Format: "text"},
		P2P: P2PConfig{
			Listen:        pc.ListenAddrs,
			Bootstrap:     []string{},
			ConnLow:       pc.ConnLow,
			ConnHigh:      pc.ConnHigh,
			ConnGrace:     Duration(pc.ConnGrace),
			MaxInbound:    pc.MaxInboundConns,
			ConnsPerPeer:  pc.ConnsPerPeer,
			ConnsPerIP:    pc.ConnsPerIP,
			ConnExempt:    pc.ConnLimitExempt,
			StreamRate:    pc.StreamRate,
			StreamBurst:   pc.StreamBurst,
			StreamStrikes: pc.StreamRateStrikes,
			StreamSuspend: Duration(pc.StreamRateSuspend),
			AutoNAT:       pc.AutoNAT,
			HolePunching:  pc.HolePunching,
			RelayClient:   pc.RelayClient,
			RelayService:  pc.RelayService,
			MDNS:          pc.MDNS,
		},
		DHT: DHTConfig{
			Mode:            dc.Mode,
			RefreshInterval: Duration(dc.RefreshInterval),
		},
		Gossip: GossipConfig{AdvertInterval: Duration(gc.Advert.Interval)},
		Compute: ComputeConfig{
			Offer:          true,
			Price:          1000, // 0.001 credit per CPU-second
			ModuleCacheMiB: 1024,
			ProviderWait:   Duration(compute.DefaultConfig().ProviderWait),
			Scratch:        true,
			ScratchMiB:     64, // wasm.DefaultConfig's ScratchBytes
		},
		Relay: RelayConfig{
			Candidate:    rc.Candidate,
			NetworkID:    rc.NetworkID,
			Genesis:      rc.Genesis.UTC().Format(time.RFC3339),
			EpochLength:  Duration(rc.EpochLength),
			TargetRelays: rc.TargetRelays,
			Candidates:   []string{},
		},
		Mix: MixConfig{
			Enabled: true, MeanDelay: Duration(mc.MeanDelay), Cover: mc.Cover,
			SendRate: mc.SendRate, LoopRate: mc.LoopRate, DropRate: mc.DropRate, RelayLoopRate: mc.RelayLoopRate, TTL: Duration(mc.TTL),
		},
		Chat: ChatConfig{
			Enabled: true, ReadReceipts: chc.DM.ReadReceipts, HistoryMessages: chc.Channel.HistoryCount,
			HistoryAge: Duration(chc.Channel.HistoryAge), MailboxMiB: int(mbc.HostBytes >> 20),
			MailboxPerSender: mbc.SenderItems,
		},
		Files: defaultFilesConfig(),
		API: APIConfig{Listen: "127.0.0.1:5151", MaxBodyBytes: 32 << 20, MaxBatch: 64,
			MaxReplyBytes: 256 << 20, AllowedHosts: []string{}, Metrics: true},
		Store: StoreConfig{SyncWrites: true},
		Token: defaultTokenConfig(),
	}
}

// TestConfig returns a configuration for tests and devnets: loopback only,
// ports chosen by the OS, no NAT helpers or mDNS.
func TestConfig() Config {
	c := DefaultConfig()
	tc := p2p.TestConfig()
	c.P2P.Listen = tc.ListenAddrs
	c.P2P.AutoNAT, c.P2P.HolePunching, c.P2P.RelayClient, c.P2P.MDNS = false, false, false, false
	c.P2P.RelayService = false
	c.API.Listen = "127.0.0.1:0"
	c.Log.Level = "warn"
	c.Gossip.AdvertInterval = Duration(gossip.TestConfig().Advert.Interval)
	c.Compute.Cores = 2
	c.Compute.MemoryMiB = 1024
	c.Relay.EpochLength = Duration(10 * time.Second) // lottery.SimConfig's epochs
	c.Token.EpochLength = Duration(ledgersvc.TestConfig().EpochLength)
	return c
}

// relayConfig derives the lottery service configuration; timers not in
// the file come from base (lottery.DefaultServiceConfig or
// lottery.SimServiceConfig).
func (c Config) relayConfig(base lottery.ServiceConfig) (lottery.ServiceConfig, error) {
	base.Candidate = c.Relay.Candidate
	base.NetworkID = c.Relay.NetworkID
	g, err := time.Parse(time.RFC3339, c.Relay.Genesis)
	if err != nil {
		return base, fmt.Errorf("%w: relay.genesis %q: want RFC 3339, e.g. 2026-01-01T00:00:00Z", ErrConfig, c.Relay.Genesis)
	}
	base.Genesis = g
	if l := time.Duration(c.Relay.EpochLength); l > 0 {
		// Short epochs (devnets) keep lottery.SimConfig's proportions;
		// longer ones lottery.DefaultConfig's windows.
		base.EpochLength = l
		if l < 2*time.Minute {
			sim := lottery.ScaledSimConfig(l)
			base.ClaimWindow, base.RevealWindow, base.MaxClockSkew = sim.ClaimWindow, sim.RevealWindow, sim.MaxClockSkew
		} else {
			def := lottery.DefaultConfig()
			base.ClaimWindow, base.RevealWindow, base.MaxClockSkew = def.ClaimWindow, def.RevealWindow, def.MaxClockSkew
		}
	}
	base.TargetRelays = c.Relay.TargetRelays
	base.Candidates = nil
	for i, s := range c.Relay.Candidates {
		id, err := peer.Decode(s)
		if err != nil {
			return base, fmt.Errorf("%w: relay.candidates[%d] %q: %v", ErrConfig, i, s, err)
		}
		base.Candidates = append(base.Candidates, id)
	}
	if err := base.Validate(); err != nil {
		return base, fmt.Errorf("%w: %s", ErrConfig, strings.TrimPrefix(err.Error(), lottery.ErrConfig.Error()+": "))
	}
	return base, nil
}

// mixConfig derives the mix service's configuration from base
// (mixsvc.DefaultConfig) and the [mix] section; the lottery's layers come
// from the relay configuration.
func (c Config) mixConfig(base mixsvc.Config, layers int) mixsvc.Config {
	base.Layers = layers
	base.MeanDelay = time.Duration(c.Mix.MeanDelay)
	if base.MaxDelay < base.MeanDelay {
		base.MaxDelay = 20 * base.MeanDelay
	}
	base.Cover = c.Mix.Cover
	base.SendRate, base.LoopRate, base.DropRate = c.Mix.SendRate, c.Mix.LoopRate, c.Mix.DropRate
	base.RelayLoopRate = c.Mix.RelayLoopRate
	base.TTL = time.Duration(c.Mix.TTL)
	return base
}

// chatConfig derives the chat's configurations from base and the [chat]
// section.
func (c Config) chatConfig(base chatsvc.Config, mb mailbox.Config) (chatsvc.Config, mailbox.Config) {
	base.DM.ReadReceipts = c.Chat.ReadReceipts
	base.Channel.HistoryCount = c.Chat.HistoryMessages
	base.Channel.HistoryAge = time.Duration(c.Chat.HistoryAge)
	mb.HostBytes = int64(c.Chat.MailboxMiB) << 20
	mb.SenderItems = c.Chat.MailboxPerSender
	return base, mb
}

// mixKeys maps mixnet.Config's fields to the [mix] keys.
var mixKeys = map[string]string{
	"MeanDelay": "mean_delay", "Cover": "cover", "SendRate": "send_rate",
	"LoopRate": "loop_rate", "DropRate": "drop_rate", "RelayLoopRate": "relay_loop_rate", "TTL": "ttl",
}

// gossipConfig derives the gossip configuration; timers not in the file
// come from base (gossip.DefaultConfig or gossip.TestConfig).
func (c Config) gossipConfig(base gossip.Config) gossip.Config {
	iv := time.Duration(c.Gossip.AdvertInterval)
	if iv != base.Advert.Interval && iv > 0 {
		a := &base.Advert
		// adverts live three intervals, so two lost ones do not drop a node
		a.Interval, a.TTL = iv, 3*iv
		a.MaxTTL = max(a.MaxTTL, a.TTL)
		// a short interval brings the change-triggered gap and the rate
		// limit along, so that honest adverts stay within the limit
		a.MinGap = min(a.MinGap, iv/5)
		a.Poll = min(a.Poll, max(a.MinGap/4, time.Millisecond))
		base.Capacity.Rate = max(base.Capacity.Rate, 2.5/a.MinGap.Seconds())
		base.Capacity.Burst = max(base.Capacity.Burst, 3)
	}
	return base
}

// dhtConfig derives the DHT configuration; timers not in the file come from
// base (dht.DefaultConfig or dht.TestConfig).
func (c Config) dhtConfig(base dht.Config) dht.Config {
	base.Mode = c.DHT.Mode
	base.RefreshInterval = time.Duration(c.DHT.RefreshInterval)
	return base
}

// p2pConfig derives the host configuration. Timers not in the file come from
// base (p2p.DefaultConfig or p2p.TestConfig).
func (c Config) p2pConfig(base p2p.Config) p2p.Config {
	base.ListenAddrs = c.P2P.Listen
	base.Bootstrap = c.P2P.Bootstrap
	base.ConnLow, base.ConnHigh = c.P2P.ConnLow, c.P2P.ConnHigh
	base.ConnGrace = time.Duration(c.P2P.ConnGrace)
	base.MaxInboundConns, base.ConnsPerPeer, base.ConnsPerIP = c.P2P.MaxInbound, c.P2P.ConnsPerPeer, c.P2P.ConnsPerIP
	base.ConnLimitExempt = c.P2P.ConnExempt
	base.StreamRate, base.StreamBurst = c.P2P.StreamRate, c.P2P.StreamBurst
	base.StreamRateStrikes, base.StreamRateSuspend = c.P2P.StreamStrikes, time.Duration(c.P2P.StreamSuspend)
	base.ResourceMemory = c.P2P.ResourceMiB << 20
	base.AutoNAT, base.HolePunching, base.RelayClient, base.MDNS = c.P2P.AutoNAT, c.P2P.HolePunching, c.P2P.RelayClient, c.P2P.MDNS
	base.RelayService = c.P2P.RelayService
	return base
}

// p2pKeys and dhtKeys map the Go fields of p2p.Config and dht.Config that
// p2pConfig and dhtConfig fill from config.toml to the keys config.toml
// gives them. Libraries name Go fields in their Validate messages; only node
// knows the file, so only node translates.
var (
	p2pKeys = map[string]string{
		"ListenAddrs": "listen", "Bootstrap": "bootstrap",
		"ConnLow": "conn_low", "ConnHigh": "conn_high", "ConnGrace": "conn_grace",
		"MaxInboundConns": "max_inbound_conns", "ConnsPerPeer": "conns_per_peer",
		"ConnsPerIP": "conns_per_ip", "ConnLimitExempt": "conn_limit_exempt",
		"StreamRate": "stream_rate", "StreamBurst": "stream_burst",
		"StreamRateStrikes": "stream_rate_strikes", "StreamRateSuspend": "stream_rate_suspend",
		"MDNS": "mdns",
	}
	dhtKeys = map[string]string{"Mode": "mode", "RefreshInterval": "refresh_interval"}
)

// goField matches a word that may be a Go field name in a library's message.
var goField = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*\b`)

// tomlError rewrites err, which a library's Config.Validate returned
// wrapping sentinel and naming Go fields, into a node ErrConfig naming the
// config.toml keys of section. A field config.toml does not set (a built-in
// timer, say) keeps its Go name after the section, so the message still says
// where the bad value lives.
func tomlError(err, sentinel error, section string, keys map[string]string) error {
	msg := strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
	msg = goField.ReplaceAllStringFunc(msg, func(w string) string {
		if k, ok := keys[w]; ok {
			return k
		}
		return w
	})
	return fmt.Errorf("%w: %s.%s", ErrConfig, section, msg)
}

// logLevel parses Log.Level.
func (c Config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return 0, fmt.Errorf("%w: log.level %q: want debug, info, warn or error", ErrConfig, c.Log.Level)
	}
	return l, nil
}

// Validate checks every field and names the first bad one as config.toml
// spells it.
func (c Config) Validate() error {
	if _, err := c.logLevel(); err != nil {
		return err
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("%w: log.format %q: want text or json", ErrConfig, c.Log.Format)
	}
	if c.P2P.ResourceMiB < 0 {
		return fmt.Errorf("%w: p2p.resource_memory_mib %d is negative", ErrConfig, c.P2P.ResourceMiB)
	}
	if err := c.p2pConfig(p2p.DefaultConfig()).Validate(); err != nil {
		return tomlError(err, p2p.ErrConfig, "p2p", p2pKeys)
	}
	if err := c.dhtConfig(dht.DefaultConfig()).Validate(); err != nil {
		return tomlError(err, dht.ErrConfig, "dht", dhtKeys)
	}
	// The other gossip timers come from Options.Gossip, so the full check
	// happens when the node starts (gossip.New names the field).
	if c.Gossip.AdvertInterval <= 0 {
		return fmt.Errorf("%w: gossip.advert_interval must be positive", ErrConfig)
	}
	rc, err := c.relayConfig(lottery.DefaultServiceConfig())
	if err != nil {
		return err
	}
	if err := c.mixConfig(mixsvc.DefaultConfig(), rc.Layers).Config.Validate(); err != nil {
		return tomlError(err, mixnet.ErrConfig, "mix", mixKeys)
	}
	chc, mbc := c.chatConfig(chatsvc.DefaultConfig(), mailbox.DefaultConfig())
	switch {
	case chc.Channel.HistoryCount < 1:
		return fmt.Errorf("%w: chat.history_messages %d must be positive", ErrConfig, c.Chat.HistoryMessages)
	case chc.Channel.HistoryAge <= 0:
		return fmt.Errorf("%w: chat.history_age must be positive", ErrConfig)
	case c.Chat.MailboxMiB < 1:
		return fmt.Errorf("%w: chat.mailbox_mib %d must be positive", ErrConfig, c.Chat.MailboxMiB)
	case c.Chat.MailboxPerSender < 1 || c.Chat.MailboxPerSender > mbc.HostItems:
		return fmt.Errorf("%w: chat.mailbox_per_sender %d must be between 1 and %d", ErrConfig, c.Chat.MailboxPerSender, mbc.HostItems)
	}
	if err := chc.Validate(); err != nil {
		return fmt.Errorf("%w: chat: %v", ErrConfig, err)
	}
	if err := mbc.Validate(); err != nil {
		return fmt.Errorf("%w: chat: %v", ErrConfig, err)
	}
	if err := c.validateToken(); err != nil {
		return err
	}
	if err := c.validateFiles(); err != nil {
		return err
	}
	if c.Compute.ModuleCacheMiB < 16 {
		return fmt.Errorf("%w: compute.module_cache_mib %d: want at least 16", ErrConfig, c.Compute.ModuleCacheMiB)
	}
	if c.Compute.Scratch && (c.Compute.ScratchMiB < 1 || c.Compute.ScratchMiB > 65536) {
		return fmt.Errorf("%w: compute.scratch_mib %d: want 1 to 65536 when compute.scratch is on", ErrConfig, c.Compute.ScratchMiB)
	}
	if m, least := c.Compute.MemoryMiB, minMemoryMiB(); m != 0 && m < least {
		return fmt.Errorf("%w: compute.memory_mib %d: want 0 (half of the machine) or at least %d, a task's default memory limit", ErrConfig, m, least)
	}
	if c.Compute.Cores < 0 {
		return fmt.Errorf("%w: compute.cores %d is negative", ErrConfig, c.Compute.Cores)
	}
	if c.Compute.ProviderWait <= 0 {
		return fmt.Errorf("%w: compute.provider_wait must be positive", ErrConfig)
	}
	host, port, err := net.SplitHostPort(c.API.Listen)
	if err != nil || port == "" {
		return fmt.Errorf("%w: api.listen %q: want host:port", ErrConfig, c.API.Listen)
	}
	if ip := net.ParseIP(host); host != "localhost" && ip == nil {
		return fmt.Errorf("%w: api.listen %q: want an IP address or localhost", ErrConfig, c.API.Listen)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%w: api.listen %q: port %q: want 0 to 65535 (0: any free port)", ErrConfig, c.API.Listen, port)
	}
	if c.API.MaxBodyBytes < 1024 {
		return fmt.Errorf("%w: api.max_body_bytes %d: want at least 1024", ErrConfig, c.API.MaxBodyBytes)
	}
	if c.API.MaxBatch < 1 || c.API.MaxBatch > 10000 {
		return fmt.Errorf("%w: api.max_batch %d: want 1 to 10000", ErrConfig, c.API.MaxBatch)
	}
	if c.API.MaxReplyBytes < 64<<10 {
		return fmt.Errorf("%w: api.max_reply_bytes %d: want at least 65536", ErrConfig, c.API.MaxReplyBytes)
	}
	for _, h := range c.API.AllowedHosts {
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, ":/[] \t") {
			return fmt.Errorf("%w: api.allowed_hosts %q: want a lower-case host name without port", ErrConfig, h)
		}
	}
	return nil
}

// ParseConfig reads config.toml's contents. Unknown keys are errors, so a
// typo does not silently leave a default in place. Keys the file omits keep
// their defaults.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			lines := make([]string, len(sm.Errors))
			for i := range sm.Errors {
				lines[i] = unknownKey(&sm.Errors[i])
			}
			if len(lines) == 1 {
				return Config{}, fmt.Errorf("%w: %s", ErrConfig, lines[0])
			}
			return Config{}, fmt.Errorf("%w: %d unknown names:\n  %s", ErrConfig, len(lines), strings.Join(lines, "\n  "))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			msg := strings.TrimPrefix(de.Error(), "toml: ")
			if k := de.Key(); len(k) > 0 {
				msg = strings.Join(k, ".") + ": " + msg
			}
			return Config{}, fmt.Errorf("%w: line %d column %d: %s", ErrConfig, row, col, msg)
		}
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// unknownKey says which key or section of config.toml a strict-mode error
// is about, on which line, and what is known there.
func unknownKey(e *toml.DecodeError) string {
	row, _ := e.Position()
	key := e.Key()
	// The deepest known section on the key's path.
	t := reflect.TypeFor[Config]()
	n := 0
	for ; n < len(key)-1; n++ {
		f, ok := tomlField(t, key[n])
		if !ok || f.Type.Kind() != reflect.Struct {
			break
		}
		t = f.Type
	}
	known := tomlKeys(t)
	section := ""
	if n > 0 {
		section = "[" + strings.Join(key[:n], ".") + "]"
	}
	var msg string
	switch {
	case strings.HasSuffix(e.Error(), "missing table"):
		msg = fmt.Sprintf("line %d: unknown section [%s]", row, strings.Join(key, "."))
	case n > 0:
		msg = fmt.Sprintf("line %d: unknown key %s in %s", row, strings.Join(key[n:], "."), section)
	default:
		msg = fmt.Sprintf("line %d: unknown key %s outside any section", row, strings.Join(key, "."))
	}
	if s := closest(key[n], known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %s?)", s)
	}
	if n == 0 {
		return msg + fmt.Sprintf(" (the sections are: %s)", strings.Join(known, ", "))
	}
	return msg + fmt.Sprintf(" (the keys of %s are: %s)", section, strings.Join(known, ", "))
}

// tomlField finds the field of struct type t that config.toml names name.
func tomlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// tomlKeys lists the names config.toml gives the fields of struct type t.
func tomlKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// closest is the name among known nearest to name, if it is a likely
// typo of it: one edit apart (two for names longer than four letters,
// a transposition counting as one), or one contains the other.
func closest(name string, known []string) string {
	limit := 1
	if len(name) > 4 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, k := range known {
		d := editDistance(name, k)
		if d > limit && len(name) >= 3 && (strings.Contains(k, name) || strings.Contains(name, k)) {
			d = limit
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// LoadConfig reads and validates the config file at path.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("node: read config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// MarshalConfig renders c as commented TOML.
func MarshalConfig(c Config) ([]byte, error) {
	body, err := toml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("node: encode config: %w", err)
	}
	head := "# fog node configuration, written by `fog init`.\n" +
		"# Every key is optional: a key left out keeps the default shown here.\n" +
		"# Durations are written like \"500ms\", \"30s\" or \"5m\".\n\n"
	return append([]byte(head), body...), nil
}

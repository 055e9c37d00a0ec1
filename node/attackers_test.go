package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	kadpb "github.com/libp2p/go-libp2p-kad-dht/pb"
	kb "github.com/libp2p/go-libp2p-kbucket"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-msgio/pbio"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/p2p/p2ptest"
)

// The attackers of TestAttacks: real libp2p hosts on loopback that speak
// the node's protocols raw, without any of fog's code on their side.

// newRawHost starts a libp2p host on loopback TCP with no resource limits
// of its own (an attacker does not limit itself), under key if given.
func newRawHost(key crypto.PrivKey) (host.Host, error) {
	opts := []libp2p.Option{
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	}
	if key != nil {
		opts = append(opts, libp2p.Identity(key))
	}
	return libp2p.New(opts...)
}

// streamMode is what an attacker does on each stream it opens.
type streamMode int

const (
	// modeFlood opens streams as fast as the target lets it and resets
	// each right after the protocol's negotiation.
	modeFlood streamMode = iota
	// modeSilent negotiates the protocol, then sends nothing and holds
	// the stream until the target ends it.
	modeSilent
	// modeSlow sends the start of a large frame one byte every
	// slowEvery, so that an idle deadline renewed per byte never fires.
	modeSlow
	// modePartial sends a frame header announcing 1000 bytes and 10 of
	// them, then holds the stream.
	modePartial
	// modeOversized announces a frame of about 4 GiB and sends up to
	// oversizedBytes of it.
	modeOversized
	// modeInvalid sends 1 KiB of random bytes, closes its side, reads
	// what comes back (bounded) and starts again.
	modeInvalid
)

const (
	slowEvery      = 200 * time.Millisecond
	oversizedBytes = 4 << 20
)

func (m streamMode) String() string {
	return [...]string{"stream flood", "silent streams", "slow streams", "partial frames", "oversized frames", "invalid messages"}[m]
}

// frameHeaders are the ways fog's protocols start a frame, each
// announcing n bytes: a 4-byte big-endian length (DMs, the ledger's sync,
// payments), a uvarint (kad, bitswap, gossipsub), a type byte and a
// uvarint (tasks). Fixed-size protocols (mix packets, blob requests) take
// any of them as the start of their first message.
func frameHeaders(n uint64) [][]byte {
	be := binary.BigEndian.AppendUint32(nil, uint32(min(n, 1<<32-1)))
	uv := binary.AppendUvarint(nil, n)
	typed := append([]byte{1}, uv...)
	return [][]byte{be, uv, typed}
}

// streamAttack is a set of hosts that run one streamMode on every
// protocol against a target, each host holding perProto streams per
// protocol (reopening what the target ends), until stopped.
type streamAttack struct {
	mode     streamMode
	hosts    []host.Host
	protos   []protocol.ID
	perProto int

	opened, refused, ended atomic.Int64
	bytes                  atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (a *streamAttack) start(target peer.AddrInfo) error {
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for _, h := range a.hosts {
		if err := h.Connect(a.ctx, target); err != nil {
			a.cancel()
			return fmt.Errorf("attacker connect: %w", err)
		}
	}
	for _, h := range a.hosts {
		for pi, pid := range a.protos {
			for i := range a.perProto {
				// (pi+i)%3 picks the framing this stream uses.
				a.wg.Go(func() { a.loop(h, target.ID, pid, (pi+i)%3) })
			}
		}
	}
	return nil
}

// stop ends the attack: every stream is reset.
func (a *streamAttack) stop() {
	a.cancel()
	a.wg.Wait()
}

func (a *streamAttack) String() string {
	return fmt.Sprintf("%s: %d hosts × %d protocols × %d streams; opened %d, refused %d, ended by the target %d, %d bytes sent",
		a.mode, len(a.hosts), len(a.protos), a.perProto, a.opened.Load(), a.refused.Load(), a.ended.Load(), a.bytes.Load())
}

// loop opens streams on pid one after another until the attack stops.
func (a *streamAttack) loop(h host.Host, target peer.ID, pid protocol.ID, framing int) {
	for a.ctx.Err() == nil {
		st, err := h.NewStream(a.ctx, target, pid)
		if err != nil {
			a.refused.Add(1)
			// The target refused (a limit) or the connection went: try
			// again shortly, as an attacker would.
			select {
			case <-a.ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		a.opened.Add(1)
		stop := context.AfterFunc(a.ctx, func() { _ = st.Reset() })
		a.one(st, framing)
		stop()
		_ = st.Reset()
	}
}

// one runs the mode on one stream and returns when the stream is done.
func (a *streamAttack) one(st network.Stream, framing int) {
	write := func(b []byte) bool {
		n, err := st.Write(b)
		a.bytes.Add(int64(n))
		return err == nil
	}
	// hold reads until the target ends the stream.
	hold := func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(st, 1<<20))
		if a.ctx.Err() == nil {
			a.ended.Add(1)
		}
	}
	switch a.mode {
	case modeFlood:
		write(nil) // the negotiation only
	case modeSilent:
		if write(nil) {
			hold()
		}
	case modeSlow:
		msg := append(frameHeaders(1 << 16)[framing], make([]byte, 1<<16)...)
		for _, b := range msg {
			if !write([]byte{b}) {
				a.ended.Add(1)
				return
			}
			select {
			case <-a.ctx.Done():
				return
			case <-time.After(slowEvery):
			}
		}
		hold()
	case modePartial:
		if write(append(frameHeaders(1000)[framing], make([]byte, 10)...)) {
			hold()
		}
	case modeOversized:
		if !write(frameHeaders(1<<32 - 2)[framing]) {
			return
		}
		// Read on the side, so that a target that answers is not stuck on
		// its write, and so that its reset is seen.
		done := make(chan struct{})
		go func() { defer close(done); hold() }()
		chunk := make([]byte, 32<<10)
		_, _ = rand.Read(chunk)
		for sent := 0; sent < oversizedBytes && write(chunk); sent += len(chunk) {
		}
		_ = st.CloseWrite()
		<-done
	case modeInvalid:
		b := make([]byte, 1024)
		_, _ = rand.Read(b)
		if write(b) {
			_ = st.CloseWrite()
			_ = st.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, _ = io.Copy(io.Discard, io.LimitReader(st, 1<<20))
		}
	}
}

// eclipse is a set of hosts whose peer IDs are ground close to a key and
// that serve the DHT protocols as an eclipse attacker does: every query
// is answered with the attackers alone and no value, and every store is
// acknowledged and dropped.
type eclipse struct {
	hosts []host.Host
	infos []peer.AddrInfo

	queries, stores atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// groundKeys returns n keys whose peer IDs share at least bits leading
// bits with key in the DHT's keyspace (SHA-256).
func groundKeys(target string, n, bits int) ([]crypto.PrivKey, error) {
	want := kb.ConvertKey(target)
	var out []crypto.PrivKey
	for len(out) < n {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			return nil, err
		}
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			return nil, err
		}
		if kb.CommonPrefixLen(kb.ConvertPeerID(id), want) >= bits {
			out = append(out, k)
		}
	}
	return out, nil
}

// newEclipse starts n hosts ground within bits of key, serving protos.
func newEclipse(key string, n, bits int, protos []protocol.ID) (*eclipse, error) {
	keys, err := groundKeys(key, n, bits)
	if err != nil {
		return nil, err
	}
	e := &eclipse{}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, k := range keys {
		h, err := newRawHost(k)
		if err != nil {
			e.close()
			return nil, err
		}
		e.hosts = append(e.hosts, h)
		e.infos = append(e.infos, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	}
	for _, h := range e.hosts {
		for _, pid := range protos {
			h.SetStreamHandler(pid, e.serve)
		}
	}
	return e, nil
}

// serve answers one DHT stream.
func (e *eclipse) serve(s network.Stream) {
	e.wg.Add(1)
	defer e.wg.Done()
	defer s.Reset()
	stop := context.AfterFunc(e.ctx, func() { _ = s.Reset() })
	defer stop()
	r := pbio.NewDelimitedReader(s, network.MessageSizeMax)
	w := pbio.NewDelimitedWriter(s)
	for {
		var m kadpb.Message
		if err := r.ReadMsg(&m); err != nil {
			return
		}
		var resp *kadpb.Message
		switch m.GetType() {
		case kadpb.Message_FIND_NODE, kadpb.Message_GET_VALUE, kadpb.Message_GET_PROVIDERS:
			e.queries.Add(1)
			resp = &kadpb.Message{Type: m.GetType(), Key: m.GetKey(), CloserPeers: kadpb.RawPeerInfosToPBPeers(e.infos)}
		case kadpb.Message_PUT_VALUE:
			e.stores.Add(1)
			resp = &m // acknowledged, never kept
		case kadpb.Message_ADD_PROVIDER:
			e.stores.Add(1)
			continue
		case kadpb.Message_PING:
			resp = &m
		default:
			return
		}
		if err := w.WriteMsg(resp); err != nil {
			return
		}
	}
}

// connect connects every attacker to target.
func (e *eclipse) connect(ctx context.Context, target peer.AddrInfo) error {
	for _, h := range e.hosts {
		if err := h.Connect(ctx, target); err != nil {
			return fmt.Errorf("eclipse connect: %w", err)
		}
	}
	return nil
}

func (e *eclipse) close() {
	e.cancel()
	for _, h := range e.hosts {
		_ = h.Close()
	}
	e.wg.Wait()
}

func (e *eclipse) String() string {
	return fmt.Sprintf("eclipse: %d hosts; %d queries answered with attackers only, %d stores dropped",
		len(e.hosts), e.queries.Load(), e.stores.Load())
}

// The attackers run in a child process (the test binary again, running
// TestAttackerProcess), as they would on another machine: in the node's
// process their goroutines would queue in the same Go scheduler as the
// node's and their memory count in its RSS.

// attackerEnv carries the attack's spec, in JSON, to the child.
const attackerEnv = "FOG_ATTACKER_SPEC"

// attackSpec is one attack for the child to run.
type attackSpec struct {
	// Kind is "flood", "streams", "gossip" or "eclipse".
	Kind   string
	Target peer.AddrInfo
	// Honest is connected to by an eclipse as well.
	Honest *peer.AddrInfo `json:",omitempty"`

	// flood: Addrs addresses 127.0.0.First…, Conns connections each.
	First, Addrs, Conns int
	// streams
	Mode            streamMode
	Hosts, PerProto int
	Protos          []protocol.ID
	// gossip
	Topics []string
	// eclipse: Hosts hosts ground within Bits of Key.
	Key  string
	Bits int
}

// TestAttackerProcess is the child's side: it runs the attack in the spec
// of attackerEnv, prints "attack-ready" once it is in place, runs until
// its stdin closes, then prints "attack-done: " and what it did. Run
// directly (without the spec) it has nothing to do.
func TestAttackerProcess(t *testing.T) {
	raw := os.Getenv(attackerEnv)
	if raw == "" {
		t.Skip("the attackers' child process of TestAttacks")
	}
	var spec attackSpec
	require.NoError(t, json.Unmarshal([]byte(raw), &spec))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, describe, err := startAttack(ctx, spec)
	if err != nil {
		fmt.Printf("attack-error: %v\n", err)
		return
	}
	fmt.Println("attack-ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	d := describe()
	stop()
	fmt.Printf("attack-done: %s\n", d)
}

// startAttack starts spec's attack in this process.
func startAttack(ctx context.Context, spec attackSpec) (stop func(), describe func() string, err error) {
	switch spec.Kind {
	case "flood":
		var (
			mu       sync.Mutex
			floods   []*p2ptest.Flood
			firstErr error
			wg       sync.WaitGroup
		)
		for i := range spec.Addrs {
			from := netip.AddrFrom4([4]byte{127, 0, 0, byte(spec.First + i)})
			wg.Go(func() {
				f, err := p2ptest.NewFlood(ctx, spec.Target, from, spec.Conns, 8)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				floods = append(floods, f)
			})
		}
		wg.Wait()
		stop := func() {
			for _, f := range floods {
				f.Close()
			}
		}
		if firstErr != nil {
			stop()
			return nil, nil, firstErr
		}
		return stop, func() string {
			held, refused := 0, 0
			for _, f := range floods {
				held, refused = held+f.Held, refused+f.Refused
			}
			return fmt.Sprintf("%d addresses × %d connections: %d held, %d refused", spec.Addrs, spec.Conns, held, refused)
		}, nil

	case "streams":
		a := &streamAttack{mode: spec.Mode, protos: spec.Protos, perProto: spec.PerProto}
		closeHosts := func() {
			for _, h := range a.hosts {
				h.Close()
			}
		}
		for range spec.Hosts {
			h, err := newRawHost(nil)
			if err != nil {
				closeHosts()
				return nil, nil, err
			}
			a.hosts = append(a.hosts, h)
		}
		if err := a.start(spec.Target); err != nil {
			closeHosts()
			return nil, nil, err
		}
		return func() { a.stop(); closeHosts() }, a.String, nil

	case "gossip":
		var attackers []*gossipnet.Attacker
		var hosts []host.Host
		stop := func() {
			for _, a := range attackers {
				a.Close()
			}
			for _, h := range hosts {
				h.Close()
			}
		}
		for _, topic := range spec.Topics {
			h, err := newRawHost(nil)
			if err != nil {
				stop()
				return nil, nil, err
			}
			hosts = append(hosts, h)
			// Replayed: what the target sent it, 300 ms later, and on the
			// capacity topic another node's adverts of a minute ago.
			a, err := gossipnet.NewAttacker(h, gossipnet.AttackerConfig{Topic: topic, Rate: 200, ReplayAfter: 300 * time.Millisecond})
			if err != nil {
				stop()
				return nil, nil, err
			}
			attackers = append(attackers, a)
			if topic == gossip.CapacityTopic {
				stale, err := staleAdverts(20)
				if err != nil {
					stop()
					return nil, nil, err
				}
				a.Seed(stale...)
			}
			if err := a.Start([]peer.AddrInfo{spec.Target}); err != nil {
				stop()
				return nil, nil, err
			}
		}
		return stop, func() string {
			sent := map[gossipnet.Attack]uint64{}
			for _, a := range attackers {
				for k, n := range a.Sent() {
					sent[k] += n
				}
			}
			return fmt.Sprintf("%d topics, one attacker each, 200 messages/s: sent %v", len(spec.Topics), sent)
		}, nil

	case "eclipse":
		e, err := newEclipse(spec.Key, spec.Hosts, spec.Bits, spec.Protos)
		if err != nil {
			return nil, nil, err
		}
		// They make themselves known to both nodes, and through their
		// answers to whoever asks.
		for _, ai := range []peer.AddrInfo{spec.Target, *spec.Honest} {
			if err := e.connect(ctx, ai); err != nil {
				e.close()
				return nil, nil, err
			}
		}
		return e.close, e.String, nil
	}
	return nil, nil, fmt.Errorf("unknown attack kind %q", spec.Kind)
}

// staleAdverts returns n adverts of another node, genuinely signed by its
// key but issued a minute ago: what an attacker that recorded them
// replays.
func staleAdverts(n int) ([]*pb.Message, error) {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return nil, err
	}
	issued := time.UnixMilli(time.Now().Add(-time.Minute).UnixMilli())
	var out []*pb.Message
	for i := range n {
		data, err := gossip.EncodeAdvert(gossip.Advert{Peer: id, Cores: 2, Runtimes: []string{gossip.RuntimeWasm},
			Seq: uint64(i + 1), Issued: issued, Expires: issued.Add(time.Minute)})
		if err != nil {
			return nil, err
		}
		m, err := gossipnet.SignMessage(k, gossip.CapacityTopic, data, uint64(i+1))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// attackerProcess is a running child.
type attackerProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// spawnAttacker starts the child with spec and waits until its attack is
// in place.
func spawnAttacker(ctx context.Context, spec attackSpec) (*attackerProcess, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	args := []string{os.Args[0], "-test.run=^TestAttackerProcess$", "-test.count=1"}
	if *attackNice {
		// The attackers' CPU is not the node's, as on another machine:
		// on a machine of two cores it would otherwise be most of the
		// attack's effect.
		if nice, err := exec.LookPath("nice"); err == nil {
			args = append([]string{nice, "-n", "19"}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), attackerEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &attackerProcess{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	var said []string
	for {
		select {
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case l, ok := <-p.lines:
			said = append(said, l)
			switch {
			case !ok:
				return nil, fmt.Errorf("attacker exited before its attack was in place: %v: %s", cmd.Wait(), strings.Join(said, "\n"))
			case l == "attack-ready":
				return p, nil
			case strings.HasPrefix(l, "attack-error: "):
				p.stop()
				return nil, errors.New(strings.TrimPrefix(l, "attack-error: "))
			}
		}
	}
}

// stop ends the attack and returns what the child says it did.
func (p *attackerProcess) stop() string {
	_ = p.stdin.Close()
	var done string
	for l := range p.lines {
		if d, ok := strings.CutPrefix(l, "attack-done: "); ok {
			done = d
		}
	}
	if err := p.cmd.Wait(); err != nil && done == "" {
		done = fmt.Sprintf("attacker: %v", err)
	}
	return done
}

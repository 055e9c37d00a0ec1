package node

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/cputime"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/token/ledgersvc"
)

var (
	attackFor = flag.Duration("attack.for", 2*time.Second,
		"how long each attack of TestAttacks lasts (make attacks: 20s)")
	attackStrict = flag.Bool("attack.strict", false,
		"hold TestAttacks to issue 17's bounds (make attacks) rather than make test's looser ones")
	attackNice = flag.Bool("attack.nice", false,
		"run TestAttacks' attackers at the lowest CPU priority, as if on another machine")
	attackStreamRate = flag.String("attack.streamrate", "on",
		"the target's per-peer limit on the rate of new inbound streams: on (the defaults), off (p2p.stream_rate = 0), or refuse (no suspension: p2p.stream_rate_strikes beyond reach), to compare")
)

// The bounds every attack of TestAttacks is held to (issue 17).
const (
	// statusP99 bounds the 99th percentile of node.status over the API
	// during an attack: the node stays responsive.
	statusP99 = 100 * time.Millisecond
	// rssGrowth bounds the growth of the test process's resident memory
	// during an attack (the node, its honest peer and the attackers: an
	// upper bound on the node's own).
	rssGrowth = 64 << 20
	// honestRuns is how many times each honest work runs before and during
	// an attack; the medians are compared.
	honestRuns = 3
)

// TestAttacks runs one real node (the target) and one honest peer on
// loopback, both with the ledger, and against the target, one attack at a
// time, hostile raw-protocol hosts in a child process: connection floods
// from one address and from 40; on every protocol the target serves
// (fog's, both DHTs', Bitswap's, gossipsub's, libp2p's own) stream floods,
// silent and slow streams, partial and oversized frames and invalid
// messages; a raw gossipsub attacker on every topic the target is
// subscribed to, sending garbage, oversized, forged, misattributed,
// replayed and flooded messages; and a DHT eclipse by 24 hosts whose IDs
// are ground close to the key of the target's record.
//
// Each row measures, without the attack and then during it, node.status's
// latency over the API (p99), the process's RSS and Go heap, its CPU time,
// and the honest peer's work: a task run on the target, a DHT lookup of
// the target's record, an advert reaching the target. During every attack
// no honest work and no node.status call fails, and memory grows by less
// than 64 MiB (RSS; the Go heap under -race, whose shadow memory inflates
// RSS). The timing bounds of make test (-race, a shared machine) only
// catch a stall: node.status p99 within max(1 s, 20× its p99 without the
// attack), honest work within 20× its median without plus 1 s. With
// -attack.strict (make attacks) they are issue 17's: p99 within 100 ms (or
// 3× the p99 without the attack, when the machine alone is slower than
// that), honest work within 5× plus 250 ms.
//
// Each attack lasts -attack.for (2 s); make attacks runs them for 20 s,
// with the attackers at the lowest CPU priority (-attack.nice: on a
// machine of two cores their own CPU would otherwise be most of what the
// node sees), and prints the table of docs/bench.md.
func TestAttacks(t *testing.T) {
	// Both run the ledger, so that its topics and protocols are served.
	dirs, cfgs := ledgerNet(t, 2)
	// The honest peer (127.0.0.1) is exempt from the per-IP limit; the
	// floods come from other loopback addresses. The target serves both
	// DHTs.
	cfgs[0].P2P.ConnsPerIP = 8
	cfgs[0].P2P.ConnExempt = []string{"127.0.0.1/32"}
	cfgs[0].DHT.Mode = "server"
	switch *attackStreamRate {
	case "on":
	case "off":
		cfgs[0].P2P.StreamRate = 0
	case "refuse":
		cfgs[0].P2P.StreamStrikes = 1 << 30
	default:
		t.Fatalf("-attack.streamrate %q: want on, off or refuse", *attackStreamRate)
	}
	target := startAttackedNode(t, dirs[0], cfgs[0])
	cfgs[1].Compute.Offer = false
	cfgs[1].P2P.Bootstrap = []string{target.p2pAddr()}
	honest := startAttackedNode(t, dirs[1], cfgs[1])
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	awaitDirectory(t, honest.Node, 1)
	tc, hc := target.client(t), honest.client(t)
	// A chat channel, so that the target has a channel's topic too.
	require.NoError(t, tc.Call(ctx, "chat.join", ChatChannelParams{Channel: "attacked"}, nil))
	targetInfo := target.Host().AddrInfo()

	// The target's record, which the honest peer looks up.
	const probe = "attack-probe"
	var rec DHTRecord
	require.Eventually(t, func() bool {
		return tc.Call(ctx, "dht.put", DHTPutParams{Name: probe, Value: "found"}, &rec) == nil
	}, 30*time.Second, 50*time.Millisecond, "the target publishes its record")

	echo, err := os.ReadFile("../compute/testdata/echo.wasm")
	require.NoError(t, err)
	adv := gossip.NewAdvertiser(honest.Gossip(), gossip.StaticCapacity{Cores: 1, Memory: 1 << 30, Runtimes: []string{gossip.RuntimeWasm}})
	works := []honestWork{
		{"task", func(ctx context.Context) error {
			var sub TaskSubmitResult
			if err := hc.Call(ctx, "task.submit", TaskSubmitParams{Module: echo, Stdin: []byte("honest")}, &sub); err != nil {
				return err
			}
			var res compute.Result
			if err := hc.Call(ctx, "task.result", TaskIDParams{ID: string(sub.ID), Wait: true}, &res); err != nil {
				return err
			}
			if res.State != compute.StateDone || string(res.Stdout) != "honest" || len(res.Providers) != 1 || res.Providers[0] != targetInfo.ID {
				return fmt.Errorf("task %s: %q %s, run by %v", res.State, res.Stdout, res.Error, res.Providers)
			}
			return nil
		}},
		{"lookup", func(ctx context.Context) error {
			var got DHTRecord
			if err := hc.Call(ctx, "dht.get", DHTGetParams{Peer: targetInfo.ID.String(), Name: probe}, &got); err != nil {
				return err
			}
			if got.Value != "found" {
				return fmt.Errorf("lookup: value %q", got.Value)
			}
			return nil
		}},
		{"advert", func(ctx context.Context) error {
			ad, err := adv.Publish(ctx)
			if err != nil {
				return err
			}
			d := target.Gossip().Directory()
			return until(ctx, d.Updated, func() bool {
				e, ok := d.Get(honest.Host().ID())
				return ok && e.Advert.Seq >= ad.Seq
			})
		}},
	}
	// The task's module compiles once at the target; the first advert
	// and lookup set up what later ones reuse.
	for _, w := range works {
		require.NoError(t, w.do(ctx), w.name)
	}

	protos := target.Host().Mux().Protocols()
	slices.Sort(protos)
	t.Logf("the target serves %d protocols: %v", len(protos), protos)
	for _, want := range []string{"/fog/task/", "/fog/blob/", "/fog/kad/", "/fog/lan/kad/", "/meshsub/", "/ipfs/bitswap",
		"/fog/ledger/sync/", "/fog/pay/", "/fog/mix/", "/fog/mailbox/", "/fog/chat/dm/", "/fog/chat/sync/"} {
		assert.True(t, slices.ContainsFunc(protos, func(p protocol.ID) bool { return strings.HasPrefix(string(p), want) }),
			"%s… is served, so attacked", want)
	}
	topics := target.Gossip().Topics()
	slices.Sort(topics)
	t.Logf("the target is subscribed to %d topics: %v", len(topics), topics)
	for _, want := range []string{gossip.CapacityTopic, ledgersvc.BlocksTopic, ledgersvc.VotesTopic, ledgersvc.DAOTopic,
		chatsvc.NamesTopic, channel.Topic("attacked")} {
		assert.Contains(t, topics, want, "subscribed, so attacked")
	}

	honestInfo := honest.Host().AddrInfo()
	nextAddr := 2 // 127.0.0.N of the next flood: each address's limit is its own
	flood := func(addrs, conns int) attackSpec {
		spec := attackSpec{Kind: "flood", Target: targetInfo, First: nextAddr, Addrs: addrs, Conns: conns}
		nextAddr += addrs
		return spec
	}
	streams := func(mode streamMode, hosts, perProto int) attackSpec {
		return attackSpec{Kind: "streams", Target: targetInfo, Mode: mode, Hosts: hosts, PerProto: perProto, Protos: protos}
	}
	rows := []struct {
		name string
		spec attackSpec
	}{
		// Issue 12.3: one process, one address, a fresh identity per
		// connection.
		{"connection flood, one address", flood(1, 300)},
		// Many identities from many addresses: what the per-IP limit cannot
		// stop fills the inbound limit, not more.
		{"connection flood, 40 addresses", flood(40, 12)},
		{"stream flood", streams(modeFlood, 4, 2)},
		// Issue 12.2, on every protocol rather than the task protocol.
		{"silent streams", streams(modeSilent, 4, 4)},
		{"slow streams", streams(modeSlow, 4, 2)},
		{"partial frames", streams(modePartial, 4, 3)},
		{"oversized frames", streams(modeOversized, 2, 1)},
		{"invalid messages", streams(modeInvalid, 4, 2)},
		{"gossip: invalid, oversized, forged, replayed, flooded", attackSpec{Kind: "gossip", Target: targetInfo, Topics: topics}},
		{"DHT eclipse of the record", attackSpec{Kind: "eclipse", Target: targetInfo, Honest: &honestInfo,
			Key: dht.RecordKey(targetInfo.ID, probe), Hosts: 24, Bits: 6, Protos: []protocol.ID{dht.WANProtocol, dht.LANProtocol}}},
	}

	var results []attackResult
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			r := attackResult{name: row.name}
			// Without the attack, in a window half as long.
			quiet := startProbe(ctx, tc)
			began := time.Now()
			r.base = runWorks(t, ctx, works, true)
			sleepCtx(ctx, time.Until(began.Add(*attackFor/2)))
			r.quiet = quiet.stop()

			rate0 := target.Host().StreamRateStats()
			p := startProbe(ctx, tc)
			began = time.Now()
			a, err := spawnAttacker(ctx, row.spec)
			if err != nil {
				p.stop()
				if strings.Contains(err.Error(), "source address") {
					t.Skipf("cannot flood from other loopback addresses here: %v", err)
				}
				require.NoError(t, err)
			}
			if row.spec.Kind == "flood" {
				r.newcomer = newcomer(ctx, targetInfo)
			}
			// Let the attack take hold, then do the honest work in it.
			sleepCtx(ctx, *attackFor/4)
			r.during = runWorks(t, ctx, works, false)
			sleepCtx(ctx, time.Until(began.Add(*attackFor)))
			r.what = a.stop()
			r.attack = p.stop()
			rate1 := target.Host().StreamRateStats()
			r.rate = fmt.Sprintf("; the target refused %d streams for their rate (let %d through) and suspended %d peers",
				rate1.Refused-rate0.Refused, rate1.Allowed-rate0.Allowed, rate1.Suspended-rate0.Suspended)
			results = append(results, r)
			t.Log(r.what + r.newcomer + r.rate)
			t.Log(r.String())

			assert.Zero(t, r.attack.failed, "node.status calls failed during the attack")
			if raceEnabled {
				assert.Less(t, r.attack.heap, int64(rssGrowth), "Go heap growth during the attack (RSS under -race is the detector's)")
			} else {
				assert.Less(t, r.attack.rss, int64(rssGrowth), "RSS growth during the attack")
			}
			// make test's bounds (-race, a loaded machine) catch a node that
			// stalls or fails; -attack.strict holds it to issue 17's.
			statusBound, slack, factor := max(time.Second, 20*r.quiet.p99), time.Second, time.Duration(20)
			if *attackStrict {
				statusBound, slack, factor = max(statusP99, 3*r.quiet.p99), 250*time.Millisecond, 5
			}
			assert.LessOrEqual(t, r.attack.p99, statusBound, "node.status p99 during the attack (%v without)", r.quiet.p99)
			for _, w := range works {
				base, during := median(r.base[w.name]), median(r.during[w.name])
				if during < 0 {
					t.Errorf("honest %s failed during the attack", w.name)
					continue
				}
				assert.LessOrEqual(t, during, factor*base+slack,
					"honest %s: %v during the attack, %v without", w.name, during, base)
			}
		})
	}
	t.Logf("attacks of %v each:\n%s", *attackFor, attackTable(results))
}

// startAttackedNode starts a node with the ledger, whose gossip
// remembers messages long enough for a chat channel's topic.
func startAttackedNode(t *testing.T, dir DataDir, cfg Config) *testNode {
	t.Helper()
	p2pc, dhtc, gc, lc := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig(), ledgersvc.TestConfig()
	gc.SeenTTL = 2 * time.Minute
	n, err := Start(context.Background(), cfg, Options{
		Dir: dir, P2P: &p2pc, DHT: &dhtc, Gossip: &gc, Ledger: &lc, Supervisor: TestSupervisorConfig(),
		Logger: NewLogger(io.Discard, cfg.Log),
	})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return &testNode{Node: n, dir: dir, cfg: cfg}
}

// honestWork is one kind of honest work whose latency an attack must not
// spoil.
type honestWork struct {
	name string
	do   func(context.Context) error
}

// runWorks runs each work honestRuns times and returns their durations; a
// failed run counts as -1 (must: fail the test instead).
func runWorks(t *testing.T, ctx context.Context, works []honestWork, must bool) map[string][]time.Duration {
	t.Helper()
	out := map[string][]time.Duration{}
	for range honestRuns {
		for _, w := range works {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			start := time.Now()
			err := w.do(wctx)
			took := time.Since(start)
			cancel()
			if err != nil {
				if must {
					require.NoError(t, err, "honest %s without an attack", w.name)
				}
				t.Logf("honest %s failed after %v: %v", w.name, took, err)
				took = -1
			}
			out[w.name] = append(out[w.name], took)
		}
	}
	return out
}

// median of ds, or -1 if any failed.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 || slices.Contains(ds, -1) {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// probe calls node.status on the target over its API every 20 ms, and
// samples the process's memory and CPU time, until stopped.
type probe struct {
	cancel context.CancelFunc
	done   chan struct{}
	began  time.Time
	cpu0   time.Duration

	lat             []time.Duration
	rss0, heap0     int64
	rssMax, heapMax int64
	failed          int
}

// window is what a probe saw.
type window struct {
	// p99 of node.status's latency over calls (a failed call counts as an
	// hour); failed calls.
	p99           time.Duration
	calls, failed int
	// rss and heap are the growth of the process's resident set and live
	// Go heap; cpu the CPU time it used per second.
	rss, heap int64
	cpu       float64
}

func startProbe(ctx context.Context, c *Client) *probe {
	ctx, cancel := context.WithCancel(ctx)
	cpu0, _ := cputime.Process()
	p := &probe{cancel: cancel, done: make(chan struct{}), began: time.Now(), cpu0: cpu0, rss0: rss(), heap0: heapBytes()}
	p.rssMax, p.heapMax = p.rss0, p.heap0
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			start := time.Now()
			var st Status
			if err := c.Call(ctx, "node.status", nil, &st); err != nil {
				if ctx.Err() != nil {
					return
				}
				p.failed++
			} else {
				p.lat = append(p.lat, time.Since(start))
			}
			p.rssMax, p.heapMax = max(p.rssMax, rss()), max(p.heapMax, heapBytes())
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *probe) stop() window {
	p.cancel()
	<-p.done
	cpu, _ := cputime.Process()
	lat := slices.Clone(p.lat)
	for range p.failed {
		lat = append(lat, time.Hour)
	}
	slices.Sort(lat)
	w := window{calls: len(lat), failed: p.failed, rss: p.rssMax - p.rss0, heap: p.heapMax - p.heap0,
		cpu: float64(cpu-p.cpu0) / float64(time.Since(p.began))}
	if len(lat) > 0 {
		w.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return w
}

// rss returns the process's resident set in bytes (0 where /proc is not).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// heapBytes returns the live heap as the last GC marked it: what the
// process keeps, not the garbage it has yet to collect.
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// newcomer says whether a peer not yet connected to target can connect.
func newcomer(ctx context.Context, target peer.AddrInfo) string {
	h, err := newRawHost(nil)
	if err != nil {
		return "; no newcomer: " + err.Error()
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.Connect(ctx, target); err != nil {
		return "; a new peer is refused: " + firstLine(err)
	}
	return "; a new peer connects"
}

type attackResult struct {
	name, what, newcomer string
	rate                 string // the target's refusals for the rate of new streams
	base, during         map[string][]time.Duration
	quiet, attack        window
}

func (r attackResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: node.status p99 %s over %d calls (without: %s), RSS %+.1f MiB, heap %+.1f MiB, CPU %.2f (without: %.2f);",
		r.name, ms(r.attack.p99), r.attack.calls, ms(r.quiet.p99), float64(r.attack.rss)/(1<<20), float64(r.attack.heap)/(1<<20),
		r.attack.cpu, r.quiet.cpu)
	for _, w := range []string{"task", "lookup", "advert"} {
		fmt.Fprintf(&b, " %s %s (without: %s)", w, ms(median(r.during[w])), ms(median(r.base[w])))
	}
	return b.String()
}

// attackTable formats the results as docs/bench.md's table.
func attackTable(rs []attackResult) string {
	var b strings.Builder
	b.WriteString("| attack | task: without / during | lookup: without / during | advert: without / during | node.status p99: without / during | RSS growth | CPU: without / during |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s |", r.name)
		for _, w := range []string{"task", "lookup", "advert"} {
			fmt.Fprintf(&b, " %s / %s |", ms(median(r.base[w])), ms(median(r.during[w])))
		}
		fmt.Fprintf(&b, " %s / %s | %.1f MiB | %.2f / %.2f |\n", ms(r.quiet.p99), ms(r.attack.p99), float64(r.attack.rss)/(1<<20), r.quiet.cpu, r.attack.cpu)
	}
	return b.String()
}

func ms(d time.Duration) string {
	if d < 0 {
		return "failed"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// until waits until cond holds, looking again at each notification of
// changed, or returns ctx's error.
func until(ctx context.Context, changed func() <-chan struct{}, cond func() bool) error {
	for {
		ch := changed()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// sleepCtx paces the attack (it synchronises nothing).
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

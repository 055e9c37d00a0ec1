package nettest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fog-compute/fog/node"
)

// Env switches the test on; `make nettest` sets it.
const Env = "FOG_NETTEST"

// The lab's size: public nodes on the WAN (the first is everyone's
// bootstrap peer) and NATed nodes, each behind its own router.
const (
	publicNodes = 5
	natedNodes  = 2
	// budget bounds the whole run, clean-up excluded.
	budget = 8 * time.Minute
)

// outcome is one scenario's line.
type outcome struct {
	name   string
	err    error
	took   time.Duration
	detail string
}

func TestNet(t *testing.T) {
	if os.Getenv(Env) != "1" {
		t.Skipf("nettest runs fog processes in network namespaces as root; %s=1 (make nettest) runs it", Env)
	}
	if os.Geteuid() != 0 {
		t.Skip("nettest: SKIPPED: making network namespaces needs root")
	}
	for _, tool := range []string{"ip", "tc", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("nettest: SKIPPED: %s not installed (iproute2 and iptables; make nettest installs iptables where apt-get can)", tool)
		}
	}
	probe := fmt.Sprintf("%s%dx-probe", nsPrefix, os.Getpid())
	if err := sh("ip", "netns", "add", probe); err != nil {
		t.Skipf("nettest: SKIPPED: network namespaces are not permitted here: %v", err)
	}
	if err := sh("ip", "netns", "del", probe); err != nil {
		t.Fatalf("delete probe namespace: %v", err)
	}

	// Ctrl-C or SIGTERM (make interrupted) still cleans up.
	sctx, stop := signal.NotifyContext(t.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sctx, budget)
	defer cancel()
	bin := t.TempDir()
	fog, wasm := filepath.Join(bin, "fog"), filepath.Join(bin, "wordcount.wasm")
	if err := sh("go", "build", "-o", fog, "github.com/fog-compute/fog/cmd/fog"); err != nil {
		t.Fatal(err)
	}
	if out, err := goBuildWasm(wasm); err != nil {
		t.Fatalf("build wordcount: %v: %s", err, out)
	}
	module, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}

	l, skip, err := newLab(t, fog)
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Skip("nettest: SKIPPED: " + skip)
	}
	defer l.Close()
	n, err := l.setup()
	if err != nil {
		t.Fatalf("setting the lab up: %v", err)
	}
	defer func() {
		if t.Failed() {
			for _, p := range l.procs {
				t.Logf("--- %s (%s) log tail:\n%s", p.name, p.id, p.logTail(25))
			}
		}
	}()

	start := time.Now()
	var outs []outcome
	run := func(name string, f func(ctx context.Context) (string, error)) bool {
		t0 := time.Now()
		detail, err := f(ctx)
		o := outcome{name: name, err: err, took: time.Since(t0), detail: detail}
		outs = append(outs, o)
		status := "PASS"
		if err != nil {
			status = "FAIL"
			t.Errorf("%s: %v", name, err)
			if detail != "" {
				detail += "; "
			}
			detail += err.Error()
		}
		fmt.Printf("nettest: %-4s %-20s %6.1fs  %s\n", status, name, o.took.Seconds(), detail)
		return err == nil
	}

	// A scenario whose prerequisite failed is not run, and says so.
	notRun := 0
	after := func(ok bool, prereq, name string, f func(ctx context.Context) (string, error)) bool {
		if !ok {
			notRun++
			fmt.Printf("nettest: %-4s %-20s %6s  not run: %s failed\n", "SKIP", name, "", prereq)
			return false
		}
		return run(name, f)
	}
	up := run("boot-public", n.bootPublic)
	natUp := after(up, "boot-public", "nat-autonat-relay", n.bootNATed)
	path := "none"
	after(natUp, "nat-autonat-relay", "nat-pair-path", func(ctx context.Context) (string, error) {
		d, p, err := n.natPair(ctx)
		path = p
		return d, err
	})
	after(natUp, "nat-autonat-relay", "task-from-nat", func(ctx context.Context) (string, error) { return n.taskFromNAT(ctx, module) })
	after(natUp, "nat-autonat-relay", "dm-nat-pair", n.dmNATPair)
	after(natUp, "nat-autonat-relay", "mix-nat-pair", n.mixNATPair)
	after(up, "boot-public", "partition-heal", n.partitionHeal)
	after(up, "boot-public", "kill9-restart", func(ctx context.Context) (string, error) { return n.killRestart(ctx, module) })
	failed := 0
	for _, o := range outs {
		if o.err != nil {
			failed++
		}
	}
	fmt.Printf("nettest: %d scenarios, %d passed, %d failed, %d not run in %.0fs; %d public + %d NATed nodes; NATed pair path: %s; links: %s\n",
		len(outs)+notRun, len(outs)-failed, failed, notRun, time.Since(start).Seconds(), publicNodes, natedNodes, path, l.shaping())
}

// goBuildWasm builds examples/wordcount for WASI.
func goBuildWasm(out string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-o", out, "github.com/fog-compute/fog/examples/wordcount")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	return cmd.CombinedOutput()
}

// netw is the lab's nodes.
type netw struct {
	l       *lab
	pub     []*proc
	nat     []*proc
	pubIP   []string
	natIP   []string // the routers' WAN addresses
	cfgs    map[*proc]node.Config
	genesis time.Time
}

// setup makes the namespaces and the nodes' data directories.
func (l *lab) setup() (*netw, error) {
	n := &netw{l: l, cfgs: map[*proc]node.Config{}}
	if err := l.buildWAN(); err != nil {
		return nil, err
	}
	// The relay lottery's epoch 0 starts once the public nodes are up.
	n.genesis = time.Now().Add(20 * time.Second).Truncate(time.Second).UTC()
	for i := range publicNodes {
		short, ip := fmt.Sprintf("p%d", i+1), fmt.Sprintf("%s%d", wanPrefix, publicHost+i+1)
		if err := l.addPublic(short, ip); err != nil {
			return nil, err
		}
		cfg := n.config(true)
		p, err := l.newProc(short, short, cfg)
		if err != nil {
			return nil, err
		}
		n.pub, n.pubIP, n.cfgs[p] = append(n.pub, p), append(n.pubIP, ip), cfg
	}
	// Everyone bootstraps to p1; the NATed nodes to every public node,
	// as a node behind NAT keeps connections out to several.
	var boots []string
	for i, p := range n.pub {
		boots = append(boots, fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", n.pubIP[i], fogPort, p.id))
	}
	for _, p := range n.pub[1:] {
		cfg := n.cfgs[p]
		cfg.P2P.Bootstrap = boots[:1]
		if err := p.writeConfig(cfg); err != nil {
			return nil, err
		}
		n.cfgs[p] = cfg
	}
	for i := range natedNodes {
		short, router := fmt.Sprintf("n%d", i+1), fmt.Sprintf("r%d", i+1)
		wanIP := fmt.Sprintf("%s%d", wanPrefix, routerHost+i+1)
		if err := l.addNATed(short, router, wanIP, i+1); err != nil {
			return nil, err
		}
		cfg := n.config(false)
		cfg.P2P.Bootstrap = boots
		p, err := l.newProc(short, short, cfg)
		if err != nil {
			return nil, err
		}
		n.nat, n.natIP, n.cfgs[p] = append(n.nat, p), append(n.natIP, wanIP), cfg
	}
	return n, nil
}

// config is a node's configuration: the defaults of a node on the
// Internet (AutoNAT, relay client and service, hole punching), with
// timers short enough for a test and mDNS off. Public nodes offer compute
// and stand in the relay lottery; NATed ones do neither, so that what
// they ask for runs and relays on public nodes.
func (n *netw) config(public bool) node.Config {
	c := node.DefaultConfig()
	c.P2P.Listen = []string{fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", fogPort), fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", fogPort)}
	c.P2P.MDNS = false
	c.API.Listen = "127.0.0.1:5151" // each namespace has its own loopback
	c.Log.Level = "info"
	c.Gossip.AdvertInterval = node.Duration(2 * time.Second)
	c.Compute.Offer = public
	c.Compute.Cores, c.Compute.MemoryMiB = 1, 256
	c.Relay.Candidate = public
	c.Relay.Genesis = n.genesis.Format(time.RFC3339)
	c.Relay.EpochLength = node.Duration(10 * time.Second)
	c.Relay.TargetRelays = 3
	c.Mix.MeanDelay = node.Duration(20 * time.Millisecond)
	// FOG_NETTEST_HOLEPUNCH=off leaves the NATed pair on its relayed
	// connection, to check what works over a relay alone.
	if !public && os.Getenv("FOG_NETTEST_HOLEPUNCH") == "off" {
		c.P2P.HolePunching = false
	}
	return c
}

// status is the part of node.status the scenarios read.
type status struct {
	PeerID        string   `json:"peer_id"`
	Peers         int      `json:"peers"`
	Addrs         []string `json:"addrs"`
	ObservedAddrs []string `json:"observed_addrs"`
	Reachability  string   `json:"reachability"`
}

func (p *proc) status(ctx context.Context) (status, error) {
	var s status
	err := p.call(ctx, "node.status", nil, &s)
	return s, err
}

// bootPublic starts the public nodes and waits until AutoNAT says each is
// publicly reachable (so that they serve as relays).
func (n *netw) bootPublic(ctx context.Context) (string, error) {
	for _, p := range n.pub {
		if err := p.start(); err != nil {
			return "", err
		}
	}
	var slowest time.Duration
	t0 := time.Now()
	for _, p := range n.pub {
		err := waitFor(ctx, 120*time.Second, func(ctx context.Context) error {
			s, err := p.status(ctx)
			if err != nil {
				return err
			}
			if s.Reachability != "public" {
				return fmt.Errorf("%s: reachability %s, %d peers", p.name, s.Reachability, s.Peers)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		slowest = time.Since(t0)
	}
	return fmt.Sprintf("%d public nodes up, AutoNAT: public for all after %.1fs", len(n.pub), slowest.Seconds()), nil
}

// bootNATed starts the NATed nodes and waits until AutoNAT says each is
// private, peers see it at its router's address, and it holds a relay
// reservation (advertises a /p2p-circuit address).
func (n *netw) bootNATed(ctx context.Context) (string, error) {
	for _, p := range n.nat {
		if err := p.start(); err != nil {
			return "", err
		}
	}
	var details []string
	for i, p := range n.nat {
		var s status
		err := waitFor(ctx, 180*time.Second, func(ctx context.Context) error {
			var err error
			if s, err = p.status(ctx); err != nil {
				return err
			}
			switch {
			case s.Reachability != "private":
				return fmt.Errorf("%s: reachability %s (observed %v)", p.name, s.Reachability, s.ObservedAddrs)
			case !slices.ContainsFunc(s.ObservedAddrs, func(a string) bool { return strings.Contains(a, "/"+n.natIP[i]+"/") }):
				return fmt.Errorf("%s: private, but not yet observed at its router's %s (observed %v)", p.name, n.natIP[i], s.ObservedAddrs)
			case !slices.ContainsFunc(s.Addrs, isCircuit):
				return fmt.Errorf("%s: private, no relay reservation yet (addrs %v)", p.name, s.Addrs)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		relays := map[string]bool{}
		for _, a := range s.Addrs {
			if isCircuit(a) {
				relays[n.nameOf(relayOf(a))] = true
			}
		}
		names := mapsKeys(relays)
		details = append(details, fmt.Sprintf("%s private, seen at %s, relayed by %s", p.name, n.natIP[i], strings.Join(names, "+")))
	}
	return strings.Join(details, "; "), nil
}

func isCircuit(a string) bool { return strings.Contains(a, "/p2p-circuit") }

// relayOf is the relay's peer ID in a /…/p2p/<relay>/p2p-circuit address.
func relayOf(a string) string {
	before, _, _ := strings.Cut(a, "/p2p-circuit")
	i := strings.LastIndex(before, "/p2p/")
	if i < 0 {
		return ""
	}
	return before[i+len("/p2p/"):]
}

func mapsKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// nameOf names the node whose peer ID is id.
func (n *netw) nameOf(id string) string {
	for _, p := range append(slices.Clone(n.pub), n.nat...) {
		if p.id == id {
			return p.name
		}
	}
	return id
}

// peerInfo is one entry of node.peers.
type peerInfo struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// natPair has n1 dial n2 at the relayed address n2 advertises (what
// `fog id` prints on n2, passed to n1 out of band) and waits for hole
// punching (DCUtR) to give them a direct connection; it returns the path
// they end on.
func (n *netw) natPair(ctx context.Context) (string, string, error) {
	a, b := n.nat[0], n.nat[1]
	s, err := b.status(ctx)
	if err != nil {
		return "", "none", err
	}
	var circuit string
	for _, ad := range s.Addrs {
		if isCircuit(ad) && strings.Contains(ad, "/tcp/") {
			circuit = ad
			break
		}
	}
	if circuit == "" {
		return "", "none", fmt.Errorf("%s advertises no relayed address: %v", b.name, s.Addrs)
	}
	if !strings.Contains(circuit, "/p2p/"+b.id) {
		circuit += "/p2p/" + b.id
	}
	var first peerInfo
	if err := a.call(ctx, "node.connect", map[string]any{"addr": circuit}, &first); err != nil {
		return "", "none", err
	}
	t0 := time.Now()
	var last []string
	err = waitFor(ctx, 45*time.Second, func(ctx context.Context) error {
		var peers []peerInfo
		if err := a.call(ctx, "node.peers", nil, &peers); err != nil {
			return err
		}
		for _, p := range peers {
			if p.ID == b.id {
				last = p.Addrs
				if slices.ContainsFunc(p.Addrs, func(s string) bool { return !isCircuit(s) }) {
					return nil
				}
			}
		}
		return fmt.Errorf("no direct connection from %s to %s (connections: %v)", a.name, b.name, last)
	})
	via := "relay " + n.nameOf(relayOf(circuit))
	if err != nil {
		if len(last) > 0 {
			// Still connected through the relay: the path is reported,
			// not failed, as hole punching may fail on real NATs too.
			return fmt.Sprintf("%s reached %s through %s; hole punching gave no direct connection within 45s", a.name, b.name, via), "relayed", nil
		}
		return "", "none", fmt.Errorf("connected through %s, then lost: %w", via, err)
	}
	direct := slices.DeleteFunc(slices.Clone(last), isCircuit)
	return fmt.Sprintf("%s dialled %s at its relayed address through %s (first connection %v), direct (DCUtR) after %.1fs: %v",
		a.name, b.name, via, shortAddrs(first.Addrs), time.Since(t0).Seconds(), direct), "direct", nil
}

func shortAddrs(as []string) string {
	var out []string
	for _, a := range as {
		if isCircuit(a) {
			out = append(out, "relayed")
		} else {
			out = append(out, a)
		}
	}
	return strings.Join(out, ",")
}

// taskResult is the part of task.result the scenarios read.
type taskResult struct {
	State     string   `json:"state"`
	Kind      string   `json:"kind"`
	Stdout    []byte   `json:"stdout"`
	Error     string   `json:"error"`
	Providers []string `json:"providers"`
}

const wcInput, wcOutput = "hello fog behind a NAT\n", "1 5 23\n"

func (n *netw) submit(ctx context.Context, p *proc, module []byte) (string, error) {
	var sub struct {
		ID string `json:"id"`
	}
	err := p.call(ctx, "task.submit", map[string]any{
		"module": base64.StdEncoding.EncodeToString(module), "args": []string{"wordcount.wasm"},
		"stdin": base64.StdEncoding.EncodeToString([]byte(wcInput)), "replicas": 1,
	}, &sub)
	return sub.ID, err
}

func (n *netw) result(ctx context.Context, p *proc, id string) (taskResult, error) {
	var r taskResult
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := p.call(ctx, "task.result", map[string]any{"id": id, "wait": true}, &r); err != nil {
		return r, err
	}
	if r.State != "done" || string(r.Stdout) != wcOutput {
		return r, fmt.Errorf("task %s: state %s kind %s output %q (want %q) error %q", id, r.State, r.Kind, r.Stdout, wcOutput, r.Error)
	}
	return r, nil
}

// taskFromNAT submits a task on n1, which offers no compute: it must run
// on a public node.
func (n *netw) taskFromNAT(ctx context.Context, module []byte) (string, error) {
	p := n.nat[0]
	id, err := n.submit(ctx, p, module)
	if err != nil {
		return "", err
	}
	r, err := n.result(ctx, p, id)
	if err != nil {
		return "", err
	}
	if len(r.Providers) != 1 || !slices.ContainsFunc(n.pub, func(q *proc) bool { return q.id == r.Providers[0] }) {
		return "", fmt.Errorf("task %s ran on %v, not on one public node", id, r.Providers)
	}
	return fmt.Sprintf("wordcount from %s ran on %s: %q", p.name, n.nameOf(r.Providers[0]), strings.TrimSpace(string(r.Stdout))), nil
}

// dmNATPair sends a chat DM from n1 to n2 and waits for it in n2's inbox.
func (n *netw) dmNATPair(ctx context.Context) (string, error) {
	a, b := n.nat[0], n.nat[1]
	text := fmt.Sprintf("hello %s from %s across two NATs", b.name, a.name)
	var sent struct {
		ID     string   `json:"id"`
		State  string   `json:"state"`
		Routes []string `json:"routes"`
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := a.call(sctx, "chat.send", map[string]any{"to": b.id, "text": text, "wait": true}, &sent); err != nil {
		return "", err
	}
	var route string
	err := waitFor(ctx, 60*time.Second, func(ctx context.Context) error {
		var inbox []struct {
			From  string `json:"from"`
			Text  string `json:"text"`
			Route string `json:"route"`
		}
		if err := b.call(ctx, "chat.inbox", map[string]any{}, &inbox); err != nil {
			return err
		}
		for _, m := range inbox {
			if m.Text == text && m.From == a.id {
				route = m.Route
				return nil
			}
		}
		return fmt.Errorf("%s's inbox has %d messages, not %s's (send: %s via %v)", b.name, len(inbox), a.name, sent.State, sent.Routes)
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("DM %s→%s %s, received by route %s", a.name, b.name, sent.State, route), nil
}

// mixNATPair sends a message over the mix from n1 to n2 (through the
// public nodes elected as relays) and waits for it in n2's mix inbox.
func (n *netw) mixNATPair(ctx context.Context) (string, error) {
	a, b := n.nat[0], n.nat[1]
	data := []byte("mix message from " + a.name)
	var sent struct {
		ID        string  `json:"id"`
		Acked     bool    `json:"acked"`
		LatencyMS float64 `json:"latency_ms"`
		Attempts  int     `json:"attempts"`
		Error     string  `json:"error"`
	}
	// mix.send is 503 until the node holds a relay directory.
	err := waitFor(ctx, 90*time.Second, func(ctx context.Context) error {
		return a.call(ctx, "mix.send", map[string]any{"to": b.id, "data": base64.StdEncoding.EncodeToString(data), "wait": true}, &sent)
	})
	if err != nil {
		return "", err
	}
	if !sent.Acked {
		return "", fmt.Errorf("mix message not acknowledged: %s", sent.Error)
	}
	err = waitFor(ctx, 30*time.Second, func(ctx context.Context) error {
		var inbox []struct {
			Data []byte `json:"data"`
		}
		if err := b.call(ctx, "mix.inbox", map[string]any{}, &inbox); err != nil {
			return err
		}
		for _, m := range inbox {
			if string(m.Data) == string(data) {
				return nil
			}
		}
		return errors.New("acknowledged, but not in " + b.name + "'s mix inbox")
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("mix %s→%s delivered and acknowledged in %.0f ms (%d attempt(s))", a.name, b.name, sent.LatencyMS, sent.Attempts), nil
}

// advert is one entry of directory.list.
type advert struct {
	Peer   string    `json:"peer"`
	Issued time.Time `json:"issued"`
}

// adverts is p's capacity directory: peer ID → when its advert was issued.
func adverts(ctx context.Context, p *proc) (map[string]time.Time, error) {
	var list []advert
	if err := p.call(ctx, "directory.list", map[string]any{}, &list); err != nil {
		return nil, err
	}
	m := map[string]time.Time{}
	for _, a := range list {
		m[a.Peer] = a.Issued
	}
	return m, nil
}

// sees checks that p's directory holds an advert of every node of others
// issued after since (since zero: any), or, with none set, of none of them.
func sees(ctx context.Context, p *proc, others []*proc, since time.Time, none bool) error {
	m, err := adverts(ctx, p)
	if err != nil {
		return err
	}
	for _, q := range others {
		at, ok := m[q.id]
		switch {
		case none && ok:
			return fmt.Errorf("%s still lists %s's advert (issued %s)", p.name, q.name, at.Format(time.TimeOnly))
		case !none && (!ok || at.Before(since)):
			return fmt.Errorf("%s has no advert of %s issued since %s", p.name, q.name, since.Format(time.TimeOnly))
		}
	}
	return nil
}

// partitionHeal cuts p4 and p5 off from p1–p3 and the NAT routers, waits
// until each side's directory has dropped the other's adverts, heals, and
// waits until both sides hold fresh adverts of each other.
func (n *netw) partitionHeal(ctx context.Context) (string, error) {
	small, big := n.pub[3:], n.pub[:3]
	bigIPs := append(slices.Clone(n.pubIP[:3]), n.natIP...)
	t0 := time.Now()
	for _, p := range small {
		if err := n.l.cut(p.name, bigIPs); err != nil {
			return "", err
		}
	}
	healed := false
	defer func() {
		if !healed {
			for _, p := range small {
				_ = n.l.heal(p.name)
			}
		}
	}()
	split := func(ctx context.Context) error {
		for _, p := range big {
			if err := sees(ctx, p, small, time.Time{}, true); err != nil {
				return err
			}
		}
		for _, p := range small {
			if err := sees(ctx, p, big, time.Time{}, true); err != nil {
				return err
			}
		}
		return nil
	}
	if err := waitFor(ctx, 60*time.Second, split); err != nil {
		return "", fmt.Errorf("the partition did not show: %w", err)
	}
	apart := time.Since(t0)
	t1 := time.Now()
	for _, p := range small {
		if err := n.l.heal(p.name); err != nil {
			return "", err
		}
	}
	healed = true
	join := func(ctx context.Context) error {
		for _, p := range n.pub {
			if err := sees(ctx, p, n.pub, t1, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := waitFor(ctx, 120*time.Second, join); err != nil {
		return "", fmt.Errorf("after the heal: %w", err)
	}
	return fmt.Sprintf("p4,p5 | p1-p3: adverts dropped across the cut after %.1fs; after the heal every public node holds fresh adverts of all %d after %.1fs",
		apart.Seconds(), len(n.pub), time.Since(t1).Seconds()), nil
}

// killRestart submits a task on p2 and kills p2 with SIGKILL as soon as
// the call returns (the task is on disk by then); restarted on the same
// data directory, p2 must rejoin (the others hold a fresh advert of it)
// and finish the task.
func (n *netw) killRestart(ctx context.Context, module []byte) (string, error) {
	p := n.pub[1]
	id, err := n.submit(ctx, p, module)
	if err != nil {
		return "", err
	}
	p.kill()
	t0 := time.Now()
	if err := p.start(); err != nil {
		return "", err
	}
	if err := waitFor(ctx, 60*time.Second, func(ctx context.Context) error {
		for _, q := range n.pub {
			if q != p {
				if err := sees(ctx, q, []*proc{p}, t0, false); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return "", fmt.Errorf("after the restart: %w", err)
	}
	rejoin := time.Since(t0)
	r, err := n.result(ctx, p, id)
	if err != nil {
		return "", fmt.Errorf("the task submitted before the kill: %w", err)
	}
	return fmt.Sprintf("p2 killed right after task.submit; restarted, rejoined (fresh advert on all) after %.1fs; the task finished on %s after %.1fs",
		rejoin.Seconds(), n.nameOf(strings.Join(r.Providers, ",")), time.Since(t0).Seconds()), nil
}

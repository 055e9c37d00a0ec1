package nettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fog-compute/fog/node"
)

// The lab's addresses. The simulated Internet is a bridge in a namespace
// of its own (wan) that no interface of the host's namespace joins, so
// nothing the lab sends can leave it. Its addresses must be ones libp2p
// treats as public (manet.IsPublicAddr): AutoNAT, relays and hole punching
// act only on public addresses, and every RFC 1918, CGNAT and
// documentation range counts as private or unroutable. So the WAN uses
// 11.17.0.0/24, part of a block assigned to the US DoD: it exists here
// only inside the lab, which has no route out, so no packet reaches its
// real owner. The NATed nodes' home networks are 10.17.<n>.0/24.
const (
	wanPrefix = "11.17.0."
	wanMask   = "/24"
	// publicHost and routerHost number the public nodes' and the NAT
	// routers' WAN addresses.
	publicHost = 10
	routerHost = 100
	// netem is the shaping of every WAN link, on each end's egress: a
	// round trip between two nodes crosses it twice.
	netemDelay, netemJitter, netemLoss = "15ms", "5ms", "0.5%"
	// Kernels without sch_netem (this project's CI VMs) get what they
	// have instead: a token bucket on each end (tbf: a home uplink's
	// rate) and the same random loss from iptables' statistic match, on
	// each end and direction; no added delay.
	tbfRate, lossProb = "20mbit", "0.005" // lossProb is netemLoss
	// fogPort is where every node listens (TCP and QUIC).
	fogPort = 4001
)

// nsPrefix starts the name of every namespace a lab makes, followed by
// the PID of the process that made it, so that parallel runs never clash
// and a later run can delete what a killed one left behind.
const nsPrefix = "fognt"

// lab is one run's namespaces and processes. Close releases them all.
type lab struct {
	t      *testing.T
	prefix string // nsPrefix, PID, "x", random: unique per run
	dir    string
	fog    string
	nss    []string // made, deleted in reverse by Close
	procs  []*proc
	// netem says the kernel has sch_netem; without it links are shaped
	// by tbf and iptables (see tbfRate).
	netem bool
}

// shaping says how the lab's links are shaped.
func (l *lab) shaping() string {
	if l.netem {
		return fmt.Sprintf("netem delay %s±%s loss %s per link end", netemDelay, netemJitter, netemLoss)
	}
	return fmt.Sprintf("no netem in this kernel: tbf %s and %s random loss (iptables statistic) per link end and direction, no added delay",
		tbfRate, netemLoss)
}

// probe checks in a scratch namespace that iptables works there (its
// NAT table included), returning why not, and whether this kernel has
// tc's netem qdisc.
func (l *lab) probe() (skip string, err error) {
	if err := l.addNS("probe"); err != nil {
		return "", err
	}
	ns := l.ns("probe")
	if err := sh("ip", "-n", ns, "link", "add", "pa", "type", "veth", "peer", "name", "pb"); err != nil {
		return "", err
	}
	l.netem = sh("tc", "-n", ns, "qdisc", "add", "dev", "pa", "root", "netem", "delay", netemDelay) == nil
	if err := sh("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-L", "-n"); err != nil {
		skip = fmt.Sprintf("iptables does not work in a network namespace here: %v", err)
	}
	l.nss = l.nss[:len(l.nss)-1]
	return skip, sh("ip", "netns", "del", ns)
}

// shape shapes the egress of iface in the namespace ns (a full name):
// netem where the kernel has it, else tbf and, when loss is set, random
// loss both ways by iptables in ns.
func (l *lab) shape(ns, iface string, loss bool) error {
	if l.netem {
		return sh("tc", "-n", ns, "qdisc", "add", "dev", iface, "root", "netem",
			"delay", netemDelay, netemJitter, "loss", netemLoss)
	}
	if err := sh("tc", "-n", ns, "qdisc", "add", "dev", iface, "root", "tbf",
		"rate", tbfRate, "burst", "64kb", "latency", "100ms"); err != nil {
		return err
	}
	if !loss {
		return nil
	}
	for _, c := range [][]string{
		{"iptables", "-t", "mangle", "-A", "POSTROUTING", "-o", iface, "-m", "statistic", "--mode", "random", "--probability", lossProb, "-j", "DROP"},
		{"iptables", "-t", "mangle", "-A", "PREROUTING", "-i", iface, "-m", "statistic", "--mode", "random", "--probability", lossProb, "-j", "DROP"},
	} {
		if err := sh(append([]string{"ip", "netns", "exec", ns}, c...)...); err != nil {
			return err
		}
	}
	return nil
}

// newLab deletes the leftovers of dead runs, checks what this machine
// offers and returns an empty lab, or why the test cannot run here.
func newLab(t *testing.T, fog string) (*lab, string, error) {
	sweepStale(t)
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	l := &lab{t: t, prefix: fmt.Sprintf("%s%dx%s", nsPrefix, os.Getpid(), hex.EncodeToString(rnd[:])),
		dir: t.TempDir(), fog: fog}
	skip, err := l.probe()
	if err != nil || skip != "" {
		l.Close()
		return nil, skip, err
	}
	return l, "", nil
}

// sweepStale deletes the namespaces of lab runs whose process is gone.
func sweepStale(t *testing.T) {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		digits, _, ok := strings.Cut(rest, "x")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(digits)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := exec.Command("ip", "netns", "del", e.Name()).Run(); err == nil {
			t.Logf("deleted namespace %s left by a dead run (pid %d)", e.Name(), pid)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ns is the full name of the lab's namespace short.
func (l *lab) ns(short string) string { return l.prefix + "-" + short }

// sh runs a command and returns its error with its output.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// in runs a command inside the lab's namespace short.
func (l *lab) in(short string, args ...string) error {
	return sh(append([]string{"ip", "netns", "exec", l.ns(short)}, args...)...)
}

// addNS makes a namespace with its loopback up.
func (l *lab) addNS(short string) error {
	if err := sh("ip", "netns", "add", l.ns(short)); err != nil {
		return err
	}
	l.nss = append(l.nss, l.ns(short))
	return sh("ip", "-n", l.ns(short), "link", "set", "lo", "up")
}

// wanLink joins namespace short to the WAN bridge through a veth pair
// whose end in short is named iface, with addr, shaped by netem.
func (l *lab) wanLink(short, iface, addr string) error {
	wan, ns := l.ns("wan"), l.ns(short)
	port := "v" + short
	for _, c := range [][]string{
		{"ip", "-n", wan, "link", "add", port, "type", "veth", "peer", "name", iface, "netns", ns},
		{"ip", "-n", wan, "link", "set", port, "master", "br0", "up"},
		{"ip", "-n", ns, "addr", "add", addr + wanMask, "dev", iface},
		{"ip", "-n", ns, "link", "set", iface, "up"},
	} {
		if err := sh(c...); err != nil {
			return err
		}
	}
	// Each end shapes its own egress; without netem the loss is counted
	// at the node's end only, both ways.
	if err := l.shape(ns, iface, true); err != nil {
		return err
	}
	return l.shape(wan, port, false)
}

// buildWAN makes the WAN namespace and its bridge.
func (l *lab) buildWAN() error {
	if err := l.addNS("wan"); err != nil {
		return err
	}
	wan := l.ns("wan")
	if err := sh("ip", "-n", wan, "link", "add", "br0", "type", "bridge"); err != nil {
		return err
	}
	return sh("ip", "-n", wan, "link", "set", "br0", "up")
}

// addPublic makes the namespace of a public node on the WAN at addr.
func (l *lab) addPublic(short, addr string) error {
	if err := l.addNS(short); err != nil {
		return err
	}
	return l.wanLink(short, "eth0", addr)
}

// addNATed makes a NAT router (namespace router, WAN address wanAddr)
// and behind it the namespace of a node (short) on the home network
// 10.17.<home>.0/24. The router masquerades the home network's traffic
// behind its WAN address and lets in from the WAN only what belongs to
// connections opened from inside (conntrack) and drops the rest
// silently, as a home router does.
func (l *lab) addNATed(short, router, wanAddr string, home int) error {
	for _, n := range []string{router, short} {
		if err := l.addNS(n); err != nil {
			return err
		}
	}
	if err := l.wanLink(router, "wan0", wanAddr); err != nil {
		return err
	}
	r, n := l.ns(router), l.ns(short)
	gw, addr := fmt.Sprintf("10.17.%d.1", home), fmt.Sprintf("10.17.%d.2", home)
	for _, c := range [][]string{
		{"ip", "-n", r, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", n},
		{"ip", "-n", r, "addr", "add", gw + "/24", "dev", "lan0"},
		{"ip", "-n", r, "link", "set", "lan0", "up"},
		{"ip", "-n", n, "addr", "add", addr + "/24", "dev", "eth0"},
		{"ip", "-n", n, "link", "set", "eth0", "up"},
		{"ip", "-n", n, "route", "add", "default", "via", gw},
	} {
		if err := sh(c...); err != nil {
			return err
		}
	}
	for _, c := range [][]string{
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan0", "-j", "MASQUERADE"},
		{"iptables", "-A", "FORWARD", "-i", "wan0", "-o", "lan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"iptables", "-A", "FORWARD", "-i", "wan0", "-o", "lan0", "-j", "DROP"},
		// Unsolicited packets to the router itself are dropped, not
		// answered with a reset: a hole punch's first SYN may reach the
		// router before its own host's SYN has opened the way.
		{"iptables", "-A", "INPUT", "-i", "wan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"iptables", "-A", "INPUT", "-i", "wan0", "-j", "DROP"},
	} {
		if err := l.in(router, c...); err != nil {
			return err
		}
	}
	return nil
}

// cut makes namespace short drop every packet to and from addrs (a
// partition); heal undoes it.
func (l *lab) cut(short string, addrs []string) error {
	for _, a := range addrs {
		for _, c := range [][]string{
			{"iptables", "-A", "INPUT", "-s", a, "-j", "DROP"},
			{"iptables", "-A", "OUTPUT", "-d", a, "-j", "DROP"},
		} {
			if err := l.in(short, c...); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *lab) heal(short string) error {
	for _, chain := range []string{"INPUT", "OUTPUT"} {
		if err := l.in(short, "iptables", "-F", chain); err != nil {
			return err
		}
	}
	return nil
}

// Close kills every process the lab started and deletes its namespaces
// (with them their veth pairs, the bridge and the routers' rules).
func (l *lab) Close() {
	for _, p := range l.procs {
		p.kill()
	}
	for i := len(l.nss) - 1; i >= 0; i-- {
		if err := sh("ip", "netns", "del", l.nss[i]); err != nil {
			l.t.Errorf("clean-up: %v", err)
		}
	}
	l.nss = nil
}

// proc is one fog daemon in its namespace.
type proc struct {
	name string
	ns   string // full namespace name
	dir  node.DataDir
	fog  string
	id   string // peer ID
	cmd  *exec.Cmd
	done chan struct{}
	logf *os.File
}

// newProc initialises a node's data directory with cfg.
func (l *lab) newProc(name, short string, cfg node.Config) (*proc, error) {
	dir := node.DataDir(filepath.Join(l.dir, name))
	res, err := node.Init(dir, cfg)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, ns: l.ns(short), dir: dir, fog: l.fog, id: res.PeerID.String()}
	l.procs = append(l.procs, p)
	return p, nil
}

// writeConfig rewrites the node's config.toml.
func (p *proc) writeConfig(cfg node.Config) error {
	b, err := node.MarshalConfig(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(p.dir.Config(), b, 0o600)
}

// start runs `fog run` in the node's namespace, logging to log.txt in its
// data directory. The process dies with the test binary (Pdeathsig).
func (p *proc) start() error {
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.name)
	}
	_ = os.Remove(p.dir.Addr())
	f, err := os.OpenFile(filepath.Join(string(p.dir), "log.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", p.ns, p.fog, "run")
	cmd.Env = append(os.Environ(), "FOG_PATH="+string(p.dir))
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.cmd, p.logf, p.done = cmd, f, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(p.done)
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.logf.Close()
	p.cmd = nil
}

// logTail is the end of the node's log, for failure messages.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(filepath.Join(string(p.dir), "log.txt"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// call invokes an RPC method of the node's API, which listens on
// 127.0.0.1 inside the node's namespace: the connection is made from a
// thread that enters that namespace for the dial.
func (p *proc) call(ctx context.Context, method string, params, result any) error {
	addr, err := os.ReadFile(p.dir.Addr())
	if err != nil {
		return fmt.Errorf("%s: no API address yet: %w", p.name, err)
	}
	tok, err := p.dir.ReadToken()
	if err != nil {
		return err
	}
	req := map[string]any{"jsonrpc": "2.0", "id": 1, "method": method}
	if params != nil {
		req["params"] = params
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ns := p.ns
	hc := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(ctx, ns, network, addr)
		},
	}}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+strings.TrimSpace(string(addr))+"/rpc", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+tok)
	hr.Header.Set("Content-Type", "application/json")
	rsp, err := hc.Do(hr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", p.name, method, err)
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rsp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", p.name, method, err)
	}
	if rsp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %s", p.name, method, rsp.StatusCode, b)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("%s %s: %w", p.name, method, err)
	}
	if out.Error != nil {
		return fmt.Errorf("%s %s: error %d: %s", p.name, method, out.Error.Code, out.Error.Message)
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(out.Result, result)
}

// dialIn dials addr from inside the namespace ns: the socket is made on an
// OS thread that has entered ns, and keeps to ns once made. The thread
// returns to its own namespace afterwards, or, if it cannot, dies with its
// goroutine (it stays locked).
func dialIn(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{nil, err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{nil, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- res{nil, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- res{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// waitFor calls check every interval until it returns nil or the deadline
// passes; then it returns check's last error. The daemons are separate
// processes in other namespaces, which offer no notification this side
// can wait on short of their event stream, so the lab polls their API,
// always within a deadline.
func waitFor(ctx context.Context, d time.Duration, check func(ctx context.Context) error) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	var last, answer error // answer: the last that was not a timeout
	for {
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		if !errors.Is(last, context.DeadlineExceeded) {
			answer = last
		}
		select {
		case <-ctx.Done():
			took := time.Since(start).Round(time.Second)
			if answer != nil && answer != last {
				return fmt.Errorf("after %s: %w (before: %v)", took, last, answer)
			}
			return fmt.Errorf("after %s: %w", took, last)
		case <-tick.C:
		}
	}
}

package files

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/internal/cputime"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// benchMiB is the file size of the loopback benchmark: FOG_BENCH_FILE_MIB
// MiB, 64 by default (docs/bench.md records a run at 1024).
func benchMiB(b *testing.B) int {
	if s := os.Getenv("FOG_BENCH_FILE_MIB"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		return n
	}
	return 64
}

// loopNode is a node's files service on a real libp2p host on loopback
// (fog's host: TCP and QUIC, Noise/TLS, yamux) over a Badger store on disk.
type loopNode struct {
	h  *p2p.Host
	db *store.DB
	s  *Service
}

func newLoopNode(b *testing.B, cfg Config) *loopNode {
	ctx := context.Background()
	db, err := store.Open(store.DefaultConfig(b.TempDir()))
	require.NoError(b, err)
	bans, err := p2p.NewBanList(ctx, db.Datastore(store.PrefixP2P), clock.Real())
	require.NoError(b, err)
	key, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(b, err)
	h, err := p2p.New(ctx, p2p.TestConfig(), p2p.Options{Identity: key, Bans: bans})
	require.NoError(b, err)
	s, err := New(cfg, Options{Host: h, Datastore: db.Datastore(store.PrefixFiles), Dir: b.TempDir()})
	require.NoError(b, err)
	b.Cleanup(func() {
		s.Close()
		h.Close()
		db.Close()
	})
	return &loopNode{h: h, db: db, s: s}
}

// writeRandom writes n pseudo-random bytes to a file and returns its path.
func writeRandom(b *testing.B, n int64) string {
	p := filepath.Join(b.TempDir(), "big.bin")
	f, err := os.Create(p)
	require.NoError(b, err)
	w := bufio.NewWriterSize(f, 1<<20)
	chunk := content(99, 1<<20)
	for written := int64(0); written < n; written += int64(len(chunk)) {
		chunk[0], chunk[1] = byte(written>>20), byte(written>>28) // every MiB differs
		_, err := w.Write(chunk[:min(int64(len(chunk)), n-written)])
		require.NoError(b, err)
	}
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())
	return p
}

// rssPeak resets the process's peak resident set (Linux) and returns a
// function that reads it back in MiB (0 elsewhere).

func rssPeak() func() float64 {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return func() float64 {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				f := strings.Fields(line)
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
		return 0
	}
}

// heapPeak samples the Go heap in use until stop is called, and returns
// its peak in MiB.
func heapPeak() (stop func() float64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak.Load()) / (1 << 20)
	}
}

const rawProto = "/fog-bench/raw/1.0.0"

// BenchmarkLoopback moves one file of FOG_BENCH_FILE_MIB MiB between two
// nodes on real libp2p hosts on loopback, with Badger on disk: first as
// raw bytes on one libp2p stream (the ceiling), then as a get from one
// source, in the same run. It reports both throughputs, their ratio, the
// share (import) and export speeds, and the peak resident set and Go heap
// of the process (both nodes) during the get. Run it with -benchtime=1x.
func BenchmarkLoopback(b *testing.B) {
	size := int64(benchMiB(b)) << 20
	ctx := context.Background()
	src := writeRandom(b, size)
	cfg := DefaultConfig()
	cfg.MaxFileBytes = max(cfg.MaxFileBytes, size)
	if s := os.Getenv("FOG_BENCH_WINDOWS"); s != "" { // tuning: WINDOWxWINDOWS
		_, err := fmt.Sscanf(s, "%dx%d", &cfg.Window, &cfg.Windows)
		require.NoError(b, err)
	}
	a, c := newLoopNode(b, cfg), newLoopNode(b, cfg)

	start := time.Now()
	pin, err := a.s.Share(ctx, src, nil)
	require.NoError(b, err)
	shareSecs := time.Since(start).Seconds()

	ai := peer.AddrInfo{ID: a.h.ID(), Addrs: a.h.Addrs()}
	require.NoError(b, c.h.Connect(ctx, ai))
	buf := content(7, 1<<20)
	a.h.SetStreamHandler(rawProto, func(st network.Stream) {
		defer st.Close()
		for sent := int64(0); sent < size; sent += int64(len(buf)) {
			if _, err := st.Write(buf); err != nil {
				st.Reset()
				return
			}
		}
	})
	b.ResetTimer()
	for range b.N {
		st, err := c.h.NewStream(ctx, a.h.ID(), rawProto)
		require.NoError(b, err)
		start = time.Now()
		n, err := io.Copy(io.Discard, st)
		rawSecs := time.Since(start).Seconds()
		require.NoError(b, err)
		require.Equal(b, size, n)
		transport := st.Conn().ConnState().Transport

		peakRSS := rssPeak()
		stopHeap := heapPeak()
		start = time.Now()
		prog, err := c.s.Get(ctx, pin.Root, GetOptions{Providers: []peer.AddrInfo{ai}})
		getSecs := time.Since(start).Seconds()
		heap := stopHeap()
		rss := peakRSS()
		require.NoError(b, err)
		require.True(b, prog.Done)

		start = time.Now()
		out := filepath.Join(b.TempDir(), "out.bin")
		require.NoError(b, c.s.ExportFile(ctx, pin.Root, out))
		exportSecs := time.Since(start).Seconds()

		mb := float64(size) / 1e6
		b.ReportMetric(mb/rawSecs, "raw-MB/s")
		b.ReportMetric(mb/getSecs, "get-MB/s")
		b.ReportMetric(rawSecs/getSecs*100, "get/raw-%")
		b.ReportMetric(mb/shareSecs, "share-MB/s")
		b.ReportMetric(mb/exportSecs, "export-MB/s")
		b.ReportMetric(rss, "peak-RSS-MiB")
		b.ReportMetric(heap, "peak-heap-MiB")
		b.Logf("%d MiB over %s: raw %.1f MB/s, get %.1f MB/s (%.0f %%), share %.1f MB/s, export %.1f MB/s, peak RSS %.0f MiB, peak heap %.0f MiB",
			size>>20, transport, mb/rawSecs, mb/getSecs, rawSecs/getSecs*100, mb/shareSecs, mb/exportSecs, rss, heap)

		b.StopTimer()
		_, err = c.s.Remove(ctx, pin.Root)
		require.NoError(b, err)
		b.StartTimer()
	}
}

// sharedOn shares data on every node of srcs and returns the root.
func sharedOn(b *testing.B, data []byte, srcs ...*Service) cid.Cid {
	var root cid.Cid
	for _, s := range srcs {
		p, err := s.ShareReader(context.Background(), bytes.NewReader(data), "f", int64(len(data)), nil)
		require.NoError(b, err)
		root = p.Root
	}
	return root
}

// BenchmarkSources gets a 32 MiB file over mocknet links capped at 16 MB/s
// each way, from one source and from three: the figure is the ratio of
// their times; each get starts with the links' bursts drained (see
// drainLinks). It reports the share of the blocks the busiest source sent
// (of the last get), and per get the CPU time the process (all the nodes)
// used and the time its threads waited for a CPU, the part of a get's
// time the machine's other load takes. Blocks and Badger in memory, or blocks on disk with
// FOG_BENCH_DISK=1. FOG_BENCH_WINDOWS=WINDOWxWINDOWSxFIRST tunes the
// windows, FOG_BENCH_BACKLOG (a duration) Config.SourceBacklog.
// FOG_BENCH_TRACE=FILE appends each get's Bitswap events to FILE
// (see sourceTrace).
func BenchmarkSources(b *testing.B) {
	const size = 32 << 20
	data := content(5, size)
	cfg := DefaultConfig()
	if s := os.Getenv("FOG_BENCH_WINDOWS"); s != "" {
		_, err := fmt.Sscanf(s, "%dx%dx%d", &cfg.Window, &cfg.Windows, &cfg.FirstWindows)
		require.NoError(b, err)
	}
	if s := os.Getenv("FOG_BENCH_BACKLOG"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err)
		cfg.SourceBacklog = d
	}
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("sources=%d", n), func(b *testing.B) {
			tn := newCappedNet(b, 16e6)
			tn.memory = os.Getenv("FOG_BENCH_DISK") == ""
			var srcs []*Service
			var hints []peer.AddrInfo
			for range n {
				s := tn.node(b, cfg, Options{})
				srcs = append(srcs, s)
				hints = append(hints, info(s))
			}
			root := sharedOn(b, data, srcs...)
			dst := tn.node(b, cfg, Options{})
			ctx := context.Background()
			var (
				mu   sync.Mutex
				from = make(map[peer.ID]int)
			)
			tr := newSourceTrace(os.Getenv("FOG_BENCH_TRACE"))
			defer dst.guard.watch(func(p peer.ID, _ cid.Cid, _ int) {
				mu.Lock()
				from[p]++
				mu.Unlock()
				tr.event(p, "block", 1)
			})()
			if tr != nil {
				dst.guard.mu.Lock()
				dst.guard.onSent = func(p peer.ID, m bsmsg.BitSwapMessage) {
					wb, wh, cn := 0, 0, 0
					for _, e := range m.Wantlist() {
						switch {
						case e.Cancel:
							cn++
						case e.WantType == pb.Message_Wantlist_Block:
							wb++
						default:
							wh++
						}
					}
					tr.event(p, "want-block", wb)
					tr.event(p, "want-have", wh)
					tr.event(p, "cancel", cn)
				}
				dst.guard.mu.Unlock()
			}
			b.SetBytes(size)
			var cpu, wait time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				tn.drainLinks()
				cpu0, _ := cputime.Process()
				wait0 := runqWait()
				tr.start(n)
				b.StartTimer()
				prog, err := dst.Get(ctx, root, GetOptions{Providers: hints})
				require.NoError(b, err)
				require.Equal(b, n, prog.Peers)
				b.StopTimer()
				tr.end()
				cpu1, _ := cputime.Process()
				cpu += cpu1 - cpu0
				wait += runqWait() - wait0
				// The busiest source's share of the blocks: 1/n when the
				// wants are spread evenly.
				mu.Lock()
				busiest := 0
				for p, k := range from {
					busiest = max(busiest, k)
					delete(from, p)
				}
				mu.Unlock()
				b.ReportMetric(float64(busiest)/float64(prog.Blocks)*100, "busiest-source-%")
				_, err = dst.Remove(ctx, root)
				require.NoError(b, err)
				b.StartTimer()
			}
			// Where the time of a get goes besides the links: the CPU the
			// process (all four nodes) used, and the time its threads were
			// ready to run but waited for a CPU (the machine's other load).
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(wait.Milliseconds())/float64(b.N), "runq-wait-ms/op")
		})
	}
}

// runqWait returns the time the process's threads have spent ready to run
// and waiting for a CPU (Linux's schedstat; 0 elsewhere).
func runqWait() time.Duration {
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var sum time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) < 2 {
			continue
		}
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		sum += time.Duration(ns)
	}
	return sum
}

// BenchmarkResume cuts a 64 MiB get (one source, mocknet) at half its
// blocks and runs it again: it reports the share of the file's blocks the
// second run fetched.
func BenchmarkResume(b *testing.B) {
	const size = 64 << 20
	tn := newTestNet(b)
	cfg := DefaultConfig()
	a := tn.node(b, cfg, Options{})
	root := sharedOn(b, content(6, size), a)
	dst := tn.node(b, cfg, Options{})
	hint := []peer.AddrInfo{info(a)}
	ctx := context.Background()
	for range b.N {
		cctx, cancel := context.WithCancel(ctx)
		first, _ := dst.Get(cctx, root, GetOptions{Providers: hint, Progress: func(p Progress) {
			if p.Bytes >= size/2 {
				cancel()
			}
		}})
		cancel()
		second, err := dst.Get(ctx, root, GetOptions{Providers: hint})
		require.NoError(b, err)
		total := second.Blocks + second.PresentBlocks
		b.ReportMetric(float64(first.Blocks)/float64(total)*100, "first-run-%")
		b.ReportMetric(float64(second.Blocks)/float64(total)*100, "second-run-%")
		b.StopTimer()
		_, err = dst.Remove(ctx, root)
		require.NoError(b, err)
		b.StartTimer()
	}
}

// BenchmarkContent compares the two content layers on the same mocknet
// link, in one run: compute/blob's protocol (one stream, the module
// hashed whole) and a files get (Bitswap, UnixFS blocks in Badger), for a
// module-sized 2 MiB and a 16 MiB payload, the stores on disk. MB/s is
// the payload's bytes per second.
func BenchmarkContent(b *testing.B) {
	for _, size := range []int{2 << 20, 16 << 20} {
		data := content(uint64(size), size)
		b.Run(fmt.Sprintf("blob/%dMiB", size>>20), func(b *testing.B) {
			tn := newTestNet(b)
			var hint peer.AddrInfo
			mk := func() *blob.Service {
				cfg := blob.TestConfig()
				cfg.Dir = b.TempDir()
				h := tn.host(b)
				hint = peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
				s, err := blob.New(cfg, blob.Options{Host: h})
				require.NoError(b, err)
				b.Cleanup(func() { s.Close() })
				return s
			}
			src := mk()
			srcInfo := hint
			dst := mk()
			hint = srcInfo
			ctx := context.Background()
			id, err := src.Store().Put(ctx, data)
			require.NoError(b, err)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				if _, err := dst.Fetch(ctx, id, hint); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				require.NoError(b, dst.Store().Delete(id))
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("files/%dMiB", size>>20), func(b *testing.B) {
			tn := newTestNet(b)
			cfg := DefaultConfig()
			src := tn.node(b, cfg, Options{Datastore: openDB(b, b.TempDir()).Datastore(store.PrefixFiles)})
			dst := tn.node(b, cfg, Options{Datastore: openDB(b, b.TempDir()).Datastore(store.PrefixFiles)})
			root := sharedOn(b, data, src)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				if _, err := dst.Get(ctx, root, GetOptions{Providers: []peer.AddrInfo{info(src)}}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_, err := dst.Remove(ctx, root)
				require.NoError(b, err)
				b.StartTimer()
			}
		})
	}
}

// sourceTrace writes the Bitswap events of each get of BenchmarkSources
// to a file (FOG_BENCH_TRACE): one line per event, milliseconds since the
// get started, the source's index, the event and its count.
type sourceTrace struct {
	mu  sync.Mutex
	f   *os.File
	t0  time.Time
	ids map[peer.ID]int
	get int
	on  bool
}

func newSourceTrace(path string) *sourceTrace {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	return &sourceTrace{f: f, ids: make(map[peer.ID]int)}
}

func (t *sourceTrace) start(n int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.get++
	t.t0, t.on = time.Now(), true
	fmt.Fprintf(t.f, "get %d sources %d\n", t.get, n)
	t.mu.Unlock()
}

func (t *sourceTrace) end() {
	if t == nil {
		return
	}
	t.mu.Lock()
	fmt.Fprintf(t.f, "end %.1f\n", float64(time.Since(t.t0).Microseconds())/1000)
	t.on = false
	t.mu.Unlock()
}

func (t *sourceTrace) event(p peer.ID, what string, n int) {
	if t == nil || n == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	id, ok := t.ids[p]
	if !ok {
		id = len(t.ids)
		t.ids[p] = id
	}
	fmt.Fprintf(t.f, "%.1f %d %s %d\n", float64(time.Since(t.t0).Microseconds())/1000, id, what, n)
}

package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/wasm"
)

// Most tests run in testing/synctest bubbles: the mocknet, the services,
// their timers and the waits for a state (polls) run on the
// bubble's virtual clock, which moves only when every goroutine waits, so
// that a loaded machine cannot make them time out. TestHostileServers and
// TestServeMalformedRequest share one network among subtests, which a
// bubble does not allow (t.Run), and stay on the wall clock.

// testNet is a mocknet whose hosts are all linked; hosts dial each other
// on demand, from the addresses they are given.
type testNet struct {
	mn    mocknet.Mocknet
	hosts int
}

func newTestNet(t testing.TB) *testNet {
	tn := &testNet{mn: mocknet.New()}
	t.Cleanup(func() { tn.mn.Close() })
	return tn
}

// host adds a host, linked to every other one.
func (tn *testNet) host(t testing.TB) host.Host {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	tn.hosts++
	h, err := tn.mn.AddPeer(k, ma.StringCast(fmt.Sprintf("/ip4/127.1.%d.%d/tcp/4001", tn.hosts/250, tn.hosts%250+1)))
	require.NoError(t, err)
	require.NoError(t, tn.mn.LinkAll())
	t.Cleanup(func() { h.Close() })
	return h
}

// service adds a host running a Service.
func (tn *testNet) service(t testing.TB, cfg Config, o Options) *Service {
	t.Helper()
	o.Host = tn.host(t)
	s, err := New(cfg, o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

func (s *Service) info() peer.AddrInfo { return info(s.h) }

// mapProviders is an in-test provider directory shared by services.
type mapProviders struct {
	mu      sync.Mutex
	byKey   map[string][]peer.AddrInfo
	finds   atomic.Int64
	gate    chan struct{} // if set, FindProviders waits for it
	provide func(key string) error
}

func newMapProviders() *mapProviders { return &mapProviders{byKey: map[string][]peer.AddrInfo{}} }

func (m *mapProviders) add(key string, ai peer.AddrInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byKey[key] = append(m.byKey[key], ai)
}

// as is the Providers of one peer: Provide records that peer.
func (m *mapProviders) as(h host.Host) Providers { return peerProviders{m, h} }

type peerProviders struct {
	m *mapProviders
	h host.Host
}

func (p peerProviders) Provide(ctx context.Context, key string) error {
	if p.m.provide != nil {
		if err := p.m.provide(key); err != nil {
			return err
		}
	}
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	for _, ai := range p.m.byKey[key] {
		if ai.ID == p.h.ID() {
			return nil
		}
	}
	p.m.byKey[key] = append(p.m.byKey[key], info(p.h))
	return nil
}

func (p peerProviders) FindProviders(ctx context.Context, key string, limit int) ([]peer.AddrInfo, error) {
	p.m.finds.Add(1)
	if p.m.gate != nil {
		select {
		case <-p.m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	out := slices.Clone(p.m.byKey[key])
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *mapProviders) providers(key string) []peer.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []peer.ID
	for _, ai := range m.byKey[key] {
		ids = append(ids, ai.ID)
	}
	return ids
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFetchFromHint(t *testing.T) { synctest.Test(t, testFetchFromHint) }

func testFetchFromHint(t *testing.T) {
	tn := newTestNet(t)
	src := tn.service(t, TestConfig(), Options{})
	dst := tn.service(t, TestConfig(), Options{})
	ctx := testCtx(t)
	mod := module(1, 300_000)
	id, err := src.Store().Put(ctx, mod)
	require.NoError(t, err)

	got, err := dst.Fetch(ctx, id, src.info())
	require.NoError(t, err)
	assert.Equal(t, mod, got)
	assert.True(t, dst.Store().Has(id), "a fetched module is stored")
	assert.Equal(t, uint64(1), src.Stats().Served)
	assert.Equal(t, uint64(1), dst.Stats().Fetched)
	assert.Equal(t, uint64(len(mod)), dst.Stats().FetchedBytes)

	// the second time it comes from the store
	got, err = dst.Fetch(ctx, id, src.info())
	require.NoError(t, err)
	assert.Equal(t, mod, got)
	assert.Equal(t, uint64(1), src.Stats().Served)

	// a disk store serves the same way
	cfg := TestConfig()
	cfg.Dir = t.TempDir()
	disk := tn.service(t, cfg, Options{})
	got, err = disk.Fetch(ctx, id, dst.info())
	require.NoError(t, err)
	assert.Equal(t, mod, got)
	got, err = tn.service(t, TestConfig(), Options{}).Fetch(ctx, id, disk.info())
	require.NoError(t, err)
	assert.Equal(t, mod, got)
	assert.Equal(t, uint64(1), disk.Stats().Served)
}

func TestFetchNotFound(t *testing.T) { synctest.Test(t, testFetchNotFound) }

func testFetchNotFound(t *testing.T) {
	tn := newTestNet(t)
	a := tn.service(t, TestConfig(), Options{})
	b := tn.service(t, TestConfig(), Options{})
	ctx := testCtx(t)
	id := wasm.IDOf([]byte("nobody has this"))

	_, err := b.Fetch(ctx, id, a.info())
	require.ErrorIs(t, err, ErrNotFound)
	var fe *FetchError
	require.ErrorAs(t, err, &fe)
	require.Len(t, fe.Peers, 1)
	assert.Equal(t, a.h.ID(), fe.Peers[0].Peer)
	assert.ErrorIs(t, fe.Peers[0], ErrNotFound)
	assert.Empty(t, fe.BadPeers())
	assert.Equal(t, uint64(1), a.Stats().NotFound)
	assert.Equal(t, uint64(1), b.Stats().FetchFailed)

	// nobody to ask at all; a hint naming ourselves is skipped
	_, err = b.Fetch(ctx, id, b.info())
	require.ErrorAs(t, err, &fe)
	assert.Empty(t, fe.Peers)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestFetchViaProviders(t *testing.T) { synctest.Test(t, testFetchViaProviders) }

func testFetchViaProviders(t *testing.T) {
	tn := newTestNet(t)
	dir := newMapProviders()
	var nodes []*Service
	for range 3 {
		h := tn.host(t)
		s, err := New(TestConfig(), Options{Host: h, Providers: dir.as(h)})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	ctx := testCtx(t)
	id, err := nodes[0].Store().Put(ctx, module(5, 100_000))
	require.NoError(t, err)
	// storing announced it
	require.Eventually(t, func() bool {
		return slices.Equal(dir.providers(ProviderKey(id)), []peer.ID{nodes[0].h.ID()})
	}, 10*time.Second, 5*time.Millisecond)

	got, err := nodes[1].Fetch(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, module(5, 100_000), got)
	// and the fetcher announces it too
	require.Eventually(t, func() bool { return len(dir.providers(ProviderKey(id))) == 2 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, uint64(1), nodes[1].Stats().Announced)

	// node 0 loses it: node 2 gets it from node 1, after node 0's not-found
	require.NoError(t, nodes[0].Store().Delete(id))
	got, err = nodes[2].Fetch(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, module(5, 100_000), got)
	assert.Equal(t, uint64(1), nodes[0].Stats().NotFound)
	assert.Equal(t, uint64(1), nodes[1].Stats().Served)
}

// hostile adds a host that answers the blob protocol with behave, after
// reading the request.
func (tn *testNet) hostile(t *testing.T, behave func(st network.Stream, req Request)) host.Host {
	h := tn.host(t)
	// A raw-protocol host: none of an honest node's limits.
	h.SetStreamHandler(Protocol.IDs()[0], func(st network.Stream) {
		var b [RequestLen]byte
		if _, err := io.ReadFull(st, b[:]); err != nil {
			st.Reset()
			return
		}
		req, err := DecodeRequest(b[:])
		if err != nil {
			st.Reset()
			return
		}
		behave(st, req)
	})
	return h
}

// TestHostileServers asks one hostile server, then an honest one: each
// hostile answer is rejected for its reason, a bad one is reported, and
// the honest copy is what Fetch returns and stores.
func TestHostileServers(t *testing.T) {
	mod := module(9, 200_000)
	id := wasm.IDOf(mod)
	wrong := bytes.Clone(mod)
	wrong[123_456] ^= 0x40
	send := func(parts ...[]byte) func(network.Stream, Request) {
		return func(st network.Stream, _ Request) {
			for _, p := range parts {
				if _, err := st.Write(p); err != nil {
					st.Reset()
					return
				}
			}
			st.Close()
		}
	}
	n := uint64(len(mod))
	stall := make(chan struct{})
	tests := []struct {
		name   string
		behave func(network.Stream, Request)
		want   error
		bad    bool
		idle   time.Duration // the client's IdleTimeout, if not TestConfig's
	}{
		{"wrong bytes", send(Header{StatusFound, n}.Marshal(), wrong), ErrHashMismatch, true, 0},
		{"another module", send(Header{StatusFound, 5}.Marshal(), []byte("hello")), ErrHashMismatch, true, 0},
		{"trailing bytes", send(Header{StatusFound, n}.Marshal(), mod, []byte("more")), ErrMalformed, true, 0},
		{"malformed header", send([]byte{7, 0, 0, 0, 0, 0, 0, 0, 0}), ErrMalformed, true, 0},
		{"cut short", send(Header{StatusFound, n}.Marshal(), mod[:1000]), io.ErrUnexpectedEOF, false, 0},
		{"oversized", send(Header{StatusFound, 64 << 20}.Marshal()), ErrTooLarge, false, 0},
		{"busy", send(Header{StatusBusy, 0}.Marshal()), ErrBusy, false, 0},
		{"reset", func(st network.Stream, _ Request) { st.Reset() }, nil, false, 0},
		{"stall", func(st network.Stream, _ Request) {
			st.Write(Header{StatusFound, n}.Marshal())
			st.Write(mod[:10])
			<-stall
			st.Reset()
		}, ErrTimeout, false, 500 * time.Millisecond},
	}
	tn := newTestNet(t)
	t.Cleanup(func() { close(stall) }) // runs before the hosts close
	honest := tn.service(t, TestConfig(), Options{})
	_, err := honest.Store().Put(testCtx(t), mod)
	require.NoError(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := TestConfig()
			if tc.idle > 0 {
				cfg.IdleTimeout = tc.idle
			}
			liar := tn.hostile(t, tc.behave)
			var mu sync.Mutex
			var reported []peer.ID
			c := tn.service(t, cfg, Options{OnBadPeer: func(p peer.ID, err error) {
				mu.Lock()
				reported = append(reported, p)
				mu.Unlock()
			}})
			ctx := testCtx(t)

			// the hostile server alone: no module, and the reason
			_, err := c.Fetch(ctx, id, info(liar))
			require.ErrorIs(t, err, ErrNotFound)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			}
			var fe *FetchError
			require.ErrorAs(t, err, &fe)
			require.Len(t, fe.Peers, 1)
			assert.Equal(t, liar.ID(), fe.Peers[0].Peer)
			assert.Equal(t, tc.bad, fe.Peers[0].Bad())
			assert.False(t, c.Store().Has(id), "nothing stored from a hostile server")
			if tc.bad {
				assert.Equal(t, []peer.ID{liar.ID()}, fe.BadPeers())
			}

			// then an honest one after it
			got, err := c.Fetch(ctx, id, info(liar), honest.info())
			require.NoError(t, err)
			assert.Equal(t, mod, got)
			assert.True(t, c.Store().Has(id))
			mu.Lock()
			defer mu.Unlock()
			if tc.bad {
				assert.Equal(t, []peer.ID{liar.ID(), liar.ID()}, reported)
				assert.Equal(t, uint64(2), c.Stats().BadResponses)
			} else {
				assert.Empty(t, reported)
			}
		})
	}
}

func TestFetchRefusesOversizedModule(t *testing.T) { synctest.Test(t, testFetchRefusesOversizedModule) }

func testFetchRefusesOversizedModule(t *testing.T) {
	tn := newTestNet(t)
	big := TestConfig()
	big.MaxModuleBytes = 2 << 20
	src := tn.service(t, big, Options{})
	small := TestConfig()
	small.MaxModuleBytes = 1 << 20
	dst := tn.service(t, small, Options{})
	ctx := testCtx(t)
	id, err := src.Store().Put(ctx, module(3, 1<<20+1))
	require.NoError(t, err)
	_, err = dst.Fetch(ctx, id, src.info())
	require.ErrorIs(t, err, ErrTooLarge)
	var fe *FetchError
	require.ErrorAs(t, err, &fe)
	assert.Empty(t, fe.BadPeers(), "holding a large module is no misbehaviour")
	_, err = dst.Store().Put(ctx, module(3, 1<<20+1))
	require.ErrorIs(t, err, ErrTooLarge)
}

// TestFetchDedup holds the provider lookup until ten Fetches of one module
// wait: they share one lookup and one download.
func TestFetchDedup(t *testing.T) { synctest.Test(t, testFetchDedup) }

func testFetchDedup(t *testing.T) {
	tn := newTestNet(t)
	dir := newMapProviders()
	src := tn.service(t, TestConfig(), Options{})
	mod := module(4, 500_000)
	id, err := src.Store().Put(testCtx(t), mod)
	require.NoError(t, err)
	dir.add(ProviderKey(id), src.info())
	dir.gate = make(chan struct{})
	h := tn.host(t)
	dst, err := New(TestConfig(), Options{Host: h, Providers: dir.as(h)})
	require.NoError(t, err)
	defer dst.Close()

	ctx := testCtx(t)
	const n = 10
	results := make(chan []byte, n)
	errs := make(chan error, n+1)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := dst.Fetch(ctx, id)
			errs <- err
			results <- b
		}()
	}
	// one more that gives up early: the others are not affected
	early, cancel := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := dst.Fetch(early, id)
		errs <- err
	}()
	require.Eventually(t, func() bool {
		dst.mu.Lock()
		defer dst.mu.Unlock()
		f := dst.flights[id]
		return f != nil && f.waiters == n+1
	}, 10*time.Second, time.Millisecond)
	cancel()
	require.Eventually(t, func() bool {
		dst.mu.Lock()
		defer dst.mu.Unlock()
		f := dst.flights[id]
		return f != nil && f.waiters == n
	}, 10*time.Second, time.Millisecond)
	close(dir.gate)
	wg.Wait()
	close(errs)
	close(results)
	canceled := 0
	for err := range errs {
		if errors.Is(err, context.Canceled) {
			canceled++
			continue
		}
		require.NoError(t, err)
	}
	assert.Equal(t, 1, canceled)
	var first []byte
	for b := range results {
		assert.Equal(t, mod, b)
		if first == nil {
			first = b
		} else {
			assert.NotSame(t, &first[0], &b[0], "each caller owns its slice")
		}
	}
	assert.Equal(t, int64(1), dir.finds.Load())
	assert.Equal(t, uint64(1), src.Stats().Served)
	assert.Equal(t, uint64(1), dst.Stats().Fetched)
}

// TestFetchAbandoned: when every Fetch gives up, the download stops and a
// later Fetch starts afresh.
func TestFetchAbandoned(t *testing.T) { synctest.Test(t, testFetchAbandoned) }

func testFetchAbandoned(t *testing.T) {
	tn := newTestNet(t)
	dir := newMapProviders()
	dir.gate = make(chan struct{})
	h := tn.host(t)
	dst, err := New(TestConfig(), Options{Host: h, Providers: dir.as(h)})
	require.NoError(t, err)
	defer dst.Close()
	id := wasm.IDOf([]byte("m"))
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error)
	go func() {
		_, err := dst.Fetch(ctx, id)
		done <- err
	}()
	require.Eventually(t, func() bool { return dir.finds.Load() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	dst.mu.Lock()
	assert.Empty(t, dst.flights)
	dst.mu.Unlock()
	close(dir.gate)
	_, err = dst.Fetch(testCtx(t), id)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, int64(2), dir.finds.Load())
}

// openRaw opens a raw blob stream from h to s.
func openRaw(t *testing.T, h host.Host, s *Service) network.Stream {
	t.Helper()
	h.Peerstore().AddAddrs(s.h.ID(), s.h.Addrs(), time.Hour)
	st, err := Protocol.Open(testCtx(t), h, s.h.ID())
	require.NoError(t, err)
	return st
}

// readStatus reads a response header from st.
func readStatus(st network.Stream) (Status, error) {
	var b [HeaderLen]byte
	if _, err := io.ReadFull(st, b[:]); err != nil {
		return 0, err
	}
	h, err := DecodeHeader(b[:])
	return h.Status, err
}

func TestServeLimits(t *testing.T) { synctest.Test(t, testServeLimits) }

func testServeLimits(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.MaxServeStreams = 3
	cfg.MaxServeStreamsPerPeer = 2
	cfg.StreamTimeout, cfg.IdleTimeout = time.Minute, time.Minute // held streams stay
	srv := tn.service(t, cfg, Options{})
	id, err := srv.Store().Put(testCtx(t), module(1, 10_000))
	require.NoError(t, err)
	a, b := tn.host(t), tn.host(t)

	// a holds two streams without asking anything
	held := []network.Stream{openRaw(t, a, srv), openRaw(t, a, srv)}
	for _, st := range held {
		_, err := st.Write([]byte{opGet}) // the first byte of a request, to get the stream to the server
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return srv.Stats().Serving == 2 }, 10*time.Second, time.Millisecond)
	// a third from a is refused: a's share is used up
	st := openRaw(t, a, srv)
	st.Write(Request{ID: id}.Marshal())
	status, err := readStatus(st)
	require.NoError(t, err)
	assert.Equal(t, StatusBusy, status)
	st.Close()
	// b gets the last slot, and a fetch from another peer is refused: the
	// total is used up
	hb := openRaw(t, b, srv)
	hb.Write([]byte{opGet})
	require.Eventually(t, func() bool { return srv.Stats().Serving == 3 }, 10*time.Second, time.Millisecond)
	cli := tn.service(t, TestConfig(), Options{})
	_, err = cli.Fetch(testCtx(t), id, srv.info())
	require.ErrorIs(t, err, ErrBusy)
	assert.Equal(t, uint64(2), srv.Stats().Refused)

	// slots free up when the held streams end
	for _, st := range append(held, hb) {
		st.Reset()
	}
	require.Eventually(t, func() bool { return srv.Stats().Serving == 0 }, 10*time.Second, time.Millisecond)
	got, err := cli.Fetch(testCtx(t), id, srv.info())
	require.NoError(t, err)
	assert.Equal(t, module(1, 10_000), got)
}

// TestServeIdleTimeout: a client that opens a stream and sends nothing more
// loses it after IdleTimeout.
func TestServeIdleTimeout(t *testing.T) { synctest.Test(t, testServeIdleTimeout) }

func testServeIdleTimeout(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.IdleTimeout = 200 * time.Millisecond
	srv := tn.service(t, cfg, Options{})
	st := openRaw(t, tn.host(t), srv)
	_, err := st.Write([]byte{opGet, 1, 2})
	require.NoError(t, err)
	_, err = readStatus(st) // returns once the server resets the stream
	require.Error(t, err)
	require.Eventually(t, func() bool { return srv.Stats().Serving == 0 }, 10*time.Second, time.Millisecond)
}

func TestServeMalformedRequest(t *testing.T) {
	tn := newTestNet(t)
	srv := tn.service(t, TestConfig(), Options{})
	id, err := srv.Store().Put(testCtx(t), module(1, 100))
	require.NoError(t, err)
	for name, req := range map[string][]byte{
		"bad operation": append([]byte{0x09}, id[:]...),
		"short":         {opGet, 1, 2, 3},
	} {
		t.Run(name, func(t *testing.T) {
			st := openRaw(t, tn.host(t), srv)
			_, err := st.Write(req)
			require.NoError(t, err)
			st.CloseWrite()
			_, err = readStatus(st)
			require.Error(t, err, "a malformed request gets no answer")
			st.Reset()
		})
	}
	assert.Zero(t, srv.Stats().Served)
}

func TestCloseStopsService(t *testing.T) { synctest.Test(t, testCloseStopsService) }

func testCloseStopsService(t *testing.T) {
	tn := newTestNet(t)
	srv := tn.service(t, TestConfig(), Options{})
	st := openRaw(t, tn.host(t), srv)
	st.Write([]byte{opGet})
	require.Eventually(t, func() bool { return srv.Stats().Serving == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, srv.Health(context.Background()))
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close())
	assert.Zero(t, srv.Stats().Serving, "Close resets served streams and waits for them")
	_, err := readStatus(st)
	require.Error(t, err)
	require.ErrorIs(t, srv.Health(context.Background()), ErrClosed)
	_, err = srv.Fetch(context.Background(), wasm.IDOf([]byte("x")))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, srv.Run(context.Background(), func() {}), ErrClosed)
}

// TestRunReprovides: Run announces modules already in a reopened store,
// and announces everything again every ReprovideInterval.
func TestRunReprovides(t *testing.T) { synctest.Test(t, testRunReprovides) }

func testRunReprovides(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.Dir = t.TempDir()
	cfg.ReprovideInterval = 50 * time.Millisecond
	st, err := OpenStore(cfg)
	require.NoError(t, err)
	id, err := st.Put(context.Background(), module(1, 100))
	require.NoError(t, err)

	dir := newMapProviders()
	var provides atomic.Int64
	dir.provide = func(key string) error {
		if key == ProviderKey(id) {
			provides.Add(1)
		}
		return nil
	}
	h := tn.host(t)
	s, err := New(cfg, Options{Host: h, Providers: dir.as(h)})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "blob", s.Name())
	assert.Equal(t, []wasm.ModuleID{id}, s.Store().List())
	assert.Zero(t, provides.Load(), "nothing is announced before Run")

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	<-ready
	require.Eventually(t, func() bool { return provides.Load() >= 3 }, 10*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, s.Health(ctx))
}

func TestAnnounceFailureCounted(t *testing.T) { synctest.Test(t, testAnnounceFailureCounted) }

func testAnnounceFailureCounted(t *testing.T) {
	tn := newTestNet(t)
	dir := newMapProviders()
	dir.provide = func(string) error { return errors.New("no peers") }
	h := tn.host(t)
	s, err := New(TestConfig(), Options{Host: h, Providers: dir.as(h)})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Store().Put(testCtx(t), module(1, 10))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Stats().AnnounceFailed == 1 }, 10*time.Second, time.Millisecond)
	assert.Zero(t, s.Stats().Announced)
}

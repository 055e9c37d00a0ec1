package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/fog-compute/fog/internal/await"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/p2p"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-flow-metrics.(*sweeper).run"),
		// net/http keeps idle client connections' readers until they time out.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// testNode is a node started from a fresh data dir.
type testNode struct {
	*Node
	dir DataDir
	cfg Config
}

func initTestDir(t testing.TB, mutate func(*Config)) (DataDir, Config) {
	t.Helper()
	dir := DataDir(filepath.Join(t.TempDir(), "fog"))
	cfg := TestConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	_, err := Init(dir, cfg)
	require.NoError(t, err)
	return dir, cfg
}

func startAt(t testing.TB, dir DataDir, cfg Config) *testNode {
	t.Helper()
	p2pc, dhtc, gc := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig()
	n, err := Start(context.Background(), cfg, Options{
		Dir: dir, P2P: &p2pc, DHT: &dhtc, Gossip: &gc, Supervisor: TestSupervisorConfig(),
		Logger: NewLogger(io.Discard, cfg.Log),
	})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return &testNode{Node: n, dir: dir, cfg: cfg}
}

func startTestNode(t testing.TB, mutate func(*Config)) *testNode {
	dir, cfg := initTestDir(t, mutate)
	return startAt(t, dir, cfg)
}

func (n *testNode) client(t testing.TB) *Client {
	c, err := Dial(n.dir)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func (n *testNode) p2pAddr() string {
	return fmt.Sprintf("%s/p2p/%s", n.Host().Addrs()[0], n.Host().ID())
}

func TestNodeAnswersStatus(t *testing.T) {
	n := startTestNode(t, nil)
	c := n.client(t)
	var st Status
	require.NoError(t, c.Call(context.Background(), "node.status", nil, &st))
	assert.Equal(t, n.Host().ID().String(), st.PeerID)
	assert.Equal(t, Version, st.Version)
	assert.NotEmpty(t, st.ListenAddrs)
	names := map[string]ServiceState{}
	for _, s := range st.Services {
		names[s.Name] = s.State
		assert.True(t, s.Healthy, s.Name)
	}
	assert.Equal(t, map[string]ServiceState{"store": StateCore, "host": StateCore, "bootstrap": StateCore, "dht": StateRunning,
		"gossip": StateCore, "lottery": StateRunning, "mix": StateRunning, "mailbox": StateRunning, "chat": StateRunning, "blob": StateRunning, "compute": StateRunning, "advertiser": StateRunning, "files": StateRunning,
		"events": StateRunning, "api": StateRunning}, names)

	var v VersionInfo
	require.NoError(t, c.Call(context.Background(), "node.version", nil, &v))
	assert.Equal(t, Version, v.Version)
}

func TestNodesFindEachOtherThroughBootstrap(t *testing.T) {
	for _, size := range []int{2, 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			first := startTestNode(t, nil)
			var rest []*testNode
			for range size - 1 {
				rest = append(rest, startTestNode(t, func(c *Config) { c.P2P.Bootstrap = []string{first.p2pAddr()} }))
			}
			awaitConns(t, 20*time.Second, func() bool {
				for _, n := range rest {
					// both ends: the dialer sees the connection before the listener does
					if n.Host().Network().Connectedness(first.Host().ID()) != network.Connected ||
						first.Host().Network().Connectedness(n.Host().ID()) != network.Connected {
						return false
					}
				}
				return true
			}, append([]*testNode{first}, rest...)...)
			var peers []PeerInfo
			require.NoError(t, first.client(t).Call(context.Background(), "node.peers", nil, &peers))
			assert.Len(t, peers, size-1)
			var st Status
			require.NoError(t, rest[0].client(t).Call(context.Background(), "node.status", nil, &st))
			require.Len(t, st.Bootstrap, 1)
			assert.True(t, st.Bootstrap[0].Connected)
		})
	}
}

func TestRestartKeepsIdentityAndBans(t *testing.T) {
	dir, cfg := initTestDir(t, nil)
	other := startTestNode(t, nil)
	n := startAt(t, dir, cfg)
	id := n.Host().ID()
	c := n.client(t)
	var ban p2p.Ban
	require.NoError(t, c.Call(context.Background(), "node.ban", BanParams{Peer: other.Host().ID().String(), Reason: "spam"}, &ban))
	assert.Equal(t, other.Host().ID(), ban.Peer)
	require.NoError(t, n.Close())

	n2 := startAt(t, dir, cfg)
	assert.Equal(t, id, n2.Host().ID())
	var bans []p2p.Ban
	require.NoError(t, n2.client(t).Call(context.Background(), "node.bans", nil, &bans))
	require.Len(t, bans, 1)
	assert.Equal(t, other.Host().ID(), bans[0].Peer)
	assert.Equal(t, "spam", bans[0].Reason)
	// and the ban is enforced by the restarted host
	err := n2.Host().Connect(context.Background(), other.Host().AddrInfo())
	require.Error(t, err)
}

// post sends body to the node's /rpc with the given Authorization header.
func post(t *testing.T, n *testNode, auth string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+n.APIAddr()+"/rpc", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rsp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp, b
}

func TestAPIAuth(t *testing.T) {
	n := startTestNode(t, nil)
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	call := []byte(`{"jsonrpc":"2.0","id":1,"method":"node.status"}`)
	tests := []struct {
		name string
		auth string
		code int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer " + strings.Repeat("0", len(tok)), http.StatusUnauthorized},
		{"prefix of token", "Bearer " + tok[:10], http.StatusUnauthorized},
		{"basic auth", "Basic " + tok, http.StatusUnauthorized},
		{"right token", "Bearer " + tok, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, body := post(t, n, tc.auth, call)
			assert.Equal(t, tc.code, rsp.StatusCode)
			if tc.code == http.StatusUnauthorized {
				assert.Empty(t, body, "a refused call gets nothing else")
			}
		})
	}
	// metrics need the token too, and include libp2p's and fog's
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.APIAddr()+"/metrics", nil)
	rsp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	rsp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, rsp.StatusCode)
	req.Header.Set("Authorization", "Bearer "+tok)
	rsp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	metrics, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	assert.Contains(t, string(metrics), "fog_peers")
	assert.Contains(t, string(metrics), "fog_rpc_calls_total")
	assert.Contains(t, string(metrics), "libp2p_rcmgr")

	// the client reports a refused token as such
	bad := NewClient(n.APIAddr(), "nope")
	defer bad.Close()
	require.ErrorIs(t, bad.Call(context.Background(), "node.status", nil, nil), ErrUnauthorized)
}

func TestAPIBadRequests(t *testing.T) {
	n := startTestNode(t, func(c *Config) { c.API.MaxBodyBytes = 4096 })
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	auth := "Bearer " + tok
	tests := []struct {
		name string
		body string
		code jrpc2.Code
	}{
		{"malformed json", `{"jsonrpc":"2.0","id":1,"method":`, jrpc2.ParseError},
		{"not json", `hello`, jrpc2.ParseError},
		{"empty", ``, jrpc2.ParseError},
		{"empty batch", `[]`, jrpc2.InvalidRequest},
		{"unknown method", `{"jsonrpc":"2.0","id":1,"method":"node.nope"}`, jrpc2.MethodNotFound},
		{"wrong params type", `{"jsonrpc":"2.0","id":1,"method":"node.connect","params":{"addr":42}}`, jrpc2.InvalidParams},
		{"unknown param", `{"jsonrpc":"2.0","id":1,"method":"node.connect","params":{"adr":"x"}}`, jrpc2.InvalidParams},
		{"bad multiaddr", `{"jsonrpc":"2.0","id":1,"method":"node.connect","params":{"addr":"nonsense"}}`, jrpc2.InvalidParams},
		{"bad peer id", `{"jsonrpc":"2.0","id":1,"method":"node.disconnect","params":{"peer":"nonsense"}}`, jrpc2.InvalidParams},
		{"no version", `{"id":1,"method":"node.status"}`, jrpc2.InvalidRequest},
		{"oversized", `{"jsonrpc":"2.0","id":1,"method":"node.status","params":{"x":"` + strings.Repeat("a", 5000) + `"}}`, jrpc2.InvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, body := post(t, n, auth, []byte(tc.body))
			require.Equal(t, http.StatusOK, rsp.StatusCode, string(body))
			var out struct {
				Error *jrpc2.Error `json:"error"`
			}
			require.NoError(t, json.Unmarshal(body, &out), string(body))
			require.NotNil(t, out.Error, string(body))
			assert.Equal(t, tc.code, out.Error.Code, out.Error.Message)
		})
	}
	// the node still answers after all that
	var st Status
	require.NoError(t, n.client(t).Call(context.Background(), "node.status", nil, &st))
}

func TestClientDaemonNotRunning(t *testing.T) {
	n := startTestNode(t, nil)
	c := n.client(t)
	require.NoError(t, n.Close())
	_, err := os.Stat(n.dir.Addr())
	assert.True(t, os.IsNotExist(err), "api.addr is removed on a clean stop")
	err = c.Call(context.Background(), "node.status", nil, nil)
	require.ErrorIs(t, err, ErrNotRunning)
}

func TestStartRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir DataDir, cfg *Config)
		want  string
	}{
		{"bad bootstrap entry", func(t *testing.T, _ DataDir, c *Config) {
			c.P2P.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"}
		}, `p2p.bootstrap[0] "/ip4/127.0.0.1/tcp/1"`},
		{"bad listen address", func(t *testing.T, _ DataDir, c *Config) {
			c.P2P.Listen = []string{"/ip4/localhost/tcp/1"}
		}, `p2p.listen[0] "/ip4/localhost/tcp/1"`},
		{"unreadable key", func(t *testing.T, d DataDir, _ *Config) {
			require.NoError(t, os.Chmod(d.Identity(), 0o644))
		}, "identity.key has mode 0644"},
		{"corrupt key", func(t *testing.T, d DataDir, _ *Config) {
			require.NoError(t, os.WriteFile(d.Identity(), []byte("junk"), 0o600))
		}, "identity key file is corrupt"},
		{"missing key", func(t *testing.T, d DataDir, _ *Config) {
			require.NoError(t, os.Remove(d.Identity()))
		}, "identity key file is missing"},
		{"api port", func(t *testing.T, _ DataDir, c *Config) { c.API.Listen = "127.0.0.1" }, `api.listen "127.0.0.1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, cfg := initTestDir(t, nil)
			tc.setup(t, dir, &cfg)
			_, err := Start(context.Background(), cfg, Options{Dir: dir, Logger: NewLogger(io.Discard, cfg.Log)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestAPIPortInUse(t *testing.T) {
	a := startTestNode(t, nil)
	_, err := func() (*Node, error) {
		dir, cfg := initTestDir(t, func(c *Config) { c.API.Listen = a.APIAddr() })
		return Start(context.Background(), cfg, Options{Dir: dir, Supervisor: TestSupervisorConfig(), Logger: NewLogger(io.Discard, cfg.Log)})
	}()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start api")
	assert.Contains(t, err.Error(), a.APIAddr())
}

// TestFailedStartReleasesEverything: a Start that fails at its last step
// (the API) closes what the earlier steps opened, so the data directory's
// store is free for the next Start (and goleak sees no goroutine left).
func TestFailedStartReleasesEverything(t *testing.T) {
	a := startTestNode(t, nil)
	dir, cfg := initTestDir(t, func(c *Config) { c.API.Listen = a.APIAddr() })
	opts := Options{Dir: dir, Supervisor: TestSupervisorConfig(), Logger: NewLogger(io.Discard, cfg.Log)}
	_, err := Start(context.Background(), cfg, opts)
	require.Error(t, err)
	cfg.API.Listen = "127.0.0.1:0"
	n, err := Start(context.Background(), cfg, opts)
	require.NoError(t, err, "the failed Start released the store")
	require.NoError(t, n.Close())
}

func TestTwoNodesOneDir(t *testing.T) {
	n := startTestNode(t, nil)
	_, err := Start(context.Background(), n.cfg, Options{Dir: n.dir, Logger: NewLogger(io.Discard, n.cfg.Log)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use by another fog process")
}

// BenchmarkStatusRPC measures node.status calls per second over loopback
// HTTP, with as many concurrent callers as GOMAXPROCS.
func BenchmarkStatusRPC(b *testing.B) {
	dir := DataDir(filepath.Join(b.TempDir(), "fog"))
	cfg := TestConfig()
	_, err := Init(dir, cfg)
	require.NoError(b, err)
	n, err := Start(context.Background(), cfg, Options{Dir: dir, Logger: NewLogger(io.Discard, cfg.Log)})
	require.NoError(b, err)
	defer n.Close()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := Dial(dir)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		var st Status
		for pb.Next() {
			if err := c.Call(context.Background(), "node.status", nil, &st); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func TestDirectoryOverRPC(t *testing.T) {
	first := startTestNode(t, func(c *Config) { c.Compute.Price, c.Compute.Scratch = 500, false })
	second := startTestNode(t, func(c *Config) {
		c.P2P.Bootstrap = []string{first.p2pAddr()}
		c.Compute.Price = 100
		c.Compute.Cores = 4
	})
	third := startTestNode(t, func(c *Config) {
		c.P2P.Bootstrap = []string{first.p2pAddr()}
		c.Compute.Offer = false
	})
	c := third.client(t)
	ctx := context.Background()
	awaitDirectory(t, third.Node, 2, "the two offering nodes reach the third's directory")
	var entries []DirectoryEntry
	require.NoError(t, c.Call(ctx, "directory.list", DirectoryParams{}, &entries))
	require.Len(t, entries, 2)
	assert.Equal(t, second.Host().ID().String(), entries[0].Peer, "sorted by price")
	assert.Equal(t, uint64(100), entries[0].Price)
	assert.Equal(t, []string{"wasm", "wasm/scratch"}, entries[0].Runtimes, "a node runs scratch tasks by default")
	assert.Equal(t, []string{"wasm"}, entries[1].Runtimes, "compute.scratch = false")

	require.NoError(t, c.Call(ctx, "directory.list", DirectoryParams{MinCores: 3}, &entries))
	require.Len(t, entries, 1)
	assert.Equal(t, uint32(4), entries[0].Cores)

	var e DirectoryEntry
	require.NoError(t, first.client(t).Call(ctx, "directory.get", DHTPeerParams{Peer: first.Host().ID().String()}, &e))
	assert.True(t, e.Self, "a node that offers compute holds its own advert")
	err := c.Call(ctx, "directory.get", DHTPeerParams{Peer: third.Host().ID().String()}, &e)
	var je *jrpc2.Error
	require.ErrorAs(t, err, &je)
	assert.Equal(t, CodeNotFound, je.Code)
	err = c.Call(ctx, "directory.list", DirectoryParams{Sort: "cheapness"}, &entries)
	require.ErrorAs(t, err, &je)
	assert.Equal(t, jrpc2.InvalidParams, je.Code)

	var topics []TopicInfo
	require.NoError(t, c.Call(ctx, "gossip.topics", nil, &topics))
	require.Len(t, topics, 3)
	assert.Equal(t, "/fog/capacity/1", topics[0].Name)
	assert.Equal(t, "/fog/chat/names/1", topics[1].Name)
	assert.Equal(t, "/fog/lottery/1/fog", topics[2].Name)
	var peers []GossipPeer
	require.NoError(t, c.Call(ctx, "gossip.peers", GossipPeersParams{Topic: topics[0].Name}, &peers))
	assert.NotEmpty(t, peers)
	err = c.Call(ctx, "gossip.peers", GossipPeersParams{Topic: "/nope"}, &peers)
	require.ErrorAs(t, err, &je)
}

func TestTasksOverRPC(t *testing.T) {
	first := startTestNode(t, nil)
	boot := func(c *Config) { c.P2P.Bootstrap = []string{first.p2pAddr()} }
	second, third := startTestNode(t, boot), startTestNode(t, boot)
	c := first.client(t)
	ctx := context.Background()
	// every node offers compute; wait until the submitter sees all three
	awaitDirectory(t, first.Node, 3)
	var es []DirectoryEntry
	require.NoError(t, c.Call(ctx, "directory.list", DirectoryParams{}, &es))
	require.Len(t, es, 3)

	echo, err := os.ReadFile("../compute/testdata/echo.wasm")
	require.NoError(t, err)
	var sub TaskSubmitResult
	require.NoError(t, c.Call(ctx, "task.submit", TaskSubmitParams{Module: echo, Stdin: []byte("hello fog\n"), Replicas: 3}, &sub))
	var res compute.Result
	require.NoError(t, c.Call(ctx, "task.result", TaskIDParams{ID: string(sub.ID), Wait: true}, &res))
	assert.Equal(t, compute.StateDone, res.State, res.Error)
	assert.Equal(t, "hello fog\n", string(res.Stdout))
	assert.True(t, res.Agreed)
	assert.ElementsMatch(t, []peer.ID{first.Host().ID(), second.Host().ID(), third.Host().ID()}, res.Providers,
		"replicas 3 on three nodes: the submitter counts as one")

	// the module is stored now: submit by ID
	require.NoError(t, c.Call(ctx, "task.submit", TaskSubmitParams{ModuleID: sub.Module, Stdin: []byte("again")}, &sub))
	require.NoError(t, c.Call(ctx, "task.result", TaskIDParams{ID: string(sub.ID), Wait: true}, &res))
	assert.Equal(t, "again", string(res.Stdout))

	var list []compute.Status
	require.NoError(t, c.Call(ctx, "task.list", TaskListParams{State: "done"}, &list))
	assert.Len(t, list, 2)

	var out compute.Output
	require.NoError(t, c.Call(ctx, "task.logs", TaskLogsParams{ID: string(sub.ID), StdoutOffset: 2}, &out))
	assert.Equal(t, "ain", string(out.Stdout), "a finished task's output from the offset")
	assert.False(t, out.Live)
	assert.Equal(t, compute.StateDone, out.State)

	var je *jrpc2.Error
	tests := []struct {
		name   string
		method string
		params any
		code   jrpc2.Code
		says   string // in the message
	}{
		{"no module", "task.submit", TaskSubmitParams{}, jrpc2.InvalidParams, "required"},
		{"not wasm", "task.submit", TaskSubmitParams{Module: []byte("not wasm")}, jrpc2.InvalidParams, "wasm"},
		{"bad strategy", "task.submit", TaskSubmitParams{Module: echo, Strategy: "random"}, jrpc2.InvalidParams, `strategy: "random" is unknown`},
		// the spec is checked before the module is compiled
		{"bad strategy, not wasm", "task.submit", TaskSubmitParams{Module: []byte("not wasm"), Strategy: "random"}, jrpc2.InvalidParams, `strategy: "random" is unknown`},
		{"bad crash policy", "task.submit", TaskSubmitParams{Module: echo, CrashPolicy: "retry"}, jrpc2.InvalidParams, `crash_policy: "retry"`},
		{"negative timeout", "task.submit", TaskSubmitParams{Module: echo, TimeoutSeconds: -1}, jrpc2.InvalidParams, "timeout_seconds: -1s is negative"},
		{"memory above the node's", "task.submit", TaskSubmitParams{Module: echo, MemoryMiB: 2048}, jrpc2.InvalidParams, "memory_mib: 32768 pages (2048 MiB) exceeds"},
		{"memory above wasm's", "task.submit", TaskSubmitParams{Module: echo, MemoryMiB: 1 << 28}, jrpc2.InvalidParams, "memory_mib: 268435456 MiB exceeds 4096 MiB"},
		{"negative deadline", "task.submit", TaskSubmitParams{Module: echo, DeadlineSeconds: -1}, jrpc2.InvalidParams, "deadline_seconds: -1s is negative"},
		{"bad arg", "task.submit", TaskSubmitParams{Module: echo, Args: []string{"a", "b\x00"}}, jrpc2.InvalidParams, "args[1]: contains a NUL byte"},
		{"bad module id", "task.submit", TaskSubmitParams{ModuleID: "abc"}, jrpc2.InvalidParams, "module_id"},
		{"unknown task", "task.status", TaskIDParams{ID: "0000000000000000000000000000000000"}, CodeNotFound, "not found"},
		{"bad task id", "task.status", TaskIDParams{ID: "x/y"}, jrpc2.InvalidParams, "task ID"},
		{"bad state", "task.list", TaskListParams{State: "sleeping"}, jrpc2.InvalidParams, "sleeping"},
		{"logs of an unknown task", "task.logs", TaskLogsParams{ID: "0000000000000000000000000000000000"}, CodeNotFound, "not found"},
		{"negative logs offset", "task.logs", TaskLogsParams{ID: string(sub.ID), StderrOffset: -1}, jrpc2.InvalidParams, "stderr_offset -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Call(ctx, tc.method, tc.params, nil)
			require.ErrorAs(t, err, &je)
			assert.Equal(t, tc.code, je.Code, je.Message)
			assert.Contains(t, je.Message, tc.says)
		})
	}
}

// task.logs shows a running task's output while it runs, then the
// result's.
func TestTaskLogsOverRPC(t *testing.T) {
	n := startTestNode(t, nil)
	c := n.client(t)
	ctx := context.Background()
	mod, err := os.ReadFile("../compute/testdata/chatter.wasm")
	require.NoError(t, err)
	var sub TaskSubmitResult
	require.NoError(t, c.Call(ctx, "task.submit", TaskSubmitParams{Module: mod, Clock: true,
		Stdin: binary.LittleEndian.AppendUint64(nil, uint64(3*time.Second))}, &sub))
	var out compute.Output
	await.Until(t, 10*time.Second, n.Compute().Changed, func() bool {
		require.NoError(t, c.Call(ctx, "task.logs", TaskLogsParams{ID: string(sub.ID)}, &out))
		return out.Live && len(out.Stdout) > 0
	})
	assert.Equal(t, compute.StateRunning, out.State)
	assert.Equal(t, "first\n", string(out.Stdout))
	var res compute.Result
	require.NoError(t, c.Call(ctx, "task.result", TaskIDParams{ID: string(sub.ID), Wait: true}, &res))
	require.NoError(t, c.Call(ctx, "task.logs", TaskLogsParams{ID: string(sub.ID), StdoutOffset: len(out.Stdout)}, &out))
	assert.False(t, out.Live)
	assert.Equal(t, "second\n", string(out.Stdout))
}

// compute.scratch and compute.scratch_mib reach the executor: a node that
// refuses scratch tasks cannot run one even locally, and one that runs
// them does so in memory within its quota.
func TestScratchConfigReachesExecutor(t *testing.T) {
	mod, err := os.ReadFile("../compute/wasm/testdata/scratch.wasm")
	require.NoError(t, err)
	for _, scratch := range []bool{false, true} {
		n := startTestNode(t, func(c *Config) { c.Compute.Scratch, c.Compute.ScratchMiB = scratch, 1 })
		ctx := context.Background()
		id, err := n.exec.Compile(ctx, mod)
		require.NoError(t, err)
		res, err := n.exec.Run(ctx, wasm.Spec{Module: id, Scratch: true})
		if !scratch {
			require.ErrorIs(t, err, wasm.ErrInvalidSpec)
			continue
		}
		require.NoError(t, err)
		assert.True(t, res.OK(), "exit %d: %s", res.ExitCode, res.Err)
		assert.Equal(t, "/scratch\n", string(res.Stdout))
	}
}

// TestDHTBetweenTwoNodesWithDefaultMode: two nodes on loopback with dht.mode
// left at auto (no AutoNAT: neither is publicly reachable, so both are WAN
// clients) meet in the LAN DHT: records and provider records put on one are
// found from the other, and the DHT service stays healthy.
func TestDHTBetweenTwoNodesWithDefaultMode(t *testing.T) {
	auto := func(c *Config) { c.DHT.Mode = dht.ModeAuto }
	a, b := startTestNode(t, auto), startTestNode(t, auto)
	require.False(t, a.cfg.P2P.MDNS)
	ca, cb := a.client(t), b.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, cb.Call(ctx, "node.connect", ConnectParams{Addr: a.p2pAddr()}, nil))

	// the first put may race the routing tables filling after identify
	var put DHTRecord
	require.Eventually(t, func() bool {
		return ca.Call(ctx, "dht.put", DHTPutParams{Name: "motd", Value: "hello fog"}, &put) == nil
	}, 20*time.Second, 20*time.Millisecond, "dht.put on a")
	var got DHTRecord
	require.NoError(t, cb.Call(ctx, "dht.get", DHTGetParams{Peer: a.Host().ID().String(), Name: "motd"}, &got))
	assert.Equal(t, put, got)

	require.NoError(t, ca.Call(ctx, "dht.provide", DHTKeyParams{Key: "module:1234"}, nil))
	require.Eventually(t, func() bool { // ADD_PROVIDER has no answer: it lands a moment later
		var ps []DHTProvider
		err := cb.Call(ctx, "dht.findProviders", DHTKeyParams{Key: "module:1234"}, &ps)
		return err == nil && len(ps) == 1 && ps[0].ID == a.Host().ID().String()
	}, 20*time.Second, 20*time.Millisecond, "dht.findProviders on b")

	for _, c := range []*Client{ca, cb} {
		var st Status
		require.NoError(t, c.Call(ctx, "node.status", nil, &st))
		assert.Equal(t, dht.Status{Mode: dht.ModeAuto, WAN: dht.Serving{Mode: dht.ModeClient, Peers: 0},
			LAN: dht.Serving{Mode: dht.ModeServer, Peers: 1}}, st.DHT)
	}
	// health checks keep passing: wait for enough of them that a failing
	// DHT would have been restarted (UnhealthyAfter in a row), on both
	for _, n := range []*testNode{a, b} {
		from := n.sup.healthChecks("dht")
		await.Until(t, 20*time.Second, n.sup.checked.Wait, func() bool {
			return n.sup.healthChecks("dht") >= from+3*TestSupervisorConfig().UnhealthyAfter
		})
		for _, s := range n.Services() {
			if s.Name == "dht" {
				assert.True(t, s.Healthy, s.Health)
				assert.Zero(t, s.Restarts, s.LastError)
			}
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
)

// When FOG_TEST_MAIN is set the test binary is the fog command, so tests can
// run it as a real child process (to signal or kill it).
func TestMain(m *testing.M) {
	if os.Getenv("FOG_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-flow-metrics.(*sweeper).run"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// fog runs the command in-process and returns stdout, stderr and the error.
func fog(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// fogChild starts the test binary as `fog args...` in a child process.
func fogChild(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FOG_TEST_MAIN=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &logs
}

func initDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fog")
	_, _, err := fog(t, context.Background(), "init", "--path", dir, "--api", "127.0.0.1:0",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1")
	require.NoError(t, err)
	// keep test nodes off the LAN
	cfg, err := node.DataDir(dir).LoadConfig()
	require.NoError(t, err)
	cfg.P2P.MDNS, cfg.P2P.AutoNAT, cfg.P2P.HolePunching, cfg.P2P.RelayClient = false, false, false, false
	b, err := node.MarshalConfig(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(node.DataDir(dir).Config(), b, 0o644))
	return dir
}

// waitAPI waits until the daemon of dir answers node.status.
func waitAPI(t *testing.T, dir string) *node.Client {
	t.Helper()
	var c *node.Client
	require.Eventually(t, func() bool {
		if _, err := os.Stat(node.DataDir(dir).Addr()); err != nil {
			return false
		}
		cl, err := node.Dial(node.DataDir(dir))
		if err != nil {
			return false
		}
		if cl.Call(context.Background(), "node.status", nil, nil) != nil {
			cl.Close()
			return false
		}
		c = cl
		return true
	}, 30*time.Second, 20*time.Millisecond)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestInitWritesFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	boot := "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzBtjB3ccXGGzQ1nXwhQxxnYMrGnX2Lqws2hSYUjPTnp"
	out, _, err := fog(t, context.Background(), "init", "--path", dir, "--api", "127.0.0.1:6001",
		"--listen", "/ip4/127.0.0.1/tcp/4002", "--bootstrap", boot)
	require.NoError(t, err)
	assert.Contains(t, out, "initialised node 12D3KooW")
	cfg, err := node.DataDir(dir).LoadConfig()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:6001", cfg.API.Listen)
	assert.Equal(t, []string{"/ip4/127.0.0.1/tcp/4002"}, cfg.P2P.Listen)
	assert.Equal(t, []string{boot}, cfg.P2P.Bootstrap)
	for _, f := range []string{node.DataDir(dir).Identity(), node.DataDir(dir).Token()} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	idOut, _, err := fog(t, context.Background(), "--json", "id", "--path", dir)
	require.NoError(t, err)
	var id idInfo
	require.NoError(t, json.Unmarshal([]byte(idOut), &id))
	assert.Contains(t, out, id.PeerID)
	assert.Equal(t, idInfo{PeerID: id.PeerID, AgentVersion: "fog/" + node.Version,
		Addresses: []string{"/ip4/127.0.0.1/tcp/4002/p2p/" + id.PeerID}}, id, "not running: the configured addresses")

	_, _, err = fog(t, context.Background(), "init", "--path", dir)
	require.ErrorIs(t, err, node.ErrAlreadyInitialized)

	_, _, err = fog(t, context.Background(), "init", "--path", filepath.Join(t.TempDir(), "x"), "--bootstrap", "nonsense")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `p2p.bootstrap[0] "nonsense"`)
}

func TestClientCommandsWithoutDaemon(t *testing.T) {
	dir := initDir(t)
	for _, args := range [][]string{{"status"}, {"peers"}, {"connect", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGzBtjB3ccXGGzQ1nXwhQxxnYMrGnX2Lqws2hSYUjPTnp"}} {
		t.Run(args[0], func(t *testing.T) {
			// a real child process, to check the exit code and the one-line reason
			cmd, logs := fogChild(t, append(args, "--path", dir)...)
			err := cmd.Wait()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, 1, ee.ExitCode())
			assert.Equal(t, 1, strings.Count(logs.String(), "\n"), logs.String())
			assert.Contains(t, logs.String(), "fog daemon is not running")
		})
	}
	_, _, err := fog(t, context.Background(), "status", "--path", filepath.Join(t.TempDir(), "none"))
	require.ErrorIs(t, err, node.ErrNotInitialized)
}

func TestRunAndClientCommands(t *testing.T) {
	a, b := initDir(t), initDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := fog(t, ctx, "run", "--path", d)
			assert.NoError(t, err)
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	waitAPI(t, a)
	cb := waitAPI(t, b)
	var stB node.Status
	require.NoError(t, cb.Call(ctx, "node.status", nil, &stB))

	addr := stB.ListenAddrs[0] + "/p2p/" + stB.PeerID
	out, _, err := fog(t, ctx, "connect", addr, "--path", a)
	require.NoError(t, err)
	assert.Equal(t, "connected to "+stB.PeerID+"\n", out)

	out, _, err = fog(t, ctx, "peers", "--path", a)
	require.NoError(t, err)
	assert.Contains(t, out, stB.PeerID)

	out, _, err = fog(t, ctx, "status", "--path", a, "--json")
	require.NoError(t, err)
	var st node.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, 1, st.Peers)

	out, _, err = fog(t, ctx, "status", "--path", a)
	require.NoError(t, err)
	assert.Contains(t, out, "services:")
	assert.Contains(t, out, "api")

	out, _, err = fog(t, ctx, "version", "--path", a)
	require.NoError(t, err)
	assert.Contains(t, out, "daemon: fog "+node.Version)

	_, _, err = fog(t, ctx, "connect", "not-an-addr", "--path", a)
	require.Error(t, err)
	assert.Contains(t, errorText(err), "not a multiaddr")
}

// TestSIGTERMLosesNoAcknowledgedWrite bans peers through the API of a child
// daemon while it is sent SIGTERM, then restarts it and reads every
// acknowledged ban back.
func TestSIGTERMLosesNoAcknowledgedWrite(t *testing.T) {
	dir := initDir(t)
	cmd, logs := fogChild(t, "run", "--path", dir)
	c := waitAPI(t, dir)

	var acked []string
	var mu sync.Mutex
	done := make(chan struct{})
	enough := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			priv, _, _ := crypto.GenerateEd25519Key(nil)
			id, _ := peer.IDFromPrivateKey(priv)
			if err := c.Call(context.Background(), "node.ban", node.BanParams{Peer: id.String(), Reason: fmt.Sprint(i)}, nil); err != nil {
				return // the daemon is gone
			}
			mu.Lock()
			acked = append(acked, id.String())
			if len(acked) == 50 {
				close(enough)
			}
			mu.Unlock()
		}
	}()
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("no writes acknowledged")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), logs.String())
	<-done
	assert.Contains(t, logs.String(), "shutting down")

	// restart in-process and read back
	cfg, err := node.DataDir(dir).LoadConfig()
	require.NoError(t, err)
	n, err := node.Start(context.Background(), cfg, node.Options{Dir: node.DataDir(dir), NoAPI: true, Logger: node.NewLogger(bufio.NewWriter(&bytes.Buffer{}), cfg.Log)})
	require.NoError(t, err)
	defer n.Close()
	banned := map[string]bool{}
	for _, b := range n.Host().Bans.List() {
		banned[b.Peer.String()] = true
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d writes acknowledged before SIGTERM took effect", len(acked))
	for _, id := range acked {
		assert.True(t, banned[id], "acknowledged ban of %s lost", id)
	}
}

func TestDevnet(t *testing.T) {
	base := t.TempDir()
	d, err := startDevnet(context.Background(), clock.Real(), base, 5, node.LogConfig{Level: "error", Format: "text"}, &bytes.Buffer{})
	require.NoError(t, err)
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, d.waitConnected(ctx, nil))
	var out bytes.Buffer
	(&app{out: &out, clk: clock.Real()}).printDevnet(d)
	assert.Contains(t, out.String(), "node4")
	assert.Contains(t, out.String(), "fog --path "+filepath.Join(base, "node0")+" status")
	// the demo task runs on three nodes (the built-in echo task: this test
	// does not run from the repository root, where examples/ is)
	out.Reset()
	require.NoError(t, (&app{out: &out, errOut: &bytes.Buffer{}, clk: clock.Real()}).runDemo(ctx, d, t.TempDir()))
	assert.Contains(t, out.String(), "done, exit code 0, 3/3 replicas agreed")
	assert.Contains(t, out.String(), "fog is a decentralized fog-compute node.")
	// each node answers its own API with its data dir's token
	for _, dir := range d.dirs {
		c, err := node.Dial(dir)
		require.NoError(t, err)
		var st node.Status
		require.NoError(t, c.Call(ctx, "node.status", nil, &st))
		c.Close()
	}
	_ = p2p.TestConfig
}

func TestDHTCommands(t *testing.T) {
	base := t.TempDir()
	d, err := startDevnet(context.Background(), clock.Real(), base, 4, node.LogConfig{Level: "error", Format: "text"}, &bytes.Buffer{})
	require.NoError(t, err)
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, d.waitConnected(ctx, nil))
	require.Eventually(t, func() bool {
		for _, n := range d.nodes {
			if n.DHT().Table().Size < 2 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond)
	p0, p3 := string(d.dirs[0]), string(d.dirs[3])
	id3 := d.nodes[3].Host().ID().String()

	out, _, err := fog(t, ctx, "dht", "provide", "module:1234", "--path", p3)
	require.NoError(t, err)
	assert.Contains(t, out, "providing")
	out, _, err = fog(t, ctx, "dht", "providers", "module:1234", "--path", p0)
	require.NoError(t, err)
	assert.Contains(t, out, id3)

	out, _, err = fog(t, ctx, "dht", "put", "motd", "hello fog", "--path", p3)
	require.NoError(t, err)
	assert.Contains(t, out, "/fog/"+id3+"/motd seq 1")
	out, _, err = fog(t, ctx, "dht", "get", id3, "motd", "--path", p0, "--json")
	require.NoError(t, err)
	var rec node.DHTRecord
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	assert.Equal(t, "hello fog", rec.Value)

	out, _, err = fog(t, ctx, "dht", "find-peer", id3, "--path", p0)
	require.NoError(t, err)
	assert.Contains(t, out, id3)
	out, _, err = fog(t, ctx, "relay", "status", "--path", p0)
	require.NoError(t, err)
	assert.Contains(t, out, "network fog, candidate")
	var rst lottery.Status
	out, _, err = fog(t, ctx, "relay", "status", "--path", p0, "--json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &rst))
	assert.Equal(t, "fog", rst.NetworkID)
	assert.True(t, rst.Candidate)
	assert.Equal(t, rst.Current.Epoch+1, rst.Next.Epoch)
	_, _, err = fog(t, ctx, "relay", "ls", "123456789", "--path", p0)
	require.Error(t, err, "no directory for a far epoch")
	_, _, err = fog(t, ctx, "relay", "ls", "x", "--path", p0)
	require.Error(t, err)

	out, _, err = fog(t, ctx, "dht", "table", "--path", p0)
	require.NoError(t, err)
	// the devnet runs the default mode: its nodes meet in the LAN DHT
	assert.Contains(t, out, "mode auto")
	assert.Contains(t, out, "wan client (/fog/kad/1.0.0), 0 peers")
	assert.Contains(t, out, "lan server (/fog/lan/kad/1.0.0), ")
	out, _, err = fog(t, ctx, "status", "--path", p0)
	require.NoError(t, err)
	assert.Contains(t, out, "dht:       auto: wan client (0 peers), lan server (")

	awaitDirectory(t, d.nodes[0], 4)
	out, _, err = fog(t, ctx, "nodes", "--path", p0)
	require.NoError(t, err)
	assert.Equal(t, 4, strings.Count(out, "12D3KooW"), "every devnet node offers compute and is listed")
	assert.Contains(t, out, "(this node)")

	_, _, err = fog(t, ctx, "dht", "get", id3, "nothing-here", "--path", p0)
	require.Error(t, err)
	_, _, err = fog(t, ctx, "dht", "get", "not-a-peer", "x", "--path", p0)
	require.Error(t, err)
	assert.Contains(t, errorText(err), "not a peer ID")
}

func TestTaskCommands(t *testing.T) {
	d, ctx := testDevnet(t, 3, 60*time.Second)
	awaitDirectory(t, d.nodes[0], 3)
	p0 := string(d.dirs[0])
	mod := filepath.Join(t.TempDir(), "echo.wasm")
	require.NoError(t, os.WriteFile(mod, echoWasm, 0o644))
	in := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("fog\n"), 0o644))

	out, _, err := fog(t, ctx, "task", "submit", mod, "--stdin", in, "--replicas", "3", "--wait", "--json", "--path", p0)
	require.NoError(t, err)
	var o taskOutcome
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	assert.Equal(t, "done", string(o.State))
	assert.Equal(t, "fog\n", o.Stdout)
	assert.True(t, o.Agreed)
	assert.Len(t, o.Providers, 3)
	require.NotNil(t, o.ExitCode)
	assert.Zero(t, *o.ExitCode)

	out, _, err = fog(t, ctx, "task", "logs", o.ID, "--path", p0)
	require.NoError(t, err)
	assert.Equal(t, "fog\n", out)
	out, _, err = fog(t, ctx, "task", "ls", "--path", p0)
	require.NoError(t, err)
	assert.Contains(t, out, o.ID)
	out, _, err = fog(t, ctx, "task", "status", o.ID, "--path", p0)
	require.NoError(t, err)
	assert.Contains(t, out, "done")

	out, _, err = fog(t, ctx, "task", "submit", mod, "--path", p0)
	require.NoError(t, err)
	assert.Contains(t, out, "submitted ")

	bad := filepath.Join(t.TempDir(), "bad.wasm")
	require.NoError(t, os.WriteFile(bad, []byte("not wasm"), 0o644))
	_, _, err = fog(t, ctx, "task", "submit", bad, "--path", p0)
	require.Error(t, err)
	assert.Contains(t, errorText(err), "invalid module")
	_, _, err = fog(t, ctx, "task", "submit", mod, "--env", "NOEQUALS", "--path", p0)
	require.Error(t, err)
	// the node's refusal names the flag, not the RPC parameter
	for _, tc := range []struct{ flag, says string }{
		{"--timeout=-1s", "--timeout: -1s is negative"},
		{"--strategy=nearest", `--strategy: "nearest" is unknown`},
		{"--memory=2048", "--memory: 32768 pages (2048 MiB) exceeds"},
		{"--memory=268435456", "--memory: 268435456 MiB exceeds 4096 MiB"},
		{"--deadline=-1s", "--deadline: -1s is negative"},
	} {
		_, _, err = fog(t, ctx, "task", "submit", mod, tc.flag, "--path", p0)
		require.Error(t, err, tc.flag)
		assert.Contains(t, errorText(err), tc.says)
	}
	_, _, err = fog(t, ctx, "task", "submit", filepath.Join(t.TempDir(), "missing.wasm"), "--path", p0)
	require.Error(t, err)
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1400 * time.Millisecond, "1s"},
		{45 * time.Second, "45s"},
		{time.Minute, "1m"},
		{150 * time.Second, "2m30s"},
		{3*time.Hour + 5*time.Minute + 10*time.Second, "3h05m"},
	} {
		assert.Equal(t, tc.want, humanDuration(tc.d), "%v", tc.d)
	}
}

// TestSimFlagsNamedInErrors: sim.Links.Validate names Go fields; fog sim
// reports the flags the user typed.
func TestSimFlagsNamedInErrors(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--loss", "1"}, "--loss 1: want 0 <= --loss < 1"},
		{[]string{"--latency-min", "50ms", "--latency-max", "10ms"}, "--latency-min 50ms and --latency-max 10ms are not a range"},
		{[]string{"--bandwidth", "-1"}, "--bandwidth -1 is negative"},
	} {
		_, _, err := fog(t, context.Background(), append([]string{"sim", "dht", "--nodes", "2"}, tc.flags...)...)
		require.Error(t, err, tc.flags)
		assert.Contains(t, err.Error(), tc.want)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
)

// TestKuboInterop checks issue 14's promise against a real IPFS client:
// kubo's ipfs daemon (built by `make kubo` into bin/ipfs), on loopback with
// its own repository, connects to a fog node and fetches and verifies a
// file the node shares, computing the same CID itself; and the fog node
// fetches a file kubo added. Each case connects kubo to fog over another
// transport and security protocol. Skipped when there is no ipfs binary.
func TestKuboInterop(t *testing.T) {
	bin := ipfsBinary(t)
	d, ctx := testDevnet(t, 1, 8*time.Minute)
	fogNode := d.nodes[0]

	// a file of 21 leaves of 256 KiB (the last one short) under a root
	shared := randomFile(t, 5<<20+12345, 1)
	var sh node.FileShareResult
	require.NoError(t, json.Unmarshal([]byte(fogOn(t, ctx, d)(0, "--json", "file", "share", shared.path)), &sh))

	for i, tc := range []struct {
		name      string
		transport int        // how kubo reaches fog: ma.P_TCP or ma.P_QUIC_V1
		config    [][]string // ipfs config --json KEY VALUE
		security  string     // what the connection must have negotiated
		add       []string   // ipfs add's flags for the reverse direction
	}{
		{"tcp-tls", ma.P_TCP, [][]string{{"Swarm.Transports.Security.Noise", "false"}}, "/tls/1.0.0", []string{"--cid-version=1"}},
		// kubo's default import: CIDv0, leaves in dag-pb nodes; and a
		// trickle DAG of 1 MiB leaves (the unixfs-v1-2025 profile's chunks)
		{"tcp-noise", ma.P_TCP, [][]string{{"Swarm.Transports.Security.TLS", "false"}}, "/noise", nil},
		{"quic", ma.P_QUIC_V1, [][]string{{"Addresses.Swarm", `["/ip4/127.0.0.1/udp/0/quic-v1"]`}}, "", []string{"--cid-version=1", "--trickle", "--chunker=size-1048576"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := fogOn(t, ctx, d)
			k := startKubo(t, ctx, bin, tc.config)
			kid, err := peer.Decode(k.id)
			require.NoError(t, err)

			// kubo dials the fog node's loopback address; fog identifies it
			idSub, err := fogNode.Host().EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
			require.NoError(t, err)
			defer idSub.Close()
			addr := fogAddr(t, fogNode.Host().Addrs(), tc.transport) + "/p2p/" + fogNode.Host().ID().String()
			k.ipfs(t, ctx, "swarm", "connect", addr)
			for identified := false; !identified; {
				select {
				case e := <-idSub.Out():
					identified = e.(event.EvtPeerIdentificationCompleted).Peer == kid
				case <-ctx.Done():
					t.Fatalf("fog did not identify kubo: %v", ctx.Err())
				}
			}
			conns := fogNode.Host().Network().ConnsToPeer(kid)
			require.NotEmpty(t, conns, "fog sees kubo's connection")
			if tc.security != "" {
				assert.Equal(t, tc.security, string(conns[0].ConnState().Security))
			}
			assert.Equal(t, tc.transport == ma.P_QUIC_V1, conns[0].ConnState().Transport == "quic-v1", conns[0].ConnState().Transport)

			// kubo fetches the file over Bitswap (it has no routing: the
			// connected fog node is its only source) and checks each block
			got := k.ipfs(t, ctx, "cat", sh.CID)
			assert.True(t, bytes.Equal(shared.data, []byte(got)), "kubo's copy differs (%d bytes, want %d)", len(got), len(shared.data))
			// kubo computes the same CID from the bytes
			assert.Equal(t, sh.CID, strings.TrimSpace(k.ipfs(t, ctx, "add", "--cid-version=1", "--only-hash", "--quieter", shared.path)))
			// what identify told fog
			av, err := fogNode.Host().Peerstore().Get(kid, "AgentVersion")
			require.NoError(t, err)
			assert.Contains(t, av, "kubo/")
			bs, err := fogNode.Host().Peerstore().SupportsProtocols(kid, "/ipfs/bitswap/1.2.0")
			require.NoError(t, err)
			assert.NotEmpty(t, bs, "kubo speaks Bitswap 1.2.0, fog's newest")

			// the reverse: kubo adds a file, fog fetches it from kubo,
			// named with --from (fog's DHT cannot find kubo's providers)
			theirs := randomFile(t, 3<<20+777, uint64(10+i))
			c := strings.TrimSpace(k.ipfs(t, ctx, append(append([]string{"add", "--quieter"}, tc.add...), theirs.path)...))
			if tc.add == nil {
				assert.True(t, strings.HasPrefix(c, "Qm"), "kubo's default CID is version 0: %s", c)
			}
			kaddr := ""
			for _, a := range k.addrs {
				if strings.HasPrefix(a, "/ip4/127.0.0.1/") {
					kaddr = a
					break
				}
			}
			require.NotEmpty(t, kaddr, "kubo's loopback address in %v", k.addrs)
			out := filepath.Join(t.TempDir(), "from-kubo.bin")
			o := run(0, "file", "get", c, "-o", out, "--from", kaddr)
			assert.Contains(t, o, "got "+c)
			gotFog, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(theirs.data, gotFog), "fog's copy differs")
			run(0, "file", "rm", c)
		})
	}

	// The DAG's shape at its edges: kubo (offline, without a daemon)
	// computes the CIDs fog's share printed — one raw leaf, two leaves, and
	// 175 leaves: one more than a dag-pb node links, so two levels.
	t.Run("cids", func(t *testing.T) {
		run := fogOn(t, ctx, d)
		k := initKubo(t, ctx, bin, nil)
		const chunk = 256 << 10
		for i, n := range []int{1, chunk, chunk + 1, 174*chunk + 1} {
			f := randomFile(t, n, uint64(100+i))
			var sh node.FileShareResult
			require.NoError(t, json.Unmarshal([]byte(run(0, "--json", "file", "share", f.path)), &sh))
			assert.Equal(t, sh.CID, strings.TrimSpace(k.ipfs(t, ctx, "add", "--offline", "--cid-version=1", "--only-hash", "--quieter", f.path)), "%d bytes", n)
			run(0, "file", "rm", sh.CID)
		}
	})
}

// ipfsBinary is kubo's ipfs command: $FOG_IPFS, bin/ipfs of the
// repository (`make kubo`) or ipfs on $PATH; the test skips without one.
func ipfsBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FOG_IPFS"); p != "" {
		return p
	}
	if p, err := filepath.Abs(filepath.Join("..", "..", "bin", "ipfs")); err == nil {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("ipfs"); err == nil {
		return p
	}
	t.Skip("no kubo ipfs binary (bin/ipfs, $FOG_IPFS or $PATH): `make kubo` builds it; the IPFS interoperability test is SKIPPED")
	return ""
}

type testFile struct {
	path string
	data []byte
}

// randomFile writes n pseudo-random bytes (from seed) to a file.
func randomFile(t *testing.T, n int, seed uint64) testFile {
	t.Helper()
	data := make([]byte, n)
	var key [32]byte
	key[0] = byte(seed)
	rand.NewChaCha8(key).Read(data)
	p := filepath.Join(t.TempDir(), fmt.Sprintf("file-%d.bin", seed))
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return testFile{p, data}
}

// fogAddr is the first of addrs that runs over transport (TCP or QUIC).
func fogAddr(t *testing.T, addrs []ma.Multiaddr, transport int) string {
	t.Helper()
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(transport); err == nil {
			return a.String()
		}
	}
	t.Fatalf("no %s address in %v", ma.ProtocolWithCode(transport).Name, addrs)
	return ""
}

// kubo is an ipfs daemon with a repository of its own, stopped when the
// test ends.
type kubo struct {
	bin, path string
	id        string
	addrs     []string
}

// startKubo initialises a repository for a test (the test profile:
// loopback addresses, random API and gateway ports, no bootstrap peers, no
// mDNS, no AutoTLS or AutoConf), turns routing off, applies config
// (KEY JSON-VALUE pairs) and starts the daemon, waiting until it is ready.
func startKubo(t *testing.T, ctx context.Context, bin string, config [][]string) *kubo {
	t.Helper()
	k := initKubo(t, ctx, bin, config)
	cmd := exec.Command(bin, "daemon")
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.path)
	out := &readyWriter{ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("kubo's output:\n%s", out.String())
		}
	})
	select {
	case <-out.ready:
	case <-exited:
		t.Fatalf("ipfs daemon exited: %s", out.String())
	case <-ctx.Done():
		t.Fatalf("ipfs daemon not ready: %v: %s", ctx.Err(), out.String())
	}
	var id struct {
		ID           string
		Addresses    []string
		AgentVersion string
	}
	require.NoError(t, json.Unmarshal([]byte(k.ipfs(t, ctx, "id")), &id))
	k.id, k.addrs = id.ID, id.Addresses
	t.Logf("%s %s on %v", id.AgentVersion, id.ID, id.Addresses)
	return k
}

// initKubo initialises a repository for startKubo, or for ipfs commands
// run offline.
func initKubo(t *testing.T, ctx context.Context, bin string, config [][]string) *kubo {
	t.Helper()
	k := &kubo{bin: bin, path: filepath.Join(t.TempDir(), "ipfs")}
	k.ipfs(t, ctx, "init", "--profile=test", "--empty-repo")
	k.ipfs(t, ctx, "config", "Routing.Type", "none")
	for _, kv := range config {
		k.ipfs(t, ctx, "config", "--json", kv[0], kv[1])
	}
	return k
}

// ipfs runs an ipfs command on k's repository and returns its output.
func (k *kubo) ipfs(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.path)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "ipfs %s: %s", strings.Join(args, " "), errOut.String())
	return out.String()
}

// readyWriter keeps a daemon's output and closes ready when it says it
// is ready.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), "Daemon is ready") {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

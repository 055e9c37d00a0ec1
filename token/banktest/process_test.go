package banktest

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgerstore"
)

// TestBank is the bank test on the real node process: it builds the fog
// binary, makes a data directory (fog init, loopback only, mDNS off)
// whose genesis funds the node and a hundred wallet accounts, all
// represented by the node, runs `fog run` on it and imports the hundred
// keys into its wallet (wallet.import). Eight writers then send random
// amounts between random wallet accounts with wallet.send (from, wait):
// a transfer is acknowledged when the call returned success. After a
// random number of acknowledgements (sometimes none: while the node
// starts) the test kills the process with SIGKILL, opens its store and
// checks that every acknowledged send is there and confirmed, that the
// balances plus what is in flight add up to the supply, and that no
// block confirmed before a kill was replaced by another after it (a
// double spend); then it restarts the node on the same data directory
// and checks over RPC that its wallet still holds the hundred keys and
// its supply is the genesis's. It prints "restarts N, lost L, double
// spends D, sum constant" as its last line.
func TestBank(t *testing.T) {
	if _, ok := os.LookupEnv(crashEnv); ok {
		t.Skip("the crash child of TestBankStack")
	}
	n := *restarts
	tmp := t.TempDir()
	fog := filepath.Join(tmp, "fog")
	build := exec.Command("go", "build", "-o", fog, "github.com/fog-compute/fog/cmd/fog")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	dir := node.DataDir(filepath.Join(tmp, "node"))
	out, err = exec.Command(fog, "init", "--path", string(dir), "--api", "127.0.0.1:0",
		"--listen", "/ip4/127.0.0.1/tcp/0").CombinedOutput()
	require.NoError(t, err, "fog init: %s", out)
	g := processGenesis(t, dir)
	cfg, err := dir.LoadConfig()
	require.NoError(t, err)
	cfg.P2P.AutoNAT, cfg.P2P.HolePunching, cfg.P2P.RelayClient, cfg.P2P.MDNS = false, false, false, false
	cfg.Token.Genesis = "genesis.json"
	cfg.Log.Level = "warn"
	body, err := node.MarshalConfig(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dir.Config(), body, 0o600))
	tok, err := dir.ReadToken()
	require.NoError(t, err)

	wallet := make([]token.Account, accounts)
	for i := range accounts {
		wallet[i] = acct(i)
	}
	all := append([]token.Account{genesisAccount(t, g, 0)}, wallet...)
	chk := newChecker(g, all)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	var conflicts atomic.Int64
	start := time.Now()
	for r := 0; r <= n; r++ {
		d := startDaemon(t, fog, dir, filepath.Join(tmp, "node.log"))
		ctx := context.Background()
		c := node.NewClient(d.addr, tok)
		if r == 0 {
			for i := range accounts {
				seed := key(i).Seed()
				var wa node.WalletAccount
				require.NoError(t, c.Call(ctx, "wallet.import", node.WalletImportParams{Seed: hex.EncodeToString(seed)}, &wa))
				require.Equal(t, wallet[i].String(), wa.Account)
			}
		}
		var list []node.WalletAccount
		require.NoError(t, c.Call(ctx, "wallet.list", nil, &list), "restart %d", r)
		assert.Len(t, list, accounts+1, "restart %d: the wallet's accounts, the identity's first", r)
		var b node.WalletBalance
		require.NoError(t, c.Call(ctx, "wallet.balance", nil, &b))
		assert.Equal(t, supply(g), b.Supply, "restart %d", r)
		require.NoError(t, c.Close())
		if r == n {
			require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
			d.wait(t, false)
			break
		}

		// Eight writers until the round's number of acknowledgements.
		target := rng.IntN(maxBurst + 1)
		var (
			mu     sync.Mutex
			got    int
			killed atomic.Bool
			wg     sync.WaitGroup
		)
		enough := make(chan struct{})
		if target == 0 {
			close(enough)
		}
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := node.NewClient(d.addr, tok)
				defer c.Close()
				wr := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				for !killed.Load() {
					i, j := wr.IntN(accounts), wr.IntN(accounts-1)
					if j >= i {
						j++
					}
					var res node.WalletSendResult
					err := c.Call(ctx, "wallet.send", node.WalletSendParams{
						From: wallet[i].String(), To: wallet[j].String(), Amount: 1 + wr.Uint64N(1000), Wait: true,
					}, &res)
					var je *jrpc2.Error
					switch {
					case err == nil:
					case killed.Load():
						return // the node died under the call: not acknowledged
					case errors.As(err, &je) && je.Code == node.CodeConflict:
						conflicts.Add(1) // insufficient balance, or spent meanwhile
						continue
					default:
						t.Errorf("round %d: wallet.send: %v", r, err)
						return
					}
					raw, err := hex.DecodeString(res.Hash)
					if !assert.NoError(t, err) || !assert.Len(t, raw, len(token.Hash{})) ||
						!assert.True(t, res.Confirmed, "acknowledged with wait, not confirmed") {
						return
					}
					h := token.Hash(raw)
					mu.Lock()
					chk.ack(t, h)
					if got++; got == target {
						close(enough)
					}
					mu.Unlock()
				}
			}()
		}
		<-enough
		killed.Store(true)
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGKILL))
		d.wait(t, true)
		wg.Wait()
		if t.Failed() {
			return
		}
		chk.check(t, dir, r+1)
	}
	t.Logf("%d transfers acknowledged, %d refused as conflicts, over %d restarts in %s",
		len(chk.acked), conflicts.Load(), n, time.Since(start).Round(time.Second))
	fmt.Println(chk.summary(n))
	assert.Positive(t, len(chk.acked), "no transfer was acknowledged")
}

// processGenesis writes dir's genesis.json: the node's identity first,
// then the hundred wallet accounts, each funded, all represented by the
// node (so its votes confirm alone).
func processGenesis(t *testing.T, dir node.DataDir) token.Genesis {
	t.Helper()
	priv, err := p2p.LoadIdentity(dir.Identity())
	require.NoError(t, err)
	raw, err := priv.GetPublic().Raw()
	require.NoError(t, err)
	require.Len(t, raw, ed25519.PublicKeySize)
	self := hex.EncodeToString(raw)
	g := token.Genesis{Network: "banktest", UnbondingEpochs: 2}
	g.Accounts = append(g.Accounts, token.Allocation{Account: self, Balance: funds, Representative: self})
	for i := range accounts {
		a := acct(i)
		g.Accounts = append(g.Accounts, token.Allocation{Account: hex.EncodeToString(a[:]), Balance: funds, Representative: self})
	}
	require.NoError(t, g.Validate())
	body, err := json.MarshalIndent(g, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(string(dir), "genesis.json"), body, 0o600))
	return g
}

// supply adds up g's allocations.
func supply(g token.Genesis) uint64 {
	var s uint64
	for _, a := range g.Accounts {
		s += a.Balance + a.Staked
	}
	return s
}

// genesisAccount returns the i-th allocation's account.
func genesisAccount(t *testing.T, g token.Genesis, i int) token.Account {
	t.Helper()
	raw, err := hex.DecodeString(g.Accounts[i].Account)
	require.NoError(t, err)
	return token.Account(raw)
}

// daemon is a running `fog run`.
type daemon struct {
	cmd   *exec.Cmd
	addr  string        // its API's host:port
	lines chan struct{} // closed once its stdout is drained
}

// startDaemon runs `fog run` on dir, its stderr appended to logPath, and
// returns once it printed its API address (the node is up).
func startDaemon(t *testing.T, fog string, dir node.DataDir, logPath string) *daemon {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	t.Cleanup(func() { logf.Close() })
	cmd := exec.Command(fog, "run", "--path", string(dir))
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	d := &daemon{cmd: cmd, lines: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "api: http://"); ok {
				addr <- strings.TrimSuffix(a, "/rpc")
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case d.addr = <-addr:
	case <-d.lines:
		err := cmd.Wait()
		log, _ := os.ReadFile(logPath)
		t.Fatalf("fog run exited before serving its API: %v\n%s", err, log)
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-d.lines
		_ = cmd.Wait()
		t.Fatal("fog run did not serve its API within 2 minutes")
	}
	return d
}

// wait waits for the daemon's end: killed by SIGKILL, or a clean exit.
func (d *daemon) wait(t *testing.T, killed bool) {
	t.Helper()
	<-d.lines
	err := d.cmd.Wait()
	if !killed {
		require.NoError(t, err)
		return
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "fog run died of %v, not of the kill", err)
}

// checker holds what the bank test knows across restarts: the
// acknowledged sends and each account's confirmed chain as last seen.
type checker struct {
	g         token.Genesis
	accounts  []token.Account
	acked     []token.Hash
	seen      map[token.Hash]bool
	lost      map[token.Hash]bool
	cemented  map[token.Account][]token.Hash
	doubles   int
	sumBroken int
}

func newChecker(g token.Genesis, accounts []token.Account) *checker {
	return &checker{g: g, accounts: accounts, seen: map[token.Hash]bool{}, lost: map[token.Hash]bool{},
		cemented: map[token.Account][]token.Hash{}}
}

// ack records an acknowledged send.
func (c *checker) ack(t *testing.T, h token.Hash) {
	assert.False(t, c.seen[h], "send %s acknowledged twice", h)
	c.seen[h] = true
	c.acked = append(c.acked, h)
}

// check opens the store of the dead node in dir and checks it after
// restart r: every acknowledged send there and confirmed, the sum
// constant, no confirmed block replaced or dropped.
func (c *checker) check(t *testing.T, dir node.DataDir, r int) {
	t.Helper()
	db, err := store.Open(store.DefaultConfig(dir.Store()))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	_, l, err := ledgerstore.Open(context.Background(), db.Datastore(store.PrefixToken), c.g)
	require.NoError(t, err, "restart %d: the log replays", r)
	for _, h := range c.acked {
		if !l.Confirmed(h) && !c.lost[h] {
			c.lost[h] = true
			t.Errorf("restart %d: acknowledged send %s lost (held: %v)", r, h, l.OnChain(h))
		}
	}
	var sum uint64
	for _, a := range c.accounts {
		info, _ := l.Account(a)
		sum += info.Balance + info.Staked
		for _, h := range l.Pending(a) {
			amt, _ := l.Amount(h)
			sum += amt
		}
	}
	if sum != l.Supply() || l.Total()+l.InFlight() != l.Supply() || l.Supply() != supply(c.g) {
		c.sumBroken++
		t.Errorf("restart %d: balances and pending sends add up to %d, supply %d, genesis %d", r, sum, l.Supply(), supply(c.g))
	}
	for _, a := range c.accounts {
		now := confirmedChain(t, l, a)
		before := c.cemented[a]
		for k := range min(len(before), len(now)) {
			if before[k] != now[k] {
				c.doubles++
				t.Errorf("restart %d: account %s's confirmed block %d was %s, is %s", r, a, k+1, before[k], now[k])
			}
		}
		if len(now) < len(before) {
			c.doubles++
			t.Errorf("restart %d: account %s lost confirmed blocks: %d, had %d", r, a, len(now), len(before))
		}
		c.cemented[a] = now
	}
}

// summary is the test's last line.
func (c *checker) summary(restarts int) string {
	sum := "sum constant"
	if c.sumBroken > 0 {
		sum = fmt.Sprintf("sum broken %d times", c.sumBroken)
	}
	return fmt.Sprintf("restarts %d, lost %d, double spends %d, %s", restarts, len(c.lost), c.doubles, sum)
}

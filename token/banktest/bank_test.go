package banktest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/crashtest"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgerstore"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// restarts is how many times TestBank and TestBankStack kill and restart the node: few
// by default (make test), 50 in make banktest.
var restarts = flag.Int("bank.restarts", 2, "kill -9 and restarts of the node process")

const (
	crashEnv = "FOG_BANKTEST_DIR"
	accounts = 100
	writers  = 8
	funds    = 1_000_000
	// maxBurst bounds the transfers acknowledged between two kills; each
	// round draws its count in [0, maxBurst], 0 killing the node while it
	// starts (replaying its log, resuming its elections).
	maxBurst = 250
)

// key returns the wallet's i-th account key; -1 is the node's identity.
func key(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "fog banktest key %d", i))
	return ed25519.NewKeyFromSeed(seed[:])
}

func acct(i int) token.Account { return token.AccountOf(key(i).Public().(ed25519.PublicKey)) }

// genesis funds the hundred wallet accounts and the node's own; every
// account names the node as its representative, so the node's votes
// confirm alone, as a single-representative network's would.
func genesis() token.Genesis {
	node := acct(-1)
	g := token.Genesis{Network: "banktest", UnbondingEpochs: 2}
	for i := -1; i < accounts; i++ {
		a := acct(i)
		g.Accounts = append(g.Accounts, token.Allocation{
			Account: hex.EncodeToString(a[:]), Balance: funds, Representative: hex.EncodeToString(node[:]),
		})
	}
	return g
}

// TestBankStack runs the ledger stack in a child process on an on-disk store, with
// eight writers sending random amounts between random wallet accounts
// through the node's wallet (ledgersvc's SendFrom), each printing "ack
// <hash>" once the call returned. The parent kills the child with SIGKILL
// after a random number of acknowledgements (sometimes none: during its
// start), reopens its store after each kill and checks that every
// acknowledged send is there and confirmed, that the balances plus what
// is in flight add up to the supply, and that no block confirmed before
// a kill was replaced by another after it (a double spend: two confirmed
// blocks on one root). It prints "restarts N, lost L, double spends D,
// sum constant" as its last line.
func TestBankStack(t *testing.T) {
	if dir, ok := crashtest.Child(crashEnv); ok {
		child(dir)
		return
	}
	n := *restarts
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	g := genesis()
	var acked []token.Hash
	seen := map[token.Hash]bool{}
	lostSet := map[token.Hash]bool{}
	cemented := map[token.Account][]token.Hash{} // each chain's confirmed blocks, as last seen
	doubles, sumBroken := 0, 0
	for r := 1; r <= n; r++ {
		target := len(acked) + rng.IntN(maxBurst+1)
		crashtest.Run(t, crashtest.Config{
			Test: "TestBankStack", Env: crashEnv, Dir: dir,
			Record: func(line string) {
				rest, ok := strings.CutPrefix(line, "ack ")
				if !ok {
					return
				}
				b, err := hex.DecodeString(rest)
				require.NoError(t, err, line)
				require.Len(t, b, 32, line)
				h := token.Hash(b)
				require.False(t, seen[h], "send %s acknowledged twice", h)
				seen[h] = true
				acked = append(acked, h)
			},
			Ready:   func() bool { return len(acked) >= target },
			Timeout: 60 * time.Second,
		})

		db, err := store.Open(store.DefaultConfig(dir))
		require.NoError(t, err)
		_, l, err := ledgerstore.Open(context.Background(), db.Datastore(store.PrefixToken), g)
		require.NoError(t, err, "restart %d: the log replays", r)
		for _, h := range acked {
			if !l.Confirmed(h) && !lostSet[h] {
				lostSet[h] = true
				t.Errorf("restart %d: acknowledged send %s lost (held: %v)", r, h, l.OnChain(h))
			}
		}
		if sum := sumAll(l); sum != l.Supply() || l.Total()+l.InFlight() != l.Supply() {
			sumBroken++
			t.Errorf("restart %d: balances and pending sends add up to %d, supply %d", r, sum, l.Supply())
		}
		for i := -1; i < accounts; i++ {
			a := acct(i)
			now := confirmedChain(t, l, a)
			before := cemented[a]
			for k := range min(len(before), len(now)) {
				if before[k] != now[k] {
					doubles++
					t.Errorf("restart %d: account %s's confirmed block %d was %s, is %s", r, a, k+1, before[k], now[k])
				}
			}
			if len(now) < len(before) {
				doubles++
				t.Errorf("restart %d: account %s lost confirmed blocks: %d, had %d", r, a, len(now), len(before))
			}
			cemented[a] = now
		}
		require.NoError(t, db.Close())
	}
	t.Logf("%d transfers acknowledged over %d restarts", len(acked), n)
	sum := "sum constant"
	if sumBroken > 0 {
		sum = fmt.Sprintf("sum broken %d times", sumBroken)
	}
	fmt.Printf("restarts %d, lost %d, double spends %d, %s\n", n, len(lostSet), doubles, sum)
	assert.Positive(t, len(acked), "no transfer was acknowledged")
}

// sumAll adds every account's balance and stake and every send not yet
// received.
func sumAll(l *token.Ledger) uint64 {
	var sum uint64
	for i := -1; i < accounts; i++ {
		info, _ := l.Account(acct(i))
		sum += info.Balance + info.Staked
		for _, h := range l.Pending(acct(i)) {
			amt, _ := l.Amount(h)
			sum += amt
		}
	}
	return sum
}

// confirmedChain returns account a's confirmed blocks, first first.
func confirmedChain(t *testing.T, l *token.Ledger, a token.Account) []token.Hash {
	t.Helper()
	info, ok := l.Account(a)
	require.True(t, ok)
	out := make([]token.Hash, info.Height)
	h := info.Head
	for k := int(info.Height) - 1; k >= 0; k-- {
		b, ok := l.Block(h)
		require.True(t, ok, "block %s of %s", h, a)
		out[k] = h
		h = b.Previous
	}
	return out[:info.ConfirmedHeight]
}

// child runs the node until it is killed: its store in dir, a libp2p host
// on loopback, gossip and the ledger service with the node's identity,
// and eight writers of random transfers among the wallet's accounts.
func child(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "banktest child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	db, err := store.Open(store.DefaultConfig(dir))
	if err != nil {
		fail(err)
	}
	id, err := crypto.UnmarshalEd25519PrivateKey(key(-1))
	if err != nil {
		fail(err)
	}
	h, err := libp2p.New(libp2p.Identity(id), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		fail(err)
	}
	gs, err := gossip.New(ctx, h, gossip.TestConfig(), gossip.Options{})
	if err != nil {
		fail(err)
	}
	svc, err := ledgersvc.New(ctx, ledgersvc.TestConfig(), ledgersvc.Options{
		Gossip: gs, Store: db.Datastore(store.PrefixToken), Genesis: genesis(), Identity: id,
	})
	if err != nil {
		fail(err)
	}
	ready := make(chan struct{})
	go func() { fail(fmt.Errorf("run: %w", svc.Run(ctx, func() { close(ready) }))) }()
	<-ready
	keys := make([]ed25519.PrivateKey, accounts)
	accts := make([]token.Account, accounts)
	for i := range accounts {
		keys[i], accts[i] = key(i), acct(i)
	}
	for w := range writers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				i, j := rng.IntN(accounts), rng.IntN(accounts-1)
				if j >= i {
					j++
				}
				var avail uint64
				svc.View(func(l *token.Ledger) {
					info, _ := l.Account(accts[i])
					avail = info.Balance
					for _, p := range l.Pending(accts[i]) {
						if amt, _ := l.Amount(p); l.Confirmed(p) {
							avail += amt
						}
					}
				})
				if avail == 0 {
					continue
				}
				hash, err := svc.SendFrom(ctx, keys[i], accts[j], 1+rng.Uint64N(max(avail/4, 1)))
				switch {
				case errors.Is(err, token.ErrInvalid):
					continue // another writer spent from the same account first
				case err != nil:
					fail(err)
				}
				fmt.Printf("ack %s\n", hash)
			}
		}()
	}
	select {}
}

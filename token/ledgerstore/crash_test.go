package ledgerstore

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/crashtest"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
)

const crashEnv = "FOG_LEDGERSTORE_CRASH_DIR"

const crashAccounts = 10

// TestCrashKeepsAcknowledgedBlocks kills a node's process with SIGKILL
// while it makes random transfers among ten accounts, each block taken by
// its Node, confirmed and persisted before the child prints it; after
// reopening, every printed block is in the ledger and confirmed, the log
// replays, and the balances add up to the supply.
func TestCrashKeepsAcknowledgedBlocks(t *testing.T) {
	if dir, ok := crashtest.Child(crashEnv); ok {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	var acked []token.Hash
	crashtest.Run(t, crashtest.Config{
		Test: "TestCrashKeepsAcknowledgedBlocks", Env: crashEnv, Dir: dir,
		Record: func(line string) {
			if rest, ok := strings.CutPrefix(line, "ack "); ok {
				b, err := hex.DecodeString(rest)
				require.NoError(t, err, line)
				require.Len(t, b, 32, line)
				acked = append(acked, token.Hash(b))
			}
		},
		Ready:   func() bool { return len(acked) >= 600 },
		Timeout: 60 * time.Second,
	})

	db, err := store.Open(store.DefaultConfig(dir))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	_, l, err := Open(context.Background(), db.Datastore(store.PrefixToken), crashGenesis())
	require.NoError(t, err, "the log replays")
	lost := 0
	for _, h := range acked {
		if !l.Confirmed(h) {
			lost++
		}
	}
	assert.Zero(t, lost, "%d of %d acknowledged blocks lost", lost, len(acked))
	assert.Equal(t, l.Supply(), l.Total()+l.InFlight(), "the supply is conserved")
	t.Logf("%d acknowledged blocks survived SIGKILL", len(acked))
}

func crashGenesis() token.Genesis { return delegateAll(genesis(crashAccounts)) }

// crashChild transfers until it is killed, printing "ack <hash>" for each
// block once it is confirmed and its records are synced.
func crashChild(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	db, err := store.Open(store.DefaultConfig(dir))
	if err != nil {
		fail(err)
	}
	st, l, err := Open(ctx, db.Datastore(store.PrefixToken), crashGenesis())
	if err != nil {
		fail(err)
	}
	cfg := token.DefaultConfig()
	cfg.MinOnlinePercent = 0
	node, err := token.NewNode(cfg, l, []ed25519.PrivateKey{key(0)})
	if err != nil {
		fail(err)
	}
	now := time.Unix(1000, 0)
	take := func(b token.Block) {
		eff, err := node.ProcessBlock(b, now)
		if err != nil {
			fail(err)
		}
		if len(eff.Confirmed) == 0 {
			fail(fmt.Errorf("block %s not confirmed", b.Hash()))
		}
		if err := st.Append(ctx, eff.Records); err != nil {
			fail(err)
		}
		fmt.Printf("ack %s\n", b.Hash())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for {
		i, j := rng.IntN(crashAccounts), rng.IntN(crashAccounts-1)
		if j >= i {
			j++
		}
		info, _ := l.Account(acct(i))
		if info.Balance == 0 {
			continue
		}
		s, err := token.NewWallet(l, key(i)).Send(acct(j), 1+rng.Uint64N(info.Balance), 1)
		if err != nil {
			fail(err)
		}
		take(s)
		r, err := token.NewWallet(l, key(j)).Receive(s.Hash(), 1)
		if err != nil {
			fail(err)
		}
		take(r)
	}
}

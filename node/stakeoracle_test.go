package node

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// bareLedger is a stakeSource over a token.Ledger and a list of DAO
// decisions, without a network: the ledger shell's epoch rules
// (ledgersvc.Config) and the core's apply step (token.ParamsAt).
type bareLedger struct {
	cfg       ledgersvc.Config
	mu        sync.Mutex
	l         *token.Ledger
	decisions []token.Decision
}

func (b *bareLedger) SettledBefore(t time.Time) (uint64, bool) { return b.cfg.SettledBefore(t) }

func (b *bareLedger) Stakes(e, min uint64) token.StakeTable {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.l.Stakes(e, min)
}

func (b *bareLedger) ParamsAt(base token.Params, e uint64) token.Params {
	return token.ParamsAt(base, b.decisions, b.cfg.Settled(0), e)
}

// setClock is a clock whose time the test sets.
type setClock struct {
	clock.Clock
	mu  sync.Mutex
	now time.Time
}

func (c *setClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *setClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func oracleKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(binary.BigEndian.AppendUint32([]byte("node stake oracle test"), uint32(i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func oracleAcct(i int) token.Account {
	return token.AccountOf(oracleKey(i).Public().(ed25519.PublicKey))
}

// oracleFixture: ledger epochs of a minute from t0 (MaxBackdate 1, 30 s of
// skew: blocks of epoch x are settled from x+3 on), lottery epochs of ten
// minutes from t0 + 1 h, accounts 0-2 with 1,000,000 each and account 2
// 70 staked at genesis, unbonding 3 epochs.
func oracleFixture(t *testing.T) (*bareLedger, lottery.Config, *setClock) {
	t.Helper()
	t0 := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	lc := ledgersvc.DefaultConfig()
	lc.EpochZero = t0
	g := token.Genesis{Network: "oracle-test", UnbondingEpochs: 3}
	for i := range 3 {
		a := oracleAcct(i)
		g.Accounts = append(g.Accounts, token.Allocation{Account: hex.EncodeToString(a[:]), Balance: 1_000_000})
	}
	g.Accounts[2].Staked = 70
	l, err := token.NewLedger(g)
	require.NoError(t, err)
	rc := lottery.DefaultConfig()
	rc.Genesis = t0.Add(time.Hour)
	return &bareLedger{cfg: lc, l: l}, rc, &setClock{Clock: clock.Real(), now: t0}
}

// confirm makes, applies and confirms account i's block.
func (b *bareLedger) confirm(t *testing.T, i int, make func(w *token.Wallet) (token.Block, error)) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	blk, err := make(token.NewWallet(b.l, oracleKey(i)))
	require.NoError(t, err)
	h, err := b.l.Apply(blk)
	require.NoError(t, err)
	require.NoError(t, b.l.Confirm(h))
}

// TestLedgerStakeSnapshot: lottery epoch e weighs the stakes of the last
// ledger epoch settled when e-1 starts.
func TestLedgerStakeSnapshot(t *testing.T) {
	src, rc, clk := oracleFixture(t)
	o := newLedgerStake(rc, src, clk)
	for _, tt := range []struct{ e, want uint64 }{
		{0, 47},   // cut 0:50, minus 30 s of skew: epoch 49, less MaxBackdate + 1
		{1, 57},   // cut 1:00 (the lottery's genesis)
		{2, 67},   // cut 1:10
		{10, 147}, // cut 2:30
	} {
		assert.Equal(t, tt.want, o.snapshot(tt.e), "lottery epoch %d", tt.e)
		// The snapshot's blocks are settled by the cut (to within the
		// rounding of the skew to an epoch), and the cut comes a whole
		// lottery epoch, less the reveal window, before the epoch's seed
		// can be known (freeze).
		settled := rc.Genesis.Add(-rc.EpochLength)
		if tt.e > 0 {
			settled = rc.EpochStart(tt.e - 1)
		}
		assert.False(t, src.cfg.EpochZero.Add(time.Duration(src.cfg.Settled(tt.want))*src.cfg.EpochLength).After(settled.Add(src.cfg.MaxSkew+src.cfg.EpochLength)))
		assert.True(t, settled.Before(o.freeze(tt.e)))
	}
}

// TestLedgerStakeWeights: the lottery's weights are the bonded stakes
// of the snapshot epoch; unbonding lowers them only once it is over; the
// DAO's minimum stake and target relays apply from the lottery epoch whose
// snapshot is at or after their epoch.
func TestLedgerStakeWeights(t *testing.T) {
	src, rc, clk := oracleFixture(t)
	src.confirm(t, 0, func(w *token.Wallet) (token.Block, error) { return w.Stake(300, 50) })
	src.confirm(t, 1, func(w *token.Wallet) (token.Block, error) { return w.Stake(500, 58) })   // after epoch 1's snapshot (57)
	src.confirm(t, 0, func(w *token.Wallet) (token.Block, error) { return w.Unstake(100, 60) }) // unbonds until 63
	o := newLedgerStake(rc, src, clk)
	pk := func(i int) ed25519.PublicKey { return oracleKey(i).Public().(ed25519.PublicKey) }
	for _, tt := range []struct {
		e       uint64
		weights [3]uint64
	}{
		{0, [3]uint64{0, 0, 70}},     // snapshot 47
		{1, [3]uint64{300, 0, 70}},   // 57
		{2, [3]uint64{200, 500, 70}}, // 67: the unstake's unbonding is over
	} {
		var total uint64
		for i, w := range tt.weights {
			assert.Equal(t, w, o.Weight(tt.e, pk(i)), "lottery epoch %d, account %d", tt.e, i)
			total += w
		}
		assert.Equal(t, total, o.TotalWeight(tt.e), "lottery epoch %d", tt.e)
		assert.Equal(t, rc.TargetRelays, o.TargetRelays(tt.e))
	}
	assert.Zero(t, o.Weight(2, pk(0)[:31]))

	// The DAO sets a minimum stake of 100 and R = 12 from ledger epoch 67
	// on (a window ending at 59 and a delay of 7 epochs, above the least,
	// Settled(0) = 3): lottery epoch 2's snapshot is 67.
	prop := func(param string, v uint64) token.Proposal {
		p := token.Proposal{Param: param, Value: v, Start: 50, End: 59, ExecDelay: 7}
		p.Sign(oracleKey(0))
		return p
	}
	src.decisions = []token.Decision{
		{Proposal: prop(token.ParamMinStake, 100), Result: token.Result{Quorum: true, Accepted: true}},
		{Proposal: prop(token.ParamTargetRelays, 12), Result: token.Result{Quorum: true, Accepted: true}},
	}
	o = newLedgerStake(rc, src, clk)
	assert.Equal(t, uint64(70), o.Weight(1, pk(2)))
	assert.Equal(t, rc.TargetRelays, o.TargetRelays(1))
	assert.Equal(t, rc.TargetRelays, lottery.TargetRelays(rc, o, 1))
	assert.Zero(t, o.Weight(2, pk(2)), "below the minimum stake")
	assert.Equal(t, uint64(700), o.TotalWeight(2))
	assert.Equal(t, 12, o.TargetRelays(2))
	assert.Equal(t, 12, lottery.TargetRelays(rc, o, 2), "the lottery's R for the epoch")
}

// TestLedgerStakeFrozen: once an epoch's seed inputs may be out, its
// answers are kept: a block dated into its snapshot and confirmed after
// (which honest nodes never take from gossip by then, but a node might
// still pull by a catch-up) does not change an answer already used.
// Before that, answers follow the ledger.
func TestLedgerStakeFrozen(t *testing.T) {
	src, rc, clk := oracleFixture(t)
	o := newLedgerStake(rc, src, clk)
	pk1 := oracleKey(1).Public().(ed25519.PublicKey)
	const e = 3 // snapshot 77

	clk.set(o.freeze(e).Add(-time.Second))
	assert.Zero(t, o.Weight(e, pk1))
	src.confirm(t, 1, func(w *token.Wallet) (token.Block, error) { return w.Stake(400, 70) })
	assert.Equal(t, uint64(400), o.Weight(e, pk1), "not frozen yet: the ledger's answer")

	clk.set(o.freeze(e))
	assert.Equal(t, uint64(400), o.Weight(e, pk1))
	assert.Equal(t, uint64(470), o.TotalWeight(e))
	src.confirm(t, 1, func(w *token.Wallet) (token.Block, error) { return w.Stake(100, 76) }) // back-dated into the snapshot
	assert.Equal(t, uint64(400), o.Weight(e, pk1), "frozen: the answer already used")
	assert.Equal(t, uint64(470), o.TotalWeight(e))
	assert.Equal(t, uint64(500), newLedgerStake(rc, src, clk).Weight(e, pk1), "a node that had not answered yet sees the block")
}

// TestStakeWinsMoreSeats: over many epochs, with the oracle's weights
// and the lottery's own draw, a node with three times the stake of
// another wins about three times the seats.
func TestStakeWinsMoreSeats(t *testing.T) {
	src, rc, clk := oracleFixture(t)
	src.confirm(t, 0, func(w *token.Wallet) (token.Block, error) { return w.Stake(100_000, 10) })
	src.confirm(t, 1, func(w *token.Wallet) (token.Block, error) { return w.Stake(300_000, 10) })
	o := newLedgerStake(rc, src, clk)
	const epochs = 200
	seats := [2]uint64{}
	seed := lottery.GenesisSeed(rc)
	for e := uint64(1); e <= epochs; e++ {
		seed = sha256.Sum256(append(seed[:], byte(e), byte(e>>8)))
		p := lottery.Probability(lottery.TargetRelays(rc, o, e), o.TotalWeight(e))
		for i := range 2 {
			k := oracleKey(i)
			c, _, won, err := lottery.NewClaim(k, e, seed, o.Weight(e, k.Public().(ed25519.PublicKey)), p, rc, detReader{})
			require.NoError(t, err)
			if won {
				require.NoError(t, c.Verify(rc, e, seed, o))
				seats[i] += c.Seats
			}
		}
	}
	// R = 30 over 400,070 of weight: 7.5 and 22.5 seats an epoch expected.
	t.Logf("seats over %d epochs: stake 100,000 won %d, stake 300,000 won %d", epochs, seats[0], seats[1])
	assert.InDelta(t, 1500, float64(seats[0]), 200)
	assert.InDelta(t, 4500, float64(seats[1]), 350)
	assert.Greater(t, seats[1], 2*seats[0])
}

// detReader is an endless source of the same bytes, for mix keys.
type detReader struct{}

func (detReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i + 1)
	}
	return len(p), nil
}

package node

import (
	"context"
	"testing"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/token"
)

// TestLotterySchedule: the lottery's schedule from the DAO's changes of
// lottery.epoch_length, each at the start of its ledger epoch (here
// ledger epochs of 1 minute, lottery epochs of 10), lengths the lottery's
// windows do not fit passed over.
func TestLotterySchedule(t *testing.T) {
	lcfg := lottery.DefaultConfig()
	zero := lcfg.Genesis
	ledgerStart := func(x uint64) time.Time { return zero.Add(time.Duration(x) * time.Minute) }
	m := time.Minute
	seg := func(from uint64, start, l time.Duration) lottery.Segment {
		return lottery.Segment{From: from, Start: zero.Add(start), Length: l}
	}
	base := seg(0, 0, 10*m)
	for _, tt := range []struct {
		name    string
		changes []token.ParamChange
		want    []lottery.Segment
	}{
		{"none", nil, []lottery.Segment{base}},
		{"ledger epoch 35 is in lottery epoch 3: from 5", []token.ParamChange{{At: 35, Value: 300_000}},
			[]lottery.Segment{base, seg(5, 50*m, 5*m)}},
		{"two, the second on the first's epochs", []token.ParamChange{{At: 35, Value: 300_000}, {At: 61, Value: 1_800_000}},
			[]lottery.Segment{base, seg(5, 50*m, 5*m), seg(9, 70*m, 30*m)}},
		{"too short for the windows (68 s): passed over", []token.ParamChange{{At: 35, Value: 67_999}, {At: 36, Value: 68_000}},
			[]lottery.Segment{base, seg(5, 50*m, 68*time.Second)}},
		{"longer than a day: passed over", []token.ParamChange{{At: 35, Value: 86_400_001}, {At: 40, Value: ^uint64(0)}},
			[]lottery.Segment{base}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, lotterySchedule(lcfg, tt.changes, ledgerStart).Segments())
		})
	}
	require.NoError(t, epochLengthApplies(lcfg, 68_000))
	require.ErrorIs(t, epochLengthApplies(lcfg, 67_999), lottery.ErrConfig)
	require.ErrorIs(t, epochLengthApplies(lcfg, 999), token.ErrInvalid)
}

// TestDAOEpochLengthOnLottery: three staked nodes stand in the relay
// lottery with 12-second epochs, and the DAO votes 16-second epochs
// (windows wide enough for a loaded test machine's gossip). Every
// node switches at the same lottery epoch, the second boundary after the
// change's ledger epoch starts; the seed chain runs on across it (every
// node holds the same seeds and directories on both sides, each with
// relays), and relay.status shows the new length. A length the lottery's
// windows do not fit is refused when proposed.
func TestDAOEpochLengthOnLottery(t *testing.T) {
	nodes := startLedgerNet(t, 3, func(_ int, c *Config) {
		c.Relay.Candidate = true
		c.Relay.EpochLength = Duration(12 * time.Second)
	})
	ctx := context.Background()
	rc := nodes[0].Lottery().Config().Config
	require.NotNil(t, rc.Epochs, "the DAO governs the lottery's epochs")
	// ScaledSimConfig(12 s): 4.8 s claims, 2.4 s reveals, 60 ms skew
	short := uint64((rc.ClaimWindow+rc.RevealWindow+4*rc.MaxClockSkew)/time.Millisecond) - 1
	code, msg := rpcCode(t, nodes[0].client(t).Call(ctx, "dao.propose", DAOProposeParams{Param: token.ParamEpochLength, Value: short}, nil))
	assert.Equal(t, jrpc2.InvalidParams, code)
	assert.Contains(t, msg, "epoch_length")

	stakes := []uint64{100_000, 200_000, 300_000}
	for i, n := range nodes {
		require.NoError(t, n.client(t).Call(ctx, "stake.lock", StakeParams{Amount: stakes[i], Wait: true}, nil))
	}
	var prop DAOProposal
	// A window of 40 one-second ledger epochs: the first lottery epoch
	// compared below (two before the change) takes its stake snapshot
	// up to two 12 s epochs and the ledger's 8-epoch settling before the
	// change, and that must come after the stakes above.
	require.NoError(t, nodes[0].client(t).Call(ctx, "dao.propose", DAOProposeParams{Param: token.ParamEpochLength, Value: 16000, WindowEpochs: 40}, &prop))
	require.True(t, prop.Applies)
	for _, n := range nodes {
		waitFor(t, n.dao.Changed, func() bool { return len(n.dao.Proposals()) == 1 })
	}
	for _, n := range nodes {
		require.NoError(t, n.client(t).Call(ctx, "dao.vote", DAOVoteParams{ID: prop.ID, Choice: "yes", Wait: true}, nil))
	}

	// The change is in force once its ledger epoch has started; wait for
	// it on every node, then for the schedule it makes.
	for _, n := range nodes {
		awaitLedger(t, n, func(*token.Ledger) bool { return n.Ledger().Epoch() >= prop.ExecuteAt })
	}
	sched := func(n *testNode) []lottery.Segment {
		return n.Lottery().Config().Epochs.(*daoEpochs).schedule().Segments()
	}
	segs := sched(nodes[0])
	require.Len(t, segs, 2, "the change applies")
	from := segs[1].From
	assert.Equal(t, 16*time.Second, segs[1].Length)
	for i, n := range nodes {
		assert.Equal(t, segs, sched(n), "node %d: the same schedule", i)
	}
	t.Logf("change at ledger epoch %d, lottery epoch %d now, applies from %d", prop.ExecuteAt, nodes[0].Lottery().Epoch(), from)
	x, _ := rc.Epochs.EpochAt(nodes[0].Ledger().EpochStart(prop.ExecuteAt))
	assert.Equal(t, x+2, from, "the second lottery boundary after the change's ledger epoch starts")

	waitClosed(t, nodes, from+2)
	for e := from - 2; e <= from+2; e++ {
		var seed lottery.Seed
		var digest string
		for i, n := range nodes {
			d, ok := n.Lottery().DirectoryInfo(e)
			require.True(t, ok, "node %d: directory of epoch %d", i, e)
			assert.NotEmpty(t, d.Relays, "node %d: epoch %d has relays", i, e)
			s, ok := n.Lottery().Seed(e)
			require.True(t, ok)
			if i == 0 {
				seed, digest = s, d.Digest
				continue
			}
			assert.Equal(t, seed, s, "node %d: seed of epoch %d", i, e)
			assert.Equal(t, digest, d.Digest, "node %d: directory of epoch %d", i, e)
		}
	}
	for i, n := range nodes {
		st := n.Lottery().Status()
		assert.GreaterOrEqual(t, st.Current.Epoch, from+2, "node %d", i)
		assert.Equal(t, 16*time.Second, st.Current.End.Sub(st.Current.Start), "node %d: the current epoch's length", i)
		assert.Equal(t, rc.Epochs.EpochStart(from), n.Lottery().Config().EpochStart(from), "node %d", i)
		assert.Equal(t, 12*time.Second, n.Lottery().Config().EpochStart(from).Sub(n.Lottery().Config().EpochStart(from-1)), "node %d: epochs before the change keep their length", i)
	}
}

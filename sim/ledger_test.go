package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

// TestLedgerScenarioDoubleSpendAcrossPartition: eight nodes, three of
// them representatives, transfer while one churns, then two double
// spenders make conflicting sends on both sides of a partition, which
// heals. No pair may have both sends confirmed, on one node or two, and
// no node may ever count more or fewer credits than the supply.
//
// How fast the nodes confirm and settle is fog sim ledger's figure, not
// this test's: under -race, on two cores shared with other tests, the
// nodes fall behind and the settling may outlast the test's bound, which
// is safe (nothing confirmed twice) and is logged rather than failed.
func TestLedgerScenarioDoubleSpendAcrossPartition(t *testing.T) {
	s := DefaultLedgerScenario(8)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 30*time.Millisecond
	s.Transfers, s.TransferFor = 10, 8*time.Second
	s.Churn, s.ChurnDown, s.ChurnUp = 0.2, 3*time.Second, 4*time.Second
	s.DoubleSpenders, s.Partition, s.PartitionFor = 2, true, 5*time.Second
	s.MeshWait, s.SettleTimeout = 3*time.Second, 60*time.Second
	// Twice slower than real time: under -race on two shared cores the
	// nodes' signature checks need the headroom.
	s.Slowdown = 2
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res, err := s.Run(ctx, nil)
	require.NoError(t, err, "the scenario ran: every node booted, both sends of every pair were made")
	t.Logf("%+v", res)
	require.NoError(t, res.Check())
	assert.Zero(t, res.DoubleSpendsConfirmed)
	assert.True(t, res.SumConstant)
	assert.Positive(t, res.SumChecks)
	assert.Equal(t, 3, res.Representatives)
	assert.Equal(t, 1, res.Churners, "a fifth of the 5 others")
	assert.Equal(t, 10, res.Transfers)
	assert.Positive(t, res.Measured, "the network confirms transfers")
	assert.GreaterOrEqual(t, res.ConfirmMsP99, res.ConfirmMsP50)
	assert.Equal(t, 2, res.DoubleSpenders)
	assert.LessOrEqual(t, res.DoubleSpendsSettled, 2)
	if !res.Converged {
		t.Logf("not settled within %s: %d sends unconfirmed somewhere, %d of 2 pairs settled everywhere", s.SettleTimeout, res.Unconfirmed, res.DoubleSpendsSettled)
	}
}

func TestLedgerScenarioValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*LedgerScenario)
	}{
		{"too few nodes", func(s *LedgerScenario) { s.Network.Nodes = 3 }},
		{"no representative", func(s *LedgerScenario) { s.Representatives = 0 }},
		{"churn", func(s *LedgerScenario) { s.Churn = 1 }},
		{"negative spenders", func(s *LedgerScenario) { s.DoubleSpenders = -1 }},
		{"no partition time", func(s *LedgerScenario) { s.Partition, s.PartitionFor = true, 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultLedgerScenario(10)
			tc.mod(&s)
			_, err := s.Run(context.Background(), nil)
			require.ErrorIs(t, err, ErrConfig)
		})
	}
}

// TestLedgerScenarioReportsAStall: a node whose ledger is held busy (its
// lock taken, as a node drowning in checks holds it) cannot make the
// sends it is given. The scenario must then end with ErrStalled and the
// figures of what finished, not wait for ever: before the waits were
// bounded, a send stuck on a busy node held the run in "waiting for the
// confirmations" for good (seen at 100 nodes), and a Send that never got
// the node's lock had no bound at all.
func TestLedgerScenarioReportsAStall(t *testing.T) {
	s := DefaultLedgerScenario(4)
	s.Representatives = 4
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 10*time.Millisecond
	s.Transfers, s.TransferFor, s.ConfirmTimeout = 4, 2*time.Second, 3*time.Second
	s.Churn = 0
	s.MeshWait = time.Second
	held := make(chan struct{})
	s.booted = func(ctx context.Context, nw *Network) {
		// Every node's ledger is held until the run ends: every send is
		// stuck before it is made.
		for i := range nw.Nodes() {
			l, err := ledgerOf(nw, i)
			require.NoError(t, err)
			got := make(chan struct{})
			go l.View(func(*token.Ledger) {
				close(got)
				<-ctx.Done()
			})
			<-got
		}
		close(held)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := s.Run(ctx, nil)
	<-held
	require.ErrorIs(t, err, ErrStalled)
	require.NoError(t, ctx.Err(), "the run ended on its own bound, not the test's")
	assert.Contains(t, res.Stalled, "4 of 4 sends had not returned")
	assert.Equal(t, 4, res.Transfers)
	assert.Equal(t, 4, res.Late, "stuck sends count as late")
	assert.Zero(t, res.Measured)
	assert.Equal(t, 4, res.Nodes)
	// The validators are counted after a stall too, without the nodes'
	// ledger locks (held here until the run ends).
	assert.NotNil(t, res.ValidatorIgnoredByReason)
	assert.NotNil(t, res.GossipDropped)
}

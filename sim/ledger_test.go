package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLedgerScenarioDoubleSpendAcrossPartition: twelve nodes, three of
// them representatives, transfer under churn, then two double spenders
// make conflicting sends on both sides of a partition. After the heal no
// pair may have both sends confirmed, every node must agree, and no node
// may ever count more or fewer credits than the supply.
func TestLedgerScenarioDoubleSpendAcrossPartition(t *testing.T) {
	s := DefaultLedgerScenario(12)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 30*time.Millisecond
	s.Transfers, s.TransferFor = 20, 10*time.Second
	s.Churn, s.ChurnDown, s.ChurnUp = 0.25, 3*time.Second, 4*time.Second
	s.DoubleSpenders, s.Partition, s.PartitionFor = 2, true, 6*time.Second
	s.MeshWait, s.SettleTimeout = 3*time.Second, 90*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := s.Run(ctx, nil)
	require.NoError(t, err)
	t.Logf("%+v", res)
	require.NoError(t, res.Check())
	assert.Zero(t, res.DoubleSpendsConfirmed)
	assert.True(t, res.SumConstant)
	assert.Positive(t, res.SumChecks)
	assert.Equal(t, 3, res.Representatives)
	assert.Equal(t, 2, res.Churners, "a quarter of the 9 others")
	assert.Equal(t, 20, res.Transfers)
	assert.Positive(t, res.Measured)
	assert.GreaterOrEqual(t, res.ConfirmMsP99, res.ConfirmMsP50)
	assert.Equal(t, 2, res.DoubleSpenders)
	assert.True(t, res.Converged, "every node confirmed every send, settled every pair and holds the same heads")
	assert.Zero(t, res.Unconfirmed)
	assert.Equal(t, 2, res.DoubleSpendsSettled, "after the heal one send of each pair is confirmed everywhere")
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

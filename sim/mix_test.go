package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMixScenarioDeliversAndMeasures(t *testing.T) {
	s := DefaultMixScenario(12)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 30*time.Millisecond
	s.TargetRelays, s.EpochLength, s.GenesisDelay = 8, 6*time.Second, 4*time.Second
	s.MessageRate, s.Duration, s.Deadline = 0.2, 15*time.Second, 30*time.Second
	// Slowed, every time is the scenario's: the observer watches for
	// Duration of it, not Duration of real time.
	s.Slowdown = 1.5
	res, err := s.Run(context.Background(), nil)
	require.NoError(t, err)
	t.Logf("%+v", res)
	assert.Equal(t, 12, res.Senders)
	assert.Positive(t, res.Messages)
	// No faults, but this test shares the machine (and runs under -race):
	// a message may miss its deadline when the machine is saturated.
	assert.GreaterOrEqual(t, res.DeliveryRate, 0.9, "no faults: (nearly) every message delivered")
	assert.Positive(t, res.FirstAttemptRate)
	assert.Positive(t, res.LatencyMsP50)
	assert.GreaterOrEqual(t, res.LatencyMsP99, res.LatencyMsP50)
	assert.Positive(t, res.Frames)
	assert.InDelta(t, s.Duration.Seconds(), res.ObservedSeconds, 1.5, "watched for Duration of the scenario's time")
	for _, x := range []float64{res.FlowCorrelation, res.FlowCorrelationOther} {
		assert.False(t, math.IsNaN(x))
		assert.LessOrEqual(t, x, 1.0)
	}
	assert.Positive(t, res.LinkingAccuracy, "the observer names some sender")
	assert.LessOrEqual(t, res.LinkingAccuracy, 1.0)
	assert.Greater(t, res.SenderEntropyBits, 0.0)
	assert.LessOrEqual(t, res.SenderEntropyBits, math.Log2(11)+1e-9)
	assert.Positive(t, res.TickLagMsP99)
	assert.Positive(t, res.PerfectMixEntropyBits, "the bound of a perfect mix at the scenario's rates")
	assert.LessOrEqual(t, res.PerfectMixEntropyBits, math.Log2(12))
	// Every frame written is read (no connection is trimmed at 12 nodes),
	// and none faster than its link's latency.
	assert.Zero(t, res.FramesUnread)
	assert.GreaterOrEqual(t, res.LinkLagMsP99, 0.0)
}

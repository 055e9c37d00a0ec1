package node

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ahead is the real clock a year ahead: a clock no component could get from
// the time package by mistake.
type ahead struct{ clock.Clock }

const aYear = 365 * 24 * time.Hour

func (a ahead) Now() time.Time { return a.Clock.Now().Add(aYear) }

// TestOptionsClock: the clock given in Options reaches every component that
// reads the time, and only a node given none uses the real one.
func TestOptionsClock(t *testing.T) {
	dir, cfg := initTestDir(t, nil)
	clk := ahead{clock.Real()}
	p2pc, dhtc, gc := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig()
	opts := Options{
		Dir: dir, P2P: &p2pc, DHT: &dhtc, Gossip: &gc, Supervisor: TestSupervisorConfig(),
		Logger: NewLogger(io.Discard, cfg.Log), Clock: clk,
	}
	before := time.Now()
	n, err := Start(context.Background(), cfg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	sts := n.sup.statuses()
	require.NotEmpty(t, sts)
	for _, st := range sts {
		assert.False(t, st.Since.Before(before.Add(aYear)), "%s's status is on the node's clock", st.Name)
	}
	st := n.Status()
	assert.False(t, st.StartedAt.Before(before.Add(aYear)), "the start time is on the node's clock")
	assert.Less(t, st.UptimeSeconds, aYear.Seconds(), "the uptime is measured on the node's clock")
	assert.GreaterOrEqual(t, st.UptimeSeconds, 0.0)
	_, bc, cc := n.computeConfigs(cfg, opts)
	assert.Equal(t, clock.Clock(clk), bc.Clock)
	assert.Equal(t, clock.Clock(clk), cc.Clock)

	opts.Clock = nil
	_, bc, cc = n.computeConfigs(cfg, opts)
	assert.Equal(t, clock.Real(), bc.Clock)
	assert.Equal(t, clock.Real(), cc.Clock)
}

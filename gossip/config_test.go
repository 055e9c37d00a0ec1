package gossip

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigPresetsValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	c := DefaultConfig()
	assert.Equal(t, 67*time.Second, c.Capacity.RejectAge(c.Heartbeat))
	assert.GreaterOrEqual(t, c.Capacity.MaxSize, MaxAdvertSize)
	assert.Less(t, TestConfig().Heartbeat, c.Heartbeat)
}

func TestConfigValidateNamesField(t *testing.T) {
	tests := []struct {
		field string
		mod   func(*Config)
	}{
		{"heartbeat", func(c *Config) { c.Heartbeat = 0 }},
		{"d ", func(c *Config) { c.D = 1 }},
		{"dlo", func(c *Config) { c.Dlo = c.D + 1 }},
		{"dhi", func(c *Config) { c.Dhi = c.D - 1 }},
		{"seen_ttl", func(c *Config) { c.SeenTTL = 0 }},
		{"seen_ttl", func(c *Config) { c.SeenTTL = time.Minute }}, // below the capacity reject age
		{"max_rpc_size", func(c *Config) { c.MaxRPCSize = 100 }},
		{"validate_queue", func(c *Config) { c.ValidateQueue = 0 }},
		{"validate_workers", func(c *Config) { c.ValidateWorkers = -1 }},
		{"subscription_buffer", func(c *Config) { c.SubscriptionBuffer = 0 }},
		{"score.gossip_threshold", func(c *Config) { c.Score.GossipThreshold = 1 }},
		{"score.publish_threshold", func(c *Config) { c.Score.PublishThreshold = c.Score.GossipThreshold + 1 }},
		{"score.graylist_threshold", func(c *Config) { c.Score.GraylistThreshold = c.Score.PublishThreshold + 1 }},
		{"score.accept_px_threshold", func(c *Config) { c.Score.AcceptPXThreshold = -1 }},
		{"score.opportunistic_graft_threshold", func(c *Config) { c.Score.OpportunisticGraftThreshold = -1 }},
		{"score.topic_score_cap", func(c *Config) { c.Score.TopicScoreCap = 0 }},
		{"score.decay_interval", func(c *Config) { c.Score.DecayInterval = time.Millisecond }},
		{"score.decay_to_zero", func(c *Config) { c.Score.DecayToZero = 1 }},
		{"score.retain_score", func(c *Config) { c.Score.RetainScore = -1 }},
		{"score.inspect_period", func(c *Config) { c.Score.InspectPeriod = 0 }},
		{"score.time_in_mesh_weight", func(c *Config) { c.Score.TimeInMeshWeight = -1 }},
		{"score.time_in_mesh_quantum", func(c *Config) { c.Score.TimeInMeshQuantum = 0 }},
		{"score.time_in_mesh_cap", func(c *Config) { c.Score.TimeInMeshCap = 0 }},
		{"score.first_delivery_weight", func(c *Config) { c.Score.FirstDeliveryWeight = -1 }},
		{"score.first_delivery_cap", func(c *Config) { c.Score.FirstDeliveryCap = 0 }},
		{"score.first_delivery_half_life", func(c *Config) { c.Score.FirstDeliveryHalfLife = 0 }},
		{"score.invalid_weight", func(c *Config) { c.Score.InvalidWeight = 0 }},
		{"score.invalid_weight", func(c *Config) { c.Score.InvalidWeight = -1 }}, // too weak to graylist
		{"score.invalid_half_life", func(c *Config) { c.Score.InvalidHalfLife = 0 }},
		{"score.behaviour_weight", func(c *Config) { c.Score.BehaviourWeight = 1 }},
		{"score.behaviour_threshold", func(c *Config) { c.Score.BehaviourThreshold = -1 }},
		{"score.behaviour_half_life", func(c *Config) { c.Score.BehaviourHalfLife = 0 }},
		{"score.ip_colocation_weight", func(c *Config) { c.Score.IPColocationWeight = 1 }},
		{"score.ip_colocation_threshold", func(c *Config) { c.Score.IPColocationThreshold = 0 }},
		{"score.ip_colocation_whitelist", func(c *Config) { c.Score.IPColocationWhitelist = []string{"nonsense"} }},
		{"capacity.max_size", func(c *Config) { c.Capacity.MaxSize = 0 }},
		{"capacity.max_size", func(c *Config) { c.Capacity.MaxSize = MaxAdvertSize - 1 }},
		{"capacity.max_skew", func(c *Config) { c.Capacity.MaxSkew = 0 }},
		{"capacity.max_age", func(c *Config) { c.Capacity.MaxAge = c.Capacity.MaxSkew }},
		{"capacity.rate", func(c *Config) { c.Capacity.Rate = 0 }},
		{"capacity.burst", func(c *Config) { c.Capacity.Burst = 0 }},
		{"capacity.max_authors", func(c *Config) { c.Capacity.MaxAuthors = 0 }},
		{"capacity.weight", func(c *Config) { c.Capacity.Weight = 0 }},
		{"advert.interval", func(c *Config) { c.Advert.Interval = 0 }},
		{"advert.min_gap", func(c *Config) { c.Advert.MinGap = 2 * c.Advert.Interval }},
		{"advert.min_gap", func(c *Config) { c.Advert.MinGap = time.Second }}, // under 1/rate
		{"advert.poll", func(c *Config) { c.Advert.Poll = 0 }},
		{"advert.change_threshold", func(c *Config) { c.Advert.ChangeThreshold = 0 }},
		{"advert.ttl", func(c *Config) { c.Advert.TTL = c.Advert.Interval }},
		{"advert.ttl", func(c *Config) { c.Advert.TTL = c.Advert.Interval * 11 / 10 }}, // a jittered period is that long
		{"advert.max_ttl", func(c *Config) { c.Advert.MaxTTL = c.Advert.TTL - 1 }},
		{"directory.max_entries", func(c *Config) { c.Directory.MaxEntries = 0 }},
		{"directory.prune_interval", func(c *Config) { c.Directory.PruneInterval = 0 }},
		{"directory.latency_refresh", func(c *Config) { c.Directory.LatencyRefresh = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestHalfLifeDecay(t *testing.T) {
	d := halfLifeDecay(time.Second, 10*time.Second)
	x := 1.0
	for range 10 {
		x *= d
	}
	assert.InDelta(t, 0.5, x, 1e-9)
}

func TestJitteredWithinPeriodBounds(t *testing.T) {
	for _, interval := range []time.Duration{10, 95, 30 * time.Second} {
		a := &Advertiser{cfg: AdvertConfig{Interval: interval}}
		lo, hi := a.cfg.shortestPeriod(), a.cfg.longestPeriod()
		require.InDelta(t, float64(interval)*0.9, float64(lo), 1, "interval %v", interval)
		require.InDelta(t, float64(interval)*1.1, float64(hi), 2, "interval %v", interval)
		for range 200 {
			p := a.jittered()
			require.True(t, lo <= p && p <= hi, "interval %v: %v outside [%v, %v]", interval, p, lo, hi)
		}
	}
}

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
		{"Heartbeat", func(c *Config) { c.Heartbeat = 0 }},
		{"D ", func(c *Config) { c.D = 1 }},
		{"Dlo", func(c *Config) { c.Dlo = c.D + 1 }},
		{"Dhi", func(c *Config) { c.Dhi = c.D - 1 }},
		{"SeenTTL", func(c *Config) { c.SeenTTL = 0 }},
		{"SeenTTL", func(c *Config) { c.SeenTTL = time.Minute }}, // below the capacity reject age
		{"MaxRPCSize", func(c *Config) { c.MaxRPCSize = 100 }},
		{"ValidateQueue", func(c *Config) { c.ValidateQueue = 0 }},
		{"ValidateWorkers", func(c *Config) { c.ValidateWorkers = -1 }},
		{"SubscriptionBuffer", func(c *Config) { c.SubscriptionBuffer = 0 }},
		{"Score.GossipThreshold", func(c *Config) { c.Score.GossipThreshold = 1 }},
		{"Score.PublishThreshold", func(c *Config) { c.Score.PublishThreshold = c.Score.GossipThreshold + 1 }},
		{"Score.GraylistThreshold", func(c *Config) { c.Score.GraylistThreshold = c.Score.PublishThreshold + 1 }},
		{"Score.AcceptPXThreshold", func(c *Config) { c.Score.AcceptPXThreshold = -1 }},
		{"Score.OpportunisticGraftThreshold", func(c *Config) { c.Score.OpportunisticGraftThreshold = -1 }},
		{"Score.TopicScoreCap", func(c *Config) { c.Score.TopicScoreCap = 0 }},
		{"Score.DecayInterval", func(c *Config) { c.Score.DecayInterval = time.Millisecond }},
		{"Score.DecayToZero", func(c *Config) { c.Score.DecayToZero = 1 }},
		{"Score.RetainScore", func(c *Config) { c.Score.RetainScore = -1 }},
		{"Score.InspectPeriod", func(c *Config) { c.Score.InspectPeriod = 0 }},
		{"Score.TimeInMeshWeight", func(c *Config) { c.Score.TimeInMeshWeight = -1 }},
		{"Score.TimeInMeshQuantum", func(c *Config) { c.Score.TimeInMeshQuantum = 0 }},
		{"Score.TimeInMeshCap", func(c *Config) { c.Score.TimeInMeshCap = 0 }},
		{"Score.FirstDeliveryWeight", func(c *Config) { c.Score.FirstDeliveryWeight = -1 }},
		{"Score.FirstDeliveryCap", func(c *Config) { c.Score.FirstDeliveryCap = 0 }},
		{"Score.FirstDeliveryHalfLife", func(c *Config) { c.Score.FirstDeliveryHalfLife = 0 }},
		{"Score.InvalidWeight", func(c *Config) { c.Score.InvalidWeight = 0 }},
		{"Score.InvalidWeight", func(c *Config) { c.Score.InvalidWeight = -1 }}, // too weak to graylist
		{"Score.InvalidHalfLife", func(c *Config) { c.Score.InvalidHalfLife = 0 }},
		{"Score.BehaviourWeight", func(c *Config) { c.Score.BehaviourWeight = 1 }},
		{"Score.BehaviourThreshold", func(c *Config) { c.Score.BehaviourThreshold = -1 }},
		{"Score.BehaviourHalfLife", func(c *Config) { c.Score.BehaviourHalfLife = 0 }},
		{"Score.IPColocationWeight", func(c *Config) { c.Score.IPColocationWeight = 1 }},
		{"Score.IPColocationThreshold", func(c *Config) { c.Score.IPColocationThreshold = 0 }},
		{"Score.IPColocationWhitelist", func(c *Config) { c.Score.IPColocationWhitelist = []string{"nonsense"} }},
		{"Capacity.MaxSize", func(c *Config) { c.Capacity.MaxSize = 0 }},
		{"Capacity.MaxSize", func(c *Config) { c.Capacity.MaxSize = MaxAdvertSize - 1 }},
		{"Capacity.MaxSkew", func(c *Config) { c.Capacity.MaxSkew = 0 }},
		{"Capacity.MaxAge", func(c *Config) { c.Capacity.MaxAge = c.Capacity.MaxSkew }},
		{"Capacity.Rate", func(c *Config) { c.Capacity.Rate = 0 }},
		{"Capacity.Burst", func(c *Config) { c.Capacity.Burst = 0 }},
		{"Capacity.MaxAuthors", func(c *Config) { c.Capacity.MaxAuthors = 0 }},
		{"Capacity.Weight", func(c *Config) { c.Capacity.Weight = 0 }},
		{"Advert.Interval", func(c *Config) { c.Advert.Interval = 0 }},
		{"Advert.MinGap", func(c *Config) { c.Advert.MinGap = 2 * c.Advert.Interval }},
		{"Advert.MinGap", func(c *Config) { c.Advert.MinGap = time.Second }}, // under 1/rate
		{"Advert.Poll", func(c *Config) { c.Advert.Poll = 0 }},
		{"Advert.ChangeThreshold", func(c *Config) { c.Advert.ChangeThreshold = 0 }},
		{"Advert.TTL", func(c *Config) { c.Advert.TTL = c.Advert.Interval }},
		{"Advert.TTL", func(c *Config) { c.Advert.TTL = c.Advert.Interval * 11 / 10 }}, // a jittered period is that long
		{"Advert.MaxTTL", func(c *Config) { c.Advert.MaxTTL = c.Advert.TTL - 1 }},
		{"Directory.MaxEntries", func(c *Config) { c.Directory.MaxEntries = 0 }},
		{"Directory.PruneInterval", func(c *Config) { c.Directory.PruneInterval = 0 }},
		{"Directory.LatencyRefresh", func(c *Config) { c.Directory.LatencyRefresh = 0 }},
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

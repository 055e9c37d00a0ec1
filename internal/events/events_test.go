package events

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/clock"
)

// fixedClock is a clock that always says the same time.
type fixedClock struct {
	clock.Clock
	now time.Time
}

func (c fixedClock) Now() time.Time { return c.now }

func newBus(t *testing.T, buffer int) *Bus {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Buffer = buffer
	cfg.Clock = fixedClock{Clock: clock.Real(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

func drain(s *Subscription) []Event {
	var out []Event
	for {
		select {
		case ev, ok := <-s.C:
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"buffer", func(c *Config) { c.Buffer = 0 }, "Buffer 0"},
		{"subscribers", func(c *Config) { c.MaxSubscribers = -1 }, "MaxSubscribers -1"},
		{"clock", func(c *Config) { c.Clock = nil }, "Clock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
			_, err = New(c)
			require.ErrorIs(t, err, ErrConfig)
		})
	}
	require.NoError(t, DefaultConfig().Validate())
}

func TestFanOutAndFilter(t *testing.T) {
	b := newBus(t, 8)
	all, err := b.Subscribe()
	require.NoError(t, err)
	peers, err := b.Subscribe("peer")
	require.NoError(t, err)
	b.Publish("peer.connected", map[string]string{"peer": "A"})
	b.Publish("task.state", map[string]string{"id": "t"})

	got := drain(all)
	require.Len(t, got, 2)
	assert.Equal(t, []string{"peer.connected", "task.state"}, []string{got[0].Type, got[1].Type})
	assert.Equal(t, []uint64{1, 2}, []uint64{got[0].Seq, got[1].Seq})
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), got[0].Time)
	p := drain(peers)
	require.Len(t, p, 1)
	assert.Equal(t, "peer", p[0].Category())
}

func TestSlowSubscriberDropsAndIsTold(t *testing.T) {
	b := newBus(t, 2)
	slow, err := b.Subscribe()
	require.NoError(t, err)
	for range 5 { // 2 fit, 3 are dropped
		b.Publish("peer.connected", nil)
	}
	assert.EqualValues(t, 3, b.Dropped())
	got := drain(slow)
	require.Len(t, got, 2)
	// Room again: the next event comes after the count of the lost ones.
	b.Publish("task.state", nil)
	got = drain(slow)
	require.Len(t, got, 2)
	assert.Equal(t, Dropped, got[0].Type)
	assert.Equal(t, DroppedData{Count: 3}, got[0].Data)
	assert.Equal(t, "task.state", got[1].Type)
	assert.EqualValues(t, 6, got[1].Seq)
}

func TestDroppedCountWhenOnlyItFits(t *testing.T) {
	b := newBus(t, 1)
	s, err := b.Subscribe()
	require.NoError(t, err)
	b.Publish("a.x", nil) // fits
	b.Publish("a.x", nil) // dropped
	<-s.C
	b.Publish("a.x", nil) // the count fits, this one does not
	b.Publish("a.x", nil) // dropped
	ev := <-s.C
	assert.Equal(t, Dropped, ev.Type)
	assert.Equal(t, DroppedData{Count: 1}, ev.Data)
	b.Publish("a.x", nil)
	ev = <-s.C
	assert.Equal(t, DroppedData{Count: 2}, ev.Data, "the two lost after the first count")
}

func TestSubscribeLimitsAndClose(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSubscribers = 2
	b, err := New(cfg)
	require.NoError(t, err)
	s1, err := b.Subscribe()
	require.NoError(t, err)
	_, err = b.Subscribe()
	require.NoError(t, err)
	_, err = b.Subscribe()
	require.ErrorIs(t, err, ErrTooMany)
	s1.Close()
	s1.Close()
	_, ok := <-s1.C
	assert.False(t, ok, "a closed subscription's channel is closed")
	assert.Equal(t, 1, b.Subscribers())
	s3, err := b.Subscribe()
	require.NoError(t, err)
	b.Close()
	_, ok = <-s3.C
	assert.False(t, ok)
	b.Publish("peer.connected", nil) // no panic after Close
	s3.Close()
	_, err = b.Subscribe()
	require.ErrorIs(t, err, ErrClosed)
}

func BenchmarkPublish(b *testing.B) {
	bus, err := New(DefaultConfig())
	require.NoError(b, err)
	defer bus.Close()
	for range 4 {
		_, err := bus.Subscribe() // never read: every publish drops
		require.NoError(b, err)
	}
	for b.Loop() {
		bus.Publish("peer.connected", nil)
	}
}

package placement

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBreakerTransitions(t *testing.T) {
	cfg := BreakerConfig{Threshold: 3, Cooldown: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type step struct {
		at      int    // seconds after t0
		op      string // allow, success, failure, release
		allowed bool   // for allow
		want    BreakerState
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"closed until the threshold", []step{
			{0, "failure", false, BreakerClosed},
			{1, "failure", false, BreakerClosed},
			{2, "allow", true, BreakerClosed},
			{2, "failure", false, BreakerOpen},
			{3, "allow", false, BreakerOpen},
		}},
		{"a success resets the count", []step{
			{0, "failure", false, BreakerClosed},
			{1, "failure", false, BreakerClosed},
			{2, "success", false, BreakerClosed},
			{3, "failure", false, BreakerClosed},
			{4, "failure", false, BreakerClosed},
			{5, "failure", false, BreakerOpen},
		}},
		{"half-open after the cooldown lets one probe through", []step{
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerOpen},
			{9, "allow", false, BreakerOpen},
			{10, "allow", true, BreakerHalfOpen},
			{10, "allow", false, BreakerHalfOpen},
			{11, "success", false, BreakerClosed},
			{11, "allow", true, BreakerClosed},
			{11, "allow", true, BreakerClosed},
		}},
		{"a failed probe opens it again for a new cooldown", []step{
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerOpen},
			{10, "allow", true, BreakerHalfOpen},
			{12, "failure", false, BreakerOpen},
			{21, "allow", false, BreakerOpen},
			{22, "allow", true, BreakerHalfOpen},
		}},
		{"a released probe lets another through", []step{
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerOpen},
			{10, "allow", true, BreakerHalfOpen},
			{10, "release", false, BreakerHalfOpen},
			{10, "allow", true, BreakerHalfOpen},
		}},
		{"a late failure while open restarts the cooldown", []step{
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerClosed},
			{0, "failure", false, BreakerOpen},
			{5, "failure", false, BreakerOpen},
			{12, "allow", false, BreakerOpen},
			{15, "allow", true, BreakerHalfOpen},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBreaker(cfg)
			for i, s := range tt.steps {
				now := at(s.at)
				switch s.op {
				case "allow":
					require.Equal(t, s.allowed, b.Allow(now), "step %d", i)
				case "success":
					b.Success(now)
				case "failure":
					b.Failure(now)
				case "release":
					b.Release()
				}
				require.Equal(t, s.want, b.State(now), "step %d", i)
			}
		})
	}
}

func TestBreakerReopens(t *testing.T) {
	b := NewBreaker(BreakerConfig{Threshold: 1, Cooldown: time.Minute})
	assert.True(t, b.Reopens().IsZero())
	now := time.Unix(50, 0)
	b.Failure(now)
	assert.Equal(t, now.Add(time.Minute), b.Reopens())
	assert.False(t, b.Available(now))
	assert.True(t, b.Available(now.Add(time.Minute)))
}

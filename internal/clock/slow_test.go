package clock_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/stretchr/testify/assert"
)

// TestSlowed: a slowed clock's time, timers and tickers run factor times
// slower than its base (in a bubble, whose fake time is exact).
func TestSlowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := clock.Slowed(clock.Real(), 4)
		t0, real0 := c.Now(), time.Now()

		tm := c.NewTimer(time.Second)
		<-tm.C()
		assert.Equal(t, 4*time.Second, time.Since(real0), "a 1 s timer takes 4 s of the base")
		assert.Equal(t, time.Second, c.Now().Sub(t0))

		tm.Reset(500 * time.Millisecond)
		<-tm.C()
		assert.Equal(t, 1500*time.Millisecond, c.Now().Sub(t0), "Reset is slowed too")

		fired := make(chan time.Time, 1)
		c.AfterFunc(250*time.Millisecond, func() { fired <- c.Now() })
		assert.Equal(t, 1750*time.Millisecond, (<-fired).Sub(t0))

		tk := c.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		<-tk.C()
		<-tk.C()
		assert.Equal(t, 1950*time.Millisecond, c.Now().Sub(t0))
		tk.Reset(time.Second)
		<-tk.C()
		assert.Equal(t, 2950*time.Millisecond, c.Now().Sub(t0))
	})
}

func TestSlowedFactorBelowOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := clock.Slowed(clock.Real(), 0.5)
		t0 := time.Now()
		<-c.NewTimer(time.Second).C()
		assert.Equal(t, time.Second, time.Since(t0), "taken as 1: never faster than the base")
	})
}

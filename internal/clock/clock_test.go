package clock_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRealInBubble: inside a synctest bubble Real runs on the bubble's fake
// clock, so an hour-long timer fires without an hour passing.
func TestRealInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := clock.Real
		start := c.Now()
		tm := c.NewTimer(time.Hour)
		fired := make(chan struct{})
		c.AfterFunc(2*time.Hour, func() { close(fired) })
		at := <-tm.C()
		assert.Equal(t, time.Hour, at.Sub(start))
		assert.Equal(t, time.Hour, clock.Since(c, start))
		<-fired
		assert.Equal(t, time.Hour, clock.Until(c, start.Add(3*time.Hour)))
		assert.False(t, tm.Stop(), "a fired timer does not stop")
		assert.False(t, tm.Reset(time.Minute))
		require.True(t, tm.Stop(), "a pending timer stops")
		synctest.Wait()
	})
}

package clock

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRealInBubble checks that Real is the time package's clock: inside a
// synctest bubble its readings and timers follow the bubble's virtual time.
func TestRealInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := Real()
		start := c.Now()
		assert.Equal(t, time.Now(), start)
		tm := c.NewTimer(time.Hour)
		fired := <-tm.C()
		assert.Equal(t, time.Hour, fired.Sub(start))
		assert.Equal(t, time.Hour, c.Now().Sub(start))
		assert.False(t, tm.Stop(), "a fired timer is no longer active")

		assert.False(t, tm.Reset(time.Minute))
		assert.True(t, tm.Stop())
		synctest.Wait()
		select {
		case <-tm.C():
			t.Fatal("a stopped timer fired")
		default:
		}
		require.False(t, tm.Reset(time.Second))
		<-tm.C()
		assert.Equal(t, time.Hour+time.Second, c.Now().Sub(start))
	})
}

// TestRealTickerInBubble checks that Real's tickers tick on the bubble's
// virtual time, that Reset changes the period and that Stop silences them.
func TestRealTickerInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := Real()
		start := c.Now()
		tk := c.NewTicker(time.Minute)
		for i := 1; i <= 3; i++ {
			at := <-tk.C()
			assert.Equal(t, time.Duration(i)*time.Minute, at.Sub(start))
		}
		tk.Reset(time.Hour)
		at := <-tk.C()
		assert.Equal(t, 3*time.Minute+time.Hour, at.Sub(start))
		tk.Stop()
		time.Sleep(2 * time.Hour)
		select {
		case <-tk.C():
			t.Fatal("a stopped ticker ticked")
		default:
		}
	})
}

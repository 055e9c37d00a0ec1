package clock_test

import (
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// A service takes a Clock and waits on its timers; the node passes Real.
func Example() {
	c := clock.Real()
	start := c.Now()
	t := c.NewTimer(10 * time.Millisecond)
	<-t.C()
	fmt.Println("waited at least 10 ms:", c.Now().Sub(start) >= 10*time.Millisecond)
	// Output: waited at least 10 ms: true
}

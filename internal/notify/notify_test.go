package notify

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestSignal(t *testing.T) {
	var s Signal
	s.Notify() // nobody waits: nothing to close, nothing remembered
	a := s.Wait()
	b := s.Wait()
	assert.False(t, closed(a))
	assert.Equal(t, a, b, "waiters before one Notify share its channel")
	s.Notify()
	assert.True(t, closed(a))
	c := s.Wait()
	assert.False(t, closed(c), "a Wait after the Notify waits for the next")
	s.Notify()
	assert.True(t, closed(c))
}

func TestSignalConcurrent(t *testing.T) {
	var s Signal
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for range 8 {
		ch := s.Wait()
		wg.Go(func() {
			<-ch
			mu.Lock()
			n++
			mu.Unlock()
		})
	}
	s.Notify()
	wg.Wait()
	assert.Equal(t, 8, n)
}

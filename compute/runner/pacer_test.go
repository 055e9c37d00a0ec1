package runner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPacer(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		concurrency, maxPrefetch int
		exec, sync               time.Duration
		want                     int
	}{
		{"tiny tasks: claim far ahead", 2, 64, 10 * time.Microsecond, 300 * time.Microsecond, 2 + 64},
		{"tiny tasks, bounded", 2, 16, 10 * time.Microsecond, 300 * time.Microsecond, 2 + 16},
		{"short tasks", 2, 64, 100 * time.Microsecond, 300 * time.Microsecond, 2 + 12},
		{"long tasks: one per slot", 2, 64, time.Second, 300 * time.Microsecond, 2 + 1},
		{"no prefetch", 4, 0, 10 * time.Microsecond, time.Millisecond, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(tc.concurrency, tc.maxPrefetch)
			assert.Equal(t, tc.concurrency+min(tc.concurrency, tc.maxPrefetch), p.limit, "before any estimate")
			for range 50 {
				p.observe(tc.exec, 0)
				p.observe(0, tc.sync)
			}
			assert.Equal(t, tc.want, p.limit)
		})
	}
}

func TestPacerBlocks(t *testing.T) {
	p := newPacer(1, 0)
	assert.True(t, p.acquire())
	got := make(chan bool)
	go func() { got <- p.acquire() }()
	select {
	case <-got:
		t.Fatal("acquired past the limit")
	case <-time.After(20 * time.Millisecond):
	}
	p.release()
	assert.True(t, <-got)
	go func() { got <- p.acquire() }()
	p.stop()
	assert.False(t, <-got, "stop wakes waiters")
	assert.False(t, p.acquire())
}

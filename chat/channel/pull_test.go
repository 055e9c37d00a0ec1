package channel

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPulls drives the sync back's decisions: one puller per channel,
// what one neighbour's pull brought ends the others', and a failed pull
// is retried with a backoff, another neighbour first, pullAttempts times.
func TestPulls(t *testing.T) {
	a, b, c := peer.ID("a"), peer.ID("b"), peer.ID("c")
	x, y := ID{1}, ID{2}
	heldOf := func(ids ...ID) func(ID) bool {
		return func(id ID) bool {
			for _, h := range ids {
				if h == id {
					return true
				}
			}
			return false
		}
	}
	type step struct {
		shown   peer.ID // shows ids (if set)
		ids     []ID
		start   bool // shown's answer
		next    peer.ID
		wait    time.Duration
		none    bool    // next has nothing: the puller stops
		done    peer.ID // then the pull from done ends
		failed  bool
		heldNow []ID
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"one pull brings what two showed", []step{
			{shown: a, ids: []ID{x}, start: true},
			{shown: b, ids: []ID{x}, start: false},
			{next: a, done: a, heldNow: []ID{x}},
			{none: true},
			{shown: c, ids: []ID{y}, start: true},
		}},
		{"a failed pull tries the other neighbour, then backs off", []step{
			{shown: a, ids: []ID{x}, start: true},
			{shown: b, ids: []ID{x, y}},
			{next: a, done: a, failed: true},
			{next: b, done: b, failed: true},
			{next: a, wait: pullBackoff, done: a, failed: true},
			{next: b, wait: pullBackoff, done: b, heldNow: []ID{x, y}},
			{none: true},
		}},
		{"a neighbour that keeps failing is given up", []step{
			{shown: a, ids: []ID{x}, start: true},
			{next: a, done: a, failed: true},
			{next: a, wait: pullBackoff, done: a, failed: true},
			{next: a, wait: 2 * pullBackoff, done: a, failed: true},
			{none: true},
		}},
		{"a pull that brings part keeps those who showed the rest", []step{
			{shown: a, ids: []ID{x}, start: true},
			{shown: b, ids: []ID{y}},
			{next: a, done: a, heldNow: []ID{x}},
			{next: b, done: b, heldNow: []ID{x, y}},
			{none: true},
		}},
		{"showing again resets the failures", []step{
			{shown: a, ids: []ID{x}, start: true},
			{next: a, done: a, failed: true},
			{shown: a, ids: []ID{x}},
			{next: a, done: a, heldNow: []ID{x}},
			{none: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q pulls
			for i, s := range tc.steps {
				if s.shown != "" {
					require.Equal(t, s.start, q.shown(s.shown, s.ids), "step %d: start", i)
					continue
				}
				p, wait, ok := q.next()
				if s.none {
					require.False(t, ok, "step %d: nothing left", i)
					assert.False(t, q.running)
					continue
				}
				require.True(t, ok, "step %d", i)
				require.Equal(t, s.next, p, "step %d: pulls from", i)
				require.Equal(t, s.wait, wait, "step %d: waits", i)
				q.done(s.done, s.failed, heldOf(s.heldNow...))
			}
		})
	}
	var q pulls
	assert.False(t, q.shown(a, nil), "nothing shown, nothing to pull")
}

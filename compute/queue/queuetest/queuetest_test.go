package queuetest_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/queue/queuetest"
	"github.com/fog-compute/fog/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// work opens a queue in memory with workers that complete each job with
// its payload reversed, or fail the jobs whose payload is "fail".
func work(t *testing.T) *queue.Queue {
	scfg := store.InMemoryConfig()
	scfg.Logger = nil
	db, err := store.Open(scfg)
	require.NoError(t, err)
	q, err := queue.Open(t.Context(), db, queue.TestConfig())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				j, err := q.Next(ctx)
				if err != nil {
					return
				}
				if string(j.Payload) == "fail" {
					_, _ = q.Fail(ctx, j.ID, "asked to", nil)
					continue
				}
				out := bytes.Clone(j.Payload)
				for i, k := 0, len(out)-1; i < k; i, k = i+1, k-1 {
					out[i], out[k] = out[k], out[i]
				}
				_, _ = q.Complete(ctx, j.ID, out)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		require.NoError(t, q.Close())
		require.NoError(t, db.Close())
	})
	return q
}

func TestClosedLoopRunsEveryJob(t *testing.T) {
	q := work(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	load, err := queuetest.ClosedLoop(t.Context(), q, 200, 8, []byte("abc"), func(j queue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		seen[j.ID] = true
		if string(j.Result) != "cba" {
			return errors.New("wrong result " + string(j.Result))
		}
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, seen, 200, "every job ran once and was checked")
	assert.Positive(t, load.Wall)
	assert.Equal(t, uint64(200), q.Counts().Done)
}

func TestClosedLoopStopsAtFirstError(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		check   func(queue.Job) error
		want    string
	}{
		{"job failed", "fail", nil, "ended failed"},
		{"check refused", "abc", func(queue.Job) error { return errors.New("no thanks") }, "no thanks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := work(t)
			_, err := queuetest.ClosedLoop(t.Context(), q, 1000, 4, []byte(tc.payload), tc.check)
			require.ErrorContains(t, err, tc.want)
			c := q.Counts()
			assert.Less(t, c.Done+c.Failed, uint64(1000), "it stopped early")
		})
	}
}

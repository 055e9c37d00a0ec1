package files

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunWindows checks the slow start of a level's windows: first at
// once, one more for each that completes, never more than most; the
// windows complete in order here, and the test records how many run
// after the start and after each completion.
func TestRunWindows(t *testing.T) {
	tests := []struct {
		name           string
		n, first, most int
		running        []int
	}{
		{"ramps to most", 10, 2, 4, []int{2, 3, 4, 4, 4, 4, 4, 3, 2, 1, 0}},
		{"fewer windows than first", 3, 4, 16, []int{3, 2, 1, 0}},
		{"first above most", 4, 8, 2, []int{2, 2, 2, 1, 0}},
		{"first below one", 3, 0, 2, []int{1, 2, 1, 0}},
		{"one at a time", 3, 1, 1, []int{1, 1, 1, 0}},
		{"no windows", 0, 4, 16, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var (
					mu      sync.Mutex
					running []int
					started []int
				)
				release := make([]chan struct{}, tc.n)
				for i := range release {
					release[i] = make(chan struct{})
				}
				done := make(chan error, 1)
				go func() {
					done <- runWindows(context.Background(), tc.n, tc.first, tc.most, func(ctx context.Context, i int) error {
						mu.Lock()
						running = append(running, i)
						started = append(started, i)
						mu.Unlock()
						<-release[i]
						mu.Lock()
						running = slices.DeleteFunc(running, func(j int) bool { return j == i })
						mu.Unlock()
						return nil
					})
				}()
				var got []int
				for i := 0; ; i++ {
					synctest.Wait()
					mu.Lock()
					got = append(got, len(running))
					mu.Unlock()
					if i == tc.n {
						break
					}
					close(release[i])
				}
				require.NoError(t, <-done)
				assert.Equal(t, tc.running, got)
				want := make([]int, tc.n)
				for i := range want {
					want[i] = i
				}
				assert.ElementsMatch(t, want, started, "each window starts once")
			})
		})
	}
}

// TestRunWindowsStops checks that a failed window, or the end of the
// caller's ctx, stops the windows and starts no more, and that the
// error comes back.
func TestRunWindowsStops(t *testing.T) {
	boom := errors.New("boom")
	synctest.Test(t, func(t *testing.T) {
		var (
			mu      sync.Mutex
			started []int
		)
		err := runWindows(context.Background(), 10, 2, 4, func(ctx context.Context, i int) error {
			mu.Lock()
			started = append(started, i) // windows 0 and 1 only: one fails, the other waits
			mu.Unlock()
			if i == 0 {
				synctest.Wait()
				return boom
			}
			<-ctx.Done()
			return ctx.Err()
		})
		require.ErrorIs(t, err, boom)
		mu.Lock()
		defer mu.Unlock()
		assert.ElementsMatch(t, []int{0, 1}, started)
	})
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var (
			mu      sync.Mutex
			started []int
		)
		err := runWindows(ctx, 10, 2, 4, func(ctx context.Context, i int) error {
			mu.Lock()
			started = append(started, i)
			mu.Unlock()
			if i == 0 {
				cancel()
				return nil // completes: its token lets two more try to start
			}
			<-ctx.Done()
			return nil // ends without an error of its own
		})
		require.ErrorIs(t, err, context.Canceled)
		mu.Lock()
		defer mu.Unlock()
		assert.Subset(t, []int{0, 1, 2, 3}, started)
	})
}

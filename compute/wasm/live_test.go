package wasm

import (
	"context"
	"encoding/binary"
	"github.com/fog-compute/fog/internal/await"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Live given to a run shows the output the guest has written while it
// runs, and all of it, as the Result has it, once it has run.
func TestLiveOutput(t *testing.T) {
	e := newTestExecutor(t, nil)
	// compute's chatter: "first\n" and "warn\n" on stderr, a real sleep of
	// its stdin's nanoseconds, then "second\n".
	code, err := os.ReadFile("../testdata/chatter.wasm")
	require.NoError(t, err)
	id, err := e.Compile(context.Background(), code)
	require.NoError(t, err)
	live := new(Live)
	type ran struct {
		res Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := e.Run(WithLive(context.Background(), live), Spec{Module: id, Clock: true,
			Stdin: binary.LittleEndian.AppendUint64(nil, uint64(2*time.Second))})
		done <- ran{res, err}
	}()
	await.Until(t, 10*time.Second, live.Written, func() bool {
		o, e := live.Len()
		return o > 0 && e > 0
	})
	select {
	case <-done:
		t.Fatal("the task ended before its first output was seen")
	default:
	}
	stdout, stderr := live.Read(0, 0, 0)
	assert.Equal(t, "first\n", string(stdout))
	assert.Equal(t, "warn\n", string(stderr))
	stdout, stderr = live.Read(2, 9, 3)
	assert.Equal(t, "rst", string(stdout), "from an offset, at most max bytes")
	assert.Nil(t, stderr, "an offset beyond the output reads nothing")

	r := <-done
	require.NoError(t, r.err)
	stdout, stderr = live.Read(0, 0, 0)
	assert.Equal(t, "first\nsecond\n", string(r.res.Stdout))
	assert.Equal(t, r.res.Stdout, stdout)
	assert.Equal(t, r.res.Stderr, stderr)
}

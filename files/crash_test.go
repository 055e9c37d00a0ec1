package files

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/crashtest"
)

const crashEnv = "FOG_FILES_CRASH_DIR"

// TestCrashBlocks kills a process with SIGKILL while eight writers store
// blocks of 64 KiB, and reopens its block files: every block whose Put
// returned (the child prints "ack CID" then) is there and reads back
// verified, no temporary file is left, every block file held is whole,
// and the bytes counted are the files' own.
func TestCrashBlocks(t *testing.T) {
	if dir, ok := crashtest.Child(crashEnv); ok {
		crashBlocksChild(dir)
		return
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	crashtest.Run(t, crashtest.Config{
		Test: "TestCrashBlocks", Env: crashEnv, Dir: dir,
		Record: func(line string) {
			c, ok := strings.CutPrefix(line, "ack ")
			require.True(t, ok, "child line %q", line)
			acked[c] = true
		},
		Ready:   func() bool { return len(acked) >= 200 },
		Timeout: time.Minute,
	})

	ctx := testCtx(t)
	s, err := openBlockStore(dir, 1<<40, slog.New(slog.DiscardHandler))
	require.NoError(t, err, "reopen after the crash")
	for c := range acked {
		id, err := cid.Decode(c)
		require.NoError(t, err)
		_, err = s.Get(ctx, id)
		assert.NoError(t, err, "acknowledged block %s lost", c)
	}
	var sum int64
	keys, err := s.AllKeysChan(ctx)
	require.NoError(t, err)
	for k := range keys {
		b, err := s.Get(ctx, k)
		require.NoError(t, err, "block %s damaged", k)
		sum += int64(len(b.RawData()))
	}
	assert.Equal(t, sum, s.Used())
	assert.GreaterOrEqual(t, len(allKeys(t, s)), len(acked))
	require.NoError(t, s.walk(func(_ string, de os.DirEntry) error {
		assert.False(t, strings.HasPrefix(de.Name(), tmpPrefix), "leftover %s", de.Name())
		return nil
	}))
}

// crashBlocksChild stores blocks until it is killed.
func crashBlocksChild(dir string) {
	s, err := openBlockStore(dir, 1<<40, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := uint64(0); ; i++ {
				data := content(uint64(w)<<32|i, 64<<10)
				c, err := cid.V1Builder{Codec: cid.Raw, MhType: cidBuilder.MhType}.Sum(data)
				if err != nil {
					panic(err)
				}
				b, err := blocks.NewBlockWithCid(data, c)
				if err != nil {
					panic(err)
				}
				if err := s.Put(context.Background(), b); err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Println("ack", b.Cid())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

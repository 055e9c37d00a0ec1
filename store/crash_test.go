package store

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/crashtest"
)

// crashChildEnv holds the data directory of a crash-test child process.
const crashChildEnv = "FOG_STORE_CRASH_CHILD_DIR"

// crashConfig is the child's and the parent's config: small memtables, so
// that the child's writes cross several memtable flushes, and a value
// threshold (~77 KiB) that sends the larger values to the value log.
func crashConfig(dir string) Config {
	cfg := DefaultConfig(dir)
	cfg.MemTableSize = 1 << 20
	cfg.Logger = nil
	return cfg
}

// crashValue is the value the child writes under key i: about 1 KiB, and
// 100 KiB (value log) for one key in 97.
func crashValue(i int) []byte {
	n := 1000 + i%50
	if i%97 == 0 {
		n = 100 << 10
	}
	v := []byte(strings.Repeat(strconv.Itoa(i)+":", n/2))
	return v[:n]
}

// TestCrashKeepsAcknowledgedWrites kills a writer with SIGKILL and checks
// that every write it acknowledged is there after reopening: the child
// prints a key only after Put (or a Batch commit) returned, so every printed
// key was acknowledged before the kill.
//
// SIGKILL ends the process, not the machine: the kernel keeps what was
// written to the page cache. The test proves that acknowledged writes are in
// Badger's logs (not in a buffer of the process) and that Badger recovers
// them; surviving power loss additionally rests on SyncWrites' fsync/msync,
// which this test cannot observe.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if dir, ok := crashtest.Child(crashChildEnv); ok {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	acked := map[int]bool{}
	// Wait for enough acknowledged writes, then kill mid-stream.
	const killAfter = 4000
	crashtest.Run(t, crashtest.Config{
		Test: "TestCrashKeepsAcknowledgedWrites", Env: crashChildEnv, Dir: dir,
		Record: func(line string) {
			if rest, ok := strings.CutPrefix(line, "ack "); ok {
				i, err := strconv.Atoi(rest)
				require.NoError(t, err, line)
				acked[i] = true
			}
		},
		Ready:   func() bool { return len(acked) >= killAfter },
		Timeout: 30 * time.Second,
	})

	db, err := Open(crashConfig(dir))
	require.NoError(t, err, "reopen after the crash")
	defer func() { require.NoError(t, db.Close()) }()
	ds := db.Datastore("/crash")
	missing := 0
	for i := range acked {
		v, err := ds.Get(t.Context(), crashKey(i))
		if !assert.NoError(t, err, "acknowledged key %d", i) {
			missing++
			continue
		}
		assert.Equal(t, string(crashValue(i)), string(v), "key %d", i)
	}
	require.Zero(t, missing, "%d of %d acknowledged writes lost", missing, len(acked))
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

func crashKey(i int) datastore.Key { return Key("w", strconv.Itoa(i)) }

// crashChild writes until it is killed: four writers use Put, one uses
// batches of five, and each prints "ack <i>" once its write returned.
func crashChild(dir string) {
	db, err := Open(crashConfig(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ds := db.Datastore("/crash")
	ctx := context.Background()
	var out sync.Mutex
	ack := func(is ...int) {
		out.Lock()
		defer out.Unlock()
		for _, i := range is {
			fmt.Printf("ack %d\n", i)
		}
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	const writers = 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := 0; ; n++ {
				if w == 0 { // the batch writer
					b, err := ds.Batch(ctx)
					if err != nil {
						fail(err)
					}
					var is []int
					for j := range 5 {
						i := (n*5+j)*writers + w
						is = append(is, i)
						if err := b.Put(ctx, crashKey(i), crashValue(i)); err != nil {
							fail(err)
						}
					}
					if err := b.Commit(ctx); err != nil {
						fail(err)
					}
					ack(is...)
					continue
				}
				i := n*writers + w
				if err := ds.Put(ctx, crashKey(i), crashValue(i)); err != nil {
					fail(err)
				}
				ack(i)
			}
		})
	}
	wg.Wait()
}

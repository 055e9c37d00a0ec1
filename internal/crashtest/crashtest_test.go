package crashtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testEnv = "FOG_CRASHTEST_SELF_DIR"

// TestRun kills a child that writes a file and then prints its number, and
// checks that every printed number's file is there, in order, and that the
// lines still in the pipe at the kill were recorded too.
func TestRun(t *testing.T) {
	if dir, ok := Child(testEnv); ok {
		for i := 0; ; i++ {
			if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), []byte("x"), 0o600); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				os.Exit(2)
			}
			fmt.Println(i)
		}
	}
	dir := t.TempDir()
	var got []int
	Run(t, Config{
		Test: "TestRun", Env: testEnv, Dir: dir,
		Record: func(line string) {
			i, err := strconv.Atoi(line)
			require.NoError(t, err, line)
			got = append(got, i)
		},
		Ready:   func() bool { return len(got) >= 200 },
		Timeout: 30 * time.Second,
	})
	require.GreaterOrEqual(t, len(got), 200)
	for k, i := range got {
		require.Equal(t, k, i, "lines in order, none lost")
		_, err := os.Stat(filepath.Join(dir, strconv.Itoa(i)))
		assert.NoError(t, err, "file %d", i)
	}
}

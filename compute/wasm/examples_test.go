package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the Go programs in /examples (and testdata/probe), built
// for wasip1 by goTask.

// goLimits leaves room for the Go runtime (its binaries declare about 38
// pages and grow their heap from there).
var goLimits = Limits{MemoryPages: 512, WallTime: 20 * time.Second}

func TestGoWordcount(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "wordcount")
	inputs := []string{
		"",
		"one",
		"one two  three\n",
		"  leading and trailing  \n\n\tsecond\tline\r\nthird line without newline",
		"unicode\u00a0spaces\u2003and\u3000more\nmot déjà vu\n",
		strings.Repeat("the quick brown fox jumps over the lazy dog\n", 5000),
	}
	for i, in := range inputs {
		res, err := e.Run(context.Background(), Spec{Module: id, Args: []string{"wordcount"}, Stdin: []byte(in), Limits: goLimits})
		require.NoError(t, err)
		require.True(t, res.OK(), "input %d: exit %d, %s %s", i, res.ExitCode, res.Err, res.Stderr)
		want := fmt.Sprintf("%d %d %d\n", strings.Count(in, "\n"), len(strings.Fields(in)), len(in))
		assert.Equal(t, want, string(res.Stdout), "input %d", i)
		if i == len(inputs)-1 {
			t.Logf("wordcount over %d bytes: wall %v, peak memory %d KiB", len(in), res.Usage.Wall, res.Usage.PeakMemoryBytes>>10)
		}
	}
}

func TestGoSha256sum(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "sha256sum")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 64, 1000, 1 << 20} {
		in := make([]byte, n)
		for i := range in {
			in[i] = byte(rng.Uint32())
		}
		res, err := e.Run(context.Background(), Spec{Module: id, Stdin: in, Limits: goLimits})
		require.NoError(t, err)
		require.True(t, res.OK(), "exit %d: %s %s", res.ExitCode, res.Err, res.Stderr)
		sum := sha256.Sum256(in)
		assert.Equal(t, hex.EncodeToString(sum[:])+"  -\n", string(res.Stdout), "n=%d", n)
	}
}

// countPrimes counts primes <= n by trial division, independently of the
// task's sieve.
func countPrimes(n int) (count, last int) {
	for i := 2; i <= n; i++ {
		prime := true
		for d := 2; d*d <= i; d++ {
			if i%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
			last = i
		}
	}
	return count, last
}

func TestGoPrimes(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "primes")
	for _, n := range []int{0, 1, 2, 3, 10, 100, 7919, 20000} {
		res, err := e.Run(context.Background(), Spec{Module: id, Args: []string{"primes", fmt.Sprint(n)}, Limits: goLimits})
		require.NoError(t, err)
		require.True(t, res.OK(), "exit %d: %s %s", res.ExitCode, res.Err, res.Stderr)
		c, l := countPrimes(n)
		assert.Equal(t, fmt.Sprintf("%d %d %d\n", n, c, l), string(res.Stdout))
	}
	// Published values: pi(10^6) = 78498, the largest prime below 10^6 is 999983.
	res, err := e.Run(context.Background(), Spec{Module: id, Args: []string{"primes", "1000000"}, Limits: goLimits})
	require.NoError(t, err)
	assert.Equal(t, "1000000 78498 999983\n", string(res.Stdout))

	res, err = e.Run(context.Background(), Spec{Module: id, Args: []string{"primes", "many"}, Limits: goLimits})
	require.NoError(t, err)
	assert.Equal(t, uint32(2), res.ExitCode)
	assert.Contains(t, string(res.Stderr), "N must be")
}

func TestGoForeverStoppedByWallTime(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "forever")
	lim := goLimits
	lim.WallTime = 300 * time.Millisecond
	res, err := e.Run(context.Background(), Spec{Module: id, Limits: lim})
	require.ErrorIs(t, err, ErrTimeout)
	assert.Empty(t, res.Stdout)
	t.Logf("forever: limit %v, stopped after %v (%.2f ms late)", lim.WallTime, res.Usage.Wall,
		float64(res.Usage.Wall-lim.WallTime)/float64(time.Millisecond))
}

func TestGoMembombStoppedByMemoryLimit(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "membomb")
	for _, pages := range []uint32{256, 1024} {
		lim := goLimits
		lim.MemoryPages = pages
		res, err := e.Run(context.Background(), Spec{Module: id, Limits: lim})
		require.ErrorIs(t, err, ErrMemoryLimit, "pages=%d: exit %d, %s", pages, res.ExitCode, res.Err)
		assert.LessOrEqual(t, res.Usage.PeakMemoryBytes, uint64(pages)*PageSize)
		assert.Contains(t, string(res.Stderr), "out of memory", "the Go runtime reports it")
		t.Logf("membomb: limit %d pages, peak %d KiB, exit %d, last stderr %q", pages, res.Usage.PeakMemoryBytes>>10,
			res.ExitCode, lastLine(res.Stderr))
	}
}

// TestGoMembombMemoryIsReturned runs membomb at a limit of 256 MiB and
// reads the process's resident memory: the peak growth stays near the
// limit (a growth by allocate-and-copy held about three times it), and the
// memory goes back to the OS when the task ends (it used to stay with the
// Go heap). It compares sizes within the run, against the limit.
func TestGoMembombMemoryIsReturned(t *testing.T) {
	if _, err := procStatus("VmRSS"); err != nil {
		t.Skipf("no /proc/self/status to read resident memory from: %v", err)
	}
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "membomb")
	lim := goLimits
	run := func(pages uint32) {
		lim.MemoryPages = pages
		_, err := e.Run(context.Background(), Spec{Module: id, Limits: lim})
		require.ErrorIs(t, err, ErrMemoryLimit)
	}
	run(64) // so that the baseline includes what any run leaves behind
	runtime.GC()
	debug.FreeOSMemory()
	base, err := procStatus("VmRSS")
	require.NoError(t, err)
	// Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak resident memory: %v", err)
	}
	const pages = 4096
	limit := uint64(pages) * PageSize
	run(pages)
	peak, err := procStatus("VmHWM")
	require.NoError(t, err)
	after, err := procStatus("VmRSS")
	require.NoError(t, err)
	growth := func(v uint64) float64 { return float64(max(v, base)-base) / float64(limit) }
	t.Logf("membomb at %d MiB: RSS %d MiB before, peak %+.2f× the limit, %+.2f× after the task",
		limit>>20, base>>20, growth(peak), growth(after))
	assert.Less(t, growth(peak), 1.5, "peak resident memory grows by less than 1.5× the task's limit")
	assert.Less(t, growth(after), 0.25, "the task's memory goes back to the OS when it ends")
}

// procStatus reads a size field (in kB) of /proc/self/status, in bytes.
func procStatus(field string) (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func TestGoProbeArgsAndEnv(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "probe")
	spec := Spec{
		Module: id,
		Args:   []string{"probe", "env", "two words", ""},
		Env:    map[string]string{"ZED": "last", "ALPHA": "first", "MID": "a=b", "EMPTY": ""},
		Limits: goLimits,
	}
	want := "arg probe\narg env\narg two words\narg \n" +
		"env ALPHA=first\nenv EMPTY=\nenv MID=a=b\nenv ZED=last\n"
	for range 3 { // map order differs between runs; the environ does not
		res, err := e.Run(context.Background(), spec)
		require.NoError(t, err)
		require.True(t, res.OK(), "exit %d: %s %s", res.ExitCode, res.Err, res.Stderr)
		assert.Equal(t, want, string(res.Stdout))
	}
}

func TestGoProbeSeesNoHostFiles(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "probe")
	hostReads := "read /etc/passwd false\nread /proc/self/environ false\n" +
		"read /scratch/../etc/passwd false\nread ../etc/passwd false\nlist / false\n"

	res, err := e.Run(context.Background(), Spec{Module: id, Args: []string{"probe", "fs"}, Limits: goLimits})
	require.NoError(t, err)
	require.True(t, res.OK(), "exit %d: %s %s", res.ExitCode, res.Err, res.Stderr)
	assert.Equal(t, hostReads+"write /scratch false\n", string(res.Stdout))

	res, err = e.Run(context.Background(), Spec{Module: id, Args: []string{"probe", "fs"}, Scratch: true, Limits: goLimits})
	require.NoError(t, err)
	require.True(t, res.OK(), "exit %d: %s %s", res.ExitCode, res.Err, res.Stderr)
	assert.Equal(t, hostReads+"write /scratch true\nread back true\n", string(res.Stdout))
}

func TestGoProbeHasNoNetwork(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "probe")
	res, err := e.Run(context.Background(), Spec{Module: id, Args: []string{"probe", "net"}, Limits: goLimits})
	require.NoError(t, err)
	require.True(t, res.OK(), "exit %d: %s %s", res.ExitCode, res.Err, res.Stderr)
	assert.Equal(t, "listen on fd 3 false\nlisten on fd 4 false\nlisten on fd 5 false\n"+
		"dial 1.1.1.1:53 false\ndial 127.0.0.1:22 false\n", string(res.Stdout))
}

func TestGoProbeSleep(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "probe")

	// With the fake clock a sleep returns at once, deterministically.
	res, err := e.Run(context.Background(), Spec{Module: id, Args: []string{"probe", "sleep", "1h"}, Limits: goLimits})
	require.NoError(t, err)
	require.True(t, res.OK(), "exit %d: %s %s", res.ExitCode, res.Err, res.Stderr)
	assert.Equal(t, "slept 1h0m0s\n", string(res.Stdout))

	// With the real clock it sleeps for real, but no longer than the run.
	lim := goLimits
	lim.WallTime = 300 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), Spec{Module: id, Args: []string{"probe", "sleep", "1h"}, Clock: true, Limits: lim})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrTimeout)
	case <-time.After(30 * time.Second):
		t.Fatal("a real sleep outlived the task's time limit")
	}
}

package crashtest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Config describes one kill -9 run.
type Config struct {
	// Test is the name of the test function the child runs (it must call
	// Child first).
	Test string
	// Env is the environment variable that tells the child it is one and
	// carries Dir.
	Env string
	// Dir is the data directory the child works in.
	Dir string
	// Record receives every line the child prints on stdout, in order.
	Record func(line string)
	// Ready says whether the parent has seen enough to kill the child.
	Ready func() bool
	// Timeout bounds the wait for Ready; the test fails if it passes.
	Timeout time.Duration
}

// Child reports whether this process is the crash-test child that env
// marks, and its data directory.
func Child(env string) (dir string, ok bool) {
	dir = os.Getenv(env)
	return dir, dir != ""
}

// Run starts the test binary again, running only cfg.Test with cfg.Env set
// to cfg.Dir; feeds its stdout lines to cfg.Record until cfg.Ready holds;
// kills it with SIGKILL; feeds the lines still in the pipe; and requires
// that the child died of the kill. It fails t if the child exits early or
// is not ready within cfg.Timeout.
func Run(t testing.TB, cfg Config) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+cfg.Test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), cfg.Env+"="+cfg.Dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Whatever happens, the child is dead and its pipe drained before Run
	// returns, so no goroutine outlives the test.
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			for range lines {
			}
			_ = cmd.Wait()
		}
	}()

	deadline := time.After(cfg.Timeout)
	for !cfg.Ready() {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "crash-test child exited early")
			cfg.Record(line)
		case <-deadline:
			t.Fatalf("crash-test child not ready within %s", cfg.Timeout)
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	killed = true
	for line := range lines { // printed before the kill
		cfg.Record(line)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "child: %v", err)
	require.Equal(t, "signal: killed", exit.Error())
}

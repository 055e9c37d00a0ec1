package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/await"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
)

// syncBuffer is a bytes.Buffer safe to read while a child process writes.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed and replaced on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// updated returns a channel closed by the next write.
func (s *syncBuffer) updated() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written == nil {
		s.written = make(chan struct{})
	}
	return s.written
}

// The CLI tests run real nodes on loopback TCP, which cannot run in a
// synctest bubble (a goroutine blocked on a socket is not durably blocked);
// what they wait for they await through a notification (a directory's
// Updated channel, a buffer's writes), the deadline only bounding a
// failure.

// awaitDirectory waits until n's capacity directory holds want adverts.
func awaitDirectory(t *testing.T, n *node.Node, want int) {
	t.Helper()
	d := n.Gossip().Directory()
	await.Until(t, 30*time.Second, d.Updated, func() bool { return d.Len() == want }, "the directory holds %d adverts", want)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sleepInput is the stdin of compute/testdata/sleep.wasm: how long it
// sleeps (really, with --clock).
func sleepInput(t *testing.T, d time.Duration) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "sleep.in")
	require.NoError(t, os.WriteFile(f, binary.LittleEndian.AppendUint64(nil, uint64(d)), 0o644))
	return f
}

// TestTaskOutcomes runs tasks on a one-node devnet (the node runs them
// itself) and checks what fog prints and exits with.
func TestTaskOutcomes(t *testing.T) {
	d, err := startDevnet(context.Background(), clock.Real(), t.TempDir(), 1, node.LogConfig{Level: "error", Format: "text"}, &bytes.Buffer{})
	require.NoError(t, err)
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	awaitDirectory(t, d.nodes[0], 1)
	p0 := string(d.dirs[0])
	exitMod := "../../compute/wasm/testdata/exit.wasm" // proc_exit(7)
	sleepMod := "../../compute/testdata/sleep.wasm"
	echoMod := filepath.Join(t.TempDir(), "echo.wasm")
	require.NoError(t, os.WriteFile(echoMod, echoWasm, 0o644))
	task := func(args ...string) []string { return append(append([]string{"task"}, args...), "--path", p0) }

	t.Run("program fails: exit 3", func(t *testing.T) {
		out, errOut, code := fogRun(t, ctx, task("submit", exitMod, "--wait")...)
		assert.Equal(t, exitTaskFailed, code, errOut)
		assert.Contains(t, out, ", exit code 7, 1/1 replica agreed")
		assert.Contains(t, errOut, "its program exited with code 7\n")

		out, _, code = fogRun(t, ctx, task("submit", exitMod, "--wait", "--json")...)
		assert.Equal(t, exitTaskFailed, code)
		var o map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &o))
		assert.Equal(t, "done", o["state"], "the state is called state, as in task status")
		assert.NotContains(t, o, "status")
		assert.EqualValues(t, 7, o["exit_code"])
	})

	t.Run("timeout: no exit code, and why", func(t *testing.T) {
		out, _, code := fogRun(t, ctx, task("submit", sleepMod, "--clock", "--timeout", "300ms", "--stdin", sleepInput(t, time.Minute), "--wait", "--json")...)
		assert.Equal(t, exitTaskFailed, code)
		var o map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &o))
		assert.Equal(t, "failed", o["state"])
		assert.Equal(t, "timeout", o["kind"])
		assert.NotContains(t, o, "exit_code", "wazero's 0xEFFFFFFF is not the program's exit code")
		assert.Contains(t, o["no_exit_code"], "the program did not run to its end: wall-time limit of 300ms exceeded")
		for _, an := range o["answers"].([]any) {
			assert.NotContains(t, an, "exit_code")
		}
	})

	var id string
	t.Run("submit hints, ls name, status, describe", func(t *testing.T) {
		out, _, code := fogRun(t, ctx, task("submit", echoMod)...)
		require.Equal(t, exitOK, code)
		id = strings.TrimSpace(strings.TrimPrefix(strings.SplitN(out, "\n", 2)[0], "submitted "))
		assert.Contains(t, out, "follow it with: fog --path "+p0+" task status "+id+"   (or fog --path "+p0+" task logs -f "+id+")\n")

		out, _, code = fogRun(t, ctx, task("logs", "-f", id)...)
		assert.Equal(t, exitOK, code)
		assert.Empty(t, out, "echo of an empty stdin")

		out, _, code = fogRun(t, ctx, task("ls")...)
		require.Equal(t, exitOK, code)
		assert.Regexp(t, id+`\s+done\s+1\s+echo\.wasm\s`, out)

		out, _, _ = fogRun(t, ctx, task("status", id)...)
		assert.Contains(t, out, "task "+id+" done (echo.wasm, module ")
		assert.Contains(t, out, ", 1 replica, quorum 1,")

		out, _, code = fogRun(t, ctx, task("describe", id)...)
		require.Equal(t, exitOK, code)
		for _, want := range []string{"Task:", id, "Args:", "echo.wasm", "Limits:", "memory 64 MiB, time 10s per run", "Host access:", "none (deterministic)",
			"Placement:", "1 replica, quorum 1", "Result:", "exit code 0, agreed by a quorum", "Attempts:", "(this node)"} {
			assert.Contains(t, out, want)
		}
		out, _, code = fogRun(t, ctx, task("describe", id, "--json")...)
		require.Equal(t, exitOK, code)
		var desc node.TaskDescription
		require.NoError(t, json.Unmarshal([]byte(out), &desc))
		assert.Equal(t, []string{"echo.wasm"}, desc.Args)
		assert.Equal(t, "echo.wasm", desc.Name)
		assert.EqualValues(t, 64, desc.MemoryMiB)
		require.NotNil(t, desc.Result)
		require.NotNil(t, desc.Result.ExitCode)
		assert.Zero(t, *desc.Result.ExitCode)
		assert.Len(t, desc.Attempts, 1)
	})

	t.Run("logs -f follows a running task", func(t *testing.T) {
		out, _, code := fogRun(t, ctx, task("submit", sleepMod, "--clock", "--stdin", sleepInput(t, 300*time.Millisecond), "--json")...)
		require.Equal(t, exitOK, code)
		var sub node.TaskSubmitResult
		require.NoError(t, json.Unmarshal([]byte(out), &sub))
		out, _, code = fogRun(t, ctx, task("logs", "-f", string(sub.ID))...)
		assert.Equal(t, exitOK, code)
		assert.Equal(t, "awake\n", out)
	})

	t.Run("logs -f prints output while the task runs", func(t *testing.T) {
		// chatter writes "first\n" (and "warn\n" on stderr), sleeps, then
		// writes "second\n".
		out, _, code := fogRun(t, ctx, task("submit", "../../compute/testdata/chatter.wasm", "--clock", "--stdin", sleepInput(t, 3*time.Second), "--json")...)
		require.Equal(t, exitOK, code)
		var sub node.TaskSubmitResult
		require.NoError(t, json.Unmarshal([]byte(out), &sub))
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, task("logs", "-f", string(sub.ID)), &stdout, &stderr) }()
		await.Until(t, 10*time.Second, stdout.updated, func() bool { return stdout.String() == "first\n" })
		var st map[string]any
		out, _, _ = fogRun(t, ctx, task("status", string(sub.ID), "--json")...)
		require.NoError(t, json.Unmarshal([]byte(out), &st))
		assert.Equal(t, "running", st["state"], "printed while the task ran")
		select {
		case code = <-done:
		case <-ctx.Done():
			t.Fatal("fog task logs -f did not end")
		}
		assert.Equal(t, exitOK, code, stderr.String())
		assert.Equal(t, "first\nsecond\n", stdout.String(), "the rest at the end, nothing twice")
		assert.Equal(t, 1, strings.Count(stderr.String(), "warn\n"), stderr.String())
		assert.NotContains(t, stderr.String(), "differs")
	})

	t.Run("cancel prints the resulting state", func(t *testing.T) {
		out, _, code := fogRun(t, ctx, task("submit", sleepMod, "--clock", "--stdin", sleepInput(t, time.Hour), "--json")...)
		require.Equal(t, exitOK, code)
		var sub node.TaskSubmitResult
		require.NoError(t, json.Unmarshal([]byte(out), &sub))
		await.Until(t, 30*time.Second, d.nodes[0].Compute().Changed, func() bool {
			out, _, _ := fogRun(t, ctx, task("status", string(sub.ID))...)
			return strings.Contains(out, " running")
		})

		_, errOut, code := fogRun(t, ctx, task("logs", string(sub.ID))...)
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, errOut, "has not finished; follow it with: fog --path "+p0+" task logs -f "+string(sub.ID))

		out, errOut, code = fogRun(t, ctx, task("cancel", string(sub.ID))...)
		assert.Equal(t, exitOK, code, errOut)
		assert.Equal(t, "task "+string(sub.ID)+" cancelled\n", out)

		_, errOut, code = fogRun(t, ctx, task("logs", string(sub.ID))...)
		assert.Equal(t, exitFailed, code, "no result of the program: not exit 3")
		assert.Contains(t, errOut, "cancelled")
	})

	t.Run("nodes filter says it filtered", func(t *testing.T) {
		out, _, code := fogRun(t, ctx, "nodes", "--min-cores", "100000", "--path", p0)
		assert.Equal(t, exitOK, code)
		assert.Equal(t, "no node matches --min-cores 100000 (1 node offering compute)\n", out)
	})

	t.Run("Ctrl-C exits 130 with a hint that keeps --path", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], task("submit", sleepMod, "--clock", "--stdin", sleepInput(t, time.Hour), "--wait")...)
		cmd.Env = append(os.Environ(), "FOG_TEST_MAIN=1")
		var logs syncBuffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		defer func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		}()
		await.Until(t, 30*time.Second, logs.updated, func() bool { return strings.Contains(logs.String(), "(1 ") }, "the task runs: %s", &logs)
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		err := cmd.Wait()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, logs.String())
		assert.Equal(t, exitInterrupted, ee.ExitCode(), logs.String())
		assert.Regexp(t, fmt.Sprintf(`fog: stopped following \S+ \(interrupted\); it keeps running: see fog --path %s task status \S+\n$`, p0), logs.String())
		assert.NotContains(t, logs.String(), "context canceled")
	})
}

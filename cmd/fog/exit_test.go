package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/node"
)

// fogRun runs fog in-process as main does and returns stdout, stderr and
// the exit code.
func fogRun(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestUsageErrors: typos in commands and subcommands exit 2 with the
// suggestion on lines of its own (cobra printed help and exited 0 for a
// subcommand typo, and fog flattened the suggestion onto one line).
func TestUsageErrors(t *testing.T) {
	ctx := context.Background()
	mod := filepath.Join(t.TempDir(), "m.wasm")
	require.NoError(t, os.WriteFile(mod, echoWasm, 0o644))
	for _, tc := range []struct {
		args   []string
		stderr string // exact, or a prefix when it ends in "…"
	}{
		{[]string{"stauts"}, "fog: unknown command \"stauts\" for \"fog\"\nDid you mean this?\n\tstatus\nRun 'fog --help' for usage.\n"},
		{[]string{"task", "sumbit", "x"}, "fog: unknown command \"sumbit\" for \"fog task\"\nDid you mean this?\n\tsubmit\nRun 'fog task --help' for usage.\n"},
		{[]string{"dht", "bogus"}, "fog: unknown command \"bogus\" for \"fog dht\"\nRun 'fog dht --help' for usage.\n"},
		{[]string{"status", "--bogus"}, "fog: unknown flag: --bogus\nRun 'fog status --help' for usage.\n"},
		{[]string{"status", "extra"}, "fog: unknown command \"extra\" for \"fog status\"\n…"},
		{[]string{"task", "status"}, "fog: fog task status TASK_ID [flags]: want a task ID\n…"},
		{[]string{"task", "submit", mod, "--replicas", "0"}, "fog: --replicas 0: want a positive value (leave it out for 1 replica)\n…"},
		{[]string{"task", "submit", mod, "--memory", "0"}, "fog: --memory 0: want a positive value (leave it out for the node's default (64 MiB))\n…"},
		{[]string{"task", "submit", mod, "--timeout", "0s"}, "fog: --timeout 0s: want a positive value…"},
		{[]string{"task", "submit", mod, "--replicas", "x"}, "fog: invalid argument \"x\" for \"--replicas\" flag…"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := fogRun(t, ctx, tc.args...)
			assert.Equal(t, exitUsage, code)
			assert.Empty(t, out)
			if p, ok := strings.CutSuffix(tc.stderr, "…"); ok {
				assert.True(t, strings.HasPrefix(errOut, p), errOut)
			} else {
				assert.Equal(t, tc.stderr, errOut)
			}
		})
	}

	// A group command alone prints its help and succeeds.
	out, _, code := fogRun(t, ctx, "task")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "Available Commands:")
	assert.Contains(t, out, "describe")

	out, _, code = fogRun(t, ctx, "--version")
	assert.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "fog version "+node.Version+" (go"), out)

	out, _, code = fogRun(t, ctx, "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "Exit codes:\n  0    done")
	assert.Contains(t, out, "  3    the task ran and failed")
}

// TestExitCodeOfProcess checks the real process's exit status for a typo.
func TestExitCodeOfProcess(t *testing.T) {
	cmd, logs := fogChild(t, "task", "sumbit")
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, exitUsage, ee.ExitCode())
	assert.Contains(t, logs.String(), "Did you mean this?\n\tsubmit\n")
}

// TestHintsKeepPath: the commands fog suggests carry the --path the user
// gave, so that copying them talks to the same node and not to ~/.fog.
func TestHintsKeepPath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "my node")
	out, _, code := fogRun(t, ctx, "init", "--path", dir, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "start it with: fog --path '"+dir+"' run\n")

	_, errOut, code := fogRun(t, ctx, "status", "--path", dir)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "(start it with `fog --path '"+dir+"' run`)")

	none := filepath.Join(t.TempDir(), "none")
	_, errOut, code = fogRun(t, ctx, "peers", "--path", none)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "(run `fog --path "+none+" init`)")
}

// TestConfigErrorsAreLines: a config with mistakes is reported one mistake
// a line, naming the key and its line; a bad API port is refused at init.
func TestConfigErrorsAreLines(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "n")
	_, errOut, code := fogRun(t, ctx, "init", "--path", dir, "--api", "127.0.0.1:70000")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, `api.listen "127.0.0.1:70000": port "70000": want 0 to 65535`)
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "nothing written")

	_, _, code = fogRun(t, ctx, "init", "--path", dir, "--api", "127.0.0.1:0")
	require.Equal(t, exitOK, code)
	cfg := node.DataDir(dir).Config()
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n[logg]\nlevel = \"info\"\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, errOut, code = fogRun(t, ctx, "run", "--path", dir)
	assert.Equal(t, exitFailed, code)
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	require.Len(t, lines, 1, errOut)
	assert.Regexp(t, `^fog: .*config.toml: node: invalid config: line \d+: unknown section \[logg\] \(did you mean log\?\)$`, lines[0])
}

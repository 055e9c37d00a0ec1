package wasm

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoProbeCannotEscapeScratch runs a Go guest that tries every way out
// of /scratch (testdata/probe/escape.go): the relative symlink to
// the host's root, absolute symlinks, symlink chains and loops, hard
// links, ".." chains (through Go's os package and through raw WASI calls),
// renames across the root, long names and paths, and writes and files
// past the quota. Every attempt must fail, what must work inside /scratch
// must work, and a host directory with a canary file must neither be read
// nor changed.
func TestGoProbeCannotEscapeScratch(t *testing.T) {
	e := newGoExecutor(t)
	id := loadGoTask(t, e, "probe")
	host := t.TempDir()
	const secret = "canary 7f3a: no guest may read this"
	require.NoError(t, os.WriteFile(filepath.Join(host, "canary"), []byte(secret), 0o644))
	before := hostTree(t, host)

	spec := Spec{
		Module: id, Scratch: true, Limits: goLimits,
		Args: []string{"probe", "escape", host, strconv.FormatInt(e.cfg.ScratchBytes, 10), strconv.Itoa(e.cfg.ScratchFiles)},
	}
	res, err := e.Run(context.Background(), spec)
	require.NoError(t, err)
	out := string(res.Stdout)
	require.True(t, res.OK(), "exit %d: %s\n%s%s", res.ExitCode, res.Err, out, res.Stderr)

	assert.NotContains(t, out, secret, "the guest read the host's canary")
	assert.NotContains(t, out, "root:x:0:0", "the guest read the host's /etc/passwd")
	assert.Equal(t, before, hostTree(t, host), "the host directory changed")

	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Equal(t, "done", lines[len(lines)-1], "the guest stopped early:\n%s", out)
	escapes := 0
	for _, l := range lines[:len(lines)-1] {
		kind, rest, _ := strings.Cut(l, " ")
		name, result, _ := strings.Cut(rest, ": ")
		switch kind {
		case "escape":
			escapes++
			assert.True(t, strings.HasPrefix(result, "error: "), "escape %q was not refused: %s", name, result)
		case "works":
			assert.Equal(t, "ok", result, "%q must work inside /scratch", name)
		case "info":
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	assert.GreaterOrEqual(t, escapes, 40, "escape attempts reported")
	assert.Contains(t, out, "escape write past the quota: error: ")
	assert.Contains(t, out, "write /scratch/big: I/O error", "a write past the quota fails with EIO")
	assert.Contains(t, out, "escape symlink relative to the root: error: ")

	// Nothing of the host shows: the same run gives the same output,
	// time stamps included (the task's virtual clock).
	assert.False(t, res.NonDeterministic)
	assert.Contains(t, out, "info mtime: 2022-01-01T00:00:")
	again, err := e.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, out, string(again.Stdout))
}

// hostTree returns every path under dir with its mode and content.
func hostTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		tree[p] = entry
		return nil
	}))
	return tree
}

package wasm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
)

// goTaskPackages are the Go programs the tests run as tasks, by package
// directory relative to this package.
var goTaskPackages = []string{
	"../../examples/wordcount",
	"../../examples/primes",
	"../../examples/sha256sum",
	"../../examples/forever",
	"../../examples/membomb",
	"./testdata/probe",
}

// goTasks holds the Go programs built for GOOS=wasip1 GOARCH=wasm, once per
// test binary, and a wazero compilation cache directory holding their
// machine code.
//
// Compiling a 2.5 MB Go module takes wazero about a second, but ten times
// that in a -race test binary, where the compiler itself is instrumented.
// So the cache is filled by testdata/precompile, a program built without
// -race that compiles with the same Executor configuration; executors in
// the tests then load the machine code from the cache. wazero keys its cache
// by its own version string, which it reads from the binary's build info:
// a test binary has none and says "dev", so the tool is built with the
// version string this test binary uses (wazero's documented ldflag).
var goTasks struct {
	once     sync.Once
	bins     map[string][]byte // by the package directory's base name
	cacheDir string            // removed by TestMain
	err      error
}

// goTask returns the wasm binary of one of goTaskPackages, by base name,
// building them all on first use.
func goTask(tb testing.TB, name string) []byte {
	tb.Helper()
	goTasks.once.Do(buildGoTasks)
	require.NoError(tb, goTasks.err, "building the Go tasks for wasip1")
	bin, ok := goTasks.bins[name]
	require.True(tb, ok, "no Go task %q", name)
	return bin
}

// newGoExecutor is newTestExecutor with the compilation cache that holds
// the Go tasks.
func newGoExecutor(t *testing.T) *Executor {
	goTask(t, "wordcount")
	return newTestExecutor(t, func(c *Config) { c.CacheDir = goTasks.cacheDir })
}

// loadGoTask compiles a Go task into e and returns its ID.
func loadGoTask(t *testing.T, e *Executor, name string) ModuleID {
	t.Helper()
	id, err := e.Compile(context.Background(), goTask(t, name))
	require.NoError(t, err)
	return id
}

// removeGoTasks deletes what buildGoTasks left on disk.
func removeGoTasks() {
	if goTasks.cacheDir != "" {
		_ = os.RemoveAll(goTasks.cacheDir)
	}
}

func buildGoTasks() {
	goTasks.bins, goTasks.cacheDir, goTasks.err = buildAndPrecompile()
}

func buildAndPrecompile() (map[string][]byte, string, error) {
	// The go command on PATH: `go test` puts its own toolchain first.
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "fog-wasm-gotasks-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	cacheDir, err := os.MkdirTemp("", "fog-wasm-cache-")
	if err != nil {
		return nil, "", err
	}
	binDir := filepath.Join(dir, "bin")
	tool := filepath.Join(dir, "precompile")
	version, err := wazeroCacheVersion(filepath.Join(dir, "probe-cache"))
	if err != nil {
		return nil, cacheDir, err
	}

	// Build the tasks and the precompile tool at the same time.
	var wg sync.WaitGroup
	var errTasks, errTool error
	wg.Add(2)
	go func() {
		defer wg.Done()
		args := append([]string{"build", "-trimpath", "-o", binDir + string(filepath.Separator)}, goTaskPackages...)
		errTasks = goCommand(gocmd, []string{"GOOS=wasip1", "GOARCH=wasm"}, args...)
	}()
	go func() {
		defer wg.Done()
		errTool = goCommand(gocmd, nil, "build", "-o", tool,
			"-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version="+version, "./testdata/precompile")
	}()
	wg.Wait()
	if err := errors.Join(errTasks, errTool); err != nil {
		return nil, cacheDir, err
	}

	bins := make(map[string][]byte, len(goTaskPackages))
	files := make([]string, 0, len(goTaskPackages))
	for _, p := range goTaskPackages {
		name := path.Base(p)
		f := filepath.Join(binDir, name)
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, cacheDir, err
		}
		bins[name] = b
		files = append(files, f)
	}
	out, err := exec.Command(tool, append([]string{cacheDir}, files...)...).CombinedOutput()
	if err != nil {
		return nil, cacheDir, &buildError{what: "precompile", err: err, out: string(out)}
	}
	return bins, cacheDir, nil
}

// wazeroCacheVersion returns the version string wazero uses in this binary
// to name its cache directories ("wazero-VERSION-GOARCH-GOOS").
func wazeroCacheVersion(dir string) (string, error) {
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return "", err
	}
	if err := c.Close(context.Background()); err != nil {
		return "", err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	suffix := "-" + runtime.GOARCH + "-" + runtime.GOOS
	for _, ent := range ents {
		if v, ok := strings.CutPrefix(ent.Name(), "wazero-"); ok && strings.HasSuffix(v, suffix) {
			return strings.TrimSuffix(v, suffix), nil
		}
	}
	return "", errors.New("wazero created no versioned cache directory")
}

// goCommand runs the go command with extra environment variables; CGO and
// GOFLAGS (which may carry -race) are cleared.
func goCommand(gocmd string, env []string, args ...string) error {
	cmd := exec.Command(gocmd, args...)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS="), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return &buildError{what: "go " + args[0], err: err, out: string(out)}
	}
	return nil
}

type buildError struct {
	what string
	err  error
	out  string
}

func (e *buildError) Error() string { return e.what + ": " + e.err.Error() + "\n" + e.out }

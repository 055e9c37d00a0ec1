package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInspectModule(t *testing.T) {
	tests := []struct {
		file      string
		minPages  uint32
		hasMemory bool
		nonFunc   int
	}{
		{"minimal", 1, true, 0},
		{"bigmin", 300, true, 0},
		{"importmem", 0, false, 1},
		{"badimport", 1, true, 0},
		{"clockrand", 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			info, err := inspectModule(readTestdata(t, tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.minPages, info.minPages)
			assert.Equal(t, tt.hasMemory, info.hasMemory)
			assert.Equal(t, tt.nonFunc, info.nonFuncImports)
		})
	}

	// One import of each kind (function, table, memory, global), and a
	// memory with a maximum.
	bin := []byte("\x00asm\x01\x00\x00\x00")
	bin = append(bin, 2, 30, 4,
		1, 'a', 1, 'f', 0, 0,
		1, 'a', 1, 't', 1, 0x70, 0, 1,
		1, 'a', 1, 'm', 2, 1, 1, 2,
		1, 'a', 1, 'g', 3, 0x7f, 0)
	bin = append(bin, 5, 4, 1, 1, 7, 9)
	info, err := inspectModule(bin)
	require.NoError(t, err)
	assert.Equal(t, moduleInfo{minPages: 7, hasMemory: true, nonFuncImports: 3}, info)
}

func TestInspectModuleRejectsMalformed(t *testing.T) {
	minimal := readTestdata(t, "minimal")
	tests := map[string][]byte{
		"empty":             nil,
		"short":             []byte("\x00asm"),
		"bad magic":         []byte("\x00asn\x01\x00\x00\x00"),
		"section overruns":  append([]byte("\x00asm\x01\x00\x00\x00"), 5, 10, 1),
		"memory truncated":  append([]byte("\x00asm\x01\x00\x00\x00"), 5, 2, 1, 0),
		"u32 overflow":      append([]byte("\x00asm\x01\x00\x00\x00"), 5, 7, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x7f),
		"memory64 flag":     append([]byte("\x00asm\x01\x00\x00\x00"), 5, 3, 1, 4, 1),
		"import kind":       append([]byte("\x00asm\x01\x00\x00\x00"), 2, 5, 1, 1, 'a', 1, 'b', 9),
		"truncated minimal": minimal[:len(minimal)-3],
	}
	for name, bin := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := inspectModule(bin)
			require.ErrorIs(t, err, errMalformed)
		})
	}
}

// FuzzInspectModule feeds arbitrary bytes to the module inspector, which
// reads binaries received from the network. It must never panic, and must
// agree with itself on the bytes it accepts.
func FuzzInspectModule(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	require.NoError(f, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, bin []byte) {
		info, err := inspectModule(bin)
		if err != nil {
			if !strings.Contains(err.Error(), errMalformed.Error()) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		again, err := inspectModule(bin)
		if err != nil || again != info {
			t.Fatalf("not deterministic: %+v %+v %v", info, again, err)
		}
		if !info.hasMemory && info.minPages != 0 {
			t.Fatalf("min pages without memory: %+v", info)
		}
	})
}

// FuzzCompile feeds arbitrary bytes to Executor.Compile, as a peer could:
// it must never panic, and every failure must be one a caller can branch on.
func FuzzCompile(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	require.NoError(f, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
	cfg := TestConfig()
	cfg.MaxCompiledModules = 1
	e, err := New(context.Background(), cfg)
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, e.Close()) })
	f.Fuzz(func(t *testing.T, bin []byte) {
		id, err := e.Compile(context.Background(), bin)
		if err != nil {
			if !errors.Is(err, ErrInvalidModule) && !errors.Is(err, ErrMemoryLimit) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if id != IDOf(bin) {
			t.Fatal("wrong ID")
		}
	})
}

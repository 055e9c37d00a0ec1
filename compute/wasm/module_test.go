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

// Modules that declare vectors far longer than their bytes are refused
// before wazero decodes them: its decoder allocates at the declared length
// first, and one such module (the data section's, found by FuzzCompile)
// ended the process out of memory.
func TestCompileRefusesHugeLengths(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // 2³² − 1
	section := func(id byte, content ...[]byte) []byte {
		var c []byte
		for _, p := range content {
			c = append(c, p...)
		}
		require.Less(t, len(c), 128)
		return append([]byte{id, byte(len(c))}, c...)
	}
	b := func(x ...byte) []byte { return x }
	module := func(sections ...[]byte) []byte {
		bin := []byte("\x00asm\x01\x00\x00\x00")
		for _, s := range sections {
			bin = append(bin, s...)
		}
		return bin
	}
	tests := map[string][]byte{
		"data segments":        module(section(11, huge)),
		"data bytes":           module(section(11, b(1, 1), huge)),
		"types":                module(section(1, huge)),
		"type parameters":      module(section(1, b(1, 0x60), huge)),
		"imports":              module(section(2, huge)),
		"import name":          module(section(2, b(1), huge)),
		"functions":            module(section(3, huge)),
		"tables":               module(section(4, huge)),
		"table elements":       module(section(4, b(1, 0x70, 0, 0x80, 0x80, 0x80, 0x01))),
		"memories":             module(section(5, huge)),
		"globals":              module(section(6, huge)),
		"exports":              module(section(7, huge)),
		"export name":          module(section(7, b(1), huge)),
		"element segments":     module(section(9, huge)),
		"element functions":    module(section(9, b(1, 0, 0x41, 0, 0x0b), huge)),
		"element expressions":  module(section(9, b(1, 5, 0x70), huge)),
		"code entries":         module(section(10, huge)),
		"code body":            module(section(10, b(1), huge)),
		"locals":               module(section(10, b(1, 6, 1), huge, b(0x7f))),
		"locals over 50,000":   module(section(10, b(1, 10, 2, 0xb0, 0xea, 0x01, 0x7f, 0xb0, 0xea, 0x01, 0x7f, 0x0b))),
		"local declarations":   module(section(10, b(1, 6), huge)),
		"tags":                 module(section(13, huge)),
		"custom section name":  module(section(0, huge)),
		"module name":          module(section(0, b(4), []byte("name"), b(0, 5), huge)),
		"function names":       module(section(0, b(4), []byte("name"), b(1, 5), huge)),
		"local names":          module(section(0, b(4), []byte("name"), b(2, 6, 1, 0), huge)),
		"local names' entries": module(section(0, b(4), []byte("name"), b(2, 7, 1, 0, 1, 0), huge)),
	}
	e, err := New(context.Background(), TestConfig())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	for name, bin := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := inspectModule(bin)
			require.ErrorIs(t, err, errMalformed)
			_, err = e.Compile(context.Background(), bin)
			require.ErrorIs(t, err, ErrInvalidModule)
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

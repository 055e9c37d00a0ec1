package runner_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleTasks() []runner.Task {
	var id wasm.ModuleID
	copy(id[:], "0123456789abcdef0123456789abcdef")
	return []runner.Task{
		{Spec: wasm.Spec{Module: id}},
		{
			Spec: wasm.Spec{
				Module: id, Args: []string{"prog", "", "a b"}, Env: map[string]string{"B": "2", "A": "", "Z": "z=z"},
				Stdin:   []byte("input"),
				Limits:  wasm.Limits{MemoryPages: 65536, WallTime: 90 * time.Minute, OutputBytes: 1 << 40},
				Scratch: true, Clock: true, Random: true,
			},
			Code: []byte("\x00asm\x01\x00\x00\x00"),
		},
	}
}

func sampleResults() []wasm.Result {
	return []wasm.Result{
		{},
		{ExitCode: 4294967295, Stdout: []byte("out"), Stderr: []byte("err"), Truncated: true, NonDeterministic: true,
			Usage: wasm.Usage{Wall: 1500 * time.Millisecond, PeakMemoryBytes: 1 << 32}, Err: "wasm error: unreachable"},
	}
}

func TestTaskRoundTrip(t *testing.T) {
	for _, task := range sampleTasks() {
		b, err := runner.EncodeTask(task)
		require.NoError(t, err)
		got, err := runner.DecodeTask(b)
		require.NoError(t, err)
		assert.Equal(t, task, got)
		again, err := runner.EncodeTask(got)
		require.NoError(t, err)
		assert.Equal(t, b, again, "one encoding per task")
	}
	_, err := runner.EncodeTask(runner.Task{Spec: wasm.Spec{Limits: wasm.Limits{WallTime: -1}}})
	assert.Error(t, err)
}

func TestResultRoundTrip(t *testing.T) {
	for _, r := range sampleResults() {
		b := runner.EncodeResult(r)
		got, err := runner.DecodeResult(b)
		require.NoError(t, err)
		assert.Equal(t, r, got)
		assert.Equal(t, b, runner.EncodeResult(got))
	}
}

func TestDecodeRejects(t *testing.T) {
	task, err := runner.EncodeTask(sampleTasks()[1])
	require.NoError(t, err)
	minimal, err := runner.EncodeTask(sampleTasks()[0])
	require.NoError(t, err)
	// minimal: version, flags, 32-byte module, then limits 0 0 0, args 0,
	// env 0, stdin 0.
	require.Len(t, minimal, 2+32+6)
	withEnv := func(k1, k2 string) []byte {
		b := slices.Clone(minimal[:2+32+4]) // through the args count
		b = append(b, 2, byte(len(k1)))
		b = append(b, k1...)
		b = append(b, 0, byte(len(k2)))
		b = append(b, k2...)
		return append(b, 0, 0)
	}
	require.NoError(t, decodeErr(withEnv("A", "B")), "the helper builds a valid task")
	res := runner.EncodeResult(sampleResults()[1])
	for name, b := range map[string][]byte{
		"empty":            nil,
		"short":            minimal[:33],
		"version":          append([]byte{2}, minimal[1:]...),
		"flags":            slices.Concat(minimal[:1], []byte{0x10}, minimal[2:]),
		"trailing":         append(slices.Clone(task), 0),
		"truncated":        task[:len(task)-1],
		"non-minimal":      slices.Concat(minimal[:34], []byte{0x80, 0x00}, minimal[35:]),
		"env order":        withEnv("B", "A"),
		"env duplicate":    withEnv("A", "A"),
		"args count":       slices.Concat(minimal[:37], []byte{0xff, 0xff, 0x03}, minimal[38:]),
		"empty code":       slices.Concat(minimal[:1], []byte{8}, minimal[2:], []byte{0}),
		"pages > 32 bits":  slices.Concat(minimal[:34], []byte{0x80, 0x80, 0x80, 0x80, 0x10}, minimal[35:]),
		"wall > 63 bits":   slices.Concat(minimal[:35], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, minimal[36:]),
		"result truncated": res[:len(res)-1],
	} {
		t.Run(name, func(t *testing.T) {
			if name == "result truncated" {
				_, err := runner.DecodeResult(b)
				require.ErrorIs(t, err, runner.ErrMalformed)
				return
			}
			require.ErrorIs(t, decodeErr(b), runner.ErrMalformed)
		})
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{0}, res[1:]...),
		"flags":     slices.Concat(res[:1], []byte{4}, res[2:]),
		"exit code": {1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0, 0},
		"trailing":  append(slices.Clone(res), 1),
	} {
		_, err := runner.DecodeResult(b)
		assert.ErrorIs(t, err, runner.ErrMalformed, "result: "+name)
	}
}

func decodeErr(b []byte) error {
	_, err := runner.DecodeTask(b)
	return err
}

// FuzzDecodeTask: the task decoder takes input from the network. It must
// never panic, and what it accepts must have exactly one encoding: the
// bytes it was given.
func FuzzDecodeTask(f *testing.F) {
	for _, task := range sampleTasks() {
		b, err := runner.EncodeTask(task)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		task, err := runner.DecodeTask(b)
		if err != nil {
			return
		}
		again, err := runner.EncodeTask(task)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x (%v)", b, again, err)
		}
	})
}

// FuzzDecodeResult: as FuzzDecodeTask, for results (which come back from
// providers over the network).
func FuzzDecodeResult(f *testing.F) {
	for _, r := range sampleResults() {
		f.Add(runner.EncodeResult(r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := runner.DecodeResult(b)
		if err != nil {
			return
		}
		if again := runner.EncodeResult(r); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, again)
		}
	})
}

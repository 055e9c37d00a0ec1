package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/binenc"
)

// ErrMalformed is returned (wrapped) by DecodeTask and DecodeResult for
// bytes that are not a valid encoding.
var ErrMalformed = errors.New("runner: malformed encoding")

// Task is what a job's payload holds: the task to run and, optionally, its
// module's code (so that a node that does not have the module yet can load
// it; Code must hash to Spec.Module).
type Task struct {
	// Spec is the task; Spec.Module names its module.
	Spec wasm.Spec
	// Code is the module's binary, or empty if the node is expected to
	// have it or to fetch it (Config.Modules).
	Code []byte
}

// taskVersion is the first byte of an encoded Task.
const taskVersion = 1

// Task flags.
const (
	taskScratch = 1 << iota
	taskClock
	taskRandom
	taskCode
	taskFlags = taskScratch | taskClock | taskRandom | taskCode
)

// The encoding of a Task (version 1) is:
//
//	version      byte (1)
//	flags        byte: 1 scratch, 2 clock, 4 random, 8 code follows
//	module       32 bytes
//	memory pages, wall time (ns), output bytes   uvarint (0: executor default)
//	args         uvarint count, then each: uvarint length, bytes
//	env          uvarint count, then each: key, value (as args), keys
//	             strictly ascending
//	stdin        uvarint length, bytes
//	code         uvarint length (at least 1), bytes, if flag 8
//
// Every uvarint is minimal, and nothing follows the last field: each Task
// has exactly one encoding, and DecodeTask accepts only that one.

// EncodeTask returns the encoding of t. It fails only for a Spec that
// cannot be encoded: negative limits.
func EncodeTask(t Task) ([]byte, error) {
	s := &t.Spec
	if s.Limits.WallTime < 0 || s.Limits.OutputBytes < 0 {
		return nil, fmt.Errorf("runner: encode task: negative limit (wall time %v, output %d)", s.Limits.WallTime, s.Limits.OutputBytes)
	}
	var flags byte
	for _, f := range [...]struct {
		on  bool
		bit byte
	}{{s.Scratch, taskScratch}, {s.Clock, taskClock}, {s.Random, taskRandom}, {len(t.Code) > 0, taskCode}} {
		if f.on {
			flags |= f.bit
		}
	}
	n := 2 + len(s.Module) + 3*binary.MaxVarintLen64 + binary.MaxVarintLen64*(2+len(s.Args)+2*len(s.Env)) + len(s.Stdin) + len(t.Code)
	for _, a := range s.Args {
		n += len(a)
	}
	for k, v := range s.Env {
		n += len(k) + len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, taskVersion, flags)
	b = append(b, s.Module[:]...)
	b = binary.AppendUvarint(b, uint64(s.Limits.MemoryPages))
	b = binary.AppendUvarint(b, uint64(s.Limits.WallTime))
	b = binary.AppendUvarint(b, uint64(s.Limits.OutputBytes))
	b = binary.AppendUvarint(b, uint64(len(s.Args)))
	for _, a := range s.Args {
		b = binenc.AppendString(b, a)
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binenc.AppendString(b, k)
		b = binenc.AppendString(b, s.Env[k])
	}
	b = binenc.AppendBytes(b, s.Stdin)
	if len(t.Code) > 0 {
		b = binenc.AppendBytes(b, t.Code)
	}
	return b, nil
}

// DecodeTask decodes an encoded Task. It never panics, and allocates at
// most in proportion to len(b). Stdin and Code alias b.
func DecodeTask(b []byte) (Task, error) {
	var t Task
	if len(b) < 2+len(t.Spec.Module) {
		return t, fmt.Errorf("%w: task of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != taskVersion {
		return t, fmt.Errorf("%w: task version %d", ErrMalformed, b[0])
	}
	flags := b[1]
	if flags&^taskFlags != 0 {
		return t, fmt.Errorf("%w: task flags %#x", ErrMalformed, flags)
	}
	s := &t.Spec
	s.Scratch = flags&taskScratch != 0
	s.Clock = flags&taskClock != 0
	s.Random = flags&taskRandom != 0
	copy(s.Module[:], b[2:])
	d := binenc.NewReader(b, ErrMalformed)
	d.Skip(2 + len(s.Module))
	s.Limits.MemoryPages = d.Uint32("memory pages")
	s.Limits.WallTime = time.Duration(d.Int63("wall time"))
	s.Limits.OutputBytes = d.Int63("output bytes")
	if n := d.Count(); n > 0 {
		s.Args = make([]string, n)
		for i := range s.Args {
			s.Args[i] = string(d.Bytes())
		}
	}
	if n := d.Count(); n > 0 {
		s.Env = make(map[string]string, n)
		prev := ""
		for i := range n {
			k := string(d.Bytes())
			if i > 0 && k <= prev {
				d.Fail("env keys not strictly ascending")
			}
			s.Env[k] = string(d.Bytes())
			prev = k
		}
	}
	s.Stdin = d.Bytes()
	if flags&taskCode != 0 {
		t.Code = d.Bytes()
		if d.Err() == nil && len(t.Code) == 0 {
			d.Fail("empty code")
		}
	}
	d.End()
	if d.Err() != nil {
		return Task{}, d.Err()
	}
	return t, nil
}

// resultVersion is the first byte of an encoded result.
const resultVersion = 1

const (
	resultTruncated = 1 << iota
	resultNonDeterministic
	resultFlags = resultTruncated | resultNonDeterministic
)

// The encoding of a wasm.Result (version 1) is:
//
//	version   byte (1)
//	flags     byte: 1 truncated, 2 non-deterministic
//	exit code, wall time (ns), peak memory bytes   uvarint
//	stdout, stderr, err   uvarint length, bytes
//
// with the same rules as a Task's: minimal uvarints, nothing after the
// last field.

// EncodeResult returns the encoding of r. A negative wall time is stored
// as 0.
func EncodeResult(r wasm.Result) []byte {
	b := make([]byte, 0, 2+6*binary.MaxVarintLen64+len(r.Stdout)+len(r.Stderr)+len(r.Err))
	var flags byte
	if r.Truncated {
		flags |= resultTruncated
	}
	if r.NonDeterministic {
		flags |= resultNonDeterministic
	}
	b = append(b, resultVersion, flags)
	b = binary.AppendUvarint(b, uint64(r.ExitCode))
	b = binary.AppendUvarint(b, uint64(max(r.Usage.Wall, 0)))
	b = binary.AppendUvarint(b, r.Usage.PeakMemoryBytes)
	b = binenc.AppendBytes(b, r.Stdout)
	b = binenc.AppendBytes(b, r.Stderr)
	return binenc.AppendString(b, r.Err)
}

// DecodeResult decodes an encoded result. It never panics; Stdout and
// Stderr alias b.
func DecodeResult(b []byte) (wasm.Result, error) {
	var r wasm.Result
	if len(b) < 2 {
		return r, fmt.Errorf("%w: result of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != resultVersion {
		return r, fmt.Errorf("%w: result version %d", ErrMalformed, b[0])
	}
	if b[1]&^resultFlags != 0 {
		return r, fmt.Errorf("%w: result flags %#x", ErrMalformed, b[1])
	}
	r.Truncated = b[1]&resultTruncated != 0
	r.NonDeterministic = b[1]&resultNonDeterministic != 0
	d := binenc.NewReader(b, ErrMalformed)
	d.Skip(2)
	r.ExitCode = d.Uint32("exit code")
	r.Usage.Wall = time.Duration(d.Int63("wall time"))
	r.Usage.PeakMemoryBytes = d.Uvarint()
	r.Stdout = d.Bytes()
	r.Stderr = d.Bytes()
	r.Err = string(d.Bytes())
	d.End()
	if d.Err() != nil {
		return wasm.Result{}, d.Err()
	}
	return r, nil
}

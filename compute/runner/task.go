package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/fog-compute/fog/compute/wasm"
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
		b = appendString(b, a)
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, s.Env[k])
	}
	b = binary.AppendUvarint(b, uint64(len(s.Stdin)))
	b = append(b, s.Stdin...)
	if len(t.Code) > 0 {
		b = binary.AppendUvarint(b, uint64(len(t.Code)))
		b = append(b, t.Code...)
	}
	return b, nil
}

// DecodeTask decodes an encoded Task. It never panics, and allocates at
// most in proportion to len(b). Stdin and Code alias b.
func DecodeTask(b []byte) (Task, error) {
	var t Task
	d := reader{b: b}
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
	d.off = 2 + len(s.Module)
	pages := d.uvarint()
	if pages > math.MaxUint32 {
		d.fail("memory pages exceed 32 bits")
	}
	s.Limits.MemoryPages = uint32(pages)
	s.Limits.WallTime = time.Duration(d.int63("wall time"))
	s.Limits.OutputBytes = d.int63("output bytes")
	if n := d.count(); n > 0 {
		s.Args = make([]string, n)
		for i := range s.Args {
			s.Args[i] = string(d.bytes())
		}
	}
	if n := d.count(); n > 0 {
		s.Env = make(map[string]string, n)
		prev := ""
		for i := range n {
			k := string(d.bytes())
			if i > 0 && k <= prev {
				d.fail("env keys not strictly ascending")
			}
			s.Env[k] = string(d.bytes())
			prev = k
		}
	}
	s.Stdin = d.bytes()
	if flags&taskCode != 0 {
		t.Code = d.bytes()
		if d.err == nil && len(t.Code) == 0 {
			d.fail("empty code")
		}
	}
	if d.err == nil && d.off != len(b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Task{}, d.err
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
	b = binary.AppendUvarint(b, uint64(len(r.Stdout)))
	b = append(b, r.Stdout...)
	b = binary.AppendUvarint(b, uint64(len(r.Stderr)))
	b = append(b, r.Stderr...)
	return appendString(b, r.Err)
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
	d := reader{b: b, off: 2}
	code := d.uvarint()
	if code > math.MaxUint32 {
		d.fail("exit code exceeds 32 bits")
	}
	r.ExitCode = uint32(code)
	r.Usage.Wall = time.Duration(d.int63("wall time"))
	r.Usage.PeakMemoryBytes = d.uvarint()
	r.Stdout = d.bytes()
	r.Stderr = d.bytes()
	r.Err = string(d.bytes())
	if d.err == nil && d.off != len(b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return wasm.Result{}, d.err
	}
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes the primitives of the encodings; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

func (d *reader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrMalformed, what, d.off)
	}
}

// uvarint reads a minimal unsigned varint.
func (d *reader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	if n > 1 && d.b[d.off+n-1] == 0 {
		d.fail("uvarint not minimal")
		return 0
	}
	d.off += n
	return v
}

func (d *reader) int63(what string) int64 {
	v := d.uvarint()
	if v > math.MaxInt64 {
		d.fail(what + " exceeds 63 bits")
		return 0
	}
	return int64(v)
}

// count reads a number of elements, each of which takes at least one more
// byte, so that a count cannot make the decoder allocate more than the
// input justifies.
func (d *reader) count() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)-d.off) {
		d.fail("count exceeds the remaining bytes")
		return 0
	}
	return int(n)
}

// bytes reads a length-prefixed byte string, aliasing the input; an empty
// one is nil.
func (d *reader) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length overruns the input")
		return nil
	}
	if n == 0 {
		return nil
	}
	s := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return s
}

package wasm

import (
	"errors"
	"fmt"
)

// moduleInfo is what the executor needs from a module binary that wazero's
// CompiledModule does not expose: the declared minimum of a memory that is
// not exported, and imports that are not functions.
type moduleInfo struct {
	// minPages is the declared minimum of the module's memory (0 if none).
	minPages uint32
	// hasMemory reports a memory section entry.
	hasMemory bool
	// nonFuncImports counts imported tables, memories, globals and tags.
	nonFuncImports int
}

const (
	sectionImport = 2
	sectionMemory = 5
)

var errMalformed = errors.New("malformed module binary")

// inspectModule reads the import and memory sections of a module binary,
// and checks every section's vector lengths against its size (bounds.go)
// before wazero decodes it. Any inconsistency is an error, never a panic.
func inspectModule(bin []byte) (moduleInfo, error) {
	var info moduleInfo
	r := reader{b: bin}
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return info, fmt.Errorf("%w: no wasm header", errMalformed)
	}
	r.off = 8
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return info, err
		}
		size, err := r.u32()
		if err != nil {
			return info, err
		}
		if uint64(size) > uint64(len(r.b)-r.off) {
			return info, fmt.Errorf("%w: section %d overruns the binary", errMalformed, id)
		}
		sec := reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		check := sec
		if err := checkSection(id, &check); err != nil {
			return info, err
		}
		switch id {
		case sectionImport:
			if info.nonFuncImports, err = sec.nonFuncImports(); err != nil {
				return info, err
			}
		case sectionMemory:
			n, err := sec.u32()
			if err != nil {
				return info, err
			}
			if n == 0 {
				continue
			}
			if info.minPages, err = sec.limitsMin(); err != nil {
				return info, err
			}
			info.hasMemory = true
		}
	}
	return info, nil
}

// reader decodes the WebAssembly binary format's primitives.
type reader struct {
	b   []byte
	off int
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, fmt.Errorf("%w: unexpected end", errMalformed)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// u32 reads an unsigned LEB128 number of at most 32 bits.
func (r *reader) u32() (uint32, error) {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift == 28 && c > 0x0f {
			return 0, fmt.Errorf("%w: u32 overflows", errMalformed)
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: u32 too long", errMalformed)
}

func (r *reader) skip(n uint32) error {
	if uint64(n) > uint64(len(r.b)-r.off) {
		return fmt.Errorf("%w: unexpected end", errMalformed)
	}
	r.off += int(n)
	return nil
}

// name skips a length-prefixed name.
func (r *reader) name() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	return r.skip(n)
}

// limitsMin reads a limits type and returns its minimum.
func (r *reader) limitsMin() (uint32, error) {
	flag, err := r.byte()
	if err != nil {
		return 0, err
	}
	if flag > 3 { // bit 0: has max, bit 1: shared; memory64 is not supported
		return 0, fmt.Errorf("%w: limits flag %#x", errMalformed, flag)
	}
	min, err := r.u32()
	if err != nil {
		return 0, err
	}
	if flag&1 != 0 {
		if _, err := r.u32(); err != nil {
			return 0, err
		}
	}
	return min, nil
}

// nonFuncImports walks an import section and counts the imports that are
// not functions.
func (r *reader) nonFuncImports() (int, error) {
	n, err := r.count()
	if err != nil {
		return 0, err
	}
	count := 0
	for i := uint32(0); i < n; i++ {
		if err := r.name(); err != nil { // module
			return 0, err
		}
		if err := r.name(); err != nil { // field
			return 0, err
		}
		kind, err := r.byte()
		if err != nil {
			return 0, err
		}
		switch kind {
		case 0x00: // function: type index
			_, err = r.u32()
		case 0x01: // table: reference type, limits
			if _, err = r.byte(); err == nil {
				_, err = r.limitsMin()
			}
		case 0x02: // memory: limits
			_, err = r.limitsMin()
		case 0x03: // global: value type, mutability
			if _, err = r.byte(); err == nil {
				_, err = r.byte()
			}
		case 0x04: // tag: attribute, type index
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return 0, fmt.Errorf("%w: import kind %#x", errMalformed, kind)
		}
		if err != nil {
			return 0, err
		}
		if kind != 0x00 {
			count++
		}
	}
	return count, nil
}

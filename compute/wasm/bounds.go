package wasm

import "fmt"

// This file walks a module binary's sections before wazero decodes it.
// wazero's decoder (v1.12) allocates every vector at the length the binary
// declares before it reads the elements: a 52-byte module declaring 2³²
// data segments made it ask for 200 GB and the Go runtime end the process
// ("out of memory", which no recover catches). Every element of every
// vector it decodes takes at least one byte of the binary, so a length
// longer than the bytes left in its section is malformed: checkSection
// rejects it before wazero sees it. It follows the sections' grammar
// (WebAssembly 2.0) wherever wazero allocates from a length: the vectors
// of every section, names, function types, element and data segments,
// function locals, and the "name" custom section's maps.

// Section IDs other than those in module.go.
const (
	sectionCustom    = 0
	sectionType      = 1
	sectionFunction  = 3
	sectionTable     = 4
	sectionGlobal    = 6
	sectionExport    = 7
	sectionStart     = 8
	sectionElement   = 9
	sectionCode      = 10
	sectionData      = 11
	sectionDataCount = 12
	sectionTag       = 13
)

// maxLocals bounds the locals a function declares: wazero allocates one
// byte per local, and the format allows 2³² − 1. 50,000 is the limit
// browsers' engines apply.
const maxLocals = 50000

// maxTableElements bounds a table's declared minimum: wazero allocates it
// whole when a task starts (up to 2²⁷ elements, gigabytes), outside the
// task's memory limit. Compilers' tables hold one element per function
// called indirectly: thousands.
const maxTableElements = 1 << 20

// checkSection checks the content of one section (sec, positioned at its
// start and ending with it).
func checkSection(id byte, sec *reader) error {
	var err error
	switch id {
	case sectionCustom:
		err = sec.customSection()
	case sectionType:
		err = sec.vec(func(r *reader) error {
			if form, err := r.byte(); err != nil {
				return err
			} else if form != 0x60 {
				return fmt.Errorf("%w: function type form %#x", errMalformed, form)
			}
			if err := r.bytesVec(); err != nil { // parameters: one byte each
				return err
			}
			return r.bytesVec() // results
		})
	case sectionImport:
		_, err = sec.nonFuncImports()
	case sectionFunction:
		err = sec.vec(func(r *reader) error { _, err := r.u32(); return err })
	case sectionTable:
		err = sec.vec(func(r *reader) error {
			if _, err := r.byte(); err != nil { // reference type
				return err
			}
			min, err := r.limitsMin()
			if err == nil && min > maxTableElements {
				err = fmt.Errorf("%w: a table of at least %d elements (at most %d)", errMalformed, min, maxTableElements)
			}
			return err
		})
	case sectionMemory:
		err = sec.vec(func(r *reader) error { _, err := r.limitsMin(); return err })
	case sectionGlobal:
		err = sec.vec(func(r *reader) error {
			if _, err := r.byte(); err != nil { // value type
				return err
			}
			if _, err := r.byte(); err != nil { // mutability
				return err
			}
			return r.constExpr()
		})
	case sectionExport:
		err = sec.vec(func(r *reader) error {
			if err := r.name(); err != nil {
				return err
			}
			if _, err := r.byte(); err != nil { // kind
				return err
			}
			_, err := r.u32()
			return err
		})
	case sectionStart, sectionDataCount:
		_, err = sec.u32()
	case sectionElement:
		err = sec.vec((*reader).elemSegment)
	case sectionCode:
		err = sec.vec((*reader).code)
	case sectionData:
		err = sec.vec((*reader).dataSegment)
	case sectionTag:
		err = sec.vec(func(r *reader) error {
			if _, err := r.byte(); err != nil { // attribute
				return err
			}
			_, err := r.u32()
			return err
		})
	default:
		return fmt.Errorf("%w: unknown section %d", errMalformed, id)
	}
	if err != nil {
		return fmt.Errorf("section %d: %w", id, err)
	}
	if sec.off != len(sec.b) {
		return fmt.Errorf("%w: section %d has %d bytes after its content", errMalformed, id, len(sec.b)-sec.off)
	}
	return nil
}

// count reads a vector's length and rejects one longer than the bytes
// left: each element takes at least one.
func (r *reader) count() (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		return 0, fmt.Errorf("%w: a vector of %d elements in %d bytes", errMalformed, n, len(r.b)-r.off)
	}
	return n, nil
}

// vec reads a vector whose elements elem reads.
func (r *reader) vec(elem func(*reader) error) error {
	n, err := r.count()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if err := elem(r); err != nil {
			return err
		}
	}
	return nil
}

// bytesVec skips a vector of bytes.
func (r *reader) bytesVec() error {
	n, err := r.count()
	if err != nil {
		return err
	}
	return r.skip(n)
}

// sub returns a reader of the next n bytes and moves r past them.
func (r *reader) sub(n uint32) (reader, error) {
	if uint64(n) > uint64(len(r.b)-r.off) {
		return reader{}, fmt.Errorf("%w: %d bytes declared, %d left", errMalformed, n, len(r.b)-r.off)
	}
	s := reader{b: r.b[:r.off+int(n)], off: r.off}
	r.off += int(n)
	return s, nil
}

// constExpr skips a constant expression up to its end opcode.
func (r *reader) constExpr() error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b: // end
			return nil
		case 0x41, 0x42, 0x23, 0xd2: // i32.const, i64.const (signed LEB128), global.get, ref.func
			err = r.leb()
		case 0x43: // f32.const
			err = r.skip(4)
		case 0x44: // f64.const
			err = r.skip(8)
		case 0xd0: // ref.null heap type
			err = r.leb()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		case 0xfd: // v128.const
			var sub uint32
			if sub, err = r.u32(); err == nil && sub != 12 {
				err = fmt.Errorf("%w: vector opcode %d in a constant expression", errMalformed, sub)
			}
			if err == nil {
				err = r.skip(16)
			}
		default:
			return fmt.Errorf("%w: opcode %#x in a constant expression", errMalformed, op)
		}
		if err != nil {
			return err
		}
	}
}

// leb skips a LEB128 number of at most 64 bits (10 bytes).
func (r *reader) leb() error {
	for i := 0; i < 10; i++ {
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c&0x80 == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: LEB128 too long", errMalformed)
}

// elemSegment skips an element segment of any of its eight encodings.
func (r *reader) elemSegment() error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return fmt.Errorf("%w: element segment flags %d", errMalformed, flags)
	}
	if flags&2 != 0 && flags&1 == 0 { // an explicit table index
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	if flags&1 == 0 { // active: the offset
		if err := r.constExpr(); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // an element kind or reference type
		if _, err := r.byte(); err != nil {
			return err
		}
	}
	if flags&4 == 0 { // function indices
		return r.vec(func(r *reader) error { _, err := r.u32(); return err })
	}
	return r.vec((*reader).constExpr)
}

// dataSegment skips a data segment.
func (r *reader) dataSegment() error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	switch flags {
	case 0:
		err = r.constExpr()
	case 1:
	case 2:
		if _, err = r.u32(); err == nil { // memory index
			err = r.constExpr()
		}
	default:
		return fmt.Errorf("%w: data segment flags %d", errMalformed, flags)
	}
	if err != nil {
		return err
	}
	return r.bytesVec()
}

// code checks a function body's locals and skips its instructions.
func (r *reader) code() error {
	size, err := r.u32()
	if err != nil {
		return err
	}
	body, err := r.sub(size)
	if err != nil {
		return err
	}
	var locals uint64
	err = body.vec(func(b *reader) error {
		n, err := b.u32()
		if err != nil {
			return err
		}
		if locals += uint64(n); locals > maxLocals {
			return fmt.Errorf("%w: a function with more than %d locals", errMalformed, maxLocals)
		}
		t, err := b.byte()
		if err == nil && (t == 0x63 || t == 0x64) { // a typed reference: its heap type
			err = b.leb()
		}
		return err
	})
	return err
}

// customSection checks a custom section's name and, in the "name"
// section, the maps wazero decodes.
func (r *reader) customSection() error {
	n, err := r.count()
	if err != nil {
		return err
	}
	name := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	if name != "name" {
		r.off = len(r.b)
		return nil
	}
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		sub, err := r.sub(size)
		if err != nil {
			return err
		}
		switch id {
		case 0: // the module's name
			err = sub.name()
		case 1: // function names: a name map
			err = sub.vec(nameAssoc)
		case 2: // local names: an indirect name map
			err = sub.vec(func(s *reader) error {
				if _, err := s.u32(); err != nil {
					return err
				}
				return s.vec(nameAssoc)
			})
		default: // later subsections: skipped as a whole
			sub.off = len(sub.b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// nameAssoc skips an index and its name.
func nameAssoc(r *reader) error {
	if _, err := r.u32(); err != nil {
		return err
	}
	return r.name()
}

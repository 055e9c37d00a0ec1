package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// ErrBadPin is wrapped by DecodePin's errors.
var ErrBadPin = errors.New("files: malformed pin record")

// MaxNameLen bounds a pinned file's name.
const MaxNameLen = 255

// maxPinLen bounds an encoded pin record.
const maxPinLen = 1024

// Pin is a file this node keeps: the root of its DAG pinned recursively,
// so that garbage collection spares every block under it.
type Pin struct {
	// Root is the file's CID.
	Root cid.Cid `json:"root"`
	// Name is the file's base name when it was shared or fetched, for
	// listings ("" when unknown).
	Name string `json:"name,omitempty"`
	// Size is the file's size in bytes, as its root declares it (0 until
	// a get has the root).
	Size int64 `json:"size"`
	// Complete reports whether every block of the file is stored; a get
	// pins a file from its start, so that what arrived survives a
	// collection and a restart resumes from it.
	Complete bool `json:"complete"`
	// Added is when it was pinned.
	Added time.Time `json:"added"`
}

// Marshal encodes p as stored.
func (p Pin) Marshal() []byte {
	b, _ := json.Marshal(p) // a struct of plain fields always encodes
	return b
}

// DecodePin decodes a stored pin record, checking that it names root.
func DecodePin(root cid.Cid, data []byte) (Pin, error) {
	if len(data) > maxPinLen {
		return Pin{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBadPin, len(data), maxPinLen)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var p Pin
	if err := d.Decode(&p); err != nil {
		return Pin{}, fmt.Errorf("%w: %v", ErrBadPin, err)
	}
	if d.More() {
		return Pin{}, fmt.Errorf("%w: trailing data", ErrBadPin)
	}
	switch {
	case !p.Root.Defined() || !p.Root.Equals(root):
		return Pin{}, fmt.Errorf("%w: root %s, want %s", ErrBadPin, p.Root, root)
	case p.Size < 0:
		return Pin{}, fmt.Errorf("%w: size %d", ErrBadPin, p.Size)
	}
	if err := checkName(p.Name); err != nil {
		return Pin{}, fmt.Errorf("%w: %v", ErrBadPin, err)
	}
	return p, nil
}

// checkName accepts "" or a base name of valid UTF-8 without control
// characters or path separators.
func checkName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("name of %d bytes, limit %d", len(name), MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return errors.New("name is not UTF-8")
	}
	if name == "." || name == ".." {
		return fmt.Errorf("name %q", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return fmt.Errorf("name %q has a control character or separator", name)
		}
	}
	return nil
}

package blob

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/p2p"
)

// Protocol is the blob protocol, /fog/blob/1.0.0.
//
// One stream carries one request. The client writes a Request (RequestLen
// bytes) and closes its side; the server answers with a Header (HeaderLen
// bytes) and, if the status is StatusFound, exactly Header.Length bytes of
// the module, then closes the stream. Nothing else is sent. Integers are
// big-endian. The module's bytes are streamed in chunks and hashed as they
// arrive; the client keeps them only if their SHA-256 is the requested ID.
var Protocol = p2p.MustProtocol("blob", p2p.Version{Major: 1})

// Sizes of the protocol's fixed-length messages.
const (
	// RequestLen is the size of a request: an operation byte and a module
	// ID. It is also the most a server reads from a client.
	RequestLen = 1 + len(wasm.ModuleID{})
	// HeaderLen is the size of a response header: a status byte and a
	// 64-bit length.
	HeaderLen = 1 + 8
)

// opGet is the only operation of version 1.0.0: send me this module.
const opGet = 0x01

// chunkSize is the unit in which a module is read, hashed and written.
const chunkSize = 64 << 10

// Request asks a peer for one module.
type Request struct {
	// ID names the module wanted.
	ID wasm.ModuleID
}

// Marshal encodes r in its RequestLen bytes.
func (r Request) Marshal() []byte {
	b := make([]byte, RequestLen)
	b[0] = opGet
	copy(b[1:], r.ID[:])
	return b
}

// DecodeRequest decodes a request, rejecting anything but exactly
// RequestLen bytes starting with the get operation.
func DecodeRequest(b []byte) (Request, error) {
	if len(b) != RequestLen {
		return Request{}, fmt.Errorf("%w: request of %d bytes, want %d", ErrMalformed, len(b), RequestLen)
	}
	if b[0] != opGet {
		return Request{}, fmt.Errorf("%w: request operation %#x", ErrMalformed, b[0])
	}
	var r Request
	copy(r.ID[:], b[1:])
	return r, nil
}

// Status is a server's answer to a request.
type Status uint8

// The statuses of a response header. Zero is not a status, so an all-zero
// header is malformed.
const (
	// StatusFound: the module follows, Header.Length bytes.
	StatusFound Status = 1
	// StatusNotFound: the server does not hold the module.
	StatusNotFound Status = 2
	// StatusBusy: the server serves as many streams as its limits allow;
	// ask another peer or later.
	StatusBusy Status = 3
)

// String names the status.
func (s Status) String() string {
	switch s {
	case StatusFound:
		return "found"
	case StatusNotFound:
		return "not found"
	case StatusBusy:
		return "busy"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Header is a server's response header.
type Header struct {
	// Status is the answer.
	Status Status
	// Length is the module's size when Status is StatusFound, else 0. It is
	// at most MaxModuleLimit.
	Length uint64
}

// Marshal encodes h in its HeaderLen bytes.
func (h Header) Marshal() []byte {
	b := make([]byte, HeaderLen)
	b[0] = byte(h.Status)
	binary.BigEndian.PutUint64(b[1:], h.Length)
	return b
}

// DecodeHeader decodes a response header, rejecting anything but exactly
// HeaderLen bytes with a known status, a zero length unless the module was
// found, and a length of at most MaxModuleLimit.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) != HeaderLen {
		return Header{}, fmt.Errorf("%w: header of %d bytes, want %d", ErrMalformed, len(b), HeaderLen)
	}
	h := Header{Status: Status(b[0]), Length: binary.BigEndian.Uint64(b[1:])}
	switch h.Status {
	case StatusFound:
		if h.Length > MaxModuleLimit {
			return Header{}, fmt.Errorf("%w: length %d above the protocol's limit %d", ErrMalformed, h.Length, MaxModuleLimit)
		}
	case StatusNotFound, StatusBusy:
		if h.Length != 0 {
			return Header{}, fmt.Errorf("%w: %s with length %d", ErrMalformed, h.Status, h.Length)
		}
	default:
		return Header{}, fmt.Errorf("%w: unknown status %d", ErrMalformed, b[0])
	}
	return h, nil
}

// readResponse reads a server's response to a request for id from r: the
// header, then the module, which it hashes as it arrives and returns only
// if it hashes to id and nothing follows it. It refuses modules longer
// than maxLen before reading them, and grows its buffer with the bytes
// received, not with the length the server claims.
func readResponse(r io.Reader, id wasm.ModuleID, maxLen int64) ([]byte, error) {
	var hb [HeaderLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, fmt.Errorf("blob: read response header: %w", err)
	}
	h, err := DecodeHeader(hb[:])
	if err != nil {
		return nil, err
	}
	switch h.Status {
	case StatusNotFound:
		return nil, ErrNotFound
	case StatusBusy:
		return nil, ErrBusy
	}
	if h.Length > uint64(maxLen) {
		return nil, fmt.Errorf("%w: peer offers %d bytes, the limit is %d", ErrTooLarge, h.Length, maxLen)
	}
	n := int(h.Length)
	buf := make([]byte, 0, min(n, 1<<20))
	sum := sha256.New()
	for len(buf) < n {
		k := min(chunkSize, n-len(buf))
		if len(buf)+k > cap(buf) {
			nb := make([]byte, len(buf), min(n, max(2*cap(buf), len(buf)+k)))
			copy(nb, buf)
			buf = nb
		}
		chunk := buf[len(buf) : len(buf)+k]
		if _, err := io.ReadFull(r, chunk); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("blob: module cut short after %d of %d bytes: %w", len(buf), n, err)
		}
		sum.Write(chunk)
		buf = buf[:len(buf)+k]
	}
	if got := wasm.ModuleID(sum.Sum(nil)); got != id {
		return nil, fmt.Errorf("blob: received %d bytes hashing to %s: %w", n, got, ErrHashMismatch)
	}
	var extra [1]byte
	if k, _ := io.ReadFull(r, extra[:]); k > 0 {
		return nil, fmt.Errorf("%w: bytes after the module", ErrMalformed)
	}
	return buf, nil
}

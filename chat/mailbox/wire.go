package mailbox

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/binenc"
	"github.com/fog-compute/fog/p2p"
)

// Protocol is the mailbox protocol, /fog/mailbox/1.0.0. One stream carries
// one request and its response, each one frame (see the package doc).
var Protocol = p2p.MustProtocol("mailbox", p2p.Version{Major: 1})

// The operations of a request.
const (
	opDeposit byte = 1
	opFetch   byte = 2
	opAck     byte = 3
)

// Field limits of the wire format.
const (
	// maxOwnerLen bounds a marshalled identity public key (an Ed25519 one
	// takes 36 bytes).
	maxOwnerLen = 64
	// maxDay is far beyond any real day and keeps Day arithmetic safe.
	maxDay = 1 << 32
	// maxExpires bounds a deposit's expiry (unix seconds, about the year
	// 36812): far beyond any real one, and safe to turn into a time.
	maxExpires = 1 << 40
)

// request is one request: a deposit (key, id, sealed), a fetch (key, day,
// owner, time, after, sig) or an ack (key, day, owner, time, ids, sig).
type request struct {
	op  byte
	key Key
	// deposit
	id ItemID
	// expires is when the item is to be dropped, in unix seconds: now +
	// TTL for a new item, the copy's own expiry for a handoff, so that a
	// handoff never extends an item's life.
	expires uint64
	sealed  []byte
	// fetch and ack: the proof that the requester owns the mailbox
	day   Day
	owner []byte // the owner's identity public key, libp2p-marshalled
	time  uint64 // unix seconds when the requester signed
	after ItemID // fetch: items with IDs above this one
	ids   []ItemID
	sig   []byte // Ed25519 over authBytes
}

// unsigned encodes every field of r but the signature.
func (r *request) unsigned() []byte {
	b := make([]byte, 0, 64+len(r.sealed)+len(r.owner)+IDLen*len(r.ids))
	b = append(b, r.op)
	b = append(b, r.key[:]...)
	switch r.op {
	case opDeposit:
		b = append(b, r.id[:]...)
		b = binary.AppendUvarint(b, r.expires)
		return binenc.AppendBytes(b, r.sealed)
	}
	b = binary.AppendUvarint(b, uint64(r.day))
	b = binenc.AppendBytes(b, r.owner)
	b = binary.AppendUvarint(b, r.time)
	switch r.op {
	case opFetch:
		b = append(b, r.after[:]...)
	case opAck:
		b = binary.AppendUvarint(b, uint64(len(r.ids)))
		for _, id := range r.ids {
			b = append(b, id[:]...)
		}
	}
	return b
}

// marshal encodes r: the unsigned fields, then the 64-byte signature of
// a fetch or an ack.
func (r *request) marshal() []byte {
	b := r.unsigned()
	if r.op != opDeposit {
		b = append(b, r.sig...)
	}
	return b
}

// authDomain starts the bytes a fetch or an ack signs.
const authDomain = "fog/mailbox/v1 auth"

// authBytes are what the owner signs: the domain, the host the request is
// for (so that no other host can reuse it) and the request's unsigned
// fields.
func (r *request) authBytes(host peer.ID) []byte {
	b := binenc.AppendString([]byte(authDomain), string(host))
	return append(b, r.unsigned()...)
}

// decodeRequest decodes a request, rejecting (with ErrMalformed) every
// byte string that marshal would not produce.
func decodeRequest(b []byte) (request, error) {
	if len(b) > MaxRequestLen {
		return request{}, fmt.Errorf("%w: request of %d bytes, above %d", ErrMalformed, len(b), MaxRequestLen)
	}
	d := binenc.NewReader(b, ErrMalformed)
	var r request
	r.op = d.Byte()
	readFixed(d, b, r.key[:])
	switch r.op {
	case opDeposit:
		readFixed(d, b, r.id[:])
		r.expires = d.Uvarint()
		if d.Err() == nil && (r.expires == 0 || r.expires > maxExpires) {
			d.Fail(fmt.Sprintf("expiry %d out of range", r.expires))
		}
		r.sealed = d.Bytes()
		if d.Err() == nil && (len(r.sealed) < SealOverhead || len(r.sealed) > MaxItemLimit) {
			d.Fail(fmt.Sprintf("sealed item of %d bytes", len(r.sealed)))
		}
		d.End()
		return r, d.Err()
	case opFetch, opAck:
	default:
		if d.Err() == nil {
			return request{}, fmt.Errorf("%w: unknown operation %d", ErrMalformed, r.op)
		}
		return request{}, d.Err()
	}
	day := d.Uvarint()
	if d.Err() == nil && day > maxDay {
		d.Fail("day out of range")
	}
	r.day = Day(day)
	r.owner = d.Bytes()
	if d.Err() == nil && (len(r.owner) == 0 || len(r.owner) > maxOwnerLen) {
		d.Fail(fmt.Sprintf("owner key of %d bytes", len(r.owner)))
	}
	r.time = d.Uvarint()
	if r.op == opFetch {
		readFixed(d, b, r.after[:])
	} else {
		n := d.Count()
		if d.Err() == nil && (n < 1 || n > MaxAckIDs) {
			d.Fail(fmt.Sprintf("%d ids", n))
		}
		if d.Err() == nil {
			r.ids = make([]ItemID, n)
			for i := range r.ids {
				readFixed(d, b, r.ids[i][:])
			}
		}
	}
	if d.Err() == nil && d.Len() != ed25519.SignatureSize {
		d.Fail(fmt.Sprintf("signature of %d bytes", d.Len()))
	}
	r.sig = d.Rest()
	if err := d.Err(); err != nil {
		return request{}, err
	}
	return r, nil
}

// expiresOf is t in a deposit's expiry: unix seconds, rounded down, so
// that the wire never lengthens an item's life.
func expiresOf(t time.Time) uint64 {
	return uint64(max(t.Unix(), 1))
}

// expiryTime is the time of a deposit's expiry.
func expiryTime(expires uint64) time.Time { return time.Unix(int64(expires), 0) }

// readFixed reads len(dst) bytes of in, which d reads, into dst.
func readFixed(d *binenc.Reader, in, dst []byte) {
	if d.Err() == nil && d.Len() >= len(dst) {
		copy(dst, in[len(in)-d.Len():])
	}
	d.Skip(len(dst))
}

// status is a host's answer.
type status byte

// The statuses of a response. Zero is not one, so an empty or zeroed
// response is malformed.
const (
	statusOK        status = 1 // done; a fetch's items follow
	statusMalformed status = 2 // the request broke the wire format
	statusTooLarge  status = 3 // the item is above the host's MaxItemBytes
	statusQuota     status = 4 // the sender holds its quota at the host
	statusFull      status = 5 // the host holds its total
	statusDenied    status = 6 // no proof of owning the mailbox
	statusBusy      status = 7 // the host serves as many streams as it may
	statusExists    status = 8 // another item has this ID
	statusExpired   status = 9 // the item's expiry has passed
	maxStatus              = statusExpired
)

// err returns the sentinel error of a refusal, nil for statusOK.
func (s status) err() error {
	switch s {
	case statusOK:
		return nil
	case statusTooLarge:
		return ErrTooLarge
	case statusQuota:
		return ErrQuota
	case statusFull:
		return ErrFull
	case statusDenied:
		return ErrDenied
	case statusBusy:
		return ErrBusy
	case statusExists:
		return ErrExists
	case statusExpired:
		return ErrExpired
	}
	return fmt.Errorf("%w: the host says our request was malformed", ErrMalformed)
}

// item is one sealed item as a fetch returns it.
type item struct {
	id     ItemID
	sealed []byte
}

// response is a host's answer: a status and, when it is statusOK, the
// items of a fetch (IDs ascending), whether more remain, and the count an
// ack deleted.
type response struct {
	status  status
	more    bool
	items   []item
	deleted uint64
}

// marshal encodes r: the status byte, and if it is statusOK a flags byte
// (1: more), the item count, each item's ID and length-prefixed seal, and
// the deleted count.
func (r *response) marshal() []byte {
	b := []byte{byte(r.status)}
	if r.status != statusOK {
		return b
	}
	var flags byte
	if r.more {
		flags = 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(r.items)))
	for _, it := range r.items {
		b = append(b, it.id[:]...)
		b = binenc.AppendBytes(b, it.sealed)
	}
	return binary.AppendUvarint(b, r.deleted)
}

// decodeResponse decodes a response, rejecting (with ErrMalformed) every
// byte string that marshal would not produce, and item IDs not strictly
// ascending.
func decodeResponse(b []byte) (response, error) {
	if len(b) > MaxResponseLen {
		return response{}, fmt.Errorf("%w: response of %d bytes, above %d", ErrMalformed, len(b), MaxResponseLen)
	}
	d := binenc.NewReader(b, ErrMalformed)
	r := response{status: status(d.Byte())}
	if d.Err() == nil && (r.status == 0 || r.status > maxStatus) {
		d.Fail(fmt.Sprintf("unknown status %d", r.status))
	}
	if d.Err() != nil || r.status != statusOK {
		d.End()
		if err := d.Err(); err != nil {
			return response{}, err
		}
		return r, nil
	}
	switch d.Byte() {
	case 0:
	case 1:
		r.more = true
	default:
		d.Fail("bad flags")
	}
	n := d.Count()
	if d.Err() == nil && n > 0 {
		r.items = make([]item, 0, min(n, d.Len()/(IDLen+1+SealOverhead)+1))
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		var it item
		readFixed(d, b, it.id[:])
		it.sealed = d.Bytes()
		if d.Err() != nil {
			break
		}
		if len(it.sealed) < SealOverhead || len(it.sealed) > MaxItemLimit {
			d.Fail(fmt.Sprintf("sealed item of %d bytes", len(it.sealed)))
			break
		}
		if i > 0 && bytes.Compare(r.items[i-1].id[:], it.id[:]) >= 0 {
			d.Fail("item IDs not ascending")
			break
		}
		r.items = append(r.items, it)
	}
	r.deleted = d.Uvarint()
	if d.Err() == nil && r.deleted > MaxAckIDs {
		d.Fail("deleted count above MaxAckIDs")
	}
	d.End()
	if err := d.Err(); err != nil {
		return response{}, err
	}
	return r, nil
}

// writeFrame writes body as one frame: its length as a uvarint, then it.
func writeFrame(w io.Writer, body []byte) error {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(body)), uint64(len(body)))
	_, err := w.Write(append(b, body...))
	return err
}

// readFrame reads one frame of at most limit bytes from r, rejecting a
// longer or non-minimal length before reading the body.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var n uint64
	var one [1]byte
	for i := 0; ; i++ {
		if i == binary.MaxVarintLen32 {
			return nil, fmt.Errorf("%w: frame length too long", ErrMalformed)
		}
		if _, err := io.ReadFull(r, one[:]); err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("mailbox: read frame length: %w", err)
		}
		n |= uint64(one[0]&0x7f) << (7 * i)
		if one[0] < 0x80 {
			if i > 0 && one[0] == 0 {
				return nil, fmt.Errorf("%w: frame length not minimal", ErrMalformed)
			}
			break
		}
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: frame of %d bytes, above %d", ErrMalformed, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("mailbox: read frame: %w", err)
	}
	return b, nil
}

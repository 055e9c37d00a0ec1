package dm

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/binenc"
)

// Frame kinds: the first byte of every frame between chat cores.
const (
	frameHS1    byte = 1 // Noise XX message 1 (initiator's ephemeral)
	frameHS2    byte = 2 // Noise XX message 2 (responder's ChatKey inside)
	frameHS3    byte = 3 // Noise XX message 3 (initiator's ChatKey inside)
	frameData   byte = 4 // transport message of a session
	frameReset  byte = 5 // "I have no session of this ID": kind, session ID
	frameSealed byte = 6 // sealed envelope (mailbox, mix)
)

// Payload kinds: the first byte of a decrypted payload.
const (
	kindText      byte = 1 // a message
	kindDelivered byte = 2 // delivery receipt
	kindRead      byte = 3 // read receipt
)

// MaxBodySize is the hard limit on a message's body; Config.MaxBody may
// lower it.
const MaxBodySize = 32 << 10

// MsgID names a message: 16 random bytes chosen by its sender. It
// de-duplicates copies that arrive by several routes or retries.
type MsgID [16]byte

// String returns the ID as hex.
func (id MsgID) String() string { return hex.EncodeToString(id[:]) }

// payload is the plaintext inside a transport frame or a sealed envelope.
//
//	text:      kind 1 | ID (16) | seq uvarint | sent time | expiry time | body (uvarint length + bytes)
//	receipts:  kind 2 or 3 | ID (16) of the message acknowledged
//
// Times are uvarint Unix milliseconds (binenc.AppendTime), both non-zero,
// expiry after sent.
type payload struct {
	kind   byte
	id     MsgID
	seq    uint64
	sent   time.Time
	expiry time.Time
	body   []byte
}

func (p *payload) encode() ([]byte, error) {
	b := make([]byte, 0, 1+16+3*binary.MaxVarintLen64+binary.MaxVarintLen32+len(p.body))
	b = append(b, p.kind)
	b = append(b, p.id[:]...)
	switch p.kind {
	case kindDelivered, kindRead:
		return b, nil
	case kindText:
	default:
		return nil, fmt.Errorf("%w: payload kind %d", ErrMalformed, p.kind)
	}
	if len(p.body) > MaxBodySize {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, len(p.body), MaxBodySize)
	}
	if p.sent.UnixMilli() <= 0 || !p.expiry.After(p.sent) {
		return nil, fmt.Errorf("%w: times %v, %v", ErrMalformed, p.sent, p.expiry)
	}
	b = binary.AppendUvarint(b, p.seq)
	b = binenc.AppendTime(b, p.sent)
	b = binenc.AppendTime(b, p.expiry)
	return binenc.AppendBytes(b, p.body), nil
}

func decodePayload(b []byte) (*payload, error) {
	if len(b) > 1+16+3*binary.MaxVarintLen64+binary.MaxVarintLen32+MaxBodySize {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrTooLarge, len(b))
	}
	d := binenc.NewReader(b, ErrMalformed)
	p := &payload{kind: d.Byte()}
	if d.Len() < 16 {
		d.Fail("truncated ID")
	}
	if d.Err() == nil {
		copy(p.id[:], b[1:17])
		d.Skip(16)
	}
	switch p.kind {
	case kindDelivered, kindRead:
	case kindText:
		p.seq = d.Uvarint()
		p.sent = d.Time()
		p.expiry = d.Time()
		p.body = d.Bytes()
		if d.Err() == nil && (p.sent.IsZero() || !p.expiry.After(p.sent)) {
			d.Fail("expiry not after sent time")
		}
		if len(p.body) > MaxBodySize {
			d.Fail("body too large")
		}
	default:
		d.Fail(fmt.Sprintf("payload kind %d", p.kind))
	}
	d.End()
	if err := d.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

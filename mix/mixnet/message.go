package mixnet

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fog-compute/fog/internal/binenc"
)

// ErrMalformed: a frame or a decrypted payload does not decode.
var ErrMalformed = errors.New("mixnet: malformed")

// MsgID names one message end to end: the sender draws it at random, the
// recipient suppresses duplicates by it, and its ACK carries it back.
type MsgID [16]byte

// String returns the ID in hex.
func (id MsgID) String() string { return fmt.Sprintf("%x", id[:]) }

// kind says what a decrypted payload carries.
type kind byte

const (
	kindData  kind = 1 // a user's message, with a reply block for its ACK
	kindAck   kind = 2 // acknowledges a data or reply message
	kindLoop  kind = 3 // loop cover: comes back to its sender
	kindDrop  kind = 4 // drop cover: its last hop discards it
	kindReply kind = 5 // an answer sent through a reply block
)

// surbRef is a single-use reply block as it travels inside a payload: the
// epoch whose relay keys it was made with and the Sphinx SURB itself
// (which names its first hop). Whoever holds it can send one packet to the block's maker
// without learning who that is.
type surbRef struct {
	epoch uint64
	surb  []byte
}

// message is the plaintext of a Sphinx payload, end to end between two
// nodes. Its encoding is padded with zeros to the payload size.
type message struct {
	kind      kind
	id        MsgID
	ack       *surbRef // data and reply: how to acknowledge it
	reply     *surbRef // data: a reply block for the recipient's answer
	inReplyTo MsgID    // reply: the message it answers
	body      []byte
}

const (
	flagAck   = 1 << 0
	flagReply = 1 << 1
)

// appendSURB appends r.
func appendSURB(b []byte, r *surbRef) []byte {
	b = binary.BigEndian.AppendUint64(b, r.epoch)
	return binenc.AppendBytes(b, r.surb)
}

// encode returns m's encoding, zero-padded to size, or an error if it does
// not fit.
func (m *message) encode(size int) ([]byte, error) {
	b := make([]byte, 0, size)
	b = append(b, byte(m.kind))
	b = append(b, m.id[:]...)
	var flags byte
	if m.ack != nil {
		flags |= flagAck
	}
	if m.reply != nil {
		flags |= flagReply
	}
	b = append(b, flags)
	if m.ack != nil {
		b = appendSURB(b, m.ack)
	}
	if m.reply != nil {
		b = appendSURB(b, m.reply)
	}
	if m.kind == kindReply {
		b = append(b, m.inReplyTo[:]...)
	}
	b = binenc.AppendBytes(b, m.body)
	if len(b) > size {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds the payload's %d", ErrTooLarge, len(b), size)
	}
	return b[:size], nil
}

// ErrTooLarge: a message does not fit in one packet.
var ErrTooLarge = errors.New("mixnet: message too large")

func readSURB(d *binenc.Reader, maxSURB int) *surbRef {
	r := &surbRef{}
	var e [8]byte
	for i := range e {
		e[i] = d.Byte()
	}
	r.epoch = binary.BigEndian.Uint64(e[:])
	r.surb = d.Bytes()
	if len(r.surb) > maxSURB {
		d.Fail("reply block too long")
	}
	return r
}

// decodeMessage decodes a payload's plaintext: what follows the message
// must be zeros, so that one payload has one meaning.
func decodeMessage(b []byte, maxSURB int) (*message, error) {
	d := binenc.NewReader(b, ErrMalformed)
	m := &message{kind: kind(d.Byte())}
	for i := range m.id {
		m.id[i] = d.Byte()
	}
	flags := d.Byte()
	if d.Err() == nil {
		switch {
		case m.kind < kindData || m.kind > kindReply:
			d.Fail(fmt.Sprintf("unknown kind %d", m.kind))
		case flags&^(flagAck|flagReply) != 0:
			d.Fail("unknown flags")
		case flags&flagReply != 0 && m.kind != kindData:
			d.Fail("reply block on a message that is not data")
		case flags&flagAck != 0 && m.kind != kindData && m.kind != kindReply:
			d.Fail("ACK block on a message that is not data or a reply")
		case flags&flagAck == 0 && (m.kind == kindData || m.kind == kindReply):
			d.Fail("data without an ACK block")
		}
	}
	if flags&flagAck != 0 {
		m.ack = readSURB(d, maxSURB)
	}
	if flags&flagReply != 0 {
		m.reply = readSURB(d, maxSURB)
	}
	if m.kind == kindReply {
		for i := range m.inReplyTo {
			m.inReplyTo[i] = d.Byte()
		}
	}
	m.body = d.Bytes()
	for _, c := range d.Rest() {
		if c != 0 {
			d.Fail("non-zero padding")
			break
		}
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

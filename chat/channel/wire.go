package channel

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/fog-compute/fog/internal/binenc"
)

// Frames of the sync protocol /fog/chat/sync/1.0.0. Each frame is
// uvarint length | u8 type | payload, at most Config.MaxFrame bytes.
const (
	// fHello (initiator): u8 len, channel name.
	fHello = 1
	// fWelcome (responder): uvarint len, the channel's latest roster
	// message (empty for a public channel or none known).
	fWelcome = 2
	// fRefuse (responder): uvarint len, reason (at most 256 bytes); the
	// responder closes the stream after it.
	fRefuse = 3
	// fRecon (both): a reconciliation message (the rest of the frame).
	fRecon = 4
	// fFetch (initiator): uvarint n | n × 32-byte ID.
	fFetch = 5
	// fMsgs (responder): uvarint n | n × (uvarint len, encoded message).
	fMsgs = 6
	// fDone (initiator): the conversation is over; its payload is empty,
	// or uvarint n (1..maxShown) | n × 32-byte ID: messages the initiator
	// holds and the responder lacks, as reconciliation found them, so that
	// the responder syncs back for them.
	fDone = 7
)

const maxReason = 256

// maxShown bounds the IDs a Done frame shows: enough for the responder to
// tell whether it still lacks any (it then pulls them all by syncing
// back), not a list of everything.
const maxShown = 64

type frame struct {
	kind   byte
	name   string
	roster []byte
	reason string
	recon  []byte
	ids    []ID
	msgs   [][]byte
}

func (f frame) encode() []byte {
	b := []byte{f.kind}
	switch f.kind {
	case fHello:
		b = append(b, byte(len(f.name)))
		b = append(b, f.name...)
	case fWelcome:
		b = binenc.AppendBytes(b, f.roster)
	case fRefuse:
		b = binenc.AppendString(b, f.reason)
	case fRecon:
		b = append(b, f.recon...)
	case fFetch:
		b = binary.AppendUvarint(b, uint64(len(f.ids)))
		for _, id := range f.ids {
			b = append(b, id[:]...)
		}
	case fDone:
		if len(f.ids) > 0 {
			b = binary.AppendUvarint(b, uint64(len(f.ids)))
			for _, id := range f.ids {
				b = append(b, id[:]...)
			}
		}
	case fMsgs:
		b = binary.AppendUvarint(b, uint64(len(f.msgs)))
		for _, m := range f.msgs {
			b = binenc.AppendBytes(b, m)
		}
	}
	return b
}

// decodeFrame parses a frame's payload, rejecting anything encode would
// not produce; the messages, roster and reconciliation message inside are
// left for their own decoders.
func decodeFrame(b []byte) (frame, error) {
	r := binenc.NewReader(b, ErrMalformed)
	f := frame{kind: r.Byte()}
	switch f.kind {
	case fHello:
		f.name = string(fixed(r, int(r.Byte())))
		if r.Err() == nil && !ValidName(f.name) {
			return frame{}, fmt.Errorf("%w: %w %q", ErrMalformed, ErrBadName, f.name)
		}
	case fWelcome:
		f.roster = r.Bytes()
		if len(f.roster) > MaxMessageSize {
			return frame{}, fmt.Errorf("%w: roster of %d bytes", ErrMalformed, len(f.roster))
		}
	case fRefuse:
		f.reason = r.String(maxReason)
	case fRecon:
		f.recon = r.Rest()
	case fFetch:
		n := r.Uvarint()
		if r.Err() == nil && n > uint64(r.Len()/len(ID{})) {
			return frame{}, fmt.Errorf("%w: fetch of %d IDs overruns the frame", ErrMalformed, n)
		}
		for range n {
			var id ID
			copy(id[:], fixed(r, len(id)))
			f.ids = append(f.ids, id)
		}
	case fMsgs:
		n := r.Count()
		for range n {
			m := r.Bytes()
			if r.Err() != nil {
				break
			}
			if len(m) == 0 || len(m) > MaxMessageSize {
				return frame{}, fmt.Errorf("%w: message of %d bytes in a batch", ErrMalformed, len(m))
			}
			f.msgs = append(f.msgs, m)
		}
	case fDone:
		if r.Len() == 0 {
			break
		}
		n := r.Uvarint()
		if r.Err() == nil && (n == 0 || n > maxShown || n > uint64(r.Len()/len(ID{}))) {
			return frame{}, fmt.Errorf("%w: done showing %d IDs", ErrMalformed, n)
		}
		for range n {
			var id ID
			copy(id[:], fixed(r, len(id)))
			f.ids = append(f.ids, id)
		}
	default:
		if r.Err() == nil {
			return frame{}, fmt.Errorf("%w: frame type %d", ErrMalformed, f.kind)
		}
	}
	r.End()
	if err := r.Err(); err != nil {
		return frame{}, err
	}
	return f, nil
}

// writeFrame writes f with its length.
func writeFrame(w io.Writer, f frame, limit int) error {
	p := f.encode()
	if len(p) > limit {
		return fmt.Errorf("%w: frame of %d bytes, limit %d", ErrSync, len(p), limit)
	}
	b := binary.AppendUvarint(make([]byte, 0, len(p)+binary.MaxVarintLen32), uint64(len(p)))
	_, err := w.Write(append(b, p...))
	return err
}

// readFrame reads and decodes one frame of at most limit bytes.
func readFrame(r *bufio.Reader, limit int) (frame, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return frame{}, err
	}
	if n == 0 || n > uint64(limit) {
		return frame{}, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMalformed, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return frame{}, err
	}
	return decodeFrame(b)
}

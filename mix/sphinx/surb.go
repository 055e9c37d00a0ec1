package sphinx

import (
	"bytes"
	"fmt"
	"io"
)

// A SURB (single-use reply block) lets its holder send one reply to the
// SURB's creator without learning the creator's path. It is
//
//	header ‖ first hop's node ID ‖ payload key
//
// (Geometry.SURBLength bytes): the holder encrypts the reply's tag and
// payload under the payload key (one LIONESS key) and sends header and
// payload to the first hop. The per-hop payload keys stay with the
// creator, in the SURB keys:
//
//	key of hop n-1 ‖ ... ‖ key of hop 0 ‖ payload key
//
// (lionessKeyLength bytes each), which DecryptSURBPayload uses.

// NewSURB makes a SURB for path (the reply's path, ending at the creator
// or at a node that holds replies for it) and the SURB keys that decrypt
// the reply. The last hop's commands must include a SURBReply, whose ID
// tells the creator which keys to use.
func NewSURB(rand io.Reader, geo Geometry, path []PathHop) (surb, keys []byte, err error) {
	if err := geo.Validate(); err != nil {
		return nil, nil, err
	}
	if len(path) == 0 || !hasSURBReply(path[len(path)-1].Commands) {
		return nil, nil, fmt.Errorf("%w: a SURB's last hop needs a SURBReply command", ErrPath)
	}
	payloadKey := make([]byte, lionessKeyLength)
	if _, err := io.ReadFull(rand, payloadKey); err != nil {
		return nil, nil, fmt.Errorf("sphinx: reading randomness: %w", err)
	}
	hdr, hopKeys, err := createHeader(rand, geo, path)
	if err != nil {
		return nil, nil, err
	}
	keys = make([]byte, 0, (len(path)+1)*lionessKeyLength)
	for i := len(path) - 1; i >= 0; i-- {
		keys = append(keys, hopKeys[i].payloadKey()...)
	}
	keys = append(keys, payloadKey...)

	surb = make([]byte, 0, geo.SURBLength())
	surb = append(surb, hdr...)
	surb = append(surb, path[0].ID[:]...)
	surb = append(surb, payloadKey...)
	return surb, keys, nil
}

// NewPacketFromSURB builds the reply packet that carries payload (exactly
// geo.PayloadLength bytes) under surb, and returns it with the node ID of
// the first hop to send it to.
func NewPacketFromSURB(geo Geometry, surb, payload []byte) (packet []byte, firstHop [NodeIDLength]byte, err error) {
	if err := geo.Validate(); err != nil {
		return nil, firstHop, err
	}
	if len(surb) != geo.SURBLength() {
		return nil, firstHop, fmt.Errorf("%w: SURB of %d bytes, geometry wants %d", ErrPath, len(surb), geo.SURBLength())
	}
	if len(payload) != geo.PayloadLength {
		return nil, firstHop, fmt.Errorf("%w: payload of %d bytes, geometry wants %d", ErrPath, len(payload), geo.PayloadLength)
	}
	hdrLen := geo.HeaderLength()
	copy(firstHop[:], surb[hdrLen:])
	key := surb[hdrLen+NodeIDLength:]

	packet = make([]byte, geo.PacketLength())
	copy(packet, surb[:hdrLen])
	body := packet[hdrLen:]
	copy(body[TagLength:], payload)
	lionessEncrypt(key, body)
	return packet, firstHop, nil
}

// DecryptSURBPayload recovers the reply's plaintext from the payload that
// Unwrap returned at the SURB's last hop (TagLength+geo.PayloadLength
// bytes), with the SURB keys NewSURB returned. It fails with
// ErrPayloadAuth if the payload was altered or the keys are another
// SURB's. payload is not modified.
func DecryptSURBPayload(geo Geometry, keys, payload []byte) ([]byte, error) {
	if err := geo.Validate(); err != nil {
		return nil, err
	}
	n := len(keys) / lionessKeyLength
	if len(keys)%lionessKeyLength != 0 || n < 2 || n > geo.Hops+1 {
		return nil, fmt.Errorf("%w: SURB keys of %d bytes", ErrPath, len(keys))
	}
	if len(payload) != TagLength+geo.PayloadLength {
		return nil, fmt.Errorf("%w: reply payload of %d bytes, geometry wants %d", ErrMalformed, len(payload), TagLength+geo.PayloadLength)
	}
	b := bytes.Clone(payload)
	for i := range n - 1 { // undo each hop's decryption, last hop first
		lionessEncrypt(keys[i*lionessKeyLength:(i+1)*lionessKeyLength], b)
	}
	lionessDecrypt(keys[(n-1)*lionessKeyLength:], b)
	if !isZero(b[:TagLength]) {
		return nil, ErrPayloadAuth
	}
	return b[TagLength:], nil
}

func hasSURBReply(cmds []Command) bool {
	for _, c := range cmds {
		if _, ok := c.(SURBReply); ok {
			return true
		}
	}
	return false
}

package dm

import (
	"fmt"
	"io"

	"github.com/flynn/noise"

	"github.com/fog-compute/fog/chat"
)

// Sealed envelopes: a one-way Noise_X_25519_ChaChaPoly_SHA256 message to
// the recipient's published chat key, for routes without a round trip (the
// recipient's mailboxes, the mix):
//
//	offset size  field
//	     0    1  kind frameSealed
//	     1   32  sender's ephemeral X25519 key
//	    33   48  sender's static key, encrypted (32 + tag)
//	    81    n  ChaCha20-Poly1305 of the sender's ChatKey (ChatKeySize
//	             bytes) and the payload, and its tag
//
// The prologue binds the protocol and the recipient's identity. Only the
// recipient can open it, and it learns who sealed it: the static key the
// pattern authenticates must be the one in the enclosed ChatKey, signed by
// the sender's identity. Such an envelope has forward secrecy for the
// sender (a fresh ephemeral key each) but not against a later theft of the
// recipient's chat key, until that key is replaced; replays are stopped a
// level up, by message ID and expiry.
const sealedOverhead = 1 + 32 + 32 + tagSize + chat.ChatKeySize + tagSize

// MaxSealedPayload bounds the payload of one sealed envelope.
const MaxSealedPayload = maxFrameBytes - sealedOverhead

// Seal returns a sealed envelope of payload from local to the owner of
// to. rnd gives the ephemeral key.
func Seal(local Keys, to *chat.ChatKey, payload []byte, rnd io.Reader) ([]byte, error) {
	if len(payload) > MaxSealedPayload {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), MaxSealedPayload)
	}
	if err := local.check(); err != nil {
		return nil, err
	}
	if err := to.Verify(""); err != nil {
		return nil, err
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite,
		Random:        rnd,
		Pattern:       noise.HandshakeX,
		Initiator:     true,
		Prologue:      sealedPrologueFor(to),
		StaticKeypair: local.dh(),
		PeerStatic:    to.Public[:],
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	enc, err := local.Record.Encode()
	if err != nil {
		return nil, err
	}
	out, _, _, err := hs.WriteMessage([]byte{frameSealed}, append(enc, payload...))
	if err != nil {
		return nil, fmt.Errorf("%w: sealing: %w", ErrHandshake, err)
	}
	return out, nil
}

// Open opens a sealed envelope addressed to local and returns the
// sender's verified ChatKey and the payload. A tampered envelope, or one
// for another key, is ErrDecrypt; one whose enclosed ChatKey is forged or
// is not the key that sealed it, ErrHandshake.
func Open(local Keys, frame []byte) (*chat.ChatKey, []byte, error) {
	if len(frame) < sealedOverhead || len(frame) > maxFrameBytes || frame[0] != frameSealed {
		return nil, nil, fmt.Errorf("%w: sealed envelope of %d bytes", ErrMalformed, len(frame))
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite,
		Pattern:       noise.HandshakeX,
		Initiator:     false,
		Prologue:      sealedPrologueFor(local.Record),
		StaticKeypair: local.dh(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	plain, _, _, err := hs.ReadMessage(nil, frame[1:])
	if err != nil {
		return nil, nil, ErrDecrypt
	}
	k, err := chat.DecodeChatKey(plain[:chat.ChatKeySize])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: sender's chat key: %w", ErrHandshake, err)
	}
	if string(k.Public[:]) != string(hs.PeerStatic()) {
		return nil, nil, fmt.Errorf("%w: sealed by a key other than the sender's chat key", ErrHandshake)
	}
	return k, plain[chat.ChatKeySize:], nil
}

func sealedPrologueFor(to *chat.ChatKey) []byte {
	return append([]byte(sealedPrologue+"\x00"), to.Owner...)
}

package mailbox

import (
	"crypto/ecdh"
	"fmt"
	"io"

	"github.com/flynn/noise"
)

// SealOverhead is what sealing adds to a payload: the sender's ephemeral
// X25519 key (32 bytes) and the AEAD tag (16 bytes).
const SealOverhead = 32 + 16

// suite is Noise_N_25519_ChaChaPoly_SHA256's, the chat DMs' primitives.
var suite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashSHA256)

// sealDomain starts the prologue of every seal.
const sealDomain = "fog/mailbox/v1 seal"

// prologue binds a seal to the mailbox and the item ID it is deposited
// under: a host that moves it to another mailbox or renames it makes it
// fail to open.
func prologue(key Key, id ItemID) []byte {
	p := make([]byte, 0, len(sealDomain)+KeyLen+IDLen)
	p = append(p, sealDomain...)
	p = append(p, key[:]...)
	return append(p, id[:]...)
}

// seal encrypts payload to the X25519 key to with the one message of a
// Noise N handshake (Noise_N_25519_ChaChaPoly_SHA256, prologue binding key
// and id): the sender's ephemeral key, then the payload under ChaCha20-
// Poly1305. Only the holder of to's private key can open it, and it says
// nothing of who sealed it. rand nil means crypto/rand.
func seal(rand io.Reader, to *ecdh.PublicKey, key Key, id ItemID, payload []byte) ([]byte, error) {
	if to == nil || to.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("mailbox: seal: recipient key is not X25519")
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: suite,
		Random:      rand,
		Pattern:     noise.HandshakeN,
		Initiator:   true,
		Prologue:    prologue(key, id),
		PeerStatic:  to.Bytes(),
	})
	if err != nil {
		return nil, fmt.Errorf("mailbox: seal: %w", err)
	}
	out, _, _, err := hs.WriteMessage(make([]byte, 0, len(payload)+SealOverhead), payload)
	if err != nil {
		return nil, fmt.Errorf("mailbox: seal: %w", err)
	}
	return out, nil
}

// open decrypts a seal made for priv's public key under key and id. It
// fails with ErrBadSeal, never panicking, on anything seal did not make
// for this key, mailbox and ID.
func open(priv *ecdh.PrivateKey, key Key, id ItemID, sealed []byte) ([]byte, error) {
	if len(sealed) < SealOverhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a seal", ErrBadSeal, len(sealed))
	}
	if len(sealed) > MaxItemLimit {
		return nil, fmt.Errorf("%w: %d bytes, above the limit %d", ErrBadSeal, len(sealed), MaxItemLimit)
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite,
		Pattern:       noise.HandshakeN,
		Initiator:     false,
		Prologue:      prologue(key, id),
		StaticKeypair: noise.DHKey{Private: priv.Bytes(), Public: priv.PublicKey().Bytes()},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSeal, err)
	}
	payload, _, _, err := hs.ReadMessage(nil, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSeal, err)
	}
	return payload, nil
}

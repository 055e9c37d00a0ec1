package dm

import (
	"crypto/ecdh"
	"fmt"

	"github.com/flynn/noise"

	"github.com/fog-compute/fog/chat"
)

// Noise parameters. Sessions are Noise_XX_25519_ChaChaPoly_SHA256, as in
// BitChat; sealed envelopes are the one-way pattern X with the same suite.
var suite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashSHA256)

// Protocol names bound into every handshake as its prologue, so that a
// message of one cannot be taken for the other.
const (
	sessionPrologue = "fog/chat/dm/session/v1"
	sealedPrologue  = "fog/chat/dm/sealed/v1"
)

// Keys is a node's own chat key pair: its published, signed ChatKey and
// the X25519 private key behind it.
type Keys struct {
	Record  *chat.ChatKey
	Private *ecdh.PrivateKey
}

// check verifies that k is a pair: the record is signed and names the
// private key's public half.
func (k Keys) check() error {
	if k.Record == nil || k.Private == nil {
		return fmt.Errorf("%w: no chat key", ErrConfig)
	}
	if err := k.Record.Verify(""); err != nil {
		return fmt.Errorf("%w: own chat key: %w", ErrConfig, err)
	}
	if string(k.Private.PublicKey().Bytes()) != string(k.Record.Public[:]) {
		return fmt.Errorf("%w: private key does not match the chat key record", ErrConfig)
	}
	return nil
}

func (k Keys) dh() noise.DHKey {
	return noise.DHKey{Private: k.Private.Bytes(), Public: k.Private.PublicKey().Bytes()}
}

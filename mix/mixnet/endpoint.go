package mixnet

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha512"
	"fmt"

	"filippo.io/edwards25519"
)

// A node receives mix packets (messages, ACKs, its own loops) as the last
// hop of their routes, under a key derived from its identity, so that a
// sender needs nothing but the recipient's node ID and the last relay
// cannot read the payload. The conversion is the standard birational map
// from Ed25519 to X25519 (as libsodium's crypto_sign_ed25519_pk_to_curve25519
// and age's ssh-ed25519 recipients): the public key's Montgomery
// u-coordinate, and the clamped first half of SHA-512 of the private seed.

// endpointPublic returns the X25519 key a node with identity id receives
// packets under.
func endpointPublic(id NodeID) (*ecdh.PublicKey, error) {
	p, err := new(edwards25519.Point).SetBytes(id[:])
	if err != nil {
		return nil, fmt.Errorf("%w: node ID is not an Ed25519 key: %w", ErrMalformed, err)
	}
	k, err := ecdh.X25519().NewPublicKey(p.BytesMontgomery())
	if err != nil {
		return nil, fmt.Errorf("%w: node ID: %w", ErrMalformed, err)
	}
	return k, nil
}

// endpointPrivate returns the X25519 private key matching endpointPublic
// of sk's public key.
func endpointPrivate(sk ed25519.PrivateKey) (*ecdh.PrivateKey, error) {
	h := sha512.Sum512(sk.Seed())
	k, err := ecdh.X25519().NewPrivateKey(h[:32]) // X25519 clamps the scalar
	if err != nil {
		return nil, fmt.Errorf("mixnet: endpoint key: %w", err)
	}
	return k, nil
}

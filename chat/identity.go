package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FingerprintLen is the length of a Fingerprint: 4 bytes as hex.
const FingerprintLen = 8

// Fingerprint returns p's short fingerprint: the first 4 bytes of the
// SHA-256 of its raw Ed25519 public key, as lower-case hex ("1a2b3c4d").
// It is shown after every nickname so that two identities with one name
// can be told apart at a glance; 32 bits tell friends apart, they do not
// stop a determined impostor (who must also win the nickname race), so a
// careful user compares the whole peer ID. For a peer ID that does not
// embed its public key, the SHA-256 is of the ID's bytes.
func Fingerprint(p peer.ID) string {
	var h [sha256.Size]byte
	if raw, err := rawIdentity(p); err == nil {
		h = sha256.Sum256(raw)
	} else {
		h = sha256.Sum256([]byte(p))
	}
	return hex.EncodeToString(h[:FingerprintLen/2])
}

// rawIdentity returns the 32-byte Ed25519 public key p embeds.
func rawIdentity(p peer.ID) ([]byte, error) {
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: peer %s: %w", ErrBadKey, p, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: peer %s has a %s key, want Ed25519", ErrBadKey, p, pk.Type())
	}
	return pk.Raw()
}

// identityOf returns the peer ID and raw public key of an Ed25519 identity.
func identityOf(priv crypto.PrivKey) (peer.ID, []byte, error) {
	if priv == nil || priv.Type() != crypto.Ed25519 {
		return "", nil, fmt.Errorf("%w: identity must be an Ed25519 key", ErrBadKey)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	raw, err := priv.GetPublic().Raw()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return id, raw, nil
}

// verifySig checks sig by the Ed25519 key raw over msg and returns the
// signer's peer ID.
func verifySig(raw, msg, sig []byte) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	ok, err := pk.Verify(msg, sig)
	if err != nil || !ok {
		return "", ErrBadSignature
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return id, nil
}

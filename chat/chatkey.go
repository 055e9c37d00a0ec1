package chat

import (
	"crypto/ecdh"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/curve25519"
)

// ChatKeyRecordName is the name under which a node publishes its encoded
// ChatKey as a signed DHT record (dht.RecordKey(owner, ChatKeyRecordName)).
const ChatKeyRecordName = "chat/key"

// ChatKeySize is the length of an encoded ChatKey. The encoding is
// fixed-length:
//
//	offset size  field
//	     0    1  version 0x01
//	     1   32  owner's Ed25519 public key
//	    33   32  X25519 public key
//	    65    8  creation time, Unix milliseconds, big-endian, > 0
//	    73    8  sequence number, big-endian
//	    81   64  Ed25519 signature by the owner
//
// The signature is over "fog/chat/key/v1\x00" || bytes 0..80.
const ChatKeySize = 1 + 32 + 32 + 8 + 8 + 64

const (
	chatKeyVersion   byte = 1
	chatKeySigned         = ChatKeySize - 64
	chatKeySigDomain      = "fog/chat/key/v1\x00"
	maxMillis             = 1 << 62 // a time beyond it is not a time
)

// ChatKey is a node's published chat key: an X25519 public key that its
// Ed25519 identity signed, with a creation time and a sequence number (a
// higher one replaces a lower one). Peers encrypt direct messages to it:
// it is the static key of the Noise handshakes and of sealed envelopes.
type ChatKey struct {
	Owner   peer.ID   // the identity that signed it
	Public  [32]byte  // X25519 public key
	Created time.Time // when it was made (millisecond precision)
	Seq     uint64    // version; higher replaces lower
	Sig     []byte    // Owner's signature
}

// NewChatKey generates an X25519 key pair from 32 bytes of rnd and returns
// it signed by the identity id (an Ed25519 key) with sequence seq and
// creation time now. The private key never leaves the node.
func NewChatKey(id crypto.PrivKey, seq uint64, now time.Time, rnd io.Reader) (*ChatKey, *ecdh.PrivateKey, error) {
	var scalar [32]byte
	if _, err := io.ReadFull(rnd, scalar[:]); err != nil {
		return nil, nil, fmt.Errorf("chat: chat key: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(scalar[:])
	clear(scalar[:])
	if err != nil {
		return nil, nil, fmt.Errorf("chat: chat key: %w", err)
	}
	k, err := SignChatKey(id, priv.PublicKey(), seq, now)
	if err != nil {
		return nil, nil, err
	}
	return k, priv, nil
}

// SignChatKey returns pub signed by the identity id with seq and now; it is
// NewChatKey for a key pair made elsewhere.
func SignChatKey(id crypto.PrivKey, pub *ecdh.PublicKey, seq uint64, now time.Time) (*ChatKey, error) {
	owner, _, err := identityOf(id)
	if err != nil {
		return nil, err
	}
	if pub == nil || pub.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: chat key must be X25519", ErrBadKey)
	}
	if now.UnixMilli() <= 0 {
		return nil, fmt.Errorf("%w: creation time %v before 1970", ErrMalformed, now)
	}
	k := &ChatKey{Owner: owner, Created: time.UnixMilli(now.UnixMilli()), Seq: seq, Sig: make([]byte, 64)}
	copy(k.Public[:], pub.Bytes())
	enc, err := k.Encode()
	if err != nil {
		return nil, err
	}
	k.Sig, err = id.Sign(append([]byte(chatKeySigDomain), enc[:chatKeySigned]...))
	if err != nil {
		return nil, fmt.Errorf("chat: signing chat key: %w", err)
	}
	return k, nil
}

// Encode returns k's ChatKeySize-byte encoding. It fails with ErrMalformed
// or ErrBadKey if a field cannot be encoded (it does not check the
// signature).
func (k *ChatKey) Encode() ([]byte, error) {
	raw, err := rawIdentity(k.Owner)
	if err != nil {
		return nil, err
	}
	if ms := k.Created.UnixMilli(); ms <= 0 || ms > maxMillis {
		return nil, fmt.Errorf("%w: chat key creation time %v", ErrMalformed, k.Created)
	}
	if len(k.Sig) != 64 {
		return nil, fmt.Errorf("%w: chat key signature has %d bytes", ErrMalformed, len(k.Sig))
	}
	b := make([]byte, 0, ChatKeySize)
	b = append(b, chatKeyVersion)
	b = append(b, raw...)
	b = append(b, k.Public[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(k.Created.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, k.Seq)
	return append(b, k.Sig...), nil
}

// DecodeChatKey decodes an encoded ChatKey and verifies its signature and
// key. Any defect is an error wrapping ErrMalformed, ErrBadKey or
// ErrBadSignature; it never panics.
func DecodeChatKey(b []byte) (*ChatKey, error) {
	if len(b) != ChatKeySize {
		return nil, fmt.Errorf("%w: chat key of %d bytes, want %d", ErrMalformed, len(b), ChatKeySize)
	}
	if b[0] != chatKeyVersion {
		return nil, fmt.Errorf("%w: chat key version %d", ErrMalformed, b[0])
	}
	ms := binary.BigEndian.Uint64(b[65:73])
	if ms == 0 || ms > maxMillis {
		return nil, fmt.Errorf("%w: chat key creation time %d", ErrMalformed, ms)
	}
	owner, err := verifySig(b[1:33], append([]byte(chatKeySigDomain), b[:chatKeySigned]...), b[chatKeySigned:])
	if err != nil {
		return nil, fmt.Errorf("chat: chat key: %w", err)
	}
	k := &ChatKey{
		Owner:   owner,
		Created: time.UnixMilli(int64(ms)),
		Seq:     binary.BigEndian.Uint64(b[73:81]),
		Sig:     append([]byte(nil), b[chatKeySigned:]...),
	}
	copy(k.Public[:], b[33:65])
	if err := checkX25519(k.Public); err != nil {
		return nil, err
	}
	return k, nil
}

// Verify checks that k is signed by its Owner, that Owner is owner (unless
// owner is empty) and that its X25519 key is not of small order.
func (k *ChatKey) Verify(owner peer.ID) error {
	if owner != "" && k.Owner != owner {
		return fmt.Errorf("%w: chat key of %s, want %s", ErrBadSignature, k.Owner, owner)
	}
	enc, err := k.Encode()
	if err != nil {
		return err
	}
	_, err = DecodeChatKey(enc)
	return err
}

// checkX25519 rejects the points of small order, whose every
// Diffie-Hellman output is zero.
func checkX25519(pub [32]byte) error {
	scalar := [32]byte{9}
	if _, err := curve25519.X25519(scalar[:], pub[:]); err != nil {
		return fmt.Errorf("%w: X25519 key of small order", ErrBadKey)
	}
	return nil
}

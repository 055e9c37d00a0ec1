package sphinx

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20"
)

// kdfInfo is the HKDF info string, Katzenpost's, so that the header keys
// interoperate.
const kdfInfo = "katzenpost-kdf-v0-hkdf-sha256"

// Layout of the per-hop KDF output, HKDF-Expand(SHA-256, PRK = shared
// secret, info = kdfInfo). Bytes 0..159 are Katzenpost's layout; fog does
// not use bytes 80..127 (Katzenpost's AEZ key) and reads three more fields
// from the same stream after byte 160.
const (
	kdfMACKey     = 0   // 32: HMAC-SHA256 key of the header MAC
	kdfStreamKey  = 32  // 32: AES-256-CTR key of the routing information
	kdfStreamIV   = 64  // 16: AES-256-CTR initial counter block
	kdfBlindSeed  = 128 // 32: ChaCha20 key whose first 32 keystream bytes are the blinding factor
	kdfPayloadKey = 160 // 128: LIONESS key of the payload (fog)
	kdfReplayTag  = 288 // 32: replay tag (fog)
	kdfLength     = 320
)

// hopKeys is one hop's key material.
type hopKeys struct {
	okm [kdfLength]byte
}

func (k *hopKeys) macKey() []byte     { return k.okm[kdfMACKey : kdfMACKey+32] }
func (k *hopKeys) streamKey() []byte  { return k.okm[kdfStreamKey : kdfStreamKey+32] }
func (k *hopKeys) streamIV() []byte   { return k.okm[kdfStreamIV : kdfStreamIV+16] }
func (k *hopKeys) blindSeed() []byte  { return k.okm[kdfBlindSeed : kdfBlindSeed+32] }
func (k *hopKeys) payloadKey() []byte { return k.okm[kdfPayloadKey : kdfPayloadKey+lionessKeyLength] }
func (k *hopKeys) replayTag() (t [32]byte) {
	copy(t[:], k.okm[kdfReplayTag:])
	return t
}

// deriveKeys expands a hop's shared secret into its keys.
func deriveKeys(secret []byte) (*hopKeys, error) {
	okm, err := hkdf.Expand(sha256.New, secret, kdfInfo, kdfLength)
	if err != nil {
		return nil, fmt.Errorf("%w: kdf: %v", ErrMalformed, err)
	}
	k := new(hopKeys)
	copy(k.okm[:], okm)
	clear(okm)
	return k, nil
}

// blindingFactor is the X25519 scalar that blinds the group element for
// the next hop: the first 32 bytes of ChaCha20(key = blind seed, nonce 0).
// (Katzenpost draws it from its deterministic reader, a ChaCha20 keystream
// with a zero 64-bit nonce; its first block equals the IETF variant's with a
// zero 96-bit nonce.)
func (k *hopKeys) blindingFactor() []byte {
	var zeroNonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(k.blindSeed(), zeroNonce[:])
	if err != nil {
		panic("sphinx: chacha20 with a 32-byte key: " + err.Error()) // sizes are constants
	}
	bf := make([]byte, 32)
	c.XORKeyStream(bf, bf)
	return bf
}

// headerMAC returns HMAC-SHA256(key, parts...).
func headerMAC(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// xorKeyStream XORs the routing-information keystream (AES-256-CTR) into b.
func (k *hopKeys) xorKeyStream(dst, src []byte) {
	blk, err := aes.NewCipher(k.streamKey())
	if err != nil {
		panic("sphinx: aes with a 32-byte key: " + err.Error()) // sizes are constants
	}
	cipher.NewCTR(blk, k.streamIV()).XORKeyStream(dst, src)
}

// LIONESS (Anderson and Biham, "Two practical and provably secure block
// ciphers: BEAR and LION") over a block of more than 32 bytes split into
// L (32 bytes) and R (the rest), with ChaCha20 as the stream cipher S and
// keyed BLAKE2b-256 as the hash H:
//
//	R ^= S(L ^ K1); L ^= H(K2, R); R ^= S(L ^ K3); L ^= H(K4, R)
//
// The key is K1 ‖ K2 ‖ K3 ‖ K4, 32 bytes each; S(k) is the ChaCha20
// keystream under key k and the zero nonce (each k is used for one message
// only: L differs whenever the message does).
const (
	lionessKeyLength = 4 * 32
	lionessLeft      = 32
)

func lionessStream(l, k, r []byte) {
	var key [32]byte
	subtle.XORBytes(key[:], l, k)
	var zeroNonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(key[:], zeroNonce[:])
	if err != nil {
		panic("sphinx: chacha20 with a 32-byte key: " + err.Error())
	}
	c.XORKeyStream(r, r)
}

func lionessHash(l, k, r []byte) {
	h, err := blake2b.New256(k)
	if err != nil {
		panic("sphinx: blake2b with a 32-byte key: " + err.Error())
	}
	h.Write(r)
	var sum [32]byte
	subtle.XORBytes(l, l, h.Sum(sum[:0]))
}

// lionessEncrypt encrypts b in place under key (lionessKeyLength bytes).
// len(b) must exceed lionessLeft.
func lionessEncrypt(key, b []byte) {
	l, r := b[:lionessLeft], b[lionessLeft:]
	lionessStream(l, key[0:32], r)
	lionessHash(l, key[32:64], r)
	lionessStream(l, key[64:96], r)
	lionessHash(l, key[96:128], r)
}

// lionessDecrypt decrypts b in place; the inverse of lionessEncrypt.
func lionessDecrypt(key, b []byte) {
	l, r := b[:lionessLeft], b[lionessLeft:]
	lionessHash(l, key[96:128], r)
	lionessStream(l, key[64:96], r)
	lionessHash(l, key[32:64], r)
	lionessStream(l, key[0:32], r)
}

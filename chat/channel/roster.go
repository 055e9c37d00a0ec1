package channel

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/fog-compute/fog/internal/binenc"
)

// KeySize is the size of a channel key.
const KeySize = chacha20poly1305.KeySize

// MaxMembers bounds a roster on the wire; Config.MaxMembers may lower it.
const MaxMembers = 64

// sealedKeyLen is a channel key sealed to one member: the key and its tag.
const sealedKeyLen = KeySize + chacha20poly1305.Overhead

// Member is one member of a private channel: its node and its X25519 chat
// key, to which the channel key of each epoch is sealed.
type Member struct {
	Peer    peer.ID
	ChatKey *ecdh.PublicKey
}

// Roster is a private channel's membership in one key epoch, as its
// creator signed it (the roster travels as the Body of a KindRoster
// message whose Author is the creator and whose Epoch is the roster's).
type Roster struct {
	// Members are sorted by peer ID, each at most once; the creator is one
	// of them.
	Members []Member
	// Ephemeral is the X25519 key the channel key was sealed with.
	Ephemeral *ecdh.PublicKey
	// Sealed holds, per member, the epoch's channel key sealed to its chat
	// key (see sealTo).
	Sealed [][]byte
}

// member reports whether p is on the roster and its index.
func (r *Roster) member(p peer.ID) (int, bool) {
	return slices.BinarySearchFunc(r.Members, p, func(m Member, p peer.ID) int {
		return bytes.Compare([]byte(m.Peer), []byte(p))
	})
}

// kek derives the key that seals the channel key of epoch to one member.
func kek(shared []byte, eph, member *ecdh.PublicKey, channel string, epoch uint32, p peer.ID) ([]byte, error) {
	salt := append(slices.Clone(eph.Bytes()), member.Bytes()...)
	info := fmt.Sprintf("fog/chat/channel/key/1\x00%s\x00%d\x00%s", channel, epoch, p)
	return hkdf.Key(sha256.New, shared, salt, info, KeySize)
}

// SealRoster returns the body of a KindRoster message for channel's epoch:
// members (sorted and deduplicated here) with key sealed to each one's chat
// key under a fresh ephemeral X25519 key drawn from rng.
func SealRoster(channel string, epoch uint32, members []Member, key [KeySize]byte, rng io.Reader) ([]byte, error) {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return bytes.Compare([]byte(a.Peer), []byte(b.Peer)) })
	ms = slices.CompactFunc(ms, func(a, b Member) bool { return a.Peer == b.Peer })
	if len(ms) == 0 || len(ms) > MaxMembers {
		return nil, fmt.Errorf("channel: roster of %d members, want 1..%d", len(ms), MaxMembers)
	}
	eph, err := ecdh.X25519().GenerateKey(rng)
	if err != nil {
		return nil, fmt.Errorf("channel: roster: %w", err)
	}
	r := Roster{Members: ms, Ephemeral: eph.PublicKey()}
	for _, m := range ms {
		if m.ChatKey == nil || m.ChatKey.Curve() != ecdh.X25519() {
			return nil, fmt.Errorf("channel: roster: member %s has no X25519 chat key", m.Peer)
		}
		shared, err := eph.ECDH(m.ChatKey)
		if err != nil {
			return nil, fmt.Errorf("channel: roster: member %s: %w", m.Peer, err)
		}
		k, err := kek(shared, r.Ephemeral, m.ChatKey, channel, epoch, m.Peer)
		if err != nil {
			return nil, fmt.Errorf("channel: roster: %w", err)
		}
		aead, err := chacha20poly1305.New(k)
		if err != nil {
			return nil, fmt.Errorf("channel: roster: %w", err)
		}
		// The KEK is unique to this ephemeral key and member, so the
		// all-zero nonce is used once.
		r.Sealed = append(r.Sealed, aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), key[:], nil))
	}
	return EncodeRoster(r)
}

// OpenKey returns the channel key the roster seals to member me, whose
// chat key is priv, for channel's epoch; ErrNotMember if me is not listed.
func (r *Roster) OpenKey(channel string, epoch uint32, me peer.ID, priv *ecdh.PrivateKey) ([KeySize]byte, error) {
	var key [KeySize]byte
	i, ok := r.member(me)
	if !ok || priv == nil {
		return key, ErrNotMember
	}
	if !bytes.Equal(r.Members[i].ChatKey.Bytes(), priv.PublicKey().Bytes()) {
		return key, fmt.Errorf("%w: the roster lists another chat key for %s", ErrNotMember, me)
	}
	shared, err := priv.ECDH(r.Ephemeral)
	if err != nil {
		return key, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	k, err := kek(shared, r.Ephemeral, r.Members[i].ChatKey, channel, epoch, me)
	if err != nil {
		return key, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	aead, err := chacha20poly1305.New(k)
	if err != nil {
		return key, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	pt, err := aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), r.Sealed[i], nil)
	if err != nil {
		return key, fmt.Errorf("%w: sealed key does not open", ErrNoKey)
	}
	copy(key[:], pt)
	return key, nil
}

// EncodeRoster returns the one wire form of r:
//
//	32 ephemeral X25519 key | uvarint n | n × (u8 len, peer ID | 32 chat key | 48 sealed key)
//
// with members sorted by peer ID and unique.
func EncodeRoster(r Roster) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b := append([]byte(nil), r.Ephemeral.Bytes()...)
	b = binary.AppendUvarint(b, uint64(len(r.Members)))
	for i, m := range r.Members {
		b = append(b, byte(len(m.Peer)))
		b = append(b, m.Peer...)
		b = append(b, m.ChatKey.Bytes()...)
		b = append(b, r.Sealed[i]...)
	}
	return b, nil
}

func (r *Roster) check() error {
	switch {
	case r.Ephemeral == nil || r.Ephemeral.Curve() != ecdh.X25519():
		return fmt.Errorf("%w: roster has no X25519 ephemeral key", ErrMalformed)
	case len(r.Members) == 0 || len(r.Members) > MaxMembers:
		return fmt.Errorf("%w: roster of %d members, want 1..%d", ErrMalformed, len(r.Members), MaxMembers)
	case len(r.Sealed) != len(r.Members):
		return fmt.Errorf("%w: roster has %d sealed keys for %d members", ErrMalformed, len(r.Sealed), len(r.Members))
	}
	for i, m := range r.Members {
		switch {
		case len(m.Peer) == 0 || len(m.Peer) > MaxPeerIDLen:
			return fmt.Errorf("%w: roster member ID of %d bytes", ErrMalformed, len(m.Peer))
		case m.ChatKey == nil || m.ChatKey.Curve() != ecdh.X25519():
			return fmt.Errorf("%w: roster member %s has no X25519 key", ErrMalformed, m.Peer)
		case len(r.Sealed[i]) != sealedKeyLen:
			return fmt.Errorf("%w: sealed key of %d bytes", ErrMalformed, len(r.Sealed[i]))
		case i > 0 && bytes.Compare([]byte(r.Members[i-1].Peer), []byte(m.Peer)) >= 0:
			return fmt.Errorf("%w: roster members not sorted and unique", ErrMalformed)
		}
	}
	return nil
}

// DecodeRoster parses a roster from its wire form, rejecting (never
// panicking on) anything EncodeRoster would not produce.
func DecodeRoster(b []byte) (Roster, error) {
	if len(b) > MaxBodyLen {
		return Roster{}, fmt.Errorf("%w: roster of %d bytes", ErrMalformed, len(b))
	}
	r := binenc.NewReader(b, ErrMalformed)
	var out Roster
	eph := fixed(r, 32)
	n := r.Count()
	if r.Err() == nil && (n == 0 || n > MaxMembers) {
		return Roster{}, fmt.Errorf("%w: roster of %d members, want 1..%d", ErrMalformed, n, MaxMembers)
	}
	for range n {
		pid := fixed(r, int(r.Byte()))
		ck := fixed(r, 32)
		sealed := fixed(r, sealedKeyLen)
		if r.Err() != nil {
			break
		}
		id, err := peer.IDFromBytes(pid)
		if err != nil {
			return Roster{}, fmt.Errorf("%w: roster member: %v", ErrMalformed, err)
		}
		pub, err := ecdh.X25519().NewPublicKey(ck)
		if err != nil {
			return Roster{}, fmt.Errorf("%w: roster chat key: %v", ErrMalformed, err)
		}
		out.Members = append(out.Members, Member{Peer: id, ChatKey: pub})
		out.Sealed = append(out.Sealed, slices.Clone(sealed))
	}
	r.End()
	if err := r.Err(); err != nil {
		return Roster{}, err
	}
	pub, err := ecdh.X25519().NewPublicKey(eph)
	if err != nil {
		return Roster{}, fmt.Errorf("%w: roster ephemeral key: %v", ErrMalformed, err)
	}
	out.Ephemeral = pub
	if err := out.check(); err != nil {
		return Roster{}, err
	}
	return out, nil
}

// postOverhead is what sealing adds to a private post's text: the random
// XChaCha20-Poly1305 nonce and the tag.
const postOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// postAD is the associated data of a private post's ciphertext: its
// signing bytes without the body, so a ciphertext cannot be moved to
// another message.
func postAD(m *Message) []byte {
	c := *m
	c.Body = nil
	return c.appendUnsigned([]byte("fog/chat/channel/post/1\x00"))
}

// sealPost sets m.Body to text sealed under the epoch's key.
func sealPost(m *Message, key [KeySize]byte, text []byte, rng io.Reader) error {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return fmt.Errorf("channel: seal: %w", err)
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX, postOverhead+len(text))
	if _, err := io.ReadFull(rng, nonce); err != nil {
		return fmt.Errorf("channel: seal: %w", err)
	}
	m.Body = nil
	m.Body = aead.Seal(nonce, nonce, text, postAD(m))
	return nil
}

// openPost returns the text of a private post.
func openPost(m *Message, key [KeySize]byte) ([]byte, error) {
	if len(m.Body) < postOverhead {
		return nil, fmt.Errorf("%w: private post of %d bytes", ErrMalformed, len(m.Body))
	}
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	n := chacha20poly1305.NonceSizeX
	pt, err := aead.Open(nil, m.Body[:n], m.Body[n:], postAD(m))
	if err != nil {
		return nil, fmt.Errorf("%w: post does not open under epoch %d's key", ErrNoKey, m.Epoch)
	}
	return pt, nil
}

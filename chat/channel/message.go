package channel

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/binenc"
)

// Wire limits. EncodeMessage and DecodeMessage enforce them; Config.MaxBody
// may lower the body limit of posts further.
const (
	// MessageFormat is the first byte of every encoded message. A new
	// format gets a new topic version (/fog/chat/<channel>/2).
	MessageFormat = 1
	// MaxNameLen bounds a channel name (see ValidName).
	MaxNameLen = 48
	// MaxPeerIDLen bounds an encoded author (an Ed25519 identity is 38
	// bytes).
	MaxPeerIDLen = 64
	// MaxBodyLen bounds a message body on the wire: a post's text (or its
	// ciphertext) or a roster with its sealed keys.
	MaxBodyLen = 12 << 10
	// SignatureLen is the length of an Ed25519 signature.
	SignatureLen = 64
	// MaxMessageSize is the largest valid encoded message.
	MaxMessageSize = 1 + 1 + 1 + MaxNameLen + 1 + MaxPeerIDLen + 3*binary.MaxVarintLen64 +
		binary.MaxVarintLen32 + binary.MaxVarintLen16 + MaxBodyLen + SignatureLen
)

// Kind says what a message carries.
type Kind uint8

// The kinds of message.
const (
	// KindPost is a post: its body is the text (public channel) or the
	// text sealed under the epoch's channel key (private channel).
	KindPost Kind = 1
	// KindRoster is a private channel's roster and the channel key of its
	// epoch sealed to each member (see Roster); only the creator may
	// author one.
	KindRoster Kind = 2
)

// ID names a message: the SHA-256 of its encoding, signature included.
type ID [32]byte

// String returns the ID in hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Message is one signed message of a channel. It is signed by its author's
// libp2p Ed25519 identity, so it can be verified wherever it came from: a
// gossip neighbour, or a history sync long after it was published.
type Message struct {
	// Kind is KindPost or KindRoster.
	Kind Kind
	// Channel is the channel's name (ValidName).
	Channel string
	// Author is the node that wrote and signed the message.
	Author peer.ID
	// Seq grows with each message of the author in the channel.
	Seq uint64
	// Time is when the author wrote it, with millisecond precision.
	Time time.Time
	// Epoch is the key epoch of a private channel's post or roster; 0 on a
	// public channel.
	Epoch uint32
	// Body is the post's text, its ciphertext, or the encoded roster.
	Body []byte
	// Sig is the author's Ed25519 signature over SigningBytes.
	Sig []byte
}

// ValidName reports whether s can name a channel: 1 to MaxNameLen of
// lower-case letters, digits, '-' and '_', starting with a letter or digit.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '-' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// Topic returns the gossipsub topic of channel name: /fog/chat/<name>/1.
func Topic(name string) string { return "/fog/chat/" + name + "/1" }

// signDomain separates the signatures of channel messages from every other
// use of a node's key.
const signDomain = "fog/chat/channel/message/1\x00"

// check verifies the fields' limits (not the signature).
func (m *Message) check() error {
	switch {
	case m.Kind != KindPost && m.Kind != KindRoster:
		return fmt.Errorf("%w: message kind %d", ErrMalformed, m.Kind)
	case !ValidName(m.Channel):
		return fmt.Errorf("%w: %w %q", ErrMalformed, ErrBadName, m.Channel)
	case len(m.Author) == 0 || len(m.Author) > MaxPeerIDLen:
		return fmt.Errorf("%w: author has %d bytes, want 1..%d", ErrMalformed, len(m.Author), MaxPeerIDLen)
	case m.Time.UnixMilli() <= 0:
		return fmt.Errorf("%w: message time %d ms is not after 1970", ErrMalformed, m.Time.UnixMilli())
	case len(m.Body) > MaxBodyLen:
		return fmt.Errorf("%w: body has %d bytes, at most %d", ErrMalformed, len(m.Body), MaxBodyLen)
	}
	return nil
}

// appendUnsigned appends the encoding of every field but the signature.
func (m *Message) appendUnsigned(b []byte) []byte {
	b = append(b, MessageFormat, byte(m.Kind), byte(len(m.Channel)))
	b = append(b, m.Channel...)
	b = append(b, byte(len(m.Author)))
	b = append(b, m.Author...)
	b = binary.AppendUvarint(b, m.Seq)
	b = binary.AppendUvarint(b, uint64(m.Time.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(m.Epoch))
	return binenc.AppendBytes(b, m.Body)
}

// SigningBytes returns what the author signs: a domain string followed by
// the encoding without the signature.
func (m *Message) SigningBytes() []byte {
	return m.appendUnsigned([]byte(signDomain))
}

// Sign sets m.Sig with key, which must be m.Author's.
func (m *Message) Sign(key crypto.PrivKey) error {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("channel: sign: %w", err)
	}
	if id != m.Author {
		return fmt.Errorf("channel: sign: key is %s's, message is %s's", id, m.Author)
	}
	if err := m.check(); err != nil {
		return err
	}
	sig, err := key.Sign(m.SigningBytes())
	if err != nil {
		return fmt.Errorf("channel: sign: %w", err)
	}
	m.Sig = sig
	return nil
}

// Verify checks the signature against the Ed25519 key the author's peer ID
// carries.
func (m *Message) Verify() error {
	pub, err := m.Author.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: author %s: %v", ErrSignature, m.Author, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return fmt.Errorf("%w: author key is %s, want Ed25519", ErrSignature, pub.Type())
	}
	ok, err := pub.Verify(m.SigningBytes(), m.Sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: message of %s seq %d", ErrSignature, m.Author, m.Seq)
	}
	return nil
}

// ID returns the message's ID (see type ID). It is only meaningful for a
// message that encodes.
func (m *Message) ID() ID {
	b, _ := EncodeMessage(*m)
	return sha256.Sum256(b)
}

// EncodeMessage returns the one wire form of m (varints are minimal):
//
//	u8 format=1 | u8 kind | u8 len, channel | u8 len, author
//	| uvarint seq | uvarint time (unix ms) | uvarint epoch
//	| uvarint len, body | 64 signature
func EncodeMessage(m Message) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if len(m.Sig) != SignatureLen {
		return nil, fmt.Errorf("%w: signature has %d bytes, want %d", ErrMalformed, len(m.Sig), SignatureLen)
	}
	b := m.appendUnsigned(make([]byte, 0, 64+len(m.Channel)+len(m.Author)+len(m.Body)+SignatureLen))
	return append(b, m.Sig...), nil
}

// DecodeMessage parses a message from its wire form. It rejects, with an
// error wrapping ErrMalformed, anything EncodeMessage would not produce
// (including an author that is not a valid peer ID), and never panics. It
// does not verify the signature (Verify does).
func DecodeMessage(b []byte) (Message, error) {
	if len(b) > MaxMessageSize {
		return Message{}, fmt.Errorf("%w: message has %d bytes, at most %d", ErrMalformed, len(b), MaxMessageSize)
	}
	r := binenc.NewReader(b, ErrMalformed)
	if f := r.Byte(); r.Err() == nil && f != MessageFormat {
		return Message{}, fmt.Errorf("%w: message format %d, want %d", ErrMalformed, f, MessageFormat)
	}
	var m Message
	m.Kind = Kind(r.Byte())
	m.Channel = string(fixed(r, int(r.Byte())))
	author := fixed(r, int(r.Byte()))
	m.Seq = r.Uvarint()
	ms := r.Int63("time")
	m.Epoch = r.Uint32("epoch")
	body := r.Bytes()
	if len(body) > 0 {
		m.Body = append([]byte(nil), body...)
	}
	sig := fixed(r, SignatureLen)
	r.End()
	if err := r.Err(); err != nil {
		return Message{}, err
	}
	id, err := peer.IDFromBytes(author)
	if err != nil {
		return Message{}, fmt.Errorf("%w: author: %v", ErrMalformed, err)
	}
	m.Author = id
	m.Time = time.UnixMilli(ms)
	m.Sig = append([]byte(nil), sig...)
	if err := m.check(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// fixed reads n raw bytes.
func fixed(r *binenc.Reader, n int) []byte {
	if r.Err() != nil || n > r.Len() {
		r.Fail("truncated")
		return nil
	}
	b := r.Rest()
	rest := b[n:]
	*r = *binenc.NewReader(rest, ErrMalformed)
	return b[:n:n]
}

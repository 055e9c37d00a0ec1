package chat

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits on nicknames.
const (
	// MaxNickRunes bounds a nickname's length in characters.
	MaxNickRunes = 32
	// MaxNickBytes bounds a nickname's UTF-8 encoding.
	MaxNickBytes = 128
	// MaxNickSize bounds an encoded Nick.
	MaxNickSize = nickFixed + MaxNickBytes
)

// An encoded Nick:
//
//	offset size  field
//	     0    1  version 0x01
//	     1   32  owner's Ed25519 public key
//	    33    8  sequence number, big-endian
//	    41    8  time, Unix milliseconds, big-endian, > 0
//	    49    1  length n of the nickname, 1..MaxNickBytes
//	    50    n  nickname, UTF-8, valid by ValidateNick
//	  50+n   64  Ed25519 signature by the owner
//
// The signature is over "fog/chat/nick/v1\x00" || bytes 0..49+n.
const (
	nickVersion   byte = 1
	nickFixed          = 1 + 32 + 8 + 8 + 1 + 64
	nickSigDomain      = "fog/chat/nick/v1\x00"
)

// Nick is a signed nickname claim: the identity Owner calls itself Name,
// as of Seq (a higher one replaces a lower one) and Time. A nickname is
// shown only once its claim verified, and then with the owner's
// Fingerprint.
type Nick struct {
	Owner peer.ID
	Name  string    // as the owner wrote it; valid by ValidateNick
	Seq   uint64    // version; higher replaces lower
	Time  time.Time // when it was claimed (millisecond precision)
	Sig   []byte    // Owner's signature
}

// ValidateNick checks a nickname: 1 to MaxNickRunes characters (at most
// MaxNickBytes bytes) of letters, combining marks, decimal digits and
// "_", "-", ".", not starting with a mark, in Unicode NFC form (so that
// one name has one encoding).
func ValidateNick(name string) error {
	if name == "" || len(name) > MaxNickBytes || !utf8.ValidString(name) {
		return fmt.Errorf("%w: %q: 1 to %d bytes of UTF-8", ErrInvalidNick, name, MaxNickBytes)
	}
	if n := utf8.RuneCountInString(name); n > MaxNickRunes {
		return fmt.Errorf("%w: %q: %d characters, limit %d", ErrInvalidNick, name, n, MaxNickRunes)
	}
	for i, r := range name {
		switch {
		case unicode.IsLetter(r), unicode.Is(unicode.Nd, r), r == '_', r == '-', r == '.':
		case unicode.IsMark(r) && i > 0:
		default:
			return fmt.Errorf("%w: %q: character %q not allowed", ErrInvalidNick, name, r)
		}
	}
	if !norm.NFC.IsNormalString(name) {
		return fmt.Errorf("%w: %q is not in Unicode NFC form", ErrInvalidNick, name)
	}
	return nil
}

// NormalizeNick returns the form names are compared in: NFKC, case-folded,
// NFKC again ("Ａlice" and "ALICE" are both "alice"). It does not fold
// look-alikes across scripts (Cyrillic "а" stays apart from Latin "a"):
// the fingerprint tells those apart.
func NormalizeNick(name string) string {
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(name)))
}

// NewNick returns the claim that identity id (an Ed25519 key) is called
// name, with sequence seq and time now.
func NewNick(id crypto.PrivKey, name string, seq uint64, now time.Time) (*Nick, error) {
	owner, _, err := identityOf(id)
	if err != nil {
		return nil, err
	}
	n := &Nick{Owner: owner, Name: name, Seq: seq, Time: time.UnixMilli(now.UnixMilli()), Sig: make([]byte, 64)}
	enc, err := n.Encode()
	if err != nil {
		return nil, err
	}
	n.Sig, err = id.Sign(append([]byte(nickSigDomain), enc[:len(enc)-64]...))
	if err != nil {
		return nil, fmt.Errorf("chat: signing nickname: %w", err)
	}
	return n, nil
}

// Encode returns n's encoding. It fails if a field cannot be encoded (it
// does not check the signature).
func (n *Nick) Encode() ([]byte, error) {
	if err := ValidateNick(n.Name); err != nil {
		return nil, err
	}
	raw, err := rawIdentity(n.Owner)
	if err != nil {
		return nil, err
	}
	if ms := n.Time.UnixMilli(); ms <= 0 || ms > maxMillis {
		return nil, fmt.Errorf("%w: nickname time %v", ErrMalformed, n.Time)
	}
	if len(n.Sig) != 64 {
		return nil, fmt.Errorf("%w: nickname signature has %d bytes", ErrMalformed, len(n.Sig))
	}
	b := make([]byte, 0, nickFixed+len(n.Name))
	b = append(b, nickVersion)
	b = append(b, raw...)
	b = binary.BigEndian.AppendUint64(b, n.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(n.Time.UnixMilli()))
	b = append(b, byte(len(n.Name)))
	b = append(b, n.Name...)
	return append(b, n.Sig...), nil
}

// DecodeNick decodes an encoded Nick and verifies it: a valid nickname and
// the owner's signature. Any defect is an error wrapping ErrMalformed,
// ErrInvalidNick, ErrBadKey or ErrBadSignature; it never panics.
func DecodeNick(b []byte) (*Nick, error) {
	if len(b) < nickFixed+1 || len(b) > MaxNickSize {
		return nil, fmt.Errorf("%w: nickname claim of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != nickVersion {
		return nil, fmt.Errorf("%w: nickname claim version %d", ErrMalformed, b[0])
	}
	l := int(b[49])
	if len(b) != nickFixed+l {
		return nil, fmt.Errorf("%w: nickname length %d in a claim of %d bytes", ErrMalformed, l, len(b))
	}
	ms := binary.BigEndian.Uint64(b[41:49])
	if ms == 0 || ms > maxMillis {
		return nil, fmt.Errorf("%w: nickname time %d", ErrMalformed, ms)
	}
	name := string(b[50 : 50+l])
	if err := ValidateNick(name); err != nil {
		return nil, err
	}
	signed := 50 + l
	owner, err := verifySig(b[1:33], append([]byte(nickSigDomain), b[:signed]...), b[signed:])
	if err != nil {
		return nil, fmt.Errorf("chat: nickname %q: %w", name, err)
	}
	return &Nick{
		Owner: owner,
		Name:  name,
		Seq:   binary.BigEndian.Uint64(b[33:41]),
		Time:  time.UnixMilli(int64(ms)),
		Sig:   append([]byte(nil), b[signed:]...),
	}, nil
}

// Verify checks that n is a valid claim signed by its Owner.
func (n *Nick) Verify() error {
	enc, err := n.Encode()
	if err != nil {
		return err
	}
	_, err = DecodeNick(enc)
	return err
}

// Display returns how n is shown: "name#fingerprint".
func (n *Nick) Display() string { return n.Name + "#" + Fingerprint(n.Owner) }

package mailbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// KeyLen and IDLen are the sizes of a mailbox key and an item ID.
const (
	KeyLen = sha256.Size
	IDLen  = 16
)

// Key is a daily mailbox key: where, in the DHT, a recipient's mail of
// one UTC day is kept (MailboxKey).
type Key [KeyLen]byte

// String returns k in lowercase hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// ItemID names one item in a mailbox. The sender draws it at random; it
// is what a recipient acknowledges and what de-duplicates the copies of
// one item kept by several hosts.
type ItemID [IDLen]byte

// String returns id in lowercase hex.
func (id ItemID) String() string { return hex.EncodeToString(id[:]) }

// Day is a UTC calendar day, counted from the Unix epoch (1970-01-01 is
// day 0).
type Day int64

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day {
	s := t.Unix()
	d := s / 86400
	if s < 0 && s%86400 != 0 {
		d--
	}
	return Day(d)
}

// Start returns the first instant of d, in UTC.
func (d Day) Start() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// keyDomain separates mailbox keys from every other SHA-256 of fog's.
const keyDomain = "fog/mailbox/v1"

// MailboxKey returns the key of owner's mailbox on day d:
// SHA-256("fog/mailbox/v1" ‖ uint16 length of owner ‖ owner ‖ uint64 day),
// integers big-endian, owner being the bytes of the peer ID (for an
// Ed25519 identity, its public key in an identity multihash).
//
// The key changes every day, and keys of different days cannot be linked
// without knowing owner: a host or an observer of the DHT sees unrelated
// keys, not one mailbox followed across days. Anyone who knows owner's
// peer ID can compute them, which is what lets a sender find the mailbox;
// so the key hides nothing from whoever already knows whom to look for.
func MailboxKey(owner peer.ID, d Day) Key {
	h := sha256.New()
	h.Write([]byte(keyDomain))
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(owner)))
	h.Write(n[:])
	h.Write([]byte(owner))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(d))
	h.Write(b[:])
	var k Key
	h.Sum(k[:0])
	return k
}

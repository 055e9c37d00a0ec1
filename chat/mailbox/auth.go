package mailbox

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// maxUnixSeconds bounds the time in a request, so it converts safely.
const maxUnixSeconds = 1 << 40

// sign fills the proof of a fetch or an ack to host: the owner's public
// key, the time now and the signature over authBytes.
func (r *request) sign(priv crypto.PrivKey, host peer.ID, now time.Time) error {
	owner, err := crypto.MarshalPublicKey(priv.GetPublic())
	if err != nil {
		return fmt.Errorf("mailbox: sign: %w", err)
	}
	r.owner = owner
	r.time = uint64(max(now.Unix(), 0))
	sig, err := priv.Sign(r.authBytes(host))
	if err != nil {
		return fmt.Errorf("mailbox: sign: %w", err)
	}
	r.sig = sig
	return nil
}

// authorize checks, at host and at now, that a fetch or an ack comes from
// the owner of the mailbox it names: the owner key is an Ed25519 identity
// whose mailbox key of the request's day is the request's key, that day is
// within ttl of now (or tomorrow, for a clock past midnight), the request's
// time is within skew of now, and the signature over the request, bound to
// host, verifies. It returns why not, wrapping ErrDenied.
func (r *request) authorize(host peer.ID, now time.Time, ttl, skew time.Duration) error {
	pub, err := crypto.UnmarshalPublicKey(r.owner)
	if err != nil {
		return fmt.Errorf("%w: owner key: %w", ErrDenied, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return fmt.Errorf("%w: owner key is %s, not Ed25519", ErrDenied, pub.Type())
	}
	owner, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return fmt.Errorf("%w: owner key: %w", ErrDenied, err)
	}
	if MailboxKey(owner, r.day) != r.key {
		return fmt.Errorf("%w: %s's mailbox of day %d is not %s", ErrDenied, owner, r.day, r.key)
	}
	if r.day < DayOf(now.Add(-ttl)) || r.day > DayOf(now)+1 {
		return fmt.Errorf("%w: day %d is outside the TTL", ErrDenied, r.day)
	}
	if r.time > maxUnixSeconds {
		return fmt.Errorf("%w: time out of range", ErrDenied)
	}
	if d := now.Sub(time.Unix(int64(r.time), 0)); d > skew || d < -skew {
		return fmt.Errorf("%w: request time %v from ours", ErrDenied, d)
	}
	ok, err := pub.Verify(r.authBytes(host), r.sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: bad signature", ErrDenied)
	}
	return nil
}

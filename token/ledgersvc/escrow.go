package ledgersvc

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/token"
)

// ErrTicket is wrapped by DecodeTicket's errors.
var ErrTicket = errors.New("ledgersvc: malformed claim ticket")

// ClaimTicket is what a submitter hands a provider so that it can claim
// its pay from an escrow: the lock, the amount and the submitter's
// signature over token.ClaimTicket(Lock, provider, Amount).
type ClaimTicket struct {
	Lock   token.Hash
	Amount uint64
	Sig    [ed25519.SignatureSize]byte
}

const ticketVersion = 1

// TicketSize is the encoded size of a ClaimTicket.
const TicketSize = 1 + 32 + 8 + ed25519.SignatureSize

// Encode returns the ticket's encoding: a version byte, the lock, the
// amount (big-endian) and the signature.
func (t *ClaimTicket) Encode() []byte {
	b := make([]byte, 0, TicketSize)
	b = append(b, ticketVersion)
	b = append(b, t.Lock[:]...)
	b = binary.BigEndian.AppendUint64(b, t.Amount)
	return append(b, t.Sig[:]...)
}

// DecodeTicket decodes a ticket's encoding; it does not check the
// signature (the ledger does, when the claim is made).
func DecodeTicket(p []byte) (ClaimTicket, error) {
	var t ClaimTicket
	switch {
	case len(p) != TicketSize:
		return t, fmt.Errorf("%w: %d bytes, want %d", ErrTicket, len(p), TicketSize)
	case p[0] != ticketVersion:
		return t, fmt.Errorf("%w: version %d", ErrTicket, p[0])
	}
	copy(t.Lock[:], p[1:33])
	t.Amount = binary.BigEndian.Uint64(p[33:41])
	copy(t.Sig[:], p[41:])
	if t.Amount == 0 {
		return ClaimTicket{}, fmt.Errorf("%w: amount 0", ErrTicket)
	}
	return t, nil
}

// EpochAt returns the ledger's epoch at time t.
func (s *Service) EpochAt(t time.Time) uint64 { return s.cfg.Epoch(t) }

// EpochStart returns when the ledger's epoch e starts.
func (s *Service) EpochStart(e uint64) time.Time { return s.cfg.EpochStart(e) }

// EpochLength returns the ledger's epoch length.
func (s *Service) EpochLength() time.Duration { return s.cfg.EpochLength }

package token

import "errors"

// Sentinel errors callers branch on. Every error the package returns wraps
// one of them.
var (
	// ErrConfig reports an invalid Config, ElectionConfig or DAO rule set.
	ErrConfig = errors.New("token: invalid config")
	// ErrMalformed reports bytes that are not a canonical encoding.
	ErrMalformed = errors.New("token: malformed encoding")
	// ErrSignature reports a block or vote whose signature does not verify.
	ErrSignature = errors.New("token: bad signature")
	// ErrInvalid reports a well-formed, signed block that breaks a ledger
	// rule (balance arithmetic, an unknown or spent source, a frozen
	// account, ...).
	ErrInvalid = errors.New("token: invalid block")
	// ErrSettled is wrapped, with ErrInvalid, by the error for a block
	// that competes with a confirmed one: the loser of a settled fork,
	// which a peer that missed the outcome may still relay in good faith.
	ErrSettled = errors.New("token: conflicts with the confirmed block")
	// ErrGap reports a block whose previous block, or whose source, this
	// ledger does not have yet; it may become valid later.
	ErrGap = errors.New("token: missing dependency")
	// ErrFork reports a valid block whose previous already has another
	// successor; the ledger records it for an election to settle.
	ErrFork = errors.New("token: fork")
	// ErrDuplicate reports a block the ledger already holds.
	ErrDuplicate = errors.New("token: duplicate block")
	// ErrOverflow reports an amount that would leave the uint64 range.
	ErrOverflow = errors.New("token: amount overflow")
	// ErrBusy reports a block refused because MaxElections elections are
	// open.
	ErrBusy = errors.New("token: too many open elections")
	// ErrRefused reports a valid proposal a node does not store: its
	// proposer lacks stake or has too many pending (Rules.Admit).
	ErrRefused = errors.New("token: proposal refused")
	// ErrGenesis reports an invalid genesis file.
	ErrGenesis = errors.New("token: invalid genesis")
)

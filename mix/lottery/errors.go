package lottery

import "errors"

// Sentinel errors. Every error about a message (decoding, verifying,
// receiving) and every Config.Validate error wraps exactly one of them, so
// callers branch with errors.Is. Errors from a bad local identity key wrap
// vrf.ErrInvalidPrivateKey; errors reading randomness wrap the reader's.
var (
	// ErrConfig is wrapped by every error Config.Validate returns.
	ErrConfig = errors.New("lottery: invalid config")

	// ErrMalformed: the bytes are not one well-formed lottery message (wrong
	// length, unknown kind tag, over the size limit) or a Claim or Reveal has
	// a field of the wrong size.
	ErrMalformed = errors.New("lottery: malformed message")

	// ErrWrongEpoch: the message is for an epoch other than the one it is
	// checked against, or for an epoch too far ahead to be checked at all.
	ErrWrongEpoch = errors.New("lottery: wrong epoch")

	// ErrWrongSeed: the claim names a seed other than this node's seed for
	// its epoch. Between honest nodes this means their seed chains have
	// diverged (see docs/lottery.md, "Disagreement").
	ErrWrongSeed = errors.New("lottery: wrong seed")

	// ErrEarly: the message's phase has not begun on this node's clock (the
	// claim's seed is not final yet, or the directory a reveal refers to is
	// still open). State buffers such messages within the clock-skew
	// tolerance and checks them when the phase begins.
	ErrEarly = errors.New("lottery: too early")

	// ErrLate: the message's phase is over on this node's clock (the claim
	// window of its epoch has closed, or its epoch's seed is already final).
	ErrLate = errors.New("lottery: too late")

	// ErrBadSignature: the claim's signature by the claimant's identity key
	// does not verify over the claim (epoch, seed, layer, seats, proof and
	// mix key): the mix key, or anything else, was not signed by the
	// claimant.
	ErrBadSignature = errors.New("lottery: bad signature")

	// ErrBadProof: the VRF proof does not verify for the claimant's key and
	// the epoch's VRF input, or the claimant's key is not a valid VRF key.
	ErrBadProof = errors.New("lottery: bad VRF proof")

	// ErrBadMixKey: the claim's X25519 mix key is a point of small order, for
	// which every Diffie-Hellman output is zero.
	ErrBadMixKey = errors.New("lottery: bad mix key")

	// ErrNotCandidate: the stake oracle gives the claimant no weight in the
	// claim's epoch.
	ErrNotCandidate = errors.New("lottery: not a candidate")

	// ErrNotRelay: a reveal comes from a key that holds no seat in the
	// epoch's directory, so it does not count towards the next seed.
	ErrNotRelay = errors.New("lottery: not a relay of the epoch")

	// ErrSeats: the claimed number of seats is zero or differs from the
	// number the VRF output wins by sortition.
	ErrSeats = errors.New("lottery: wrong number of seats")

	// ErrLayer: the claimed mix layer is out of range or differs from the
	// layer the VRF output assigns.
	ErrLayer = errors.New("lottery: wrong layer")

	// ErrDuplicate: the message is already known (same claim bytes, or a
	// reveal from a relay whose reveal is already counted).
	ErrDuplicate = errors.New("lottery: duplicate")

	// ErrEquivocation: the claimant published two different valid claims for
	// one epoch. Both are dropped and the claimant is excluded from that
	// epoch's directory.
	ErrEquivocation = errors.New("lottery: equivocation")

	// ErrExcluded: the claimant is already excluded from the epoch's
	// directory for equivocation; further claims from it are ignored.
	ErrExcluded = errors.New("lottery: claimant excluded for equivocation")
)

package chat

import "errors"

// Sentinel errors; every error this package returns wraps one of them.
var (
	// ErrMalformed: the bytes are not one well-formed record (wrong length,
	// unknown version, trailing bytes, over the size limit).
	ErrMalformed = errors.New("chat: malformed record")
	// ErrBadSignature: the record's signature does not verify under the
	// identity it names, or the record names another identity than the
	// one expected.
	ErrBadSignature = errors.New("chat: bad signature")
	// ErrBadKey: an identity key is not an Ed25519 key, or an X25519 key is
	// a point of small order.
	ErrBadKey = errors.New("chat: bad key")
	// ErrInvalidNick: a nickname is empty, too long, not NFC-normalized or
	// has a character outside the allowed set.
	ErrInvalidNick = errors.New("chat: invalid nickname")
	// ErrStale: a claim with an equal or higher sequence number is known.
	ErrStale = errors.New("chat: claim is not newer")
	// ErrUnknown: no verified claim matches the name.
	ErrUnknown = errors.New("chat: unknown name")
	// ErrAmbiguous: more than one identity claims the name; the error is an
	// *AmbiguousError listing them.
	ErrAmbiguous = errors.New("chat: ambiguous name")
)

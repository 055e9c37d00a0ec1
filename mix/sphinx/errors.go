package sphinx

import "errors"

// Sentinel errors. Every error the package returns wraps exactly one of
// them (errors from reading randomness wrap the reader's error instead).
var (
	// ErrConfig: the Geometry is invalid.
	ErrConfig = errors.New("sphinx: invalid geometry")

	// ErrPath: the caller's path, commands, payload, SURB or keys cannot
	// make a packet (too many hops, commands that do not fit, a missing
	// or low-order public key, a payload of the wrong length).
	ErrPath = errors.New("sphinx: invalid path")

	// ErrMalformed: the bytes are not a packet of this geometry (wrong
	// length, unknown version, a group element that gives no shared
	// secret), or the authenticated routing commands are invalid.
	ErrMalformed = errors.New("sphinx: malformed packet")

	// ErrMAC: the header MAC does not verify. The packet was altered, or
	// is not meant for this key.
	ErrMAC = errors.New("sphinx: header MAC mismatch")

	// ErrPayloadAuth: the decrypted payload's tag is not zero. The payload
	// was altered on the way (or the SURB keys are not this reply's).
	ErrPayloadAuth = errors.New("sphinx: payload authentication failed")
)

package dm

import "errors"

// Sentinel errors; every error this package returns wraps one of them (or
// one of package chat's, for a bad chat key).
var (
	// ErrConfig is wrapped by every error Config.Validate returns.
	ErrConfig = errors.New("dm: invalid config")
	// ErrMalformed: a frame or payload does not decode (unknown kind,
	// truncated, trailing bytes, over a size limit).
	ErrMalformed = errors.New("dm: malformed frame")
	// ErrHandshake: a handshake message failed (out of order, does not
	// decrypt, or the remote's static key is not the chat key of the
	// expected peer).
	ErrHandshake = errors.New("dm: handshake failed")
	// ErrDecrypt: a ciphertext does not authenticate under the session's
	// or this node's keys (tampered, or for another session).
	ErrDecrypt = errors.New("dm: message does not decrypt")
	// ErrReplay: the transport message was received already, or is from a
	// key epoch that has been erased.
	ErrReplay = errors.New("dm: replayed message")
	// ErrNoSession: there is no established session for the frame.
	ErrNoSession = errors.New("dm: no session")
	// ErrTooLarge: a message exceeds the size limit.
	ErrTooLarge = errors.New("dm: message too large")
	// ErrExpired: a message is past its expiry.
	ErrExpired = errors.New("dm: message expired")
	// ErrBusy: too many messages pending or remembered.
	ErrBusy = errors.New("dm: too many messages")
	// ErrUnknownMessage: no message with that ID.
	ErrUnknownMessage = errors.New("dm: unknown message")
)

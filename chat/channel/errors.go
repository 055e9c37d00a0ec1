package channel

import "errors"

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrConfig is wrapped by every error Config.Validate and New return
	// for a bad parameter; the message names the Go field.
	ErrConfig = errors.New("channel: invalid config")
	// ErrClosed is returned by methods of a closed Service.
	ErrClosed = errors.New("channel: closed")
	// ErrMalformed is wrapped by every decoder's error for input it would
	// not have produced.
	ErrMalformed = errors.New("channel: malformed")
	// ErrBadName: a channel name outside the allowed alphabet or length.
	ErrBadName = errors.New("channel: bad channel name")
	// ErrSignature: a message or roster whose signature does not verify.
	ErrSignature = errors.New("channel: bad signature")
	// ErrTooLarge: a body beyond the configured limit.
	ErrTooLarge = errors.New("channel: body too large")
	// ErrNotJoined: the channel is not joined on this node.
	ErrNotJoined = errors.New("channel: not joined")
	// ErrNotMember: this node, or a message's author, is not on the
	// private channel's roster.
	ErrNotMember = errors.New("channel: not a member")
	// ErrStaleEpoch: a private message under a key epoch that was replaced
	// before the message was written.
	ErrStaleEpoch = errors.New("channel: stale key epoch")
	// ErrNoKey: the channel key of the message's epoch is not known here
	// (a non-member, or a removed member after the key change).
	ErrNoKey = errors.New("channel: no key for epoch")
	// ErrSync: a history sync conversation failed or the peer broke the
	// protocol.
	ErrSync = errors.New("channel: sync failed")
)

package gossip

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is; the wrapping
// message carries the details.
var (
	// ErrConfig is wrapped by every error Config.Validate and Join return
	// for a bad parameter; the message names the field.
	ErrConfig = errors.New("gossip: invalid config")
	// ErrClosed is returned by methods of a closed Gossip, Topic or
	// Subscription.
	ErrClosed = errors.New("gossip: closed")

	// ErrTooLarge: the message is larger than its topic's size limit.
	ErrTooLarge = errors.New("gossip: message too large")
	// ErrMalformed: the message does not decode.
	ErrMalformed = errors.New("gossip: malformed message")
	// ErrWrongAuthor: the node the message claims to come from is not the
	// node whose key signed it.
	ErrWrongAuthor = errors.New("gossip: claimed author is not the signer")
	// ErrTooNew: the message's timestamp lies further in the future than
	// the allowed clock skew.
	ErrTooNew = errors.New("gossip: timestamp in the future")
	// ErrTooOld: the message's timestamp is older than the topic allows.
	ErrTooOld = errors.New("gossip: timestamp too old")
	// ErrStaleSeq: the message's sequence number is not newer than the last
	// one accepted from its author.
	ErrStaleSeq = errors.New("gossip: sequence not newer than the last seen")
	// ErrRateLimited: the author publishes faster than the topic allows.
	ErrRateLimited = errors.New("gossip: author over its rate limit")
	// ErrInvalid is wrapped by topic-specific checks that reject a message
	// (for the capacity topic: an advert whose expiry is out of bounds).
	ErrInvalid = errors.New("gossip: invalid message")
	// ErrIgnore may be wrapped by a topic-specific check to drop a message
	// without penalising the peer that forwarded it (it might have been
	// valid where that peer stood, for example under a different clock).
	ErrIgnore = errors.New("gossip: message ignored")
)

// Rule names one step of the validator chain; RuleError and the per-topic
// counters (TopicStats) report which rule refused a message.
type Rule string

// The rules of the validator chain, in the order they run. RuleSignature is
// libp2p-pubsub's own envelope check, which runs before the chain; it is
// listed so that Stats can attribute its rejections.
const (
	RuleSignature Rule = "signature"
	RuleSize      Rule = "size"
	RuleDecode    Rule = "decode"
	RuleAuthor    Rule = "author"
	RuleTime      Rule = "time"
	RuleTopic     Rule = "topic"
	RuleSeq       Rule = "seq"
	RuleRate      Rule = "rate"
)

// Verdict is what the chain decided about a message.
type Verdict int

// The verdicts, mirroring libp2p-pubsub's ValidationResult.
const (
	// Accept: deliver the message and forward it.
	Accept Verdict = iota
	// Reject: drop it and count it against the peer that forwarded it
	// (peer score P4, invalid message deliveries).
	Reject
	// Ignore: drop it without penalty; the forwarder may have seen it valid.
	Ignore
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case Ignore:
		return "ignore"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// RuleError says which rule refused a message and with which verdict. It
// wraps the rule's sentinel error (ErrTooLarge, ErrStaleSeq, ...).
type RuleError struct {
	Rule    Rule
	Verdict Verdict
	Err     error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%s (rule %s, %s)", e.Err, e.Rule, e.Verdict)
}

func (e *RuleError) Unwrap() error { return e.Err }

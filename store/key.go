package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ipfs/go-datastore"
)

// Prefix is the root of one subsystem's part of the keyspace, "/<subsystem>".
// Badger keys are /<subsystem>/<kind>/<id> (DESIGN); DB.Datastore(prefix)
// gives a subsystem a Datastore that sees only the keys under its prefix.
type Prefix string

// The subsystems' prefixes. Keep them here, in one list, so two subsystems
// cannot pick the same one.
const (
	PrefixP2P     Prefix = "/p2p"     // p2p: ban list, peer records
	PrefixDHT     Prefix = "/dht"     // dht: Kademlia provider and value records
	PrefixCompute Prefix = "/compute" // compute: the local task queue and results
	PrefixMix     Prefix = "/mix"     // mix: the relay lottery's own claims, mix keys and message log
	PrefixChat    Prefix = "/chat"    // chat: history, mailboxes, transfers
	PrefixToken   Prefix = "/token"   // token: hash chains, escrow, votes
	PrefixFiles   Prefix = "/files"   // files: UnixFS blocks, pins
	PrefixNode    Prefix = "/node"    // node: the composition root's own state
)

// Key returns the absolute key /<subsystem>/<kind>/<id>, for subsystems that
// use raw Badger transactions (DB.Badger) and need the full key bytes
// (Key(...).Bytes()). Segments are escaped as by the package-level Key.
func (p Prefix) Key(kind, id string) datastore.Key {
	return datastore.NewKey(string(p)).Child(Key(kind, id))
}

// Key returns the key /<kind>/<id> relative to a subsystem's Datastore.
//
// Both segments are escaped so that any string, including one from the
// network, is a safe id: each segment is escaped with url.PathEscape (so a
// "/" cannot add a level and "%" stays unambiguous; letters, digits and
// -._~ are kept as they are, so peer IDs, CIDs and hex ids read plainly),
// the segments "." and ".." (which datastore keys would resolve away) are
// written %2E and %2E%2E, and an empty segment is written as a lone "%".
// ParseKey reverses it.
func Key(kind, id string) datastore.Key {
	return datastore.RawKey("/" + escapeSegment(kind) + "/" + escapeSegment(id))
}

// ErrBadKey is returned by ParseKey for a key that Key did not make.
var ErrBadKey = errors.New("store: malformed key")

// ParseKey returns the kind and id of a key made by Key or Prefix.Key: its
// last two segments, unescaped.
func ParseKey(k datastore.Key) (kind, id string, err error) {
	s := k.String()
	last := strings.LastIndexByte(s, '/')
	if last <= 0 {
		return "", "", fmt.Errorf("%w: %q has fewer than two segments", ErrBadKey, s)
	}
	prev := strings.LastIndexByte(s[:last], '/')
	if kind, err = unescapeSegment(s[prev+1 : last]); err != nil {
		return "", "", fmt.Errorf("%w: %q: kind: %w", ErrBadKey, s, err)
	}
	if id, err = unescapeSegment(s[last+1:]); err != nil {
		return "", "", fmt.Errorf("%w: %q: id: %w", ErrBadKey, s, err)
	}
	return kind, id, nil
}

func escapeSegment(s string) string {
	switch s {
	case "":
		return "%"
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

func unescapeSegment(s string) (string, error) {
	if s == "%" {
		return "", nil
	}
	if s == "" || s == "." || s == ".." {
		return "", fmt.Errorf("segment %q cannot come from Key", s)
	}
	return url.PathUnescape(s)
}

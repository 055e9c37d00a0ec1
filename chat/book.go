package chat

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrFull: the Book holds its limit of identities and refuses a new one.
var ErrFull = errors.New("chat: name book full")

// Entry is what a Book knows about one identity.
type Entry struct {
	Peer        peer.ID `json:"peer"`
	Nick        string  `json:"nick"` // "" when no verified claim is known
	Fingerprint string  `json:"fingerprint"`
	Seq         uint64  `json:"seq"` // the claim's sequence number
}

// String is how the entry is shown: "alice#1a2b3c4d", or "#1a2b3c4d (peer
// ID)" for an identity without a nickname.
func (e Entry) String() string {
	if e.Nick == "" {
		return "#" + e.Fingerprint + " (" + e.Peer.String() + ")"
	}
	return e.Nick + "#" + e.Fingerprint
}

// AmbiguousError is returned (wrapping ErrAmbiguous) when a name matches
// more than one identity; Candidates lists them, ordered by peer ID.
type AmbiguousError struct {
	Name       string
	Candidates []Entry
}

func (e *AmbiguousError) Error() string {
	s := make([]string, len(e.Candidates))
	for i, c := range e.Candidates {
		s[i] = c.String()
	}
	return fmt.Sprintf("%v: %q is %s", ErrAmbiguous, e.Name, strings.Join(s, ", "))
}

// Unwrap makes errors.Is(err, ErrAmbiguous) hold.
func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

// Book keeps the newest verified nickname claim of each identity and
// resolves names. A claim is added only after it verified, so whatever a
// Book shows was signed by the identity it names. A Book is not safe for
// concurrent use.
type Book struct {
	max    int
	byPeer map[peer.ID]Nick
	byName map[string]map[peer.ID]struct{} // NormalizeNick(name) → owners
	notify chan struct{}                   // closed at the next change
}

// NewBook returns an empty Book that holds claims of at most max
// identities (max ≤ 0: no limit).
func NewBook(max int) *Book {
	return &Book{max: max, byPeer: map[peer.ID]Nick{}, byName: map[string]map[peer.ID]struct{}{}, notify: make(chan struct{})}
}

// Updated returns a channel that is closed when the Book next changes (a
// claim added or removed), to wait for a name without polling: take the
// channel, check the condition, then wait on the channel. Like every
// method, it is called under the owner's lock; the channel may be waited
// on without it.
func (b *Book) Updated() <-chan struct{} { return b.notify }

func (b *Book) changed() {
	close(b.notify)
	b.notify = make(chan struct{})
}

// Add verifies n and keeps it unless a claim of its owner with an equal or
// higher sequence is known (ErrStale). A forged or invalid claim is refused
// with the error of Nick.Verify.
func (b *Book) Add(n *Nick) error {
	if err := n.Verify(); err != nil {
		return err
	}
	old, ok := b.byPeer[n.Owner]
	if ok && old.Seq >= n.Seq {
		return fmt.Errorf("%w: %s has seq %d, got %d", ErrStale, n.Owner, old.Seq, n.Seq)
	}
	if !ok && b.max > 0 && len(b.byPeer) >= b.max {
		return fmt.Errorf("%w: %d identities", ErrFull, b.max)
	}
	if ok {
		b.unindex(old)
	}
	c := *n
	c.Sig = slices.Clone(n.Sig)
	b.byPeer[n.Owner] = c
	key := NormalizeNick(n.Name)
	if b.byName[key] == nil {
		b.byName[key] = map[peer.ID]struct{}{}
	}
	b.byName[key][n.Owner] = struct{}{}
	b.changed()
	return nil
}

// Remove forgets p's claim.
func (b *Book) Remove(p peer.ID) {
	if old, ok := b.byPeer[p]; ok {
		b.unindex(old)
		delete(b.byPeer, p)
		b.changed()
	}
}

func (b *Book) unindex(n Nick) {
	key := NormalizeNick(n.Name)
	delete(b.byName[key], n.Owner)
	if len(b.byName[key]) == 0 {
		delete(b.byName, key)
	}
}

// Len returns the number of identities with a claim.
func (b *Book) Len() int { return len(b.byPeer) }

// Lookup returns p's entry; ok is false (and the entry has no nickname)
// when no claim of p is known.
func (b *Book) Lookup(p peer.ID) (e Entry, ok bool) {
	n, ok := b.byPeer[p]
	e = Entry{Peer: p, Fingerprint: Fingerprint(p)}
	if ok {
		e.Nick, e.Seq = n.Name, n.Seq
	}
	return e, ok
}

// Claim returns p's newest verified claim, to pass on to others.
func (b *Book) Claim(p peer.ID) (*Nick, bool) {
	n, ok := b.byPeer[p]
	if !ok {
		return nil, false
	}
	n.Sig = slices.Clone(n.Sig)
	return &n, true
}

// Whois returns every identity query names, ordered by peer ID: query is a
// peer ID, a nickname ("alice", compared after NormalizeNick) or a
// nickname with a fingerprint ("alice#1a2b3c4d"). An unknown nickname
// returns none; a peer ID always returns its entry.
func (b *Book) Whois(query string) []Entry {
	if p, err := peer.Decode(query); err == nil {
		e, _ := b.Lookup(p)
		return []Entry{e}
	}
	name, fp, hasFP := strings.Cut(query, "#")
	fp = strings.ToLower(fp)
	var out []Entry
	if name == "" && hasFP { // "#1a2b3c4d": every identity with that fingerprint
		for p := range b.byPeer {
			if Fingerprint(p) == fp {
				e, _ := b.Lookup(p)
				out = append(out, e)
			}
		}
	} else {
		for p := range b.byName[NormalizeNick(name)] {
			e, _ := b.Lookup(p)
			if !hasFP || e.Fingerprint == fp {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(x, y Entry) int { return strings.Compare(string(x.Peer), string(y.Peer)) })
	return out
}

// Resolve returns the one identity query names (see Whois). It fails with
// ErrUnknown when none matches and with an *AmbiguousError (wrapping
// ErrAmbiguous, listing the candidates) when more than one does: a
// message must not go to a name that is not unique.
func (b *Book) Resolve(query string) (peer.ID, error) {
	es := b.Whois(query)
	switch len(es) {
	case 0:
		return "", fmt.Errorf("%w: %q", ErrUnknown, query)
	case 1:
		return es[0].Peer, nil
	default:
		return "", &AmbiguousError{Name: query, Candidates: es}
	}
}

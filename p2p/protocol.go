package p2p

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
)

// Version is a protocol version major.minor.patch.
type Version struct {
	Major, Minor, Patch int
}

// String formats v as major.minor.patch.
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less reports whether v orders before w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// ParseVersion parses "major.minor.patch".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("p2p: version %q: want major.minor.patch", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("p2p: version %q: bad number %q", s, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

var protoName = regexp.MustCompile(`^[a-z][a-z0-9-]*(/[a-z][a-z0-9-]*)*$`)

// Protocol is one fog protocol with every version this node speaks. Its IDs
// are /fog/<name>/<major.minor.patch>.
type Protocol struct {
	name     string
	versions []Version // highest first
}

// NewProtocol returns the protocol name spoken in the given versions. It
// returns an error if the name is not one or more '/'-separated segments
// of lower-case ASCII letters, digits and dashes starting with a letter
// (a subsystem's protocols may share its segment: "chat/sync"), or if no
// version is given.
func NewProtocol(name string, versions ...Version) (Protocol, error) {
	if !protoName.MatchString(name) {
		return Protocol{}, fmt.Errorf("p2p: protocol name %q: want [a-z][a-z0-9-]*", name)
	}
	if len(versions) == 0 {
		return Protocol{}, fmt.Errorf("p2p: protocol %q: no version", name)
	}
	vs := slices.Clone(versions)
	slices.SortFunc(vs, func(a, b Version) int {
		switch {
		case b.Less(a):
			return -1
		case a.Less(b):
			return 1
		}
		return 0
	})
	vs = slices.Compact(vs)
	return Protocol{name: name, versions: vs}, nil
}

// MustProtocol is NewProtocol for package-level constants with literal
// arguments; it panics on a programming error, never on input.
func MustProtocol(name string, versions ...Version) Protocol {
	p, err := NewProtocol(name, versions...)
	if err != nil {
		panic(err)
	}
	return p
}

// ID returns the protocol ID of version v.
func (p Protocol) ID(v Version) protocol.ID {
	return protocol.ID("/fog/" + p.name + "/" + v.String())
}

// IDs returns the IDs of every supported version, highest first.
func (p Protocol) IDs() []protocol.ID {
	ids := make([]protocol.ID, len(p.versions))
	for i, v := range p.versions {
		ids[i] = p.ID(v)
	}
	return ids
}

// VersionOf returns the version of id if it is one of p's IDs.
func (p Protocol) VersionOf(id protocol.ID) (Version, bool) {
	for _, v := range p.versions {
		if p.ID(v) == id {
			return v, true
		}
	}
	return Version{}, false
}

// Open opens a stream to peer id, proposing p's versions highest first, so
// both sides settle on the highest version they share.
func (p Protocol) Open(ctx context.Context, h host.Host, id peer.ID) (network.Stream, error) {
	s, err := h.NewStream(ctx, id, p.IDs()...)
	if err != nil {
		return nil, fmt.Errorf("p2p: open %s to %s: %w", p.name, id, err)
	}
	// A peer we use is worth its connection, as one that uses us is.
	h.ConnManager().TagPeer(id, p.tag(), TagValue)
	return s, nil
}

// negotiateTimeout bounds OpenAccepted's negotiation when ctx has no
// deadline.
const negotiateTimeout = 10 * time.Second

// OpenAccepted opens a stream as Open does, but returns only once the
// peer has accepted it: the version is negotiated before the first write,
// so the peer's handler for the stream runs. Open returns at once for a
// protocol the peer is known to speak (libp2p sends the header with the
// first write), so if the peer closed the connection meanwhile, as its
// connection manager may when trimming, what is written first is lost
// with no error to the writer. A long-lived stream that carries data with
// no reply (the mix's links) opens so, at the cost of one round trip.
func (p Protocol) OpenAccepted(ctx context.Context, h host.Host, id peer.ID) (network.Stream, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, negotiateTimeout)
		defer cancel()
	}
	if err := h.Connect(ctx, peer.AddrInfo{ID: id}); err != nil {
		return nil, fmt.Errorf("p2p: open %s to %s: %w", p.name, id, err)
	}
	s, err := h.Network().NewStream(network.WithNoDial(ctx, "connected"), id)
	if err != nil {
		return nil, fmt.Errorf("p2p: open %s to %s: %w", p.name, id, err)
	}
	dl, _ := ctx.Deadline()
	_ = s.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	selected, err := msmux.SelectOneOf(p.IDs(), s)
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err == nil {
		err = s.SetProtocol(selected)
	}
	if err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("p2p: open %s to %s: %w", p.name, id, err)
	}
	_ = s.SetDeadline(time.Time{})
	_ = h.Peerstore().AddProtocols(id, selected)
	h.ConnManager().TagPeer(id, p.tag(), TagValue)
	return s, nil
}

package mixnet

import (
	"crypto/ecdh"
	"fmt"
	"io"
	"time"

	"github.com/fog-compute/fog/mix/sphinx"
)

// Errors of unwrapping, as the drop counters tell them apart.
var (
	errMAC     = sphinx.ErrMAC
	errPayload = sphinx.ErrPayloadAuth
)

// codec is the Node's use of Sphinx: fog's geometry, and routes of relays
// plus an endpoint turned into paths of commands.
type codec struct {
	geo sphinx.Geometry
}

func newCodec(hops int) (*codec, error) {
	g := sphinx.DefaultGeometry()
	if hops > g.Hops {
		return nil, fmt.Errorf("%w: a route of %d hops does not fit fog's %d-hop packets", ErrConfig, hops, g.Hops)
	}
	return &codec{geo: g}, nil
}

func (c *codec) packetSize() int  { return c.geo.PacketLength() }
func (c *codec) payloadSize() int { return c.geo.PayloadLength }
func (c *codec) surbSize() int    { return c.geo.SURBLength() }

// hopSpec is one hop of a route: a relay (next is the following hop,
// delay its mixing delay) or, if final, the endpoint that reads the
// payload.
type hopSpec struct {
	id    NodeID
	key   *ecdh.PublicKey
	next  NodeID
	delay time.Duration
	final bool
	// nextEndpoint: the next hop is an endpoint, which receives under its
	// identity's key (NextHopTerminal tells the relay so).
	nextEndpoint bool
}

// path turns hops into Sphinx's path; surbID, if not nil, marks the final
// hop's SURBReply.
func (c *codec) path(hops []hopSpec, surbID *[16]byte) ([]sphinx.PathHop, error) {
	p := make([]sphinx.PathHop, len(hops))
	for i, h := range hops {
		if h.key == nil {
			return nil, fmt.Errorf("%w: hop %d has no key", ErrNoRoute, i)
		}
		p[i] = sphinx.PathHop{ID: h.id, PublicKey: h.key}
		if h.final {
			p[i].Commands = []sphinx.Command{sphinx.Recipient{ID: h.id}}
			if surbID != nil {
				p[i].Commands = append(p[i].Commands, sphinx.SURBReply{ID: *surbID})
			}
		} else {
			ms := (h.delay + time.Millisecond/2) / time.Millisecond
			p[i].Commands = []sphinx.Command{sphinx.NodeDelay{Delay: uint32(ms)}}
			if h.nextEndpoint {
				p[i].Commands = append(p[i].Commands, sphinx.NextHopTerminal{})
			}
		}
	}
	return p, nil
}

// surb makes a reply block along hops (ending at this node) and returns
// it with the keys that decrypt what comes back through it.
func (c *codec) surb(rnd io.Reader, hops []hopSpec, id [16]byte) (surb, keys []byte, err error) {
	p, err := c.path(hops, &id)
	if err != nil {
		return nil, nil, err
	}
	return sphinx.NewSURB(rnd, c.geo, p)
}

// fromSURB builds the packet that answers through a block, and names the
// block's first hop.
func (c *codec) fromSURB(block, payload []byte) ([]byte, NodeID, error) {
	if len(block) != c.geo.SURBLength() {
		return nil, NodeID{}, fmt.Errorf("%w: reply block of %d bytes", ErrMalformed, len(block))
	}
	pkt, first, err := sphinx.NewPacketFromSURB(c.geo, block, payload)
	return pkt, first, err
}

// openSURB decrypts a payload that came back through a block.
func (c *codec) openSURB(keys, payload []byte) ([]byte, error) {
	return sphinx.DecryptSURBPayload(c.geo, keys, payload)
}

// unwrapped is what one hop learns from a packet.
type unwrapped struct {
	tag     [32]byte
	final   bool      // no next hop: the payload is for this hop
	surbID  *[16]byte // final, through a reply block
	payload []byte    // final: plaintext, or still under the block's keys
	next    NodeID
	delay   time.Duration
	packet  []byte // not final: the packet for next
	// nextEndpoint: not final, and next reads the payload under its
	// endpoint key.
	nextEndpoint bool
}

// unwrap removes one layer of pkt (in place) under key.
func (c *codec) unwrap(key *ecdh.PrivateKey, pkt []byte) (unwrapped, error) {
	payload, tag, cmds, err := sphinx.Unwrap(c.geo, key, pkt)
	if err != nil {
		return unwrapped{}, err
	}
	u := unwrapped{tag: tag, final: true, payload: payload}
	for _, cmd := range cmds {
		switch cmd := cmd.(type) {
		case sphinx.NextNodeHop:
			u.final, u.next, u.packet, u.payload = false, cmd.ID, pkt, nil
		case sphinx.NodeDelay:
			u.delay = time.Duration(cmd.Delay) * time.Millisecond
		case sphinx.SURBReply:
			id := cmd.ID
			u.surbID = &id
		case sphinx.NextHopTerminal:
			u.nextEndpoint = true
		}
	}
	if !u.final && u.surbID != nil || u.final && u.nextEndpoint {
		return unwrapped{}, fmt.Errorf("%w: commands of a forwarding hop on a final one, or the reverse", ErrMalformed)
	}
	return u, nil
}

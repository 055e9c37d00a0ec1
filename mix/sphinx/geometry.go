package sphinx

import "fmt"

// Sizes of the fixed fields of the format, in bytes.
const (
	// NodeIDLength is the length of a node identifier in a NextNodeHop.
	NodeIDLength = 32
	// RecipientIDLength is the length of a Recipient identifier.
	RecipientIDLength = 32
	// SURBIDLength is the length of a SURBReply identifier.
	SURBIDLength = 16
	// GroupElementLength is the length of an X25519 group element (the
	// header's alpha, and a public routing key).
	GroupElementLength = 32
	// MACLength is the length of the header MAC (untruncated HMAC-SHA256).
	MACLength = 32
	// TagLength is the length of the payload's zero authentication tag.
	TagLength = 32
	// PerHopLength is the room one hop's routing commands take in the
	// header: a NextNodeHop (65) and a SURBReply (17), the largest set a hop
	// carries, as in Katzenpost's NIKE geometry.
	PerHopLength = nextNodeHopLength + surbReplyLength
	// adLength is the header's version field (Katzenpost's additional data).
	adLength = 2
	// MaxHops bounds Geometry.Hops.
	MaxHops = 20
	// MaxPayloadLength bounds Geometry.PayloadLength.
	MaxPayloadLength = 1 << 20
)

// Geometry is the shape of a packet: how many hops its header has room for
// and how long its payload is. Every node of a network must use the same
// Geometry; all lengths follow from these two numbers.
type Geometry struct {
	// Hops is the number of hops the header has room for. A packet may
	// take a shorter path; the rest of the routing information is random.
	Hops int
	// PayloadLength is the length of the plaintext payload in bytes. The
	// packet carries it behind a TagLength-byte authentication tag.
	PayloadLength int
}

// DefaultGeometry is fog's geometry: 5 hops (fog's three mix layers, plus
// room for a gateway and a final recipient hop; the same header as
// Katzenpost's 5-hop X25519 geometry) and a 2 KiB payload, which holds a
// SURB of the default geometry (DefaultGeometry().SURBLength() = 636 bytes)
// plus 1.4 KiB of message.
func DefaultGeometry() Geometry {
	return Geometry{Hops: 5, PayloadLength: 2048}
}

// KatzenpostVectorGeometry is the geometry of Katzenpost's published X25519
// Sphinx test vectors (testdata/sphinx_vectors.json): 5 hops and a
// 103-byte payload, so 611-byte packets.
func KatzenpostVectorGeometry() Geometry {
	return Geometry{Hops: 5, PayloadLength: 103}
}

// Validate reports whether g is usable. Its errors wrap ErrConfig and name
// the field.
func (g Geometry) Validate() error {
	if g.Hops < 1 || g.Hops > MaxHops {
		return fmt.Errorf("%w: Geometry.Hops = %d, want 1..%d", ErrConfig, g.Hops, MaxHops)
	}
	if g.PayloadLength < 1 || g.PayloadLength > MaxPayloadLength {
		return fmt.Errorf("%w: Geometry.PayloadLength = %d, want 1..%d", ErrConfig, g.PayloadLength, MaxPayloadLength)
	}
	return nil
}

// RoutingInfoLength is the length of the header's routing information:
// PerHopLength for each hop.
func (g Geometry) RoutingInfoLength() int { return g.Hops * PerHopLength }

// HeaderLength is the length of the header: version, group element,
// routing information and MAC.
func (g Geometry) HeaderLength() int {
	return adLength + GroupElementLength + g.RoutingInfoLength() + MACLength
}

// PacketLength is the length of a whole packet: header, tag and payload.
func (g Geometry) PacketLength() int {
	return g.HeaderLength() + TagLength + g.PayloadLength
}

// SURBLength is the length of a SURB: a header, the first hop's node ID
// and the payload key its user encrypts the reply with.
func (g Geometry) SURBLength() int {
	return g.HeaderLength() + NodeIDLength + lionessKeyLength
}

// offsets of the header fields.
func (g Geometry) riOff() int  { return adLength + GroupElementLength }
func (g Geometry) macOff() int { return g.riOff() + g.RoutingInfoLength() }

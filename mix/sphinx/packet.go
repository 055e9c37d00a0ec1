package sphinx

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/subtle"
	"fmt"
	"io"
)

// version is the header's two-byte version field (Katzenpost's additional
// data, 0x0000).
var version = [adLength]byte{0x00, 0x00}

// PathHop is one hop of a packet's path.
type PathHop struct {
	// ID is the hop's node ID; the previous hop's NextNodeHop names it.
	ID [NodeIDLength]byte
	// PublicKey is the hop's X25519 routing key.
	PublicKey *ecdh.PublicKey
	// Commands are the hop's routing commands other than NextNodeHop,
	// which NewPacket adds for every hop but the last: typically a
	// NodeDelay on relays, a Recipient (and SURBReply) on the last hop.
	Commands []Command
}

// NewPacket builds a packet that carries payload (exactly
// geo.PayloadLength bytes) along path (1 to geo.Hops hops). rand supplies
// the ephemeral key and the padding of a short path's routing
// information. The packet goes to path[0].ID.
func NewPacket(rand io.Reader, geo Geometry, path []PathHop, payload []byte) ([]byte, error) {
	if err := geo.Validate(); err != nil {
		return nil, err
	}
	if len(payload) != geo.PayloadLength {
		return nil, fmt.Errorf("%w: payload of %d bytes, geometry wants %d", ErrPath, len(payload), geo.PayloadLength)
	}
	hdr, keys, err := createHeader(rand, geo, path)
	if err != nil {
		return nil, err
	}
	pkt := make([]byte, geo.PacketLength())
	copy(pkt, hdr)
	body := pkt[geo.HeaderLength():]
	copy(body[TagLength:], payload) // the tag is zero
	for i := len(path) - 1; i >= 0; i-- {
		lionessEncrypt(keys[i].payloadKey(), body)
	}
	return pkt, nil
}

// routingBlock encodes one hop's commands, NextNodeHop (if next is not
// nil) last, padded with zeros to PerHopLength.
func routingBlock(cmds []Command, next *NextNodeHop) ([]byte, error) {
	b := make([]byte, 0, PerHopLength+nextNodeHopLength)
	var seen [5]bool
	for _, c := range cmds {
		kind := -1
		switch c.(type) {
		case NextNodeHop:
			return nil, fmt.Errorf("%w: NextNodeHop in PathHop.Commands (NewPacket adds it)", ErrPath)
		case Recipient:
			kind = 1
		case SURBReply:
			kind = 2
		case NodeDelay:
			kind = 3
		case NextHopTerminal:
			kind = 4
		default:
			return nil, fmt.Errorf("%w: command %T", ErrPath, c)
		}
		if seen[kind] {
			return nil, fmt.Errorf("%w: command %T repeated", ErrPath, c)
		}
		seen[kind] = true
		b = appendCommand(b, c)
	}
	if next != nil {
		b = appendCommand(b, *next)
	}
	if len(b) > PerHopLength {
		return nil, fmt.Errorf("%w: a hop's commands take %d bytes, room for %d", ErrPath, len(b), PerHopLength)
	}
	return b[:PerHopLength], nil // the zero padding is a valid null command
}

// createHeader builds the header for path and returns it with each hop's
// keys.
func createHeader(rand io.Reader, geo Geometry, path []PathHop) ([]byte, []*hopKeys, error) {
	n := len(path)
	if n < 1 || n > geo.Hops {
		return nil, nil, fmt.Errorf("%w: %d hops, geometry has room for 1..%d", ErrPath, n, geo.Hops)
	}
	for i, h := range path {
		if h.PublicKey == nil || h.PublicKey.Curve() != ecdh.X25519() {
			return nil, nil, fmt.Errorf("%w: hop %d has no X25519 public key", ErrPath, i)
		}
	}

	// The ephemeral key x; alpha_0 = x*G.
	var seed [32]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, nil, fmt.Errorf("sphinx: reading randomness: %w", err)
	}
	x, err := ecdh.X25519().NewPrivateKey(seed[:])
	clear(seed[:])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: ephemeral key: %v", ErrPath, err)
	}

	// Per hop: the group element alpha_i it will see, the shared secret
	// s_i = b_{i-1}*...*b_0*x*pk_i and its keys.
	alphas := make([][]byte, n)
	keys := make([]*hopKeys, n)
	blind := make([][]byte, n)
	alphas[0] = x.PublicKey().Bytes()
	for i := range n {
		s, err := x.ECDH(path[i].PublicKey)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: hop %d: %v", ErrPath, i, err)
		}
		for j := range i {
			if s, err = x25519(blind[j], s); err != nil {
				return nil, nil, fmt.Errorf("%w: hop %d: %v", ErrPath, i, err)
			}
		}
		if keys[i], err = deriveKeys(s); err != nil {
			return nil, nil, err
		}
		blind[i] = keys[i].blindingFactor()
		if i > 0 {
			if alphas[i], err = x25519(blind[i-1], alphas[i-1]); err != nil {
				return nil, nil, fmt.Errorf("%w: hop %d: %v", ErrPath, i, err)
			}
		}
	}

	// Keystreams over routing info plus one hop of padding; the tail of
	// each hop's keystream is the filler its successors will see.
	riLen := geo.RoutingInfoLength()
	riKS := make([][]byte, n)
	pad := make([][]byte, n)
	for i := range n {
		ks := make([]byte, riLen+PerHopLength)
		keys[i].xorKeyStream(ks, ks)
		cut := riLen - i*PerHopLength
		riKS[i], pad[i] = ks[:cut], ks[cut:]
		if i > 0 {
			xorInto(pad[i][:len(pad[i-1])], pad[i-1])
		}
	}

	// The routing information, from the last hop back to the first.
	ri := make([]byte, (geo.Hops-n)*PerHopLength)
	if _, err := io.ReadFull(rand, ri); err != nil {
		return nil, nil, fmt.Errorf("sphinx: reading randomness: %w", err)
	}
	var mac []byte
	for i := n - 1; i >= 0; i-- {
		var next *NextNodeHop
		if i < n-1 {
			next = &NextNodeHop{ID: path[i+1].ID}
			copy(next.MAC[:], mac)
		}
		block, err := routingBlock(path[i].Commands, next)
		if err != nil {
			return nil, nil, fmt.Errorf("hop %d: %w", i, err)
		}
		ri = append(block, ri...)
		xorInto(ri, riKS[i])
		if i > 0 {
			mac = headerMAC(keys[i].macKey(), version[:], alphas[i], ri, pad[i-1])
		} else {
			mac = headerMAC(keys[i].macKey(), version[:], alphas[i], ri)
		}
	}

	hdr := make([]byte, 0, geo.HeaderLength())
	hdr = append(hdr, version[:]...)
	hdr = append(hdr, alphas[0]...)
	hdr = append(hdr, ri...)
	hdr = append(hdr, mac...)
	return hdr, keys, nil
}

// Unwrap processes packet at the hop whose routing key is priv, in place.
//
// It checks the length and version, agrees on the hop's shared secret,
// verifies the header MAC, decrypts the routing information and this hop's
// commands, and removes one layer of payload encryption. Then:
//
//   - if the commands hold a NextNodeHop, packet becomes the packet for
//     that node (blinded group element, shifted routing information, next
//     MAC) and payload is nil;
//   - if they hold a SURBReply, payload is the tag and payload still under
//     the SURB keys (TagLength+geo.PayloadLength bytes, for the SURB's
//     creator to pass to DecryptSURBPayload);
//   - otherwise the packet is for this hop: payload is the plaintext,
//     after its zero tag is checked (ErrPayloadAuth).
//
// payload aliases packet. replayTag identifies the packet at this key
// (it is derived from the shared secret, so the same packet always gives
// the same tag and different packets different tags): the caller keeps a
// cache of the tags it has seen and drops a packet whose tag it knows.
// On error, the packet's content is undefined and it must be dropped.
// Unwrap is safe for concurrent use on distinct packets.
func Unwrap(geo Geometry, priv *ecdh.PrivateKey, packet []byte) (payload []byte, replayTag [32]byte, cmds []Command, err error) {
	hdr, next, keys, cmds, err := unwrapHeader(geo, priv, packet)
	if err != nil {
		return nil, [32]byte{}, nil, err
	}
	body := packet[geo.HeaderLength():]
	lionessDecrypt(keys.payloadKey(), body)
	replayTag = keys.replayTag()
	if next != nil {
		copy(packet, hdr)
		return nil, replayTag, cmds, nil
	}
	for _, c := range cmds {
		if _, ok := c.(SURBReply); ok {
			return body, replayTag, cmds, nil
		}
	}
	if !isZero(body[:TagLength]) {
		return nil, [32]byte{}, nil, ErrPayloadAuth
	}
	return body[TagLength:], replayTag, cmds, nil
}

// unwrapHeader does the header part of Unwrap without touching packet: it
// returns the next hop's header (nil if there is no next hop), the
// NextNodeHop, the hop's keys and its commands.
func unwrapHeader(geo Geometry, priv *ecdh.PrivateKey, packet []byte) (newHdr []byte, next *NextNodeHop, keys *hopKeys, cmds []Command, err error) {
	if err := geo.Validate(); err != nil {
		return nil, nil, nil, nil, err
	}
	if priv == nil || priv.Curve() != ecdh.X25519() {
		return nil, nil, nil, nil, fmt.Errorf("%w: the private key is not an X25519 key", ErrPath)
	}
	if len(packet) != geo.PacketLength() {
		return nil, nil, nil, nil, fmt.Errorf("%w: %d bytes, geometry wants %d", ErrMalformed, len(packet), geo.PacketLength())
	}
	if packet[0] != version[0] || packet[1] != version[1] {
		return nil, nil, nil, nil, fmt.Errorf("%w: version %#02x%02x", ErrMalformed, packet[0], packet[1])
	}
	riOff, macOff, hdrLen := geo.riOff(), geo.macOff(), geo.HeaderLength()
	alpha := packet[adLength:riOff]
	pub, err := ecdh.X25519().NewPublicKey(alpha)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: group element: %v", ErrMalformed, err)
	}
	s, err := priv.ECDH(pub)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: group element: %v", ErrMalformed, err)
	}
	if keys, err = deriveKeys(s); err != nil {
		return nil, nil, nil, nil, err
	}
	clear(s)
	if !hmac.Equal(headerMAC(keys.macKey(), packet[:macOff]), packet[macOff:hdrLen]) {
		return nil, nil, nil, nil, ErrMAC
	}

	b := make([]byte, geo.RoutingInfoLength()+PerHopLength)
	copy(b, packet[riOff:macOff])
	keys.xorKeyStream(b, b)
	if cmds, err = ParseCommands(b[:PerHopLength]); err != nil {
		return nil, nil, nil, nil, err
	}
	for _, c := range cmds {
		if h, ok := c.(NextNodeHop); ok {
			next = &h
		}
	}
	if next == nil {
		return nil, nil, keys, cmds, nil
	}
	blinded, err := x25519(keys.blindingFactor(), alpha)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: blinding: %v", ErrMalformed, err)
	}
	newHdr = make([]byte, 0, hdrLen)
	newHdr = append(newHdr, version[:]...)
	newHdr = append(newHdr, blinded...)
	newHdr = append(newHdr, b[PerHopLength:]...)
	newHdr = append(newHdr, next.MAC[:]...)
	return newHdr, next, keys, cmds, nil
}

func xorInto(dst, src []byte) { subtle.XORBytes(dst, dst, src) }

func isZero(b []byte) bool {
	var acc byte
	for _, v := range b {
		acc |= v
	}
	return acc == 0
}

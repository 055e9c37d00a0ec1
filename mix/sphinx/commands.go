package sphinx

import (
	"encoding/binary"
	"fmt"
)

// Command tags on the wire (Katzenpost's values; 0x80 and up are
// implementation defined).
const (
	tagNull        = 0x00
	tagNextNodeHop = 0x01
	tagRecipient   = 0x02
	tagSURBReply   = 0x03
	tagNodeDelay   = 0x80
	tagTerminal    = 0x81
)

// Encoded lengths, tag included.
const (
	nextNodeHopLength = 1 + NodeIDLength + MACLength
	recipientLength   = 1 + RecipientIDLength
	surbReplyLength   = 1 + SURBIDLength
	nodeDelayLength   = 1 + 4
	terminalLength    = 1
)

// Command is one per-hop routing command. The set is closed: NextNodeHop,
// Recipient, SURBReply, NodeDelay and NextHopTerminal.
type Command interface {
	// AppendBinary appends the command's wire encoding (tag, then body)
	// to b. It never fails.
	AppendBinary(b []byte) ([]byte, error)
	isCommand()
}

// NextNodeHop tells a relay to forward the unwrapped packet to node ID.
// MAC is the next hop's header MAC. NewPacket adds it; callers never put
// one in PathHop.Commands.
type NextNodeHop struct {
	ID  [NodeIDLength]byte
	MAC [MACLength]byte
}

// Recipient names the recipient of the payload at the terminal hop.
type Recipient struct {
	ID [RecipientIDLength]byte
}

// SURBReply marks the packet as a reply made from a SURB; ID tells the
// SURB's creator which keys decrypt it. The terminal hop returns such a
// payload undecrypted-and-unchecked for DecryptSURBPayload.
type SURBReply struct {
	ID [SURBIDLength]byte
}

// NextHopTerminal tells a relay that the next hop is the packet's
// terminal hop (the node that reads the payload) rather than another
// relay, so that the relay can say so in the frame it forwards (fog's
// relays and endpoints receive under different keys). fog's own command.
type NextHopTerminal struct{}

// NodeDelay asks the relay to hold the packet for Delay milliseconds.
type NodeDelay struct {
	Delay uint32
}

func (NextNodeHop) isCommand()     {}
func (Recipient) isCommand()       {}
func (SURBReply) isCommand()       {}
func (NodeDelay) isCommand()       {}
func (NextHopTerminal) isCommand() {}

// AppendBinary implements Command.
func (c NextNodeHop) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, tagNextNodeHop)
	b = append(b, c.ID[:]...)
	return append(b, c.MAC[:]...), nil
}

// AppendBinary implements Command.
func (c Recipient) AppendBinary(b []byte) ([]byte, error) {
	return append(append(b, tagRecipient), c.ID[:]...), nil
}

// AppendBinary implements Command.
func (c SURBReply) AppendBinary(b []byte) ([]byte, error) {
	return append(append(b, tagSURBReply), c.ID[:]...), nil
}

// AppendBinary implements Command.
func (c NodeDelay) AppendBinary(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint32(append(b, tagNodeDelay), c.Delay), nil
}

// AppendBinary implements Command.
func (c NextHopTerminal) AppendBinary(b []byte) ([]byte, error) {
	return append(b, tagTerminal), nil
}

// appendCommand appends c's encoding; the concrete types cannot fail.
func appendCommand(b []byte, c Command) []byte {
	b, _ = c.AppendBinary(b)
	return b
}

// ParseCommands decodes one hop's routing commands: a sequence of
// commands ended by the end of block or by a null command (tag 0x00)
// whose padding, the rest of the block, must be zero. It rejects, with
// ErrMalformed, an unknown tag, a truncated command, and a second command
// of any one type.
func ParseCommands(block []byte) ([]Command, error) {
	var cmds []Command
	var seen [5]bool // NextNodeHop, Recipient, SURBReply, NodeDelay, NextHopTerminal
	for len(block) > 0 {
		var (
			c    Command
			n    int
			kind int
		)
		switch block[0] {
		case tagNull:
			for _, v := range block[1:] {
				if v != 0 {
					return nil, fmt.Errorf("%w: non-zero padding after the null command", ErrMalformed)
				}
			}
			return cmds, nil
		case tagNextNodeHop:
			n, kind = nextNodeHopLength, 0
			if len(block) >= n {
				var h NextNodeHop
				copy(h.ID[:], block[1:])
				copy(h.MAC[:], block[1+NodeIDLength:])
				c = h
			}
		case tagRecipient:
			n, kind = recipientLength, 1
			if len(block) >= n {
				var r Recipient
				copy(r.ID[:], block[1:])
				c = r
			}
		case tagSURBReply:
			n, kind = surbReplyLength, 2
			if len(block) >= n {
				var s SURBReply
				copy(s.ID[:], block[1:])
				c = s
			}
		case tagNodeDelay:
			n, kind = nodeDelayLength, 3
			if len(block) >= n {
				c = NodeDelay{Delay: binary.BigEndian.Uint32(block[1:])}
			}
		case tagTerminal:
			n, kind, c = terminalLength, 4, NextHopTerminal{}
		default:
			return nil, fmt.Errorf("%w: unknown command tag %#02x", ErrMalformed, block[0])
		}
		if c == nil {
			return nil, fmt.Errorf("%w: command %#02x truncated", ErrMalformed, block[0])
		}
		if seen[kind] {
			return nil, fmt.Errorf("%w: command %#02x repeated", ErrMalformed, block[0])
		}
		seen[kind] = true
		cmds = append(cmds, c)
		block = block[n:]
	}
	return cmds, nil
}

package sphinx_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"

	"github.com/fog-compute/fog/mix/sphinx"
)

// A packet through three relays: each relay unwraps it and forwards it
// to the node its NextNodeHop names; the last one reads the payload.
func Example() {
	geo := sphinx.DefaultGeometry()
	relays := make([]*ecdh.PrivateKey, 3)
	path := make([]sphinx.PathHop, 3)
	for i := range relays {
		relays[i], _ = ecdh.X25519().GenerateKey(rand.Reader)
		path[i] = sphinx.PathHop{ID: [32]byte{byte(i)}, PublicKey: relays[i].PublicKey()}
		path[i].Commands = []sphinx.Command{sphinx.NodeDelay{Delay: 50}}
	}
	path[2].Commands = []sphinx.Command{sphinx.Recipient{ID: [32]byte{'b', 'o', 'b'}}}

	msg := make([]byte, geo.PayloadLength)
	copy(msg, "hello, mix")
	packet, err := sphinx.NewPacket(rand.Reader, geo, path, msg)
	if err != nil {
		panic(err)
	}
	seen := map[[32]byte]bool{} // each relay's replay cache
	for i, key := range relays {
		payload, tag, cmds, err := sphinx.Unwrap(geo, key, packet)
		if err != nil || seen[tag] {
			panic("drop")
		}
		seen[tag] = true
		for _, c := range cmds {
			switch c := c.(type) {
			case sphinx.NextNodeHop:
				fmt.Printf("relay %d: forward to node %d\n", i, c.ID[0])
			case sphinx.Recipient:
				fmt.Printf("relay %d: deliver to %s: %s\n", i, c.ID[:3], payload[:10])
			}
		}
	}
	// Output:
	// relay 0: forward to node 1
	// relay 1: forward to node 2
	// relay 2: deliver to bob: hello, mix
}

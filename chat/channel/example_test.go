package channel_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/fog-compute/fog/chat/channel"
)

// Two nodes hold 1,000 messages each, one of which only the second has.
// The first reconciles with the second and learns exactly which message to
// fetch, after two round trips and far fewer bytes than the 32,000 of
// the second's IDs.
func Example() {
	var a, b []channel.Item
	for i := range 1001 {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(i))
		it := channel.Item{Time: 1_800_000_000_000 + uint64(i), ID: sha256.Sum256(n[:])}
		if i < 1000 {
			a = append(a, it)
		}
		b = append(b, it)
	}
	cfg := channel.DefaultRBSRConfig()
	ini := channel.NewReconciler(channel.NewSet(a), cfg, true)
	resp := channel.NewReconciler(channel.NewSet(b), cfg, false)
	msg, rounds, bytes := ini.Initiate(0), 0, 0
	for {
		rounds++
		reply, _, _ := resp.Step(msg)
		bytes += len(msg) + len(reply)
		next, done, err := ini.Step(reply)
		if err != nil || done {
			break
		}
		msg = next
	}
	fmt.Println("rounds:", rounds, "need:", len(ini.Need()), "have:", len(ini.Have()), "under 2 KB:", bytes < 2000)
	fmt.Println("topic:", channel.Topic("lobby"), "protocol:", channel.SyncProtocol.IDs()[0])
	// Output:
	// rounds: 2 need: 1 have: 0 under 2 KB: true
	// topic: /fog/chat/lobby/1 protocol: /fog/chat/sync/1.0.0
}

package lottery_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/fog-compute/fog/mix/lottery"
)

// Example runs one epoch of the lottery for three candidate nodes and an
// observer: the winners publish claims, every node checks them, and all end
// with the same relay directory.
func Example() {
	cfg := lottery.SimConfig()
	cfg.Genesis = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	cfg.TargetRelays = 3 // three candidates and R = 3: everyone wins one seat

	var keys []ed25519.PrivateKey
	var pubs []ed25519.PublicKey
	for i := range 3 {
		k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
		keys = append(keys, k)
		pubs = append(pubs, k.Public().(ed25519.PublicKey))
	}
	stake := lottery.NewUniformStake(pubs)
	start := lottery.GenesisCheckpoint(cfg)

	var nodes []*lottery.State
	for _, k := range keys {
		s, _ := lottery.New(cfg, stake, k, start, nil) // nil: mix keys from crypto/rand
		nodes = append(nodes, s)
	}
	observer, _ := lottery.New(cfg, stake, nil, start, nil)
	all := append(nodes, observer)

	// Each winner publishes its claim once the epoch has started; the
	// driver (here a loop instead of gossip) hands it to every other node.
	now := cfg.EpochStart(0).Add(time.Second)
	for i, n := range nodes {
		for _, eff := range n.Tick(now) {
			if pc, ok := eff.(lottery.PublishClaim); ok {
				for j, m := range all {
					if j != i {
						v, err := m.Receive(now, pc.Data)
						if err != nil {
							fmt.Println("rejected:", v, err)
						}
					}
				}
			}
		}
	}

	closed := cfg.ClaimClose(0)
	digests := map[[lottery.DigestSize]byte]int{}
	for _, m := range all {
		m.Tick(closed)
		d, _ := m.Directory(0)
		digests[d.Digest()]++
	}
	d, _ := observer.Directory(0)
	fmt.Println("relays:", d.Len(), "seats:", d.Seats())
	fmt.Println("distinct directories:", len(digests))
	// Output:
	// relays: 3 seats: 3
	// distinct directories: 1
}

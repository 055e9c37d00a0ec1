package dm_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/dm"
)

// Example: two nodes' chat keys run a Noise XX handshake and exchange a
// message; a third reads a sealed envelope left in its mailbox.
func Example() {
	now := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	keys := func(seed byte) dm.Keys {
		id, _, _ := crypto.GenerateEd25519Key(rand.NewChaCha8([32]byte{seed}))
		rec, sk, _ := chat.NewChatKey(id, 1, now, rand.NewChaCha8([32]byte{seed, 1}))
		return dm.Keys{Record: rec, Private: sk}
	}
	a, b := keys(1), keys(2)
	cfg := dm.DefaultConfig()
	rnd := rand.NewChaCha8([32]byte{9})

	sa, m1, _ := dm.NewInitiator(cfg, a, b.Record.Owner, &b.Record.Public, rnd)
	sb, m2, _ := dm.NewResponder(cfg, b, a.Record.Owner, nil, rnd, m1)
	m3, _ := sa.Handshake(now, m2)
	_, _ = sb.Handshake(now, m3)
	frame, _ := sa.Encrypt(now, nil, []byte("hello"))
	msg, err := sb.Decrypt(nil, frame)
	fmt.Println(string(msg), err)
	_, err = sb.Decrypt(nil, frame)
	fmt.Println(err)

	env, _ := dm.Seal(a, b.Record, []byte("while you were out"), rnd)
	from, body, _ := dm.Open(b, env)
	fmt.Println(string(body), from.Owner == a.Record.Owner)
	// Output:
	// hello <nil>
	// dm: replayed message: counter 0 of epoch 0
	// while you were out true
}

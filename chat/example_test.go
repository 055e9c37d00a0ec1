package chat_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/fog-compute/fog/chat"
)

// Example: two identities both call themselves alice; a Book of their
// verified claims shows each with its fingerprint and refuses to pick one.
func Example() {
	now := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	book := chat.NewBook(0)
	for seed := range byte(2) {
		id, _, _ := crypto.GenerateEd25519Key(rand.NewChaCha8([32]byte{seed}))
		claim, _ := chat.NewNick(id, "alice", 1, now)
		enc, _ := claim.Encode() // as it travels
		got, err := chat.DecodeNick(enc)
		if err != nil {
			panic(err)
		}
		_ = book.Add(got)
		key, _, _ := chat.NewChatKey(id, 1, now, rand.NewChaCha8([32]byte{seed, 1}))
		fmt.Println(key.Verify(claim.Owner) == nil, len(key.Sig))
	}
	_, err := book.Resolve("Alice")
	var amb *chat.AmbiguousError
	fmt.Println(errors.As(err, &amb), len(amb.Candidates))
	for _, c := range amb.Candidates {
		fmt.Println(len(c.String()) == len("alice#")+chat.FingerprintLen)
	}
	// Output:
	// true 64
	// true 64
	// true 2
	// true
	// true
}

package mailbox_test

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat/mailbox"
)

// A sender and a returning recipient both compute the recipient's daily
// mailbox keys from its peer ID; the keys of two days look unrelated.
func Example() {
	bob, _ := peer.Decode("12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq")
	day := mailbox.DayOf(time.Date(2024, 10, 4, 18, 30, 0, 0, time.UTC))
	fmt.Println(day, day.Start().Format(time.DateOnly))
	fmt.Println(mailbox.MailboxKey(bob, day))
	fmt.Println(mailbox.MailboxKey(bob, day+1))
	// Output:
	// 20000 2024-10-04
	// c4cc78c80edf7eb02908f0d8a0a7b15cc3889c9742952f2023f2e1369c1d1d10
	// 396b3f7c28e9ca603fb2c7aa406bddf1709acc014f609f720c73b492727d4492
}

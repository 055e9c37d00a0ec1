package token_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/fog-compute/fog/token"
)

// Two accounts from a genesis file: alice sends to bob; once the send is
// confirmed bob receives it.
func Example() {
	alice := ed25519.NewKeyFromSeed([]byte("alice's 32-byte example seed....")[:32])
	bob := ed25519.NewKeyFromSeed([]byte("bob's 32-byte example seed......")[:32])
	pub := func(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Public().(ed25519.PublicKey)) }
	g, err := token.LoadGenesis(strings.NewReader(`{"network": "example", "unbonding_epochs": 2,
		"accounts": [{"account": "` + pub(alice) + `", "balance": 1000000}]}`))
	if err != nil {
		panic(err)
	}
	l, err := token.NewLedger(g)
	if err != nil {
		panic(err)
	}
	send, _ := token.NewWallet(l, alice).Send(token.AccountOf(bob.Public().(ed25519.PublicKey)), 250000, 1)
	h, err := l.Apply(send)
	fmt.Println("send:", err)
	recv, _ := token.NewWallet(l, bob).Receive(h, 1)
	_, err = l.Apply(recv)
	fmt.Println("receive before confirmation:", err != nil)
	_ = l.Confirm(h) // a Node does this when the election is won
	_, err = l.Apply(recv)
	fmt.Println("receive:", err)
	info, _ := l.Account(token.AccountOf(bob.Public().(ed25519.PublicKey)))
	fmt.Println("bob's balance:", info.Balance)
	// Output:
	// send: <nil>
	// receive before confirmation: true
	// receive: <nil>
	// bob's balance: 250000
}

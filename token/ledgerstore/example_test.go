package ledgerstore_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgerstore"
)

// A node persists what its ledger takes before acknowledging it, and
// rebuilds the ledger from the store when it starts again.
func Example() {
	ctx := context.Background()
	alice := ed25519.NewKeyFromSeed([]byte("alice's 32-byte example seed...."))
	pub := hex.EncodeToString(alice.Public().(ed25519.PublicKey))
	g := token.Genesis{Network: "example", UnbondingEpochs: 2,
		Accounts: []token.Allocation{{Account: pub, Balance: 1000}}}

	db, err := store.Open(store.InMemoryConfig())
	if err != nil {
		panic(err)
	}
	defer db.Close()
	st, l, err := ledgerstore.Open(ctx, db.Datastore(store.PrefixToken), g)
	if err != nil {
		panic(err)
	}
	cfg := token.DefaultConfig()
	node, err := token.NewNode(cfg, l, []ed25519.PrivateKey{alice})
	if err != nil {
		panic(err)
	}
	b, _ := token.NewWallet(l, alice).Send(token.Account{1}, 400, 1)
	eff, err := node.ProcessBlock(b, time.Unix(0, 0))
	if err != nil {
		panic(err)
	}
	if err := st.Append(ctx, eff.Records); err != nil { // synced
		panic(err)
	}
	fmt.Println("confirmed:", len(eff.Confirmed))

	_, l2, err := ledgerstore.Open(ctx, db.Datastore(store.PrefixToken), g)
	if err != nil {
		panic(err)
	}
	info, _ := l2.Account(token.AccountOf(alice.Public().(ed25519.PublicKey)))
	fmt.Println("balance after reopening:", info.Balance)
	// Output:
	// confirmed: 1
	// balance after reopening: 600
}

package store_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/fog-compute/fog/store"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// A node opens one DB and gives each subsystem a Datastore under its own
// prefix. Here the p2p ban list keeps bans, one of them expiring.
func Example() {
	db, err := store.Open(store.InMemoryConfig()) // store.DefaultConfig(dir) on disk
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	bans := db.Datastore(store.PrefixP2P)
	if err := bans.PutWithTTL(ctx, store.Key("ban", "12D3KooWSpammer"), []byte("spam"), time.Hour); err != nil {
		log.Fatal(err)
	}
	if err := bans.Put(ctx, store.Key("ban", "12D3KooWForger"), []byte("bad signatures")); err != nil {
		log.Fatal(err)
	}

	res, err := bans.Query(ctx, query.Query{Prefix: "/ban", Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		log.Fatal(err)
	}
	entries, err := res.Rest()
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		_, peer, err := store.ParseKey(datastore.RawKey(e.Key))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", peer, e.Value)
	}

	// Other subsystems do not see the p2p keys.
	seen, err := db.Datastore(store.PrefixDHT).Has(ctx, store.Key("ban", "12D3KooWForger"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("visible to the DHT:", seen)
	// Output:
	// 12D3KooWForger: bad signatures
	// 12D3KooWSpammer: spam
	// visible to the DHT: false
}
